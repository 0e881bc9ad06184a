package web

import (
	"net/http"
	"net/netip"
	"strings"
	"testing"
)

func TestNewPasswordsThatAreRefused(t *testing.T) {
	for pw, says := range map[string]string{
		"short":                 "too short",
		strings.Repeat("x", 73): "too long",
		"        ":              "only white space",
		" \t\n\r\v\f  ":         "only white space",
		"\u00a0\u2003\u3000\u2028\u2029\u0085\u1680\u202f": "only white space", // no-break, em, ideographic spaces, separators
		"password":   "most common",
		"PASSWORD":   "most common",
		"12345678":   "most common",
		"qwertyuiop": "most common",
		"IloveYou":   "most common",
		"P@ssw0rd":   "most common",
		" iloveyou ": "most common",
	} {
		err := CheckNewPassword(pw)
		if err == nil || !strings.Contains(err.Error(), says) {
			t.Errorf("%q: %v, want an error saying %q", pw, err, says)
		}
	}
	for _, pw := range []string{"correct horse battery", "  spaced  out  ", "password but longer", "qwertyuiop[]\\", "пароль-не-простой"} {
		if err := CheckNewPassword(pw); err != nil {
			t.Errorf("%q refused: %v", pw, err)
		}
	}
	if n := len(commonPasswords()); n < 300 {
		t.Errorf("%d common passwords listed, want a few hundred", n)
	}
	for pw := range commonPasswords() {
		if pw != strings.ToLower(strings.TrimSpace(pw)) || strings.HasPrefix(pw, "#") {
			t.Errorf("list entry %q is not compared as it should be", pw)
		}
	}
}

// The client of a request is its peer, an IPv6 peer by its /64; a
// forwarded-for address counts only from a trusted proxy.
func TestClientAddress(t *testing.T) {
	trusting := &Server{cfg: Config{TrustedProxies: []netip.Prefix{
		netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8"),
	}}}
	plain := &Server{}
	for _, tc := range []struct {
		s          *Server
		remote, ff string
		want       string
	}{
		{plain, "192.0.2.7:5123", "", "192.0.2.7"},
		{plain, "[::ffff:192.0.2.7]:5123", "", "192.0.2.7"},
		{plain, "[2001:db8:1:2:aaaa::1]:443", "", "2001:db8:1:2::/64"},
		{plain, "[2001:db8:1:2:bbbb:cccc:dddd:eeee]:80", "", "2001:db8:1:2::/64"},
		{plain, "[2001:db8:1:3::1]:80", "", "2001:db8:1:3::/64"},
		{plain, "[fe80::1%eth0]:80", "", "fe80::/64"},
		{plain, "192.0.2.7:5123", "203.0.113.9", "192.0.2.7"}, // untrusted peer: header ignored
		{plain, "@", "", "@"},
		{trusting, "10.1.2.3:5000", "203.0.113.9", "203.0.113.9"},
		{trusting, "10.1.2.3:5000", "198.51.100.1, 203.0.113.9", "203.0.113.9"}, // rightmost untrusted
		{trusting, "10.1.2.3:5000", "203.0.113.9, 10.9.9.9", "203.0.113.9"},     // through two proxies
		{trusting, "10.1.2.3:5000", "garbage, 10.9.9.9", "10.9.9.9"},            // the last good hop
		{trusting, "10.1.2.3:5000", "", "10.1.2.3"},
		{trusting, "[fd00::1]:5000", "2001:db8:9:9::5", "2001:db8:9:9::/64"},
		{trusting, "192.0.2.7:5123", "203.0.113.9", "192.0.2.7"}, // not a trusted proxy
	} {
		r, _ := http.NewRequest(http.MethodPost, "/signin", nil)
		r.RemoteAddr = tc.remote
		if tc.ff != "" {
			r.Header.Set("X-Forwarded-For", tc.ff)
		}
		if got := tc.s.clientAddress(r); got != tc.want {
			t.Errorf("%s forwarded for %q: %q, want %q", tc.remote, tc.ff, got, tc.want)
		}
	}
}
