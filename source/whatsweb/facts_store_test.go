package whatsweb_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/event"
	"github.com/chathook/chathook/store"
	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/proto/waHistorySync"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"
	"google.golang.org/protobuf/proto"
)

// factsEndpoint adds an event-format endpoint that takes the four fact
// events, beside outbound (seed format), which takes none of them.
func (e *env) factsEndpoint(t *testing.T) chathook.Webhook {
	t.Helper()
	ep, err := e.st.CreateWebhook(context.Background(), e.ws.ID, chathook.Webhook{
		ID: "ep_0123456789abcdef", URL: "http://127.0.0.1:9/crm", Description: "CRM",
		Events: []string{event.MessageStatus, event.MessageEdited, event.MessageDeleted, event.MessageReaction},
		Format: event.Envelope, Granularity: chathook.NoAggregation, Accounts: []int64{}, Enabled: true,
		Secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}, t0)
	if err != nil {
		t.Fatal(err)
	}
	return ep
}

// sentEvent is one delivery of the endpoint, as the dispatcher would
// POST it: its event type and data.
type sentEvent struct {
	Type string
	Data map[string]any
}

// drain claims the endpoint's due deliveries, lane order kept, and
// marks each delivered, until none is left.
func (e *env) drain(t *testing.T, ep chathook.Webhook) []sentEvent {
	t.Helper()
	ctx := context.Background()
	out, err := e.st.Webhook(ctx, e.ws.ID, chathook.Outbound)
	if err != nil {
		t.Fatal(err)
	}
	var got []sentEvent
	for range 100 {
		ds, err := e.st.ClaimDue(ctx, "test", e.clock.Now(), time.Minute, 100, out.Key)
		if err != nil {
			t.Fatal(err)
		}
		if len(ds) == 0 {
			return got
		}
		var done []store.Finished
		for _, d := range ds {
			if d.Webhook.ID != ep.ID {
				t.Fatalf("a delivery of %s", d.Webhook.ID)
			}
			var data map[string]any
			if err := json.Unmarshal(d.Data, &data); err != nil {
				t.Fatalf("%s data %q: %v", d.Type, d.Data, err)
			}
			got = append(got, sentEvent{Type: d.Type, Data: data})
			done = append(done, store.Finished{Outcome: chathook.Outcome{DeliveryID: d.ID, URL: ep.URL, At: e.clock.Now(), Status: 204}})
		}
		if err := e.st.Finish(ctx, done); err != nil {
			t.Fatal(err)
		}
	}
	t.Fatal("the endpoint's deliveries never ran out")
	return nil
}

// fromDana is a live message the account sent to chat from its phone.
func fromDana(t *testing.T, chat, id string, at time.Time, msg *waE2E.Message) *events.Message {
	evt := live(t, chat, "972500000001@s.whatsapp.net", id, at, msg)
	evt.Info.IsFromMe, evt.Info.PushName = true, ""
	return evt.UnwrapRaw()
}

// receipt is a receipt from the other side, as whatsmeow parses one.
func receipt(t *testing.T, chat, sender string, typ types.ReceiptType, at time.Time, ids ...string) *events.Receipt {
	c := mustJID(t, chat)
	return &events.Receipt{
		MessageSource: types.MessageSource{Chat: c, Sender: mustJID(t, sender), IsGroup: c.Server == types.GroupServer},
		MessageIDs:    ids, Timestamp: at, Type: typ,
	}
}

// message finds a message of a chat by WhatsApp's id.
func (e *env) message(t *testing.T, chat, id string) chathook.Message {
	t.Helper()
	_, msgs := e.chat(t, chat)
	for _, m := range msgs {
		if m.MessageID == id {
			return m
		}
	}
	t.Fatalf("no message %s in %s", id, chat)
	return chathook.Message{}
}

