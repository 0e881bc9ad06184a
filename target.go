package chathook

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strings"
)

// MaxURL is the longest webhook URL accepted.
const MaxURL = 2048

// CheckWebhookURL reports what is wrong with raw as a webhook URL: it
// must be an absolute http(s) URL with a host. Unless allowPrivate, a host
// that is a loopback, private, link-local or metadata address, or named
// localhost, is refused; names that resolve to such addresses are refused
// again when the dispatcher connects (see PublicAddr).
func CheckWebhookURL(raw string, allowPrivate bool) error {
	if len(raw) > MaxURL {
		return fmt.Errorf("too long: %d bytes, at most %d", len(raw), MaxURL)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("%q is not a URL", raw)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("%q must start with http:// or https://", raw)
	}
	host := u.Hostname()
	if host == "" {
		return fmt.Errorf("%q has no host", raw)
	}
	if allowPrivate {
		return nil
	}
	if h := strings.ToLower(strings.TrimSuffix(host, ".")); h == "localhost" || strings.HasSuffix(h, ".localhost") {
		return errors.New(host + " is this machine; start chathook with --allow-private-targets to allow it")
	}
	if addr, err := netip.ParseAddr(host); err == nil && !PublicAddr(addr) {
		return errors.New(host + " is a loopback, private, link-local or metadata address; start chathook with --allow-private-targets to allow it")
	}
	return nil
}

// cgnat is the shared address space of carrier-grade NAT (RFC 6598),
// private in all but name.
var cgnat = netip.MustParsePrefix("100.64.0.0/10")

// PublicAddr reports whether a webhook may be POSTed to addr when private
// targets are not allowed. Cloud metadata services (169.254.169.254,
// fd00:ec2::254) are link-local or private, and so refused.
func PublicAddr(addr netip.Addr) bool {
	addr = addr.Unmap()
	return addr.IsValid() && addr.IsGlobalUnicast() && !addr.IsPrivate() && !cgnat.Contains(addr)
}
