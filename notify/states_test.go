package notify_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/chathooktest"
	"github.com/chathook/chathook/notify"
	"github.com/chathook/chathook/store/sqlite"
)

// linked is a QR account of the workspace, connected.
func linked(t *testing.T, st *sqlite.Store, ws chathook.Workspace) chathook.Account {
	t.Helper()
	acc, err := st.LinkAccount(context.Background(), ws.ID, chathook.Account{Phone: "+972500000001", FullName: "Support",
		JID: "972500000001:3@s.whatsapp.net", Email: "bob@example.com", CreatedAt: t0}, "instance-a", t0.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	return acc
}

// sendAll sends what the outbox holds through a real SMTP server and
// returns what it received.
func sendAll(t *testing.T, st *sqlite.Store) []chathooktest.Mail {
	t.Helper()
	smtp := chathooktest.NewSMTPServer(t, nil)
	n, err := notify.New(notify.Config{Store: st, SMTPURL: smtp.URL, From: "chathook@example.com",
		BaseURL: "https://chathook.example.com/", Now: func() time.Time { return t0.Add(time.Hour) }})
	if err != nil {
		t.Fatal(err)
	}
	n.SendDue(context.Background())
	n.SendDue(context.Background())
	return smtp.Mails()
}

// A temporary ban sends the owner one email, through a real SMTP
// server: when the ban ends, in UTC, what it means, and that there is
// nothing to do but wait, without bulk messages.
func TestBannedAccountEmailsTheOwnerOnce(t *testing.T) {
	ctx := context.Background()
	st, ws := acme(t, "Ann", "ann@example.com")
	acc := linked(t, st, ws)
	// 14:30 in Jerusalem is 12:30 UTC: the email says UTC.
	until := time.Date(2026, 3, 2, 14, 30, 0, 0, time.FixedZone("IST", 2*3600))
	if _, err := st.BanAccount(ctx, acc.ID, until, t0); err != nil {
		t.Fatal(err)
	}
	got := sendAll(t, st)
	if len(got) != 1 {
		t.Fatalf("%d emails sent, want 1", len(got))
	}
	m := got[0]
	if len(m.To) != 1 || m.To[0] != "ann@example.com" {
		t.Errorf("to %v, want the owner", m.To)
	}
	if want := "chathook: WhatsApp banned the account +972500000001 until 2026-03-02 12:30 UTC"; m.Subject != want {
		t.Errorf("subject %q, want %q", m.Subject, want)
	}
	body := mailBody(t, m.Body)
	for _, want := range []string{"Hello Ann", "On 2026-03-01 12:00 UTC WhatsApp banned the WhatsApp account +972500000001", "The ban ends on 2026-03-02 12:30 UTC.",
		"nothing but wait", "do not send bulk messages", "banned for good", "https://chathook.example.com/accounts/\n"} {
		if !strings.Contains(body, want) {
			t.Errorf("body lacks %q:\n%s", want, body)
		}
	}
}

// WhatsApp refusing this chathook as outdated sends the owner one email
// naming the account and saying what to do: update chathook, then
// press Reconnect.
func TestOutdatedAccountEmailsTheOwnerOnce(t *testing.T) {
	ctx := context.Background()
	st, ws := acme(t, "Ann", "ann@example.com")
	acc := linked(t, st, ws)
	for range 2 {
		if _, err := st.SetAccountState(ctx, acc.ID, chathook.AccountOutdated, t0); err != nil {
			t.Fatal(err)
		}
	}
	got := sendAll(t, st)
	if len(got) != 1 {
		t.Fatalf("%d emails sent, want 1", len(got))
	}
	m := got[0]
	if want := "chathook: WhatsApp refuses the account +972500000001: update chathook"; m.Subject != want {
		t.Errorf("subject %q, want %q", m.Subject, want)
	}
	body := mailBody(t, m.Body)
	for _, want := range []string{"Hello Ann", "+972500000001 (Support)", "outdated", "update chathook to its latest release",
		"press Reconnect", "https://chathook.example.com/accounts/\n"} {
		if !strings.Contains(body, want) {
			t.Errorf("body lacks %q:\n%s", want, body)
		}
	}
}

// A ban's email whose end cannot be read still says it, as stored.
func TestComposeBannedKeepsAnUnreadableEnd(t *testing.T) {
	subject, body := notify.Compose(chathook.Email{Kind: "account_banned", Reason: "+972500000001 soon", CreatedAt: t0,
		Workspace: chathook.Workspace{Name: "Acme"}}, "https://chathook.example.com")
	if !strings.HasSuffix(subject, "until soon") || !strings.Contains(body, "The ban ends on soon.") {
		t.Errorf("subject %q, body:\n%s", subject, body)
	}
}