// From whatsmeow's events to the store and the endpoint: receipts move
// a sent message's status forward only; an edit keeps the earlier text;
// a reaction is set and taken back; a revoke deletes; each applied fact
// queues its event for the endpoint that takes it and kicks the
// dispatcher, and a repeat queues nothing.
func TestFactsReachTheStore(t *testing.T) {
	onStores(t, func(t *testing.T, open opener) {
		ctx := context.Background()
		e, fc := pairedQueueing(t, open)
		ep := e.factsEndpoint(t)
		if err := fc.Device().Contacts.PutContactName(ctx, mustJID(t, bobJID), "Bob", "Bob Saved"); err != nil {
			t.Fatal(err)
		}
		cli := whatsmeow.NewClient(fc.Device(), nil) // whatsmeow's own builders of edits, revokes, reactions
		bob := mustJID(t, bobJID)
		const chat = "+972500000002"

		fc.Emit(live(t, bobJID, bobJID, "B1", t0.Add(-2*time.Minute), txt("lunch?")))
		fc.Emit(fromDana(t, bobJID, "S1", t0.Add(-time.Minute), txt("sure, at noon")))
		if got := e.drain(t, ep); len(got) != 0 {
			t.Fatalf("messages made fact events: %+v", got)
		}
		kicks, seed := e.queued.Load(), e.pending(t)

		// Receipts: delivered, read; then a late delivered, a repeat.
		at := t0.Add(-50 * time.Second)
		for _, r := range []*events.Receipt{
			receipt(t, bobJID, "972500000002:3@s.whatsapp.net", types.ReceiptTypeDelivered, at, "S1"),
			receipt(t, bobJID, bobJID, types.ReceiptTypeRead, at.Add(10*time.Second), "S1"),
			receipt(t, bobJID, bobJID, types.ReceiptTypeDelivered, at.Add(20*time.Second), "S1"),
			receipt(t, bobJID, danaJID, types.ReceiptTypeReadSelf, at.Add(20*time.Second), "B1"),
		} {
			if r.Sender.User == "972500000001" {
				r.IsFromMe = true
			}
			if !fc.Emit(r) {
				t.Fatalf("receipt %s %v not acknowledged", r.Type, r.MessageIDs)
			}
		}
		if m := e.message(t, chat, "S1"); m.Status != chathook.StatusRead || !m.StatusAt.Equal(at.Add(10*time.Second)) {
			t.Errorf("S1 after its receipts: status %q at %v", m.Status, m.StatusAt)
		}
		if m := e.message(t, chat, "B1"); m.Status != chathook.StatusNone {
			t.Errorf("B1, read on Dana's phone, has status %q", m.Status)
		}
		if n := e.queued.Load() - kicks; n != 2 {
			t.Errorf("the dispatcher was kicked %d times for two applied receipts", n)
		}

		// Dana edits S1 on her phone, twice the same edit (a redelivery).
		edit := fromDana(t, bobJID, "E1", t0.Add(-40*time.Second), cli.BuildEdit(bob, "S1", txt("sure, at one")))
		edit.Info.Edit = types.EditAttributeMessageEdit
		fc.Emit(edit)
		fc.Emit(edit)
		if m := e.message(t, chat, "S1"); m.Text != "sure, at one" || len(m.Edits) != 1 || m.Edits[0].Text != "sure, at noon" {
			t.Errorf("S1 after its edit: %q, edits %+v", m.Text, m.Edits)
		}
		// The edit is no message of its own.
		if _, msgs := e.chat(t, chat); len(msgs) != 2 {
			t.Errorf("%d messages in the chat after an edit", len(msgs))
		}

		// Bob reacts to S1, then takes it back.
		react := func(id, emoji string, at time.Time) *events.Message {
			msg := cli.BuildReaction(bob, mustJID(t, danaJID), "S1", emoji)
			msg.ReactionMessage.SenderTimestampMS = proto.Int64(at.UnixMilli())
			return live(t, bobJID, bobJID, id, at, msg).UnwrapRaw()
		}
		fc.Emit(react("X1", "👍", t0.Add(-30*time.Second)))
		m := e.message(t, chat, "S1")
		if len(m.Reactions) != 1 || m.Reactions[0].Reaction != "👍" || m.Reactions[0].Sender.FullName != "Bob Saved" {
			t.Errorf("S1's reactions: %+v", m.Reactions)
		}
		fc.Emit(react("X2", "", t0.Add(-20*time.Second)))
		if m := e.message(t, chat, "S1"); len(m.Reactions) != 0 {
			t.Errorf("S1's reactions after Bob took his back: %+v", m.Reactions)
		}

		// Bob deletes B1 for everyone.
		revoke := live(t, bobJID, bobJID, "R1", t0.Add(-10*time.Second), cli.BuildRevoke(bob, bob, "B1")).UnwrapRaw()
		revoke.Info.Edit = types.EditAttributeSenderRevoke
		fc.Emit(revoke)
		if m := e.message(t, chat, "B1"); !m.Deleted || m.Text != "lunch?" {
			t.Errorf("B1 after its revoke: deleted %v, text %q", m.Deleted, m.Text)
		}

		got := e.drain(t, ep)
		want := []struct{ typ, key, value string }{
			{event.MessageStatus, "status", "delivered"},
			{event.MessageStatus, "status", "read"},
			{event.MessageEdited, "text", "sure, at one"},
			{event.MessageReaction, "reaction", "👍"},
			{event.MessageReaction, "reaction", ""},
			{event.MessageDeleted, "message_id", "B1"},
		}
		if len(got) != len(want) {
			t.Fatalf("the endpoint got %+v, want %d events", got, len(want))
		}
		for i, w := range want {
			if got[i].Type != w.typ || got[i].Data[w.key] != w.value || got[i].Data["message_uuid"] == "" {
				t.Errorf("event %d: %+v, want %s with %s %q", i, got[i], w.typ, w.key, w.value)
			}
		}
		if s, _ := got[3].Data["sender"].(map[string]any); s["full_name"] != "Bob Saved" || s["phone"] != chat {
			t.Errorf("reaction's sender %+v", got[3].Data["sender"])
		}
		if n := e.queued.Load() - kicks; n != 6 {
			t.Errorf("the dispatcher was kicked %d times for six applied facts", n)
		}
		if n := e.pending(t); n != seed {
			t.Errorf("outbound, in the seed format, has %d deliveries pending, had %d before the facts", n, seed)
		}
	})
}

