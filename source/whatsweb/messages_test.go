package whatsweb_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/ingest"
	"github.com/chathook/chathook/source/whatsweb/whatswebtest"
	"github.com/chathook/chathook/store"
	"go.mau.fi/whatsmeow/proto/waCommon"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/proto/waHistorySync"
	"go.mau.fi/whatsmeow/proto/waWeb"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"
	"google.golang.org/protobuf/proto"
)

const (
	danaJID = "972500000001:7@s.whatsapp.net"
	bobJID  = "972500000002@s.whatsapp.net"
	family  = "120363000000000001@g.us"
)

// live is a message event as whatsmeow hands one over.
func live(t *testing.T, chat, sender, id string, at time.Time, msg *waE2E.Message) *events.Message {
	c := mustJID(t, chat)
	return &events.Message{
		Info: types.MessageInfo{
			MessageSource: types.MessageSource{Chat: c, Sender: mustJID(t, sender), IsGroup: c.Server == types.GroupServer},
			ID:            id, Timestamp: at, PushName: "bobby",
		},
		Message: msg, RawMessage: msg,
	}
}

// webMsg is a message of a history sync.
func webMsg(chat, participant, id string, fromMe bool, at time.Time, msg *waE2E.Message) *waHistorySync.HistorySyncMsg {
	wm := &waWeb.WebMessageInfo{
		Key:              &waCommon.MessageKey{RemoteJID: proto.String(chat), FromMe: proto.Bool(fromMe), ID: proto.String(id)},
		Message:          msg,
		MessageTimestamp: proto.Uint64(uint64(at.Unix())),
	}
	if participant != "" {
		wm.Participant = proto.String(participant)
	}
	return &waHistorySync.HistorySyncMsg{Message: wm}
}

func txt(s string) *waE2E.Message { return &waE2E.Message{Conversation: proto.String(s)} }

