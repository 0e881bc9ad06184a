package chathook

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
)

// MaxURL is the longest webhook URL accepted.
const MaxURL = 2048

// ErrPrivateTarget is wrapped by CheckWebhookURL's error for a host it
// refuses as private; its text says how to allow such hosts, and when.
var ErrPrivateTarget = errors.New("chathook refuses such targets unless started with --allow-private-targets " +
	"(or CHATHOOK_ALLOW_PRIVATE_TARGETS=true), which is only for a receiver on this machine or your private network, e.g. for testing")

// CheckWebhookURL reports what is wrong with raw as an endpoint URL: an
// absolute http(s) URL with a host, no user name or password, and a port,
// if any, from 1 to 65535; or a broker URL ParseBrokerURL reads (nats://,
// amqp://, amqps://), whose credentials are allowed, as they are shown
// redacted (see RedactURL). Its errors never repeat a password. The same
// address rules hold for every kind. Unless allowPrivate, a host that is
// named localhost or is an address PublicAddr refuses (loopback, private,
// link-local, metadata, reserved, documentation, or an IPv6 form embedding
// one of those) is refused, however the address is spelled: "2130706433",
// "0x7f.1" and "0177.0.0.1" are read as the resolver's inet_aton reads
// them (see numericHost). Names that resolve to such addresses are refused
// again when the dispatcher connects (see PublicAddr).
func CheckWebhookURL(raw string, allowPrivate bool) error {
	if len(raw) > MaxURL {
		return fmt.Errorf("too long: %d bytes, at most %d", len(raw), MaxURL)
	}
	if k := TargetOf(raw); k == TargetNATS || k == TargetAMQP {
		b, err := ParseBrokerURL(raw)
		if err != nil {
			return err
		}
		return checkHost(b.Host, allowPrivate)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("%q is not a URL", RedactURL(raw))
	}
	if u.User != nil {
		// The URL is shown back in the settings and the API, so a password
		// in it would be a secret on display; the error does not repeat it.
		return errors.New("a user name or password in the URL (user:pass@) is not accepted: chathook signs every request instead")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("%q must start with http://, https://, nats://, amqp:// or amqps://", RedactURL(raw))
	}
	host := u.Hostname()
	if host == "" {
		return fmt.Errorf("%q has no host", raw)
	}
	if p := u.Port(); p != "" {
		if err := checkPort(p); err != nil {
			return err
		}
	}
	return checkHost(host, allowPrivate)
}

func checkPort(p string) error {
	if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("port %s is not a port: use 1 to 65535", p)
	}
	return nil
}

// checkHost is CheckWebhookURL's judgement of a URL's host.
func checkHost(host string, allowPrivate bool) error {
	addr, numeric := numericHost(host)
	if numeric && !addr.IsValid() {
		return fmt.Errorf("%s is not an IP address", host)
	}
	if allowPrivate {
		return nil
	}
	if h := strings.ToLower(strings.TrimSuffix(host, ".")); h == "localhost" || strings.HasSuffix(h, ".localhost") {
		return fmt.Errorf("%s is this machine: %w", host, ErrPrivateTarget)
	}
	if numeric && !PublicAddr(addr) {
		return fmt.Errorf("%s is a reserved, loopback, private, link-local or metadata address: %w", host, ErrPrivateTarget)
	}
	return nil
}

