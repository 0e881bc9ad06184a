package chathook_test

import (
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/event"
)

func TestParticipants(t *testing.T) {
	acc := chathook.Account{Phone: "+972500000000", FullName: "Amnon Haha"}
	direct := chathook.Chat{FullName: "John Doe", Phone: "+97254000000"}
	group := chathook.Chat{FullName: "Team", IsGroup: true}
	amnon := chathook.Person{FullName: "Amnon Haha", Phone: "+972500000000"}
	john := chathook.Person{FullName: "John Doe", Phone: "+97254000000"}
	cases := []struct {
		name              string
		in                chathook.Incoming
		chat              chathook.Chat
		sender, recipient chathook.Person
	}{
		{"received: from the chat to the account", chathook.Incoming{Direction: chathook.Received}, direct, john, amnon},
		{"sent: from the account to the chat", chathook.Incoming{Direction: chathook.Sent}, direct, amnon, john},
		{"sent by a teammate: the teammate's name, the account's phone",
			chathook.Incoming{Direction: chathook.Sent, SentByName: "Jane"}, direct,
			chathook.Person{FullName: "Jane", Phone: "+972500000000"}, john},
		{"given participants win", chathook.Incoming{Direction: chathook.Received,
			Sender: &chathook.Person{FullName: "Johnny", Phone: "+1555"}}, direct,
			chathook.Person{FullName: "Johnny", Phone: "+1555"}, amnon},
		{"group: no phones", chathook.Incoming{Direction: chathook.Received,
			Sender: &chathook.Person{FullName: "Member", Phone: "+1555"}}, group,
			chathook.Person{FullName: "Member"}, chathook.Person{FullName: "Amnon Haha"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, r := c.in.Participants(acc, c.chat)
			if s != c.sender || r != c.recipient {
				t.Errorf("sender %+v recipient %+v, want %+v and %+v", s, r, c.sender, c.recipient)
			}
		})
	}
}

func TestPublicAddr(t *testing.T) {
	for addr, public := range map[string]bool{
		"8.8.8.8": true, "2606:4700::1111": true,
		"127.0.0.1": false, "10.1.2.3": false, "172.16.0.1": false, "192.168.0.1": false, "169.254.169.254": false,
		"100.64.0.1": false, "0.0.0.0": false, "::1": false, "fe80::1": false, "fd00:ec2::254": false,
		"::ffff:127.0.0.1": false, "224.0.0.1": false,
	} {
		if got := chathook.PublicAddr(netip.MustParseAddr(addr)); got != public {
			t.Errorf("PublicAddr(%s) = %v, want %v", addr, got, public)
		}
	}
}

