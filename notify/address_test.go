package notify_test

import (
	"context"
	"net/mail"
	"strings"
	"testing"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/chathooktest"
	"github.com/chathook/chathook/notify"
)

// An owner's name is theirs, whatever it holds: quotes, a trailing
// backslash, a comma, Hebrew, a line break. The email reaches a real SMTP
// server, and its To: header reads back as exactly that name and address.
func TestOwnerEmailAddressesAnyName(t *testing.T) {
	for _, tc := range []struct{ owner string }{
		{`O"Brien`}, {`Bob\`}, {`O"Brien, Bob\`}, {"דנה כהן"},
		{"Eve\r\nBcc: mallory@example.com"}, // a header of its own, were the name pasted in
	} {
		t.Run(tc.owner, func(t *testing.T) {
			ctx := context.Background()
			st, ws := acme(t, tc.owner, "owner@example.com")
			acc, err := st.LinkAccount(ctx, ws.ID, chathook.Account{Phone: "+972500000001", FullName: "Support",
				JID: "972500000001:3@s.whatsapp.net", CreatedAt: t0}, "instance-a", t0.Add(time.Minute))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := st.SetAccountState(ctx, acc.ID, chathook.AccountLoggedOut, t0); err != nil {
				t.Fatal(err)
			}

			smtp := chathooktest.NewSMTPServer(t, nil)
			n, err := notify.New(notify.Config{Store: st, SMTPURL: smtp.URL, From: "chathook@example.com",
				BaseURL: "https://chathook.example.com", Now: func() time.Time { return t0 }})
			if err != nil {
				t.Fatal(err)
			}
			n.SendDue(ctx) // returns once the send's outcome is recorded
			got := smtp.Mails()
			if len(got) != 1 {
				t.Fatalf("%d emails sent, want 1", len(got))
			}
			if len(got[0].To) != 1 || got[0].To[0] != ws.OwnerEmail {
				t.Errorf("envelope to %v, want only %s", got[0].To, ws.OwnerEmail)
			}
			msg, err := mail.ReadMessage(strings.NewReader(got[0].Body))
			if err != nil {
				t.Fatal(err)
			}
			to, err := mail.ParseAddress(msg.Header.Get("To"))
			if err != nil {
				t.Fatalf("To: %q: %v", msg.Header.Get("To"), err)
			}
			if to.Name != tc.owner || to.Address != ws.OwnerEmail {
				t.Errorf("To: %q reads as %q <%s>, want %q <%s>", msg.Header.Get("To"), to.Name, to.Address, tc.owner, ws.OwnerEmail)
			}
			if bcc := msg.Header.Get("Bcc"); bcc != "" {
				t.Errorf("a name added a header: Bcc: %s", bcc)
			}
			from, err := mail.ParseAddress(msg.Header.Get("From"))
			if err != nil || from.Address != "chathook@example.com" {
				t.Errorf("From: %q: %v", msg.Header.Get("From"), err)
			}
		})
	}
}