// A group's receipts come per participant: the first delivered or read
// moves the status of the account's message, later ones are repeats.
func TestGroupReceipts(t *testing.T) {
	onStores(t, func(t *testing.T, open opener) {
		e, fc := pairedQueueing(t, open)
		ep := e.factsEndpoint(t)
		e.net.SetGroup(family, "Family")
		fc.Emit(fromDana(t, family, "G1", t0.Add(-time.Minute), txt("dinner at 8")))
		for _, p := range []string{"972500000002:1@s.whatsapp.net", "972500000003@s.whatsapp.net"} {
			fc.Emit(receipt(t, family, p, types.ReceiptTypeRead, t0.Add(-30*time.Second), "G1"))
		}
		if m := e.message(t, family, "G1"); m.Status != chathook.StatusRead {
			t.Errorf("G1's status %q", m.Status)
		}
		if got := e.drain(t, ep); len(got) != 1 || got[0].Data["status"] != "read" {
			t.Errorf("the endpoint got %+v", got)
		}
	})
}

// A fact about a chat chathook does not have is acknowledged and
// dropped; history's edits, revokes and reactions are never recorded.
func TestFactsNotRecorded(t *testing.T) {
	onStores(t, func(t *testing.T, open opener) {
		e, fc := pairedQueueing(t, open)
		ep := e.factsEndpoint(t)
		const carol = "972500000003@s.whatsapp.net"
		if !fc.Emit(receipt(t, carol, carol, types.ReceiptTypeRead, t0, "C1")) {
			t.Error("a receipt of an unknown chat was not acknowledged")
		}
		cli := whatsmeow.NewClient(fc.Device(), nil)
		if !fc.Emit(live(t, carol, carol, "X1", t0, cli.BuildReaction(mustJID(t, carol), mustJID(t, danaJID), "C1", "👍")).UnwrapRaw()) {
			t.Error("a reaction in an unknown chat was not acknowledged")
		}

		fc.Emit(live(t, bobJID, bobJID, "B1", t0.Add(-time.Minute), txt("lunch?")))
		bob := mustJID(t, bobJID)
		past := t0.Add(-30 * time.Second)
		fc.Emit(&events.HistorySync{Data: &waHistorySync.HistorySync{
			SyncType: waHistorySync.HistorySync_RECENT.Enum(),
			Conversations: []*waHistorySync.Conversation{{ID: proto.String(bobJID), Messages: []*waHistorySync.HistorySyncMsg{
				webMsg(bobJID, "", "R1", false, past, cli.BuildRevoke(bob, bob, "B1")),
				webMsg(bobJID, "", "X2", false, past, cli.BuildReaction(bob, bob, "B1", "😂")),
				webMsg(bobJID, "", "E1", false, past, cli.BuildEdit(bob, "B1", txt("dinner?"))),
			}}},
		}})
		if m := e.message(t, "+972500000002", "B1"); m.Deleted || len(m.Reactions) != 0 || m.Text != "lunch?" {
			t.Errorf("B1 after a history sync: %+v", m)
		}
		if got := e.drain(t, ep); len(got) != 0 {
			t.Errorf("the endpoint got %+v", got)
		}
	})
}