// addrRanges holds an address of every range PublicAddr refuses beyond the
// obvious ones, and public neighbours that must stay allowed; the deliver
// package's connect-time test dials the same kinds of address.
var addrRanges = []struct {
	name, addr string
	public     bool
}{
	{"this network 0/8", "0.1.2.3", false},
	{"benchmarking 198.18/15", "198.18.0.1", false},
	{"benchmarking 198.18/15, top", "198.19.255.254", false},
	{"public below 198.18/15", "198.17.255.254", true},
	{"public above 198.18/15", "198.20.0.1", true},
	{"reserved 240/4", "240.0.0.1", false},
	{"reserved 240/4, top", "255.255.255.254", false},
	{"broadcast", "255.255.255.255", false},
	{"public below 240/4", "239.255.255.255", false}, // multicast, refused already
	{"public 223/8", "223.255.255.254", true},
	{"IPv4-mapped loopback", "::ffff:127.0.0.1", false},
	{"IPv4-mapped private", "::ffff:10.0.0.1", false},
	{"IPv4-mapped metadata", "::ffff:169.254.169.254", false},
	{"IPv4-mapped public", "::ffff:8.8.8.8", true},
	{"IPv4-compatible loopback", "::127.0.0.1", false},
	{"IPv4-compatible public, deprecated", "::8.8.8.8", false},
	{"IPv4-translated loopback", "::ffff:0:127.0.0.1", false},
	{"IPv4-translated public", "::ffff:0:8.8.8.8", true},
	{"NAT64 loopback", "64:ff9b::127.0.0.1", false},
	{"NAT64 metadata", "64:ff9b::169.254.169.254", false},
	{"NAT64 private", "64:ff9b::10.1.2.3", false},
	{"NAT64 CGNAT", "64:ff9b::100.64.0.1", false},
	{"NAT64 public", "64:ff9b::8.8.8.8", true},
	{"NAT64 local-use, loopback", "64:ff9b:1::127.0.0.1", false},
	{"NAT64 local-use, public: refused outright", "64:ff9b:1::8.8.8.8", false},
	{"NAT64 local-use, other offset", "64:ff9b:1:7f00:1::", false},
	{"6to4 loopback", "2002:7f00:1::1", false},
	{"6to4 metadata", "2002:a9fe:a9fe::", false},
	{"6to4 private", "2002:c0a8:101:1::1", false},
	{"6to4 reserved", "2002:f000:1::1", false},
	{"6to4 public", "2002:808:808::1", true},
	{"Teredo, loopback client", "2001:0:808:808::80ff:fffe", false},
	{"Teredo, private client", "2001:0:808:808::f5ff:fffe", false}, // 10.0.0.1 inverted
	{"Teredo, unspecified client", "2001:0:808:808::ffff:ffff", false},
	{"Teredo, private server", "2001:0:a00:1::f7f7:f7f7", false},
	{"Teredo, loopback server", "2001:0:7f00:1::f7f7:f7f7", false},
	{"Teredo, public server and client", "2001:0:808:808::f7f7:f7f7", true},
	{"not Teredo: 2001:4860::/32", "2001:4860:4860::8888", true},
	{"site-local, deprecated", "fec0::1", false},
	{"unique local", "fd12:3456::1", false},
	{"public IPv6", "2606:4700::1111", true},
	{"IETF protocol assignments 192.0.0/24", "192.0.0.8", false},
	{"IETF protocol assignments 192.0.0/24, anycast", "192.0.0.9", false},
	{"documentation 192.0.2/24", "192.0.2.1", false},
	{"documentation 198.51.100/24", "198.51.100.7", false},
	{"documentation 203.0.113/24", "203.0.113.254", false},
	{"public beside 203.0.113/24", "203.0.114.1", true},
	{"6to4 relay anycast 192.88.99/24", "192.88.99.1", false},
	{"public 192.0.3/24", "192.0.3.1", true},
	{"IPv4-mapped documentation", "::ffff:192.0.2.1", false},
	{"NAT64 documentation", "64:ff9b::203.0.113.1", false},
	{"6to4 documentation", "2002:c000:201::1", false},
	{"discard-only 100::/64", "100::1", false},
	{"dummy 100:0:0:1::/64", "100:0:0:1::1", false},
	{"documentation 2001:db8::/32", "2001:db8::1", false},
	{"documentation 3fff::/20", "3fff:fff::1", false},
	{"segment routing 5f00::/16", "5f00::1", false},
	{"IETF benchmarking 2001:2::/48", "2001:2::1", false},
	{"IETF ORCHIDv2 2001:20::/28", "2001:20::1", false},
	{"IETF TURN anycast", "2001:1::2", false},
	{"public beside 2001::/23", "2001:200::1", true},
}

func TestPublicAddrRanges(t *testing.T) {
	for _, c := range addrRanges {
		t.Run(c.name, func(t *testing.T) {
			if got := chathook.PublicAddr(netip.MustParseAddr(c.addr)); got != c.public {
				t.Errorf("PublicAddr(%s) = %v, want %v", c.addr, got, c.public)
			}
			host := c.addr
			if netip.MustParseAddr(c.addr).Is6() {
				host = "[" + host + "]"
			}
			err := chathook.CheckWebhookURL("https://"+host+":8443/hook", false)
			if (err == nil) != c.public {
				t.Errorf("CheckWebhookURL(%s) = %v, want public %v", host, err, c.public)
			}
			if err != nil && !strings.Contains(err.Error(), "--allow-private-targets") {
				t.Errorf("the refusal does not say how to allow it: %v", err)
			}
		})
	}
}

