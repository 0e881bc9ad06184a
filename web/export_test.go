package web

import (
	"time"

	"github.com/chathook/chathook"
)

// SetSignInKept bounds the failed sign-ins s keeps, so a test can flood
// past the bound with a few dozen sign-ins instead of 100,000.
func SetSignInKept(s *Server, n int) { s.limiter.kept = n }

// SetPasswordChecks bounds s's concurrent bcrypt work to n checks, a
// request waiting up to wait for one; held, when not nil, runs inside each
// check's slot before its bcrypt work, so a test can hold a check.
func SetPasswordChecks(s *Server, n int, wait time.Duration, held func()) {
	s.passwords = newPasswordGate(n, wait)
	s.passwords.held = held
}

// AccountRowWords is what the accounts list says of a at now: its state,
// the help, and its buttons.
func AccountRowWords(a chathook.Account, now time.Time) string {
	r := rowOf(a, now)
	words := r.State + " " + r.StateHelp
	if r.Reconnect {
		words += " Reconnect"
	}
	if r.Disconnect {
		words += " Disconnect"
	}
	return words
}
