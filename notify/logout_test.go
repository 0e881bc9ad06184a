package notify_test

import (
	"context"
	"io"
	"mime/quotedprintable"
	"net/mail"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/chathooktest"
	"github.com/chathook/chathook/notify"
	"github.com/chathook/chathook/store"
	"github.com/chathook/chathook/store/sqlite"
)

// A WhatsApp account logged out on the phone sends its owner one email,
// through a real SMTP server, however often the logout is recorded.
func TestLoggedOutAccountEmailsTheOwnerOnce(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "chathook.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	ws := chathook.Workspace{ID: "ws1", Name: "Acme", OwnerName: "Ann", OwnerEmail: "ann@example.com", CreatedAt: t0}
	if _, err := st.CreateWorkspace(ctx, ws, []byte("token"), "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"); err != nil {
		t.Fatal(err)
	}
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
	msg, err := mail.ReadMessage(strings.NewReader(m.Body))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(quotedprintable.NewReader(msg.Body))
	if err != nil {
		t.Fatal(err)
	}
	body := strings.ReplaceAll(string(raw), "\r\n", "\n")
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