// numericHost reads host as an address if it is one: an IPv6 literal, or
// an IPv4 address in any spelling inet_aton(3) accepts, which is what the
// system resolver (getaddrinfo) dials for such a name: 1 to 4 parts, each
// decimal, octal (a leading 0) or hex (0x), the last filling the bytes
// left ("127.1" is 127.0.0.1, "2130706433" one 32-bit number). As in the
// WHATWG URL standard, a host whose last label is a number is numeric, and
// invalid (numeric, but no valid addr) if it does not parse: "1.2.3.999"
// is no name, and no resolver would look it up as one. A trailing dot is
// dropped, as a resolver would.
func numericHost(host string) (addr netip.Addr, numeric bool) {
	if a, err := netip.ParseAddr(host); err == nil {
		return a, true
	}
	if strings.Contains(host, ":") {
		return netip.Addr{}, true // an IPv6 literal that does not parse
	}
	host = strings.TrimSuffix(host, ".")
	parts := strings.Split(host, ".")
	if !isNumber(parts[len(parts)-1]) {
		return netip.Addr{}, false // a name, as "example.com" or "1.2.3.example"
	}
	if len(parts) > 4 {
		return netip.Addr{}, true
	}
	var v uint64
	for i, p := range parts {
		n, ok := inetNumber(p)
		if !ok {
			return netip.Addr{}, true
		}
		if i < len(parts)-1 {
			if n > 0xff {
				return netip.Addr{}, true
			}
			v |= n << (8 * (3 - i))
			continue
		}
		if n >= 1<<(8*(4-i)) { // the last part fills the 4-i bytes left
			return netip.Addr{}, true
		}
		v |= n
	}
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), true
}

// inetNumber reads one part of an inet_aton address: "0x" and hex
// digits, "0" and octal digits, or decimal digits. It is false for
// anything else, and for values beyond 32 bits.
func inetNumber(s string) (uint64, bool) {
	base := 10
	switch {
	case len(s) >= 2 && (s[:2] == "0x" || s[:2] == "0X"):
		base, s = 16, s[2:]
		if s == "" {
			return 0, true // "0x" alone is 0 to WHATWG (glibc refuses it): 0.0.0.0 is refused either way
		}
	case len(s) > 1 && s[0] == '0':
		base, s = 8, s[1:]
	}
	n, err := strconv.ParseUint(s, base, 32)
	return n, err == nil
}

// isNumber reports whether a label is spelled as a number, "0x" and hex
// digits or decimal digits, valid or not: the WHATWG URL standard's test
// of whether a host is an IPv4 address.
func isNumber(label string) bool {
	digits := "0123456789"
	if len(label) >= 2 && (label[:2] == "0x" || label[:2] == "0X") {
		label, digits = label[2:], "0123456789abcdefABCDEF"
		if label == "" {
			return true
		}
	}
	return label != "" && strings.Trim(label, digits) == ""
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
	// The rest of the IANA IPv4 and IPv6 special-purpose address
	// registries that is not globally reachable, or serves a protocol
	// (anycast relays, tunnels) rather than a customer's receiver:
	netip.MustParsePrefix("192.0.0.0/24"),    // IETF protocol assignments (RFC 6890); .9 and .10 are anycast services, not receivers
	netip.MustParsePrefix("192.0.2.0/24"),    // documentation TEST-NET-1 (RFC 5737)
	netip.MustParsePrefix("198.51.100.0/24"), // documentation TEST-NET-2 (RFC 5737)
	netip.MustParsePrefix("203.0.113.0/24"),  // documentation TEST-NET-3 (RFC 5737)
	netip.MustParsePrefix("192.88.99.0/24"),  // 6to4 relay anycast (deprecated, RFC 7526): whichever relay is nearest
	netip.MustParsePrefix("100::/64"),        // discard-only (RFC 6666)
	netip.MustParsePrefix("100:0:0:1::/64"),  // dummy prefix (RFC 9780)
	netip.MustParsePrefix("2001:db8::/32"),   // documentation (RFC 3849)
	netip.MustParsePrefix("3fff::/20"),       // documentation (RFC 9637)
	netip.MustParsePrefix("5f00::/16"),       // segment routing SIDs (RFC 9602), not globally reachable
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
	// IETF protocol assignments (RFC 2928): benchmarking 2001:2::/48, the
	// ORCHIDs, anycast relays (PCP, TURN, AMT, AS112). None is a receiver;
	// Teredo, inside it, is judged by the addresses it embeds.
	ietf = netip.MustParsePrefix("2001::/23")
)

// PublicAddr reports whether a webhook may be POSTed to addr when private
// targets are not allowed. Cloud metadata services (169.254.169.254,
// fd00:ec2::254) are link-local or private, and so refused; so are the
// documentation, benchmarking and other special-purpose ranges of the IANA
// registries that are not globally reachable. An IPv6
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
	case ietf.Contains(addr) && !teredo.Contains(addr):
		return false
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
