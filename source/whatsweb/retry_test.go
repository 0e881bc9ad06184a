package whatsweb_test

import (
	"context"
	"testing"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/source/whatsweb"
	"github.com/google/uuid"
)

// A phone that could not decrypt one of chathook's replies asks for it
// again with a retry receipt: the production client finds its text in
// the database by its WhatsApp id; a message that is not a reply is not
// sent again.
func TestRetryReceiptFindsReply(t *testing.T) {
	onStores(t, func(t *testing.T, open opener) {
		ctx := context.Background()
		e := newEnv(t, open)
		_, fc := e.pair(t, e.manager(t, "a"), e.net, danaJID, "Dana Owner")
		fc.Deliver(live(t, bobJID, bobJID, "L1", t0, txt("hello")))
		chat, _ := e.chat(t, "+972500000002")
		if _, err := e.st.QueueReply(ctx, chathook.Reply{
			ID: uuid.Must(uuid.NewV7()).String(), WorkspaceID: e.ws.ID, ChatID: chat.ID, WAID: "3EB0REPLY", Text: "on my way",
			SentBy: chathook.Teammate{FullName: "Jane", Email: "jane@example.com"},
		}, t0); err != nil {
			t.Fatal(err)
		}

		real, err := whatsweb.New(ctx, whatsweb.Config{Store: open(t), Owner: "r"}) // Network nil: whatsmeow's
		if err != nil {
			t.Fatal(err)
		}
		defer real.Close(ctx)
		bob := mustJID(t, bobJID)
		if got := whatsweb.RetryText(real, fc.Device(), bob, bob, "3EB0REPLY"); got != "on my way" {
			t.Errorf("retry of the reply: %q", got)
		}
		for _, id := range []string{"L1", "NONE"} {
			if got := whatsweb.RetryText(real, fc.Device(), bob, bob, id); got != "" {
				t.Errorf("retry of %s: %q", id, got)
			}
		}
	})
}
