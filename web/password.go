package web

import (
	_ "embed"
	"errors"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/crypto/bcrypt"
)

// PasswordCost is bcrypt's work factor: about a quarter of a second per
// hash on a small server, which makes guessing slow and signing in not.
const PasswordCost = 12

// Password length limits: bcrypt reads at most 72 bytes.
const (
	MinPassword = 8
	MaxPassword = 72
)

//go:embed common-passwords.txt
var commonPasswordList string

// commonPasswords are the lowercased entries of common-passwords.txt.
var commonPasswords = sync.OnceValue(func() map[string]bool {
	m := map[string]bool{}
	for line := range strings.Lines(commonPasswordList) {
		line = strings.TrimSpace(line)
		if line != "" && !strings.HasPrefix(line, "#") {
			m[strings.ToLower(line)] = true
		}
	}
	return m
})

// CheckNewPassword says what is wrong with a password someone chose: too
// short or long, only white space, or one of the best-known passwords,
// which every guessing attack tries first (compared ignoring case).
func CheckNewPassword(password string) error {
	if utf8.RuneCountInString(password) < MinPassword {
		return errors.New("the password is too short: at least " + strconv.Itoa(MinPassword) + " characters")
	}
	if len(password) > MaxPassword {
		return errors.New("the password is too long: at most " + strconv.Itoa(MaxPassword) + " bytes")
	}
	if strings.TrimFunc(password, unicode.IsSpace) == "" {
		return errors.New("the password is only white space: choose one with letters, digits or symbols")
	}
	if commonPasswords()[strings.ToLower(strings.TrimSpace(password))] {
		return errors.New("the password is one of the most common passwords, which are guessed first: choose another")
	}
	return nil
}

// HashPassword checks a new password and hashes it with bcrypt.
func HashPassword(password string) ([]byte, error) {
	if err := CheckNewPassword(password); err != nil {
		return nil, err
	}
	return bcrypt.GenerateFromPassword([]byte(password), PasswordCost)
}

// dummyHash stands in for the hash of an unknown user, so that a wrong
// email takes as long to refuse as a wrong password.
var dummyHash = sync.OnceValue(func() []byte {
	h, _ := bcrypt.GenerateFromPassword([]byte("no such user, no such password"), PasswordCost)
	return h
})

// CheckPassword reports whether password matches hash; a nil hash (no
// such user) is compared against a dummy and never matches.
func CheckPassword(hash []byte, password string) bool {
	if hash == nil {
		_ = bcrypt.CompareHashAndPassword(dummyHash(), []byte(password))
		return false
	}
	return bcrypt.CompareHashAndPassword(hash, []byte(password)) == nil
}

// minutes says a wait in whole minutes, rounded up.
func minutes(d time.Duration) string {
	n := int((d + time.Minute - 1) / time.Minute)
	if n <= 1 {
		return "a minute"
	}
	return strconv.Itoa(n) + " minutes"
}
