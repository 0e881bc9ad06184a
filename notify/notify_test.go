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
