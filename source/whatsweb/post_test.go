package whatsweb_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"strconv"
	"testing"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/chathooktest"
	"github.com/chathook/chathook/deliver"
	"github.com/chathook/chathook/payload"
	"go.mau.fi/whatsmeow/proto/waHistorySync"
	"go.mau.fi/whatsmeow/types/events"
	"google.golang.org/protobuf/proto"
)

// From the WhatsApp event to the signed POST at a local receiver: the
// Manager's Queued kicks a real dispatcher, which sends the live message
// (and never the history) as SPEC 4.1 says, signed with the workspace's
// secret.
func TestEventToSignedPOST(t *testing.T) {
	onStores(t, func(t *testing.T, open opener) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		e := newEnv(t, open)
		sink := chathooktest.NewSink(t)
		wh, err := e.st.UpdateWebhook(ctx, e.ws.ID, chathook.Outbound, t0, chathook.WebhookUpdate{URL: &sink.URL})
		if err != nil {
			t.Fatal(err)
		}
		d := deliver.New(deliver.Config{Store: e.st, BaseURL: "https://chathook.example.com", AllowPrivateTargets: true,
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: e.clock.Now})
		done := make(chan error, 1)
		go func() { done <- d.Run(ctx) }()
		defer func() { cancel(); <-done }()

		m, err := newManagerKicking(t, e, d.Kick)
		if err != nil {
			t.Fatal(err)
		}
		_, fc := e.pair(t, m, e.net, danaJID, "Dana Owner")
		if err := fc.Device().Contacts.PutContactName(ctx, mustJID(t, bobJID), "Bob", "Bob Saved"); err != nil {
			t.Fatal(err)
		}
		fc.Emit(&events.HistorySync{Data: &waHistorySync.HistorySync{
			SyncType: waHistorySync.HistorySync_RECENT.Enum(),
			Conversations: []*waHistorySync.Conversation{{ID: proto.String(bobJID), Messages: []*waHistorySync.HistorySyncMsg{
				webMsg(bobJID, "", "H1", false, t0.Add(-time.Hour), txt("from before")),
			}}},
		}})
		at := t0.Add(-time.Second)
		fc.Emit(live(t, bobJID, bobJID, "3EB0C0FFEE", at, txt("Hi! How are you? 👋")))

		got := sink.WaitFor(t, 1, 10*time.Second)[0]
		key, err := payload.ParseSecret(wh.Secret)
		if err != nil {
			t.Fatal(err)
		}
		ts, _ := strconv.ParseInt(got.Header.Get("webhook-timestamp"), 10, 64)
		if !payload.Verify(key, got.Header.Get("webhook-id"), ts, got.Body, got.Header.Get("webhook-signature")) {
			t.Errorf("signature %q does not verify", got.Header.Get("webhook-signature"))
		}
		var body struct {
			Account struct {
				FullName     string `json:"full_name"`
				Email, Phone string
			} `json:"whatsapp_account"`
			Chat struct {
				FullName string `json:"full_name"`
				IsNew    bool   `json:"is_new_chat"`
				IsGroup  bool   `json:"is_group"`
				Phone    string
			}
			Message struct {
				Direction, Timestamp, Text string
				ID                         string `json:"message_id"`
				Sender, Recipient          struct {
					FullName string `json:"full_name"`
					Phone    string
				}
			}
		}
		if err := json.Unmarshal(got.Body, &body); err != nil {
			t.Fatalf("%v: %s", err, got.Body)
		}
		a, c, msg := body.Account, body.Chat, body.Message
		if a.Phone != "+972500000001" || a.FullName != "Dana Owner" || a.Email != "dana@example.com" {
			t.Errorf("whatsapp_account %+v", a)
		}
		if c.FullName != "Bob Saved" || c.Phone != "+972500000002" || c.IsGroup || !c.IsNew {
			t.Errorf("chat %+v", c)
		}
		if msg.Direction != "received" || msg.ID != "3EB0C0FFEE" || msg.Text != "Hi! How are you? 👋" || msg.Timestamp != payload.Time(at) ||
			msg.Sender.FullName != "Bob Saved" || msg.Sender.Phone != "+972500000002" ||
			msg.Recipient.FullName != "Dana Owner" || msg.Recipient.Phone != "+972500000001" {
			t.Errorf("message %+v", msg)
		}
		if n := sink.Attempts(); n != 1 {
			t.Errorf("%d POSTs; the history message must not be sent", n)
		}
	})
}
