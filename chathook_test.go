package chathook_test

import (
	"net/netip"
	"testing"

	"github.com/chathook/chathook"
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

func TestCheckWebhookURL(t *testing.T) {
	for raw, ok := range map[string]bool{
		"https://hook.example.com/in": true, "http://hook.example.com:8080/": true,
		"hook.example.com": false, "ftp://hook.example.com": false, "https://": false, "http://localhost/": false,
		"http://127.0.0.1:9000/": false, "http://[::1]/": false,
	} {
		if err := chathook.CheckWebhookURL(raw, false); (err == nil) != ok {
			t.Errorf("CheckWebhookURL(%q) = %v", raw, err)
		}
	}
	if err := chathook.CheckWebhookURL("http://127.0.0.1:9000/", true); err != nil {
		t.Errorf("private allowed: %v", err)
	}
}
