package web

import (
	"context"
	_ "embed"
	"errors"
	"runtime"
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

// Concurrent bcrypt work is bounded, because anyone can ask for it: a
// sign-in for an unknown email costs a full hash comparison (see
// CheckPassword), so parallel sign-ins from many addresses, each under the
// failure limits, could keep every core busy and slow everyone's ingest.
// Half the cores (at least one) go to passwords: a comparison takes about a
// quarter of a second, so one core still checks four sign-ins a second,
// far more than people sign in, and the other half keeps serving.
func defaultPasswordChecks() int { return max(1, runtime.GOMAXPROCS(0)/2) }

// passwordWait is how long a sign-in waits for a free check before it is
// refused with 429: long enough to ride out a burst of real sign-ins (a
// few checks' worth), short enough that a person is told promptly.
const passwordWait = 2 * time.Second

// passwordRetryAfter is the Retry-After, in seconds, of that 429.
const passwordRetryAfter = 5

// errPasswordBusy: every password check is taken and none freed in time.
var errPasswordBusy = errors.New("too many password checks at once")

// passwordGate bounds how many bcrypt hashes and comparisons run at once.
type passwordGate struct {
	slots chan struct{}
	wait  time.Duration
	// held, when set (tests only), runs inside a slot before the bcrypt
	// work, so a test can hold a check for as long as it likes.
	held func()
}

func newPasswordGate(n int, wait time.Duration) *passwordGate {
	return &passwordGate{slots: make(chan struct{}, n), wait: wait}
}

// do runs fn in a slot, waiting up to g.wait (or until ctx ends) for one;
// else it returns errPasswordBusy and fn does not run. It guarantees at
// most cap(g.slots) fns at once. The wait does not depend on what fn
// compares, so it tells nothing about which emails exist.
func (g *passwordGate) do(ctx context.Context, fn func()) error {
	select {
	case g.slots <- struct{}{}:
	default:
		t := time.NewTimer(g.wait)
		defer t.Stop()
		select {
		case g.slots <- struct{}{}:
		case <-t.C:
			return errPasswordBusy
		case <-ctx.Done():
			return errPasswordBusy
		}
	}
	defer func() { <-g.slots }()
	if g.held != nil {
		g.held()
	}
	fn()
	return nil
}

// checkPassword is CheckPassword within the server's bound on bcrypt work:
// errPasswordBusy when no check was free in time.
func (s *Server) checkPassword(ctx context.Context, hash []byte, password string) (ok bool, err error) {
	err = s.passwords.do(ctx, func() { ok = CheckPassword(hash, password) })
	return ok, err
}

// hashPassword is HashPassword within the server's bound on bcrypt work.
func (s *Server) hashPassword(ctx context.Context, password string) (hash []byte, err error) {
	if gateErr := s.passwords.do(ctx, func() { hash, err = HashPassword(password) }); gateErr != nil {
		return nil, gateErr
	}
	return hash, err
}

// minutes says a wait in whole minutes, rounded up.
func minutes(d time.Duration) string {
	n := int((d + time.Minute - 1) / time.Minute)
	if n <= 1 {
		return "a minute"
	}
	return strconv.Itoa(n) + " minutes"
}
