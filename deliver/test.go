package deliver

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/event"
	"github.com/chathook/chathook/payload"
)

// Sample is the message a test POST carries: plainly made up, so a
// receiver's log shows what it was.
func Sample(now time.Time) (chathook.Account, chathook.Chat, chathook.Message) {
	acc := chathook.Account{Phone: "+15550000000", FullName: "chathook test", Email: "test@chathook.invalid"}
	chat := chathook.Chat{ID: 10000000, FullName: "Test contact", Phone: "+15550000001"}
	msg := chathook.Message{
		MessageID: "chathook-test-" + now.UTC().Format("20060102T150405"),
		Direction: chathook.Received,
		Timestamp: now,
		Sender:    chathook.Person{FullName: chat.FullName, Phone: chat.Phone},
		Recipient: chathook.Person{FullName: acc.FullName, Phone: acc.Phone},
		Text:      "This is a test message from chathook.",
		IsNewChat: false,
	}
	return acc, chat, msg
}

// Test sends a sample message to the webhook's URL exactly as a delivery
// goes out (same body format, signature, headers, target, timeout and
// address rules), whether or not the webhook is enabled, and returns the
// outcome. It is not a delivery: nothing is stored, and it never counts
// towards the consecutive failures that disable a webhook. Its webhook-id
// starts with "msg_test_".
//
// An endpoint in the event format gets a webhook:test event instead, with
// empty data and an event id of its own.
func (d *Dispatcher) Test(ctx context.Context, wh chathook.Webhook) chathook.Outcome {
	now := d.cfg.Now()
	if wh.Format == event.Envelope {
		id := event.NewID(now)
		return d.send(ctx, wh, id, event.WebhookTest, payload.Envelope(event.WebhookTest, id, now, wh.WorkspaceID, struct{}{}))
	}
	acc, chat, msg := Sample(now)
	id := make([]byte, 12)
	_, _ = rand.Read(id)
	return d.send(ctx, wh, "msg_test_"+hex.EncodeToString(id), event.MessageReceivedNew, payload.Single(d.cfg.BaseURL, acc, chat, msg))
}
