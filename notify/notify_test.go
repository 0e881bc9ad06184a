package notify

import (
	"strings"
	"testing"
	"time"

	"github.com/chathook/chathook"
)

func TestSMTPURL(t *testing.T) {
	for _, tc := range []struct {
		url string
		ok  bool
	}{
		{"smtp://mail.example.com", true},
		{"smtp://user:pa%20ss@mail.example.com:2525", true},
		{"smtps://mail.example.com", true},
		{"http://mail.example.com", false},
		{"smtp://", false},
		{"smtp://mail.example.com:port", false},
		{"mail.example.com:25", false},
	} {
		_, err := New(Config{SMTPURL: tc.url, From: "chathook@example.com"})
		if (err == nil) != tc.ok {
			t.Errorf("%q: err %v, want ok=%v", tc.url, err, tc.ok)
		}
		if err != nil && !strings.HasPrefix(err.Error(), "--smtp-url: ") {
			t.Errorf("%q: error %q does not name --smtp-url", tc.url, err)
		}
	}
}

// A sender address that no email could carry is refused at start, not
// at every send.
func TestMailFrom(t *testing.T) {
	for from, ok := range map[string]bool{
		"chathook@example.com": true, "chathook <chathook@example.com>": true, `"O'Brien, Ops" <ops@example.com>`: true,
		"": false, "chathook": false, `O"Brien <ops@example.com>`: false, "a@b.c, d@e.f": false,
	} {
		_, err := New(Config{SMTPURL: "smtp://mail.example.com", From: from})
		if (err == nil) != ok {
			t.Errorf("From %q: err %v, want ok=%v", from, err, ok)
		}
		if err != nil && !strings.HasPrefix(err.Error(), "--mail-from ") {
			t.Errorf("From %q: error %q does not name --mail-from", from, err)
		}
	}
	if _, err := New(Config{From: "not an address"}); err != nil {
		t.Errorf("without --smtp-url the sender is not used: %v", err)
	}
}

func TestComposeSaysWhatWhyAndWhere(t *testing.T) {
	e := chathook.Email{
		Workspace: chathook.Workspace{Name: "Acme", OwnerName: "Ann"},
		Reason:    "disabled automatically after 10 consecutive failed attempts",
		LastError: "HTTP 503 Service Unavailable",
		CreatedAt: time.Date(2026, 3, 1, 12, 30, 0, 0, time.UTC),
	}
	subject, body := Compose(e, "https://chathook.example.com/")
	if !strings.Contains(subject, "Acme") || !strings.Contains(subject, "disabled") {
		t.Errorf("subject %q", subject)
	}
	for _, want := range []string{"Hello Ann", "2026-03-01 12:30 UTC", e.Reason, e.LastError,
		"https://chathook.example.com/settings/webhooks/outbound\n", "discard"} {
		if !strings.Contains(body, want) {
			t.Errorf("body lacks %q:\n%s", want, body)
		}
	}
}

func TestComposeLoggedOutSaysWhichWhyAndWhere(t *testing.T) {
	e := chathook.Email{
		Workspace: chathook.Workspace{Name: "Acme", OwnerName: "Ann"},
		Kind:      "account_logged_out",
		Reason:    "the WhatsApp account +972500000001 (Support) was logged out: its linked device was removed on the phone",
		CreatedAt: time.Date(2026, 3, 1, 12, 30, 0, 0, time.UTC),
	}
	subject, body := Compose(e, "https://chathook.example.com/")
	if want := "chathook: the WhatsApp account +972500000001 was logged out"; subject != want {
		t.Errorf("subject %q, want %q", subject, want)
	}
	for _, want := range []string{"Hello Ann", "2026-03-01 12:30 UTC", "+972500000001 (Support)", "linked device",
		"no more messages", "https://chathook.example.com/accounts/\n"} {
		if !strings.Contains(body, want) {
			t.Errorf("body lacks %q:\n%s", want, body)
		}
	}
	if strings.Contains(body, "webhooks/outbound") {
		t.Errorf("a logout email points at the webhook settings:\n%s", body)
	}
}

// The email about an endpoint other than outbound names it, by its
// description and id, and links to its own page; outbound's is as it was.
func TestComposeEndpointDisabledNamesItAndLinksToIt(t *testing.T) {
	e := chathook.Email{
		Workspace:    chathook.Workspace{Name: "Acme", OwnerName: "Ann"},
		Kind:         "webhook_disabled",
		Endpoint:     "ep_0123456789abcdef",
		EndpointName: "CRM\r\nBcc: x@evil.example sync",
		Reason:       "disabled automatically after 10 consecutive failed attempts",
		LastError:    "HTTP 503 Service Unavailable",
		CreatedAt:    time.Date(2026, 3, 1, 12, 30, 0, 0, time.UTC),
	}
	subject, body := Compose(e, "https://chathook.example.com/")
	if want := `chathook: the webhook "CRM Bcc: x@evil.example sync" of Acme was disabled`; subject != want {
		t.Errorf("subject %q, want %q", subject, want)
	}
	for _, want := range []string{"Hello Ann", `"CRM Bcc: x@evil.example sync" (ep_0123456789abcdef)`, "2026-03-01 12:30 UTC",
		e.Reason, e.LastError, "https://chathook.example.com/settings/webhooks/ep_0123456789abcdef\n", "discard", "other webhooks"} {
		if !strings.Contains(body, want) {
			t.Errorf("body lacks %q:\n%s", want, body)
		}
	}
	if strings.Contains(body, "webhooks/outbound") || strings.Contains(subject, "outbound") {
		t.Errorf("an endpoint's email points at outbound:\n%s\n%s", subject, body)
	}

	// Without a description the store names it by its URL; with no name
	// at all, by its id.
	e.EndpointName = ""
	if subject, _ := Compose(e, "https://chathook.example.com"); !strings.Contains(subject, `"ep_0123456789abcdef"`) {
		t.Errorf("subject without a name: %q", subject)
	}

	// Outbound's (Endpoint "") is the seed's email.
	e.Endpoint, e.EndpointName = "", ""
	subject, body = Compose(e, "https://chathook.example.com/")
	if subject != "chathook: the outbound webhook of Acme was disabled" || !strings.Contains(body, "https://chathook.example.com/settings/webhooks/outbound\n") {
		t.Errorf("outbound's email changed: %q\n%s", subject, body)
	}
}