func TestCheckWebhookURL(t *testing.T) {
	for raw, ok := range map[string]bool{
		"https://hook.example.com/in": true, "http://hook.example.com:8080/": true,
		"hook.example.com": false, "ftp://hook.example.com": false, "https://": false, "http://localhost/": false,
		"http://127.0.0.1:9000/": false, "http://[::1]/": false,
		// No user name or password: the URL is shown back.
		"http://user:pass@hook.example.com/": false, "http://user@hook.example.com/": false, "http://@hook.example.com/": false,
		// A port is 1 to 65535.
		"http://hook.example.com:99999/": false, "http://hook.example.com:0/": false, "http://hook.example.com:65536/": false,
		"http://hook.example.com:65535/": true, "http://hook.example.com:1/": true, "http://hook.example.com:/": true,
		"http://hook.example.com:8x/": false,
		// Numeric hosts, read as inet_aton reads them.
		"http://2130706433/": false, "http://0x7f000001/": false, "http://0X7F000001/": false, "http://127.1/": false,
		"http://0177.0.0.1/": false, "http://0x7f.0.0.1/": false, "http://127.0.1/": false, "http://017700000001/": false,
		"http://127.0.0.1./": false, "http://0/": false, "http://10.1/": false, "http://0xa9.254.0xa9fe/": false,
		"http://3232235777/": false, "http://134744072/": true, "http://8.8.8.8./": true, "http://0x8.0x8.0x8.0x8/": true,
		// Numbers that are no address are no names either.
		"http://1.2.3.999/": false, "http://1.2.3.4.5/": false, "http://4294967296/": false, "http://08.1.2.3/": false,
		"http://1..2/": false, "http://256.1.1/": false, "http://example.0x/": false,
		// Names, even with numeric labels, are checked when connecting.
		"http://1.2.3.example.com/": true, "http://0x7f000001.example.com/": true, "http://7f000001/": true,
	} {
		if err := chathook.CheckWebhookURL(raw, false); (err == nil) != ok {
			t.Errorf("CheckWebhookURL(%q) = %v", raw, err)
		}
	}
	if err := chathook.CheckWebhookURL("http://127.0.0.1:9000/", true); err != nil {
		t.Errorf("private allowed: %v", err)
	}
	// Allowing private targets allows no malformed URL.
	for _, raw := range []string{"http://u:p@127.0.0.1/", "http://127.0.0.1:99999/", "http://1.2.3.999/"} {
		if err := chathook.CheckWebhookURL(raw, true); err == nil {
			t.Errorf("CheckWebhookURL(%q, allowPrivate) accepted it", raw)
		}
	}
	if err := chathook.CheckWebhookURL("http://user:s3cret@hook.example.com/", false); err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("userinfo: %v, want a refusal that does not repeat the password", err)
	}
}

// Apply refuses the combinations no field checks alone, naming the field
// the change sets, and normalises events for the format.
func TestWebhookApply(t *testing.T) {
	seed := chathook.Webhook{ID: "ep_1", Format: event.Seed, Granularity: chathook.Hourly, Events: []string{event.MessageNew}}
	outbound := chathook.Webhook{ID: chathook.Outbound, Format: event.Seed, Granularity: chathook.NoAggregation, Events: []string{event.MessageNew}}
	envelope, none, daily := event.Envelope, chathook.NoAggregation, chathook.Daily
	all, chats := []string{event.All}, []string{event.ChatCreated}
	for _, c := range []struct {
		name  string
		w     chathook.Webhook
		u     chathook.WebhookUpdate
		field string
	}{
		{"event format on a bundling endpoint", seed, chathook.WebhookUpdate{Format: &envelope}, "format"},
		{"event format asking to bundle", seed, chathook.WebhookUpdate{Format: &envelope, Granularity: &daily}, "granularity"},
		{"chat events in the seed format", seed, chathook.WebhookUpdate{Events: &chats}, "events"},
		{"outbound in the event format", outbound, chathook.WebhookUpdate{Format: &envelope, Granularity: &none}, "format"},
		{"outbound of chat events", outbound, chathook.WebhookUpdate{Events: &chats}, "events"},
		{"event format, unbundled", seed, chathook.WebhookUpdate{Format: &envelope, Granularity: &none}, ""},
	} {
		_, _, err := c.w.Apply(c.u)
		var invalid *chathook.InvalidError
		if c.field == "" && err != nil || c.field != "" && (!errors.As(err, &invalid) || invalid.Field != c.field) {
			t.Errorf("%s: %v, want a fault of %q", c.name, err, c.field)
		}
	}
	next, u, err := seed.Apply(chathook.WebhookUpdate{Events: &all})
	if err != nil || !slices.Equal(next.Events, []string{event.MessageNew}) || !slices.Equal(*u.Events, next.Events) {
		t.Errorf("every type in the seed format: %v %v %v", next.Events, u.Events, err)
	}
}