// chatByExternalID finds a chat of the workspace and its messages.
func (e *env) chat(t *testing.T, externalID string) (chathook.Chat, []chathook.Message) {
	t.Helper()
	ctx := context.Background()
	chats, err := e.st.Chats(ctx, e.ws.ID, store.ChatQuery{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range chats {
		if c.ExternalID == externalID {
			msgs, err := e.st.Messages(ctx, e.ws.ID, c.ID, store.Page{Limit: 100})
			if err != nil {
				t.Fatal(err)
			}
			return c.Chat, msgs
		}
	}
	t.Fatalf("no chat %q among %d", externalID, len(chats))
	return chathook.Chat{}, nil
}

func (e *env) pending(t *testing.T) int {
	t.Helper()
	n, err := e.st.Pending(context.Background(), e.ws.ID, chathook.Outbound)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// pairedQueueing is an env whose webhook has a URL, so that live
// messages are queued, with Dana's account paired on manager "a".
func pairedQueueing(t *testing.T, open opener) (*env, *whatswebtest.Client) {
	t.Helper()
	e := newEnv(t, open)
	url := "http://127.0.0.1:9/hook"
	if _, err := e.st.UpdateWebhook(context.Background(), e.ws.ID, chathook.Outbound, t0, chathook.WebhookUpdate{URL: &url}); err != nil {
		t.Fatal(err)
	}
	_, fc := e.pair(t, e.manager(t, "a"), e.net, danaJID, "Dana Owner")
	return e, fc
}

// From the event to the store: history fills the timelines and is never
// delivered; a live message is stored once, queued for delivery, and
// kicks the dispatcher; a repeat of its id is stored once; what is not a
// message is not stored.
func TestMessagesReachTheStore(t *testing.T) {
	onStores(t, func(t *testing.T, open opener) {
		ctx := context.Background()
		e, fc := pairedQueueing(t, open)
		if err := fc.Device().Contacts.PutContactName(ctx, mustJID(t, bobJID), "Bob", "Bob Saved"); err != nil {
			t.Fatal(err)
		}

		past := t0.Add(-48 * time.Hour)
		fc.Emit(&events.HistorySync{Data: &waHistorySync.HistorySync{
			SyncType: waHistorySync.HistorySync_INITIAL_BOOTSTRAP.Enum(),
			Conversations: []*waHistorySync.Conversation{
				{ID: proto.String(bobJID), Messages: []*waHistorySync.HistorySyncMsg{
					webMsg(bobJID, "", "H1", false, past, txt("old question")),
					webMsg(bobJID, "", "H2", true, past.Add(time.Minute), txt("old answer")),
					webMsg(bobJID, "", "H3", false, past.Add(2*time.Minute), &waE2E.Message{ImageMessage: &waE2E.ImageMessage{Caption: proto.String("photo")}}),
					webMsg(bobJID, "", "H4", true, past.Add(3*time.Minute), &waE2E.Message{ProtocolMessage: &waE2E.ProtocolMessage{
						Type: waE2E.ProtocolMessage_MESSAGE_EDIT.Enum(), Key: &waCommon.MessageKey{ID: proto.String("H2")}, EditedMessage: txt("edited answer")}}),
				}},
				{ID: proto.String(family), Name: proto.String("Family"), Messages: []*waHistorySync.HistorySyncMsg{
					webMsg(family, bobJID, "H5", false, past, txt("family dinner?")),
				}},
			},
		}})
		bob, msgs := e.chat(t, "+972500000002")
		if bob.FullName != "Bob Saved" || bob.Phone != "+972500000002" || bob.IsGroup || len(msgs) != 3 {
			t.Fatalf("Bob's chat %+v with %d messages", bob, len(msgs))
		}
		if msgs[0].Text != "old question" || msgs[0].Direction != chathook.Received || !msgs[0].Timestamp.Equal(past) ||
			msgs[1].Text != "old answer" || msgs[1].Direction != chathook.Sent || msgs[1].Sender.FullName != "Dana Owner" ||
			msgs[2].SkipReason == "" || msgs[2].Text != "photo" {
			t.Errorf("history messages %+v", msgs)
		}
		grp, gmsgs := e.chat(t, family)
		if grp.FullName != "Family" || !grp.IsGroup || len(gmsgs) != 1 || gmsgs[0].Sender.FullName != "Bob Saved" || gmsgs[0].Sender.Phone != "" {
			t.Errorf("group %+v, messages %+v", grp, gmsgs)
		}
		if n := e.pending(t); n != 0 || e.queued.Load() != 0 {
			t.Fatalf("history: %d deliveries pending, dispatcher kicked %d times", n, e.queued.Load())
		}

		// Live: stored, queued, kicked; the chat's first live message is
		// new to the receiver.
		fc.Emit(live(t, bobJID, bobJID, "L1", t0.Add(-time.Second), txt("are you there? 🙂")))
		_, msgs = e.chat(t, "+972500000002")
		if len(msgs) != 4 || msgs[3].MessageID != "L1" || msgs[3].Text != "are you there? 🙂" || !msgs[3].IsNewChat ||
			msgs[3].Sender != (chathook.Person{FullName: "Bob Saved", Phone: "+972500000002"}) ||
			msgs[3].Recipient != (chathook.Person{FullName: "Dana Owner", Phone: "+972500000001"}) {
			t.Fatalf("after the live message: %+v", msgs)
		}
		if n := e.pending(t); n != 1 || e.queued.Load() != 1 {
			t.Fatalf("live: %d deliveries pending, dispatcher kicked %d times", n, e.queued.Load())
		}

		// The same id again (WhatsApp redelivers after a reconnect).
		fc.Emit(live(t, bobJID, bobJID, "L1", t0.Add(-time.Second), txt("are you there? 🙂")))
		// Not messages.
		fc.Emit(live(t, bobJID, bobJID, "L2", t0, &waE2E.Message{ReactionMessage: &waE2E.ReactionMessage{Text: proto.String("👍")}}))
		fc.Emit(live(t, bobJID, bobJID, "L3", t0, &waE2E.Message{PollCreationMessageV3: &waE2E.PollCreationMessage{Name: proto.String("Lunch?")}}))
		if _, msgs = e.chat(t, "+972500000002"); len(msgs) != 4 {
			t.Errorf("after a repeat, a reaction and a poll: %d messages", len(msgs))
		}
		if n := e.pending(t); n != 1 || e.queued.Load() != 1 {
			t.Errorf("after a repeat: %d deliveries pending, dispatcher kicked %d times", n, e.queued.Load())
		}

		// A group message, live.
		e.net.SetGroup(family, "Family renamed")
		fc.Emit(live(t, family, bobJID, "L4", t0, txt("on my way")))
		if _, gmsgs = e.chat(t, family); len(gmsgs) != 2 || gmsgs[1].Recipient.FullName != "Family" {
			t.Errorf("live group message %+v (the subject from the history sync is cached)", gmsgs)
		}
	})
}

// A contact known only by LID has the LID as its chat's id and no phone;
// once the LID store knows the number, the same chat takes it.
func TestLIDChatKeepsItsID(t *testing.T) {
	onStores(t, func(t *testing.T, open opener) {
		ctx := context.Background()
		e := newEnv(t, open)
		m := e.manager(t, "a")
		_, fc := e.pair(t, m, e.net, danaJID, "Dana Owner")

		fc.Emit(live(t, "777777@lid", "777777@lid", "A1", t0, txt("hi, from a hidden number")))
		first, msgs := e.chat(t, "777777@lid")
		if first.Phone != "" || first.FullName != "bobby" || len(msgs) != 1 {
			t.Fatalf("LID chat %+v, %d messages", first, len(msgs))
		}
		if err := fc.Device().LIDs.PutLIDMapping(ctx, mustJID(t, "777777@lid"), mustJID(t, "972500000007@s.whatsapp.net")); err != nil {
			t.Fatal(err)
		}
		fc.Emit(live(t, "972500000007@s.whatsapp.net", "972500000007@s.whatsapp.net", "A2", t0, txt("now with my number")))
		later, msgs := e.chat(t, "+972500000007")
		if later.ID != first.ID || later.Phone != "+972500000007" || len(msgs) != 2 {
			t.Errorf("chat %+v (was %d), %d messages", later, first.ID, len(msgs))
		}
	})
}

// A live message the database refuses is not acknowledged (the handler
// answers false, and whatsmeow, with SynchronousAck, sends no ack), so
// WhatsApp sends it again; the repeat, once the database takes it, is
// stored and queued once.
func TestUnstoredMessageIsNotAcknowledged(t *testing.T) {
	onStores(t, func(t *testing.T, open opener) {
		ctx := context.Background()
		e, fc := pairedQueueing(t, open)

		// A real failure of the real database: a trigger that refuses
		// every new message, as a full disk would.
		db, dialect := e.st.SessionDB()
		refuse, allow := `CREATE TRIGGER refuse BEFORE INSERT ON messages BEGIN SELECT RAISE(ABORT, 'disk full'); END`, `DROP TRIGGER refuse`
		if dialect == "postgres" {
			if _, err := db.ExecContext(ctx, `CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'disk full'; END $$`); err != nil {
				t.Fatal(err)
			}
			refuse, allow = `CREATE TRIGGER refuse BEFORE INSERT ON messages FOR EACH ROW EXECUTE FUNCTION refuse()`, `DROP TRIGGER refuse ON messages`
		}
		if _, err := db.ExecContext(ctx, refuse); err != nil {
			t.Fatal(err)
		}
		msg := live(t, bobJID, bobJID, "L1", t0, txt("are you there?"))
		if fc.Emit(msg) {
			t.Fatal("a message the database refused was acknowledged")
		}
		if n := e.pending(t); n != 0 {
			t.Fatalf("%d deliveries pending after a refused message", n)
		}
		if _, err := db.ExecContext(ctx, allow); err != nil {
			t.Fatal(err)
		}
		if !fc.Emit(msg) {
			t.Fatal("WhatsApp's second sending was not acknowledged")
		}
		if !fc.Emit(msg) { // and a third, as a duplicate
			t.Fatal("a duplicate was not acknowledged")
		}
		if n := e.pending(t); n != 1 {
			t.Errorf("%d deliveries pending, want 1", n)
		}
	})
}

// A history sync longer than one batch is stored whole, batch after
// batch, and none of it is queued.
func TestLongHistoryStoredWhole(t *testing.T) {
	onStores(t, func(t *testing.T, open opener) {
		e, fc := pairedQueueing(t, open)
		const n = 2*ingest.MaxBatch + 1
		msgs := make([]*waHistorySync.HistorySyncMsg, n)
		past := t0.Add(-48 * time.Hour)
		for i := range msgs {
			msgs[i] = webMsg(bobJID, "", fmt.Sprintf("H%d", i), i%2 == 0, past.Add(time.Duration(i)*time.Second), txt("old"))
		}
		fc.Emit(&events.HistorySync{Data: &waHistorySync.HistorySync{
			SyncType:      waHistorySync.HistorySync_INITIAL_BOOTSTRAP.Enum(),
			Conversations: []*waHistorySync.Conversation{{ID: proto.String(bobJID), Messages: msgs}},
		}})
		db, _ := e.st.SessionDB()
		var stored int
		if err := db.QueryRowContext(context.Background(), `SELECT count(*) FROM messages`).Scan(&stored); err != nil {
			t.Fatal(err)
		}
		if stored != n || e.pending(t) != 0 {
			t.Errorf("%d of %d history messages stored, %d deliveries pending", stored, n, e.pending(t))
		}
	})
}
