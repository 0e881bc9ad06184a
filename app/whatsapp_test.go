package app_test

// Accounts linked by QR code, through the whole service: the connector
// app.New starts takes a linked account, and what WhatsApp hands its
// connection (faked by whatswebtest, driven with whatsmeow's own events)
// reaches the workspace's webhook as SPEC 4.1 says; on one PostgreSQL,
// one instance holds the account, and another takes it over when it dies.

import (
	"context"
	"testing"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/app"
	"github.com/chathook/chathook/chathooktest"
	"github.com/chathook/chathook/payload"
	"github.com/chathook/chathook/source/whatsweb/whatswebtest"
	"github.com/chathook/chathook/store"
	"github.com/jackc/pgx/v5"
	"go.mau.fi/whatsmeow/proto/waCommon"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/proto/waHistorySync"
	"go.mau.fi/whatsmeow/proto/waWeb"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"
	"google.golang.org/protobuf/proto"
)

const (
	danaJID   = "972500000001:7@s.whatsapp.net" // the linked device
	bobJID    = "972500000002@s.whatsapp.net"   // a contact writing to it
	danaEmail = "dana@acme.example"
)

// accountLease is short, so that a killed instance's account is taken
// over in a test's time; the claim rounds run every third of it.
const accountLease = 300 * time.Millisecond

