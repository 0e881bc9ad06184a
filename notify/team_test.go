package notify_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/chathooktest"
	"github.com/chathook/chathook/notify"
)

// An invitation made with a link to email goes to the invitee, not the
// owner, through a real SMTP server, and carries the link.
func TestInvitationEmailsTheInvitee(t *testing.T) {
	ctx := context.Background()
	st, ws := acme(t, "Ann", "ann@example.com")
	link := "https://chathook.example.com/invite/abc"
	if _, err := st.CreateTeamLink(ctx, []byte("hash"), chathook.TeamLink{Kind: chathook.LinkInvite, WorkspaceID: ws.ID,
		Email: "olga@example.com", CreatedAt: t0, ExpiresAt: t0.Add(chathook.InviteLifetime), MailLink: link}); err != nil {
		t.Fatal(err)
	}
	smtp := chathooktest.NewSMTPServer(t, nil)
	n, err := notify.New(notify.Config{Store: st, SMTPURL: smtp.URL, From: "chathook@example.com",
		BaseURL: "https://chathook.example.com", Now: func() time.Time { return t0 }})
	if err != nil {
		t.Fatal(err)
	}
	n.SendDue(ctx)
	got := smtp.Mails()
	if len(got) != 1 {
		t.Fatalf("%d emails sent, want 1", len(got))
	}
	if m := got[0]; len(m.To) != 1 || m.To[0] != "olga@example.com" || m.Subject != "chathook: you are invited to Acme" {
		t.Errorf("to %v, subject %q: want olga, invited to Acme", m.To, m.Subject)
	}
	if body := mailBody(t, got[0].Body); !strings.Contains(body, link+"\n") || !strings.Contains(body, "7 days") {
		t.Errorf("body lacks the link or how long it lasts:\n%s", body)
	}
}

// Without an SMTP server an email is logged, but a teammate's one-time
// link never is.
func TestLoggedTeamEmailHidesTheLink(t *testing.T) {
	ctx := context.Background()
	st, ws := acme(t, "Ann", "ann@example.com")
	u, err := st.CreateUser(ctx, chathook.User{WorkspaceID: ws.ID, Email: "olga@example.com", CreatedAt: t0}, []byte("x"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.CreateTeamLink(ctx, []byte("hash"), chathook.TeamLink{Kind: chathook.LinkReset, WorkspaceID: ws.ID,
		UserID: u.ID, CreatedAt: t0, ExpiresAt: t0.Add(time.Hour), MailLink: "https://chathook.example.com/invite/secret-token"}); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	n, err := notify.New(notify.Config{Store: st, Logger: slog.New(slog.NewTextHandler(&logs, nil)), Now: func() time.Time { return t0 }})
	if err != nil {
		t.Fatal(err)
	}
	n.SendDue(ctx)
	if !strings.Contains(logs.String(), "olga@example.com") || strings.Contains(logs.String(), "secret-token") {
		t.Errorf("log of the reset email, want it to olga without the link:\n%s", logs.String())
	}
}
