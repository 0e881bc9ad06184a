package web

import (
	"errors"
	"strconv"
	"sync"
	"time"
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

// CheckNewPassword says what is wrong with a password someone chose.
func CheckNewPassword(password string) error {
	if utf8.RuneCountInString(password) < MinPassword {
		return errors.New("the password is too short: at least " + strconv.Itoa(MinPassword) + " characters")
	}
	if len(password) > MaxPassword {
		return errors.New("the password is too long: at most " + strconv.Itoa(MaxPassword) + " bytes")
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

// Failed sign-ins: after signInFailures for one email within signInWindow,
// that email is refused until the oldest failure is signInWindow old. It
// is kept per email, not per address, because behind a proxy every
// visitor shares one address; it lives in memory, as one process serves.
const (
	signInFailures = 5
	signInWindow   = 15 * time.Minute
	limiterSize    = 10000 // emails tracked at most
)

type limiter struct {
	mu     sync.Mutex
	max    int
	window time.Duration
	fails  map[string][]time.Time
}

func newLimiter(max int, window time.Duration) *limiter {
	return &limiter{max: max, window: window, fails: map[string][]time.Time{}}
}

// recent drops failures older than the window; l.mu is held.
func (l *limiter) recent(key string, now time.Time) []time.Time {
	fs := l.fails[key]
	for len(fs) > 0 && now.Sub(fs[0]) >= l.window {
		fs = fs[1:]
	}
	if len(fs) == 0 {
		delete(l.fails, key)
		return nil
	}
	l.fails[key] = fs
	return fs
}

// wait returns how long key is refused for; 0 means it may try.
func (l *limiter) wait(key string, now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	fs := l.recent(key, now)
	if len(fs) < l.max {
		return 0
	}
	return fs[len(fs)-l.max].Add(l.window).Sub(now)
}

func (l *limiter) fail(key string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.fails) >= limiterSize {
		for k := range l.fails {
			l.recent(k, now)
		}
	}
	if len(l.fails) >= limiterSize {
		return // flooded with fresh failures of distinct emails: bcrypt's cost is the brake
	}
	l.fails[key] = append(l.recent(key, now), now)
}

func (l *limiter) reset(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.fails, key)
}

// minutes says a wait in whole minutes, rounded up.
func minutes(d time.Duration) string {
	n := int((d + time.Minute - 1) / time.Minute)
	if n <= 1 {
		return "a minute"
	}
	return strconv.Itoa(n) + " minutes"
}