// linkAccount records Dana's phone as paired elsewhere (`chathook account
// connect` on another machine): its device in the session tables, its
// account linked, with a lease that has run out, so that a serving
// instance's connector claims it.
func linkAccount(t *testing.T, svc *chathooktest.Service, ws *chathooktest.Workspace) chathook.Account {
	t.Helper()
	db, dialect := svc.Store.SessionDB()
	whatswebtest.SaveDevice(t, db, dialect, danaJID, "Dana Owner")
	acc, err := svc.Store.LinkAccount(context.Background(), ws.WorkspaceID, chathook.Account{
		Phone: "+972500000001", JID: danaJID, FullName: "Dana Owner", Email: danaEmail,
	}, "the pairing machine", time.Now().Add(-time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	return acc
}

// message is a live message event as whatsmeow hands one over: received
// from Bob in his chat with Dana.
func message(id string, at time.Time, msg *waE2E.Message) *events.Message {
	chat := types.NewJID("972500000002", types.DefaultUserServer)
	return &events.Message{
		Info: types.MessageInfo{
			MessageSource: types.MessageSource{Chat: chat, Sender: chat},
			ID:            id, Timestamp: at, PushName: "Bob Push",
		},
		Message: msg, RawMessage: msg,
	}
}

func text(s string) *waE2E.Message { return &waE2E.Message{Conversation: proto.String(s)} }

// history is the history sync WhatsApp sends a device once linked: one
// older message of Bob's chat.
func history(at time.Time) *events.HistorySync {
	return &events.HistorySync{Data: &waHistorySync.HistorySync{
		SyncType: waHistorySync.HistorySync_RECENT.Enum(),
		Conversations: []*waHistorySync.Conversation{{ID: proto.String(bobJID), Messages: []*waHistorySync.HistorySyncMsg{{
			Message: &waWeb.WebMessageInfo{
				Key:              &waCommon.MessageKey{RemoteJID: proto.String(bobJID), FromMe: proto.Bool(false), ID: proto.String("HISTORY1")},
				Message:          text("from before chathook"),
				MessageTimestamp: proto.Uint64(uint64(at.Unix())),
			},
		}}}},
	}}
}

// The wire format of one message, as the tests read it.
type (
	wire   = chathooktest.Wire
	person = chathooktest.Person
)

// TestWhatsAppMessageReachesTheWebhook: the service's connector claims a
// linked account; of what its phone then gets, the live text message
// reaches the webhook, signed, with SPEC 4.1's fields mapped from
// WhatsApp's; the history sync and an image are stored and never sent.
func TestWhatsAppMessageReachesTheWebhook(t *testing.T) {
	onEveryStore(t, testWhatsAppMessageReachesTheWebhook)
}

func testWhatsAppMessageReachesTheWebhook(t *testing.T, db string) {
	wa := whatswebtest.New()
	svc := chathooktest.Start(t, chathooktest.Options{DB: db, Config: app.Config{WhatsApp: wa, AccountLease: accountLease}})
	ws := svc.NewWorkspace(t, "acme")
	sink := chathooktest.NewSink(t)
	ws.PointAt(t, sink.URL+"/hook")
	linkAccount(t, svc, ws)

	client := wa.Online(t, danaJID)
	at := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	client.Emit(history(at.Add(-time.Hour)))
	client.Emit(message("3EB0C0FFEE", at, text("Hi! How are you? 👋")))
	client.Emit(message("IMAGE1", at.Add(time.Minute), &waE2E.Message{ImageMessage: &waE2E.ImageMessage{Caption: proto.String("a photo")}}))
	client.Emit(message("MARKER", at.Add(2*time.Minute), text("did you see it?")))

	// The history came before the text and the image before the marker,
	// in one chat, whose deliveries go in order: had they been queued,
	// they would have arrived before. Stopped, the service sends nothing
	// more.
	received := sink.WaitFor(t, 2, 10*time.Second)
	svc.Stop(t)
	if n := sink.Attempts(); n != 2 {
		t.Errorf("%d POSTs, want the text's and the marker's", n)
	}
	if marker := chathooktest.Verified(t, ws, received[1]); marker.Message.ID != "MARKER" {
		t.Errorf("the second POST is %q's, want the marker's", marker.Message.ID)
	}
	got := chathooktest.Verified(t, ws, received[0])

	var want wire
	want.Account.FullName, want.Account.Email, want.Account.Phone = "Dana Owner", danaEmail, "+972500000001"
	// Bob's chat was created by the history: the receiver hears of it
	// first with this message, the chat's first live one.
	want.Chat.FullName, want.Chat.IsNew, want.Chat.IsGroup, want.Chat.Phone = "Bob Push", true, false, "+972500000002"
	want.Message.Direction, want.Message.Timestamp, want.Message.ID = "received", payload.Time(at), "3EB0C0FFEE"
	want.Message.Sender = person{FullName: "Bob Push", Phone: "+972500000002"}
	want.Message.Recipient = person{FullName: "Dana Owner", Phone: "+972500000001"}
	want.Message.Text = "Hi! How are you? 👋"
	if got != want {
		t.Errorf("payload\n got %+v\nwant %+v", got, want)
	}

	// What was not sent was received and kept: the history and the image
	// are in the chat's timeline.
	st, err := app.OpenStore(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	chats, err := st.Chats(context.Background(), ws.WorkspaceID, store.ChatQuery{Limit: 10})
	if err != nil || len(chats) != 1 {
		t.Fatalf("chats %+v, %v", chats, err)
	}
	msgs, err := st.Messages(context.Background(), ws.WorkspaceID, chats[0].ID, store.Page{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	kept := map[string]string{}
	for _, m := range msgs {
		kept[m.MessageID] = m.SkipReason
	}
	if _, ok := kept["HISTORY1"]; !ok || kept["IMAGE1"] == "" || len(kept) != 4 {
		t.Errorf("the chat keeps %v (id → skip reason); want the history, the text, the image skipped and the marker", kept)
	}
}

// TestWhatsAppAccountTakenOver: two instances on one PostgreSQL, each
// reaching WhatsApp on its own: a linked account is connected by exactly
// one of them while both claim, lease period after lease period; when
// that one dies (no release), the other connects it once its lease has
// run out, and a message its phone then gets reaches the webhook once.
func TestWhatsAppAccountTakenOver(t *testing.T) {
	db := chathooktest.Postgres(t)
	netA := whatswebtest.New()
	netB := netA.Sibling() // the same WhatsApp, reached by another instance
	a := chathooktest.Start(t, chathooktest.Options{DB: db, Config: app.Config{WhatsApp: netA, AccountLease: accountLease}})
	b := chathooktest.Start(t, chathooktest.Options{DB: db, Config: app.Config{WhatsApp: netB, AccountLease: accountLease}})
	ws := a.NewWorkspace(t, "acme")
	sink := chathooktest.NewSink(t)
	ws.PointAt(t, sink.URL)
	acc := linkAccount(t, a, ws)

	conn, err := pgx.Connect(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	lease := func() (owner string, until int64) {
		if err := conn.QueryRow(context.Background(), `SELECT lease_owner, lease_until FROM accounts WHERE id = $1`, acc.ID).
			Scan(&owner, &until); err != nil {
			t.Fatal(err)
		}
		return owner, until
	}
	// connected lists the instances with a connection of Dana's device.
	instances := map[*whatswebtest.Network]*chathooktest.Service{netA: a, netB: b}
	connected := func() (held []*chathooktest.Service, nets []*whatswebtest.Network) {
		for _, n := range []*whatswebtest.Network{netA, netB} {
			for _, c := range n.Clients() {
				if c.JID() == danaJID && c.Connected() {
					held, nets = append(held, instances[n]), append(nets, n)
					break
				}
			}
		}
		return held, nets
	}

	var holder *chathooktest.Service
	var holderNet *whatswebtest.Network
	until(t, "the account connected by an instance", func() bool {
		held, nets := connected()
		if len(held) == 1 {
			holder, holderNet = held[0], nets[0]
		}
		return len(held) > 0
	})
	// Both instances claim every 100 ms: while the holder renews its
	// lease five times over, the other never connects the account too.
	_, first := lease()
	until(t, "five lease periods of renewals", func() bool {
		if held, _ := connected(); len(held) != 1 || held[0] != holder {
			t.Fatalf("the account is connected by %d instances, want the one holding it", len(held))
		}
		owner, until := lease()
		if owner != holder.Instance {
			t.Fatalf("the lease is %q's, the connection %q's", owner, holder.Instance)
		}
		return until > first+5*accountLease.Milliseconds()
	})
	netA.NoOverlap(t)

	other, otherNet := b, netB
	if holder == b {
		other, otherNet = a, netA
	}
	holder.Kill(t)
	if held, _ := connected(); len(held) != 0 {
		t.Fatal("the killed instance's connection is still open")
	}
	client := otherNet.Online(t, danaJID)
	if owner, _ := lease(); owner != other.Instance {
		t.Errorf("the account is connected by %q, leased to %q", other.Instance, owner)
	}
	netA.NoOverlap(t)
	if n := len(holderNet.Clients()); n != 1 {
		t.Errorf("the killed instance made %d clients of the account, want 1", n)
	}

	at := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	client.Emit(message("AFTER-TAKEOVER", at, text("still there?")))
	got := chathooktest.Verified(t, ws, sink.WaitFor(t, 1, 10*time.Second)[0])
	other.Stop(t)
	if n := sink.Attempts(); n != 1 {
		t.Errorf("%d POSTs of one message", n)
	}
	if got.Message.ID != "AFTER-TAKEOVER" || got.Message.Text != "still there?" || got.Account.Phone != "+972500000001" {
		t.Errorf("delivered %+v", got)
	}
}
