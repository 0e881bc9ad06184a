package notify_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/chathooktest"
	"github.com/chathook/chathook/event"
	"github.com/chathook/chathook/notify"
	"github.com/chathook/chathook/store"
	"github.com/google/uuid"
)

// An endpoint other than outbound that fails ten times in a row sends
// the owner one email, through a real SMTP server, that names the
// endpoint and links to its page.
func TestDisabledEndpointEmailNamesItAndLinksToIt(t *testing.T) {
	ctx := context.Background()
	st, ws := acme(t, "Ann", "ann@example.com")
	ep, err := st.CreateWebhook(ctx, ws.ID, chathook.Webhook{ID: "ep_0123456789abcdef", URL: "http://127.0.0.1:9/crm",
		Description: "CRM sync", Events: []string{event.MessageNew}, Format: event.Envelope, Granularity: chathook.NoAggregation,
		Accounts: []int64{}, Enabled: true, Secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}, t0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Ingest(ctx, ws.ID, t0, []chathook.Incoming{{
		Account:   chathook.Account{Phone: "+15550000000", FullName: "Agent"},
		Chat:      chathook.Chat{ExternalID: "+15551000001", Phone: "+15551000001", FullName: "John"},
		MessageID: "m1", UUID: uuid.NewString(), Direction: chathook.Received, Timestamp: t0, Text: "hi",
	}}); err != nil {
		t.Fatal(err)
	}
	for i := range chathook.DisableAfter {
		now := t0.Add(time.Duration(i) * time.Minute)
		got, err := st.ClaimDue(ctx, "test", now, time.Minute, 1)
		if err != nil || len(got) != 1 || got[0].Webhook.ID != ep.ID {
			t.Fatalf("claim %d: %+v %v", i, got, err)
		}
		out := chathook.Outcome{DeliveryID: got[0].ID, URL: ep.URL, At: now, Status: 503, Err: "HTTP 503 Service Unavailable"}
		if err := st.Finish(ctx, []store.Finished{{Outcome: out, RetryAt: now}}); err != nil {
			t.Fatal(err)
		}
	}

	smtp := chathooktest.NewSMTPServer(t, nil)
	n, err := notify.New(notify.Config{Store: st, SMTPURL: smtp.URL, From: "chathook@example.com",
		BaseURL: "https://chathook.example.com", Now: func() time.Time { return t0.Add(time.Hour) }})
	if err != nil {
		t.Fatal(err)
	}
	n.SendDue(ctx)
	got := smtp.Mails()
	if len(got) != 1 {
		t.Fatalf("%d emails sent, want 1", len(got))
	}
	if want := `chathook: the webhook "CRM sync" of Acme was disabled`; got[0].Subject != want {
		t.Errorf("subject %q, want %q", got[0].Subject, want)
	}
	body := mailBody(t, got[0].Body)
	for _, want := range []string{"Hello Ann", `"CRM sync" (ep_0123456789abcdef)`, "HTTP 503 Service Unavailable",
		"https://chathook.example.com/settings/webhooks/ep_0123456789abcdef\n"} {
		if !strings.Contains(body, want) {
			t.Errorf("body lacks %q:\n%s", want, body)
		}
	}
	if strings.Contains(body, "webhooks/outbound") {
		t.Errorf("the endpoint's email points at outbound:\n%s", body)
	}
}