// A fact the database refuses is not acknowledged, so WhatsApp sends it
// again; the repeat, once the database takes it, is recorded once.
func TestUnrecordedFactIsNotAcknowledged(t *testing.T) {
	onStores(t, func(t *testing.T, open opener) {
		ctx := context.Background()
		e, fc := pairedQueueing(t, open)
		ep := e.factsEndpoint(t)
		fc.Emit(fromDana(t, bobJID, "S1", t0.Add(-time.Minute), txt("sure")))

		db, dialect := e.st.SessionDB()
		refuse, allow := `CREATE TRIGGER refuse BEFORE UPDATE ON messages BEGIN SELECT RAISE(ABORT, 'disk full'); END`, `DROP TRIGGER refuse`
		if dialect == "postgres" {
			if _, err := db.ExecContext(ctx, `CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'disk full'; END $$`); err != nil {
				t.Fatal(err)
			}
			refuse, allow = `CREATE TRIGGER refuse BEFORE UPDATE ON messages FOR EACH ROW EXECUTE FUNCTION refuse()`, `DROP TRIGGER refuse ON messages`
		}
		if _, err := db.ExecContext(ctx, refuse); err != nil {
			t.Fatal(err)
		}
		r := receipt(t, bobJID, bobJID, types.ReceiptTypeRead, t0, "S1")
		if fc.Emit(r) {
			t.Fatal("a receipt the database refused was acknowledged")
		}
		if _, err := db.ExecContext(ctx, allow); err != nil {
			t.Fatal(err)
		}
		for i := range 2 { // sent again, then once more: each acknowledged, told once
			if !fc.Emit(r) {
				t.Fatalf("WhatsApp's sending %d after the refusal was not acknowledged", i+1)
			}
		}
		if m := e.message(t, "+972500000002", "S1"); m.Status != chathook.StatusRead {
			t.Errorf("S1's status %q", m.Status)
		}
		if got := e.drain(t, ep); len(got) != 1 {
			t.Errorf("the endpoint got %+v", got)
		}
	})
}
