package app_test

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/chathook/chathook/app"
	"github.com/chathook/chathook/chathooktest"
	"github.com/chathook/chathook/event"
	"github.com/chathook/chathook/source/whatsweb/whatswebtest"
	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"
	"google.golang.org/protobuf/proto"
)

// TestWhatsAppFactsReachEndpoint: what happens to messages of a QR
// account after they were sent (a read receipt, an edit, a reaction, a
// delete for everyone) reaches an endpoint subscribed to those events,
// over HTTP, signed, after the messages they are about and in the
// order WhatsApp told them; a receipt WhatsApp sends again is not told
// twice; the seed webhook hears of none of them.
func TestWhatsAppFactsReachEndpoint(t *testing.T) { onEveryStore(t, testWhatsAppFacts) }

func testWhatsAppFacts(t *testing.T, db string) {
	wa := whatswebtest.New()
	svc := chathooktest.Start(t, chathooktest.Options{DB: db, Config: app.Config{WhatsApp: wa, AccountLease: accountLease}})
	ws := svc.NewWorkspace(t, "acme")
	seed := chathooktest.NewSink(t)
	ws.PointAt(t, seed.URL+"/hook")
	sink := chathooktest.NewSink(t)
	status, body := ws.Do(t, http.MethodPost, "/api/v1/webhooks", map[string]any{"url": sink.URL + "/events",
		"events": []string{event.MessageNew, event.MessageStatus, event.MessageEdited, event.MessageDeleted, event.MessageReaction}})
	var ep struct{ Secret string }
	if status != http.StatusCreated || json.Unmarshal(body, &ep) != nil {
		t.Fatalf("add endpoint: %d %s", status, body)
	}
	linkAccount(t, svc, ws)
	client := wa.Online(t, danaJID)
	builder := whatsmeow.NewClient(client.Device(), nil) // whatsmeow's own edits, revokes and reactions
	bob, dana := types.NewJID("972500000002", types.DefaultUserServer), types.NewJID("972500000001", types.DefaultUserServer)

	at := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	client.Emit(message("B1", at, text("lunch?")))
	sent := message("S1", at.Add(time.Minute), text("sure, at noon"))
	sent.Info.Sender, sent.Info.IsFromMe, sent.Info.PushName = dana, true, ""
	client.Emit(sent)
	read := &events.Receipt{MessageSource: types.MessageSource{Chat: bob, Sender: bob}, MessageIDs: []string{"S1"},
		Timestamp: at.Add(2 * time.Minute), Type: types.ReceiptTypeRead}
	client.Emit(read)
	client.Emit(read) // WhatsApp sends it again: nothing new to tell
	edit := message("E1", at.Add(3*time.Minute), builder.BuildEdit(bob, "B1", text("lunch at one?"))).UnwrapRaw()
	edit.Info.Edit = types.EditAttributeMessageEdit
	client.Emit(edit)
	reaction := builder.BuildReaction(bob, dana, "S1", "👍")
	reaction.ReactionMessage.SenderTimestampMS = proto.Int64(at.Add(4 * time.Minute).UnixMilli())
	client.Emit(message("X1", at.Add(4*time.Minute), reaction).UnwrapRaw())
	revoke := message("R1", at.Add(5*time.Minute), builder.BuildRevoke(bob, bob, "B1")).UnwrapRaw()
	revoke.Info.Edit = types.EditAttributeSenderRevoke
	client.Emit(revoke)

	got := sink.WaitFor(t, 6, 10*time.Second)
	want := []struct{ typ, id, key, value string }{
		{event.MessageNew, "", "", ""},
		{event.MessageNew, "", "", ""},
		{event.MessageStatus, "S1", "status", "read"},
		{event.MessageEdited, "B1", "text", "lunch at one?"},
		{event.MessageReaction, "S1", "reaction", "👍"},
		{event.MessageDeleted, "B1", "", ""},
	}
	for i, r := range got {
		if !verifies(t, ep.Secret, r) {
			t.Errorf("event %d does not verify: %s", i, r.Body)
		}
		var e struct {
			Type string         `json:"type"`
			Data map[string]any `json:"data"`
		}
		if err := json.Unmarshal(r.Body, &e); err != nil {
			t.Fatal(err)
		}
		if i >= len(want) {
			t.Errorf("an event more: %s", r.Body)
			continue
		}
		w := want[i]
		if e.Type != w.typ || (w.id != "" && e.Data["message_id"] != w.id) || (w.key != "" && e.Data[w.key] != w.value) {
			t.Errorf("event %d: %s, want %s of %s with %s %q", i, r.Body, w.typ, w.id, w.key, w.value)
		}
		if w.typ == event.MessageReaction {
			if s, _ := e.Data["sender"].(map[string]any); s["phone"] != "+972500000002" {
				t.Errorf("the reaction's sender: %v", e.Data["sender"])
			}
		}
		if w.id != "" && e.Data["message_uuid"] == "" {
			t.Errorf("%s names no message_uuid of a message chathook has: %s", w.typ, r.Body)
		}
	}
	svc.Stop(t)
	if n := sink.Attempts(); n != len(want) {
		t.Errorf("%d POSTs to the endpoint, want %d: the repeated receipt is told once", n, len(want))
	}
	if n := seed.Attempts(); n != 2 {
		t.Errorf("the seed webhook got %d POSTs, want the 2 messages only", n)
	}
}
