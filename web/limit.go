package web

import (
	"context"
	"crypto/sha256"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/chathook/chathook/store"
)

// Failed sign-ins are counted in the database, so every instance on one
// PostgreSQL shares the counts, under two keys:
//   - the client's address with the email typed: 5 failures within 15
//     minutes refuse that email from that address. The owner, signing in
//     from another address, is not locked out by someone guessing theirs.
//   - the client's address alone: 20 failures within 15 minutes, whatever
//     the emails, refuse that address, so spraying many emails is stopped.
//
// A failed sign-in costs a row per key. The table keeps at most
// signInFailuresKept rows: the oldest are evicted, so a flood of junk
// emails pushes out old failures but never stops new ones being counted.
const (
	signInWindow           = 15 * time.Minute
	emailFailures          = 5
	addressFailures        = 20
	signInFailuresKept     = 100_000
	ipv6ClientPrefixLength = 64
)

// limit is one of the counts a sign-in is held to.
type limit struct {
	key      []byte
	max      int
	refusal  string
	resetsOn bool // a successful sign-in forgets its failures
}

// signInLimits are the keys a sign-in by email from client counts under.
// Keys are SHA-256 hashes: the database holds no addresses, nor what was
// typed into the email box (sometimes a password).
func signInLimits(client, email string) []limit {
	hash := func(parts ...string) []byte {
		sum := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
		return sum[:]
	}
	return []limit{
		{key: hash("address and email", client, email), max: emailFailures,
			refusal: "Too many failed sign-ins for this email.", resetsOn: true},
		// Not forgotten on success: else an attacker with an account of
		// their own could sign in to it between guesses and never be held.
		{key: hash("address", client), max: addressFailures,
			refusal: "Too many failed sign-ins from your network."},
	}
}

// limiter counts failed sign-ins in the store.
type limiter struct {
	st   store.Users
	kept int // the most failures kept: signInFailuresKept
}

func newLimiter(st store.Users, kept int) *limiter { return &limiter{st: st, kept: kept} }

// wait returns how long a sign-in under limits is refused, and why; 0
// means it may try.
func (l *limiter) wait(ctx context.Context, limits []limit, now time.Time) (time.Duration, string, error) {
	keys := make([][]byte, len(limits))
	most := 0
	for i, lim := range limits {
		keys[i], most = lim.key, max(most, lim.max)
	}
	failures, err := l.st.SignInFailures(ctx, keys, now.Add(-signInWindow), most)
	if err != nil {
		return 0, "", err
	}
	var wait time.Duration
	why := ""
	for i, lim := range limits {
		if fs := failures[i]; len(fs) >= lim.max {
			// Refused until the failure that made it max is a window old.
			if w := fs[lim.max-1].Add(signInWindow).Sub(now); w > wait {
				wait, why = w, lim.refusal
			}
		}
	}
	return wait, why, nil
}

// fail counts a failed sign-in under each of limits.
func (l *limiter) fail(ctx context.Context, limits []limit, now time.Time) error {
	f := store.SignInFailure{At: now, Forget: now.Add(-signInWindow), Keep: l.kept}
	for _, lim := range limits {
		f.Keys = append(f.Keys, lim.key)
	}
	return l.st.FailSignIn(ctx, f)
}

// succeeded forgets the failures of the limits a success resets.
func (l *limiter) succeeded(ctx context.Context, limits []limit) error {
	for _, lim := range limits {
		if lim.resetsOn {
			if err := l.st.ForgetSignInFailures(ctx, lim.key); err != nil {
				return err
			}
		}
	}
	return nil
}

// clientAddress is who a request comes from, for counting failed
// sign-ins: the connection's peer address, because it is the one a client
// cannot forge. X-Forwarded-For is believed only when the peer is one of
// Config.TrustedProxies, and then read from the right, skipping trusted
// proxies, so a client cannot put a made-up address first. An IPv6 client
// counts by its /64: one host or home is routinely given a whole /64, so
// its single addresses cost an attacker nothing.
func (s *Server) clientAddress(r *http.Request) string {
	peer, ok := parseAddr(r.RemoteAddr)
	if !ok {
		return r.RemoteAddr // not IP (a Unix socket, say): one client
	}
	if s.trusted(peer) {
		hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
		for i := len(hops) - 1; i >= 0; i-- {
			hop, ok := parseAddr(strings.TrimSpace(hops[i]))
			if !ok {
				break // garbage: the last address known good stands
			}
			peer = hop
			if !s.trusted(hop) {
				break
			}
		}
	}
	if peer.Is4() {
		return peer.String()
	}
	return netip.PrefixFrom(peer, ipv6ClientPrefixLength).Masked().String()
}

func (s *Server) trusted(a netip.Addr) bool {
	for _, p := range s.cfg.TrustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// parseAddr reads "ip", "ip:port" or "[ipv6]:port"; an IPv4-mapped IPv6
// address is the IPv4 address it maps.
func parseAddr(s string) (netip.Addr, bool) {
	if host, _, err := net.SplitHostPort(s); err == nil {
		s = host
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, false
	}
	return a.Unmap().WithZone(""), true
}
