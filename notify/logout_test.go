package notify_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/chathooktest"
	"github.com/chathook/chathook/notify"
	"github.com/chathook/chathook/store"
)

// A WhatsApp account logged out on the phone sends its owner one email,
// through a real SMTP server, however often the logout is recorded.
func TestLoggedOutAccountEmailsTheOwnerOnce(t *testing.T) {
	ctx := context.Background()
	st, ws := acme(t, "Ann", "ann@example.com")
	acc, err := st.LinkAccount(ctx, ws.ID, chathook.Account{Phone: "+972500000001", FullName: "Support", JID: "972500000001:3@s.whatsapp.net",
		Email: "bob@example.com", CreatedAt: t0}, "instance-a", t0.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := st.SetAccountState(ctx, acc.ID, chathook.AccountLoggedOut, t0); err != nil {
			t.Fatal(err)
		}
	}

	smtp := chathooktest.NewSMTPServer(t, nil)
	n, err := notify.New(notify.Config{Store: st, SMTPURL: smtp.URL, From: "chathook@example.com",
		BaseURL: "https://chathook.example.com", Now: func() time.Time { return t0 }})
	if err != nil {
		t.Fatal(err)
	}
	n.SendDue(ctx)
	n.SendDue(ctx) // finds nothing more: the second logout queued no email
	got := smtp.Mails()
	if len(got) != 1 {
		t.Fatalf("%d emails sent, want 1", len(got))
	}

	m := got[0]
	if len(m.To) != 1 || m.To[0] != "ann@example.com" {
		t.Errorf("to %v, want the owner", m.To)
	}
	if want := "chathook: the WhatsApp account +972500000001 was logged out"; m.Subject != want {
		t.Errorf("subject %q, want %q", m.Subject, want)
	}
	body := mailBody(t, m.Body)
	for _, want := range []string{"Hello Ann", "+972500000001 (Support)", "https://chathook.example.com/accounts/\n"} {
		if !strings.Contains(body, want) {
			t.Errorf("body lacks %q:\n%s", want, body)
		}
	}
	// Nothing else is waiting, even once every lease has run out.
	if more, err := st.DueEmails(ctx, t0.Add(store.EmailLease+time.Hour), 10); err != nil || len(more) != 0 {
		t.Errorf("after the one email: %d more due (%v)", len(more), err)
	}
}
