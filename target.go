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
// that is named localhost or is an address PublicAddr refuses (loopback,
// private, link-local, metadata, reserved, or an IPv6 form embedding one
// of those) is refused; names that resolve to such addresses are refused
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
		return errors.New(host + " is a reserved, loopback, private, link-local or metadata address; start chathook with --allow-private-targets to allow it")
	}
	return nil
}

// refused are the IPv4 and IPv6 ranges, beyond loopback, private,
// link-local and multicast, that a webhook may never reach: each is either
// private in all but name or unroutable, so a receiver there is an
// internal service, not a customer's endpoint.
var refused = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),     // "this network" (RFC 1122); a connect to 0.0.0.0 reaches this machine
	netip.MustParsePrefix("100.64.0.0/10"), // carrier-grade NAT shared space (RFC 6598)
	netip.MustParsePrefix("198.18.0.0/15"), // benchmarking (RFC 2544), used inside labs and data centres
	netip.MustParsePrefix("240.0.0.0/4"),   // reserved (RFC 1112), and 255.255.255.255
	netip.MustParsePrefix("::/96"),         // IPv4-compatible (deprecated, RFC 4291): ::127.0.0.1 and the like
	netip.MustParsePrefix("fec0::/10"),     // site-local (deprecated, RFC 3879), private in all but name
	// NAT64 local-use (RFC 8215) is refused outright rather than read as
	// its last 32 bits: a private network may place the IPv4 address at
	// any of RFC 6052's offsets under it, so no one position is the truth.
	netip.MustParsePrefix("64:ff9b:1::/48"),
}

// Prefixes of IPv6 addresses that carry an IPv4 address: they reach the
// embedded address through a translator or tunnel, so they are as public
// as what they embed.
var (
	nat64  = netip.MustParsePrefix("64:ff9b::/96")    // RFC 6052 well-known prefix: the last 32 bits
	siit   = netip.MustParsePrefix("::ffff:0:0:0/96") // IPv4-translated (RFC 2765): the last 32 bits
	sixTo4 = netip.MustParsePrefix("2002::/16")       // 6to4 (RFC 3056): bits 16-48
	teredo = netip.MustParsePrefix("2001::/32")       // Teredo (RFC 4380): server bits 32-64, client the last 32 bits inverted
)

// PublicAddr reports whether a webhook may be POSTed to addr when private
// targets are not allowed. Cloud metadata services (169.254.169.254,
// fd00:ec2::254) are link-local or private, and so refused. An IPv6
// address that embeds IPv4 addresses (IPv4-mapped, NAT64, 6to4, Teredo)
// is public only if every address it embeds is.
func PublicAddr(addr netip.Addr) bool {
	addr = addr.Unmap() // ::ffff:a.b.c.d is a.b.c.d
	if !addr.IsValid() || !addr.IsGlobalUnicast() || addr.IsPrivate() {
		return false
	}
	for _, p := range refused {
		if p.Contains(addr) {
			return false
		}
	}
	if addr.Is4() {
		return true
	}
	b := addr.As16()
	v4 := func(i int) netip.Addr { return netip.AddrFrom4([4]byte(b[i : i+4])) }
	switch {
	case nat64.Contains(addr), siit.Contains(addr):
		return PublicAddr(v4(12))
	case sixTo4.Contains(addr):
		return PublicAddr(v4(2))
	case teredo.Contains(addr):
		client := v4(12).As4()
		for i := range client {
			client[i] ^= 0xff
		}
		return PublicAddr(v4(4)) && PublicAddr(netip.AddrFrom4(client))
	}
	return true
}
