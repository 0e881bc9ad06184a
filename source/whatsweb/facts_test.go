package whatsweb

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/chathook/chathook"
	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"
	"google.golang.org/protobuf/proto"
)

// receiptEvt is a receipt as whatsmeow's parseReceipt makes one.
func receiptEvt(chat, sender, senderAlt string, fromMe bool, typ types.ReceiptType, ids ...string) *events.Receipt {
	c := mustJID(chat)
	e := &events.Receipt{
		MessageSource: types.MessageSource{Chat: c, Sender: mustJID(sender), IsFromMe: fromMe, IsGroup: c.Server == types.GroupServer},
		MessageIDs:    ids, Timestamp: sent, Type: typ,
	}
	if senderAlt != "" {
		e.SenderAlt = mustJID(senderAlt)
	}
	return e
}

// Receipts from the other side are statuses of the account's messages,
// one per message id, under the chat's id as its messages are stored;
// the account's own devices' receipts and the other kinds are none.
func TestReceiptFacts(t *testing.T) {
	m, _ := mapperOn(t)
	ctx := context.Background()
	status := func(chat, former, id string, s chathook.MessageStatus) chathook.Fact {
		return chathook.Fact{Kind: chathook.FactStatus, Chat: chat, ChatFormerID: former, MessageID: id, At: sent, Status: s}
	}
	cases := []struct {
		name string
		evt  *events.Receipt
		want []chathook.Fact
	}{
		{"delivered, two messages", receiptEvt(bob, bob, "", false, types.ReceiptTypeDelivered, "M1", "M2"),
			[]chathook.Fact{status("+972500000002", "", "M1", chathook.StatusDelivered), status("+972500000002", "", "M2", chathook.StatusDelivered)}},
		{"read from a device", receiptEvt(bob, "972500000002:3@s.whatsapp.net", "", false, types.ReceiptTypeRead, "M1"),
			[]chathook.Fact{status("+972500000002", "", "M1", chathook.StatusRead)}},
		{"played", receiptEvt(bob, bob, "", false, types.ReceiptTypePlayed, "M1"),
			[]chathook.Fact{status("+972500000002", "", "M1", chathook.StatusPlayed)}},
		{"LID, number in the LID map", receiptEvt("111111@lid", "111111:2@lid", "", false, types.ReceiptTypeRead, "M1"),
			[]chathook.Fact{status("+972500000006", "111111@lid", "M1", chathook.StatusRead)}},
		{"LID, number in the receipt", receiptEvt("333333@lid", "333333@lid", "972500000009@s.whatsapp.net", false, types.ReceiptTypeRead, "M1"),
			[]chathook.Fact{status("+972500000009", "333333@lid", "M1", chathook.StatusRead)}},
		{"LID, number unknown", receiptEvt("222222@lid", "222222@lid", "", false, types.ReceiptTypeDelivered, "M1"),
			[]chathook.Fact{status("222222@lid", "", "M1", chathook.StatusDelivered)}},
		{"group participant", receiptEvt(group, "972500000003:1@s.whatsapp.net", "", false, types.ReceiptTypeRead, "G1"),
			[]chathook.Fact{status(group, "", "G1", chathook.StatusRead)}},
		{"own device read", receiptEvt(bob, me, "", true, types.ReceiptTypeRead, "M1"), nil},
		{"read-self", receiptEvt(bob, me, "", true, types.ReceiptTypeReadSelf, "M1"), nil},
		{"played-self", receiptEvt(bob, me, "", true, types.ReceiptTypePlayedSelf, "M1"), nil},
		{"own devices' delivery", receiptEvt(bob, me, "", true, types.ReceiptTypeSender, "M1"), nil},
		{"retry", receiptEvt(bob, bob, "", false, types.ReceiptTypeRetry, "M1"), nil},
		{"status update", receiptEvt("status@broadcast", bob, "", false, types.ReceiptTypeRead, "S1"), nil},
		{"no id", receiptEvt(bob, bob, "", false, types.ReceiptTypeRead, ""), []chathook.Fact{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := m.receiptFacts(ctx, c.evt, now)
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("got %+v\nwant %+v", got, c.want)
			}
		})
	}
}

// liveOf is a live message event of msg as whatsmeow dispatches it:
// unwrapped from its wrappers (an edit's EditedMessage among them).
func liveOf(chat, sender string, fromMe bool, id string, msg *waE2E.Message, edit ...func(*events.Message)) *events.Message {
	evt := msgEvt(chat, sender, fromMe, msg, edit...)
	evt.Info.ID = id
	return evt.UnwrapRaw()
}

// Edits, deletes for everyone and reactions, built as whatsmeow's own
// Build* functions send them, are facts about their target; other
// protocol messages and plain messages are not.
func TestMessageFacts(t *testing.T) {
	m, _ := mapperOn(t)
	ctx := context.Background()
	cli := whatsmeow.NewClient(m.dev, nil)
	bobJ, grp := mustJID(bob), mustJID(group)
	at := time.Date(2025, 6, 1, 11, 59, 40, 0, time.UTC)
	reaction := func(chat, sender types.JID, id, emoji string) *waE2E.Message {
		msg := cli.BuildReaction(chat, sender, id, emoji)
		msg.ReactionMessage.SenderTimestampMS = proto.Int64(at.UnixMilli())
		return msg
	}
	attr := func(a types.EditAttribute) func(*events.Message) {
		return func(e *events.Message) { e.Info.Edit = a }
	}
	cases := []struct {
		name string
		evt  *events.Message
		want chathook.Fact
		ok   bool
	}{
		{"edit by the contact",
			liveOf(bob, bob, false, "E1", cli.BuildEdit(bobJ, "M1", text("fixed\x00 text")), attr(types.EditAttributeMessageEdit)),
			chathook.Fact{Kind: chathook.FactEdited, Chat: "+972500000002", MessageID: "M1", ID: "E1", At: sent, Text: "fixed text"}, true},
		{"edit by the account, of a caption",
			liveOf(bob, me, true, "E2", cli.BuildEdit(bobJ, "M2", &waE2E.Message{ImageMessage: &waE2E.ImageMessage{Caption: proto.String("new caption")}})),
			chathook.Fact{Kind: chathook.FactEdited, Chat: "+972500000002", MessageID: "M2", ID: "E2", At: sent, Text: "new caption"}, true},
		{"edit, extended text, in a LID chat",
			liveOf("111111@lid", "111111@lid", false, "E3", cli.BuildEdit(mustJID("111111@lid"), "M3", &waE2E.Message{ExtendedTextMessage: &waE2E.ExtendedTextMessage{Text: proto.String("see https://example.com")}})),
			chathook.Fact{Kind: chathook.FactEdited, Chat: "+972500000006", ChatFormerID: "111111@lid", MessageID: "M3", ID: "E3", At: sent, Text: "see https://example.com"}, true},
		{"edit with no text", liveOf(bob, bob, false, "E4", cli.BuildEdit(bobJ, "M1", &waE2E.Message{StickerMessage: &waE2E.StickerMessage{}})),
			chathook.Fact{}, false},
		{"revoke by the account",
			liveOf(bob, me, true, "R1", cli.BuildRevoke(bobJ, types.EmptyJID, "M1"), attr(types.EditAttributeSenderRevoke)),
			chathook.Fact{Kind: chathook.FactDeleted, Chat: "+972500000002", MessageID: "M1", ID: "R1", At: sent}, true},
		{"revoke by the contact",
			liveOf(bob, bob, false, "R2", cli.BuildRevoke(bobJ, bobJ, "M5"), attr(types.EditAttributeSenderRevoke)),
			chathook.Fact{Kind: chathook.FactDeleted, Chat: "+972500000002", MessageID: "M5", ID: "R2", At: sent}, true},
		{"revoke by a group admin",
			liveOf(group, "972500000003:4@s.whatsapp.net", false, "R3", cli.BuildRevoke(grp, bobJ, "G1"), attr(types.EditAttributeAdminRevoke)),
			chathook.Fact{Kind: chathook.FactDeleted, Chat: group, MessageID: "G1", ID: "R3", At: sent}, true},
		{"reaction by the contact",
			liveOf(bob, "972500000002:3@s.whatsapp.net", false, "X1", reaction(bobJ, mustJID(me), "M1", "👍"), pushName("bobby")),
			chathook.Fact{Kind: chathook.FactReaction, Chat: "+972500000002", MessageID: "M1", ID: "X1", At: at, Reaction: "👍",
				Sender: *person("Bob Saved", "+972500000002"), SenderKey: bob}, true},
		{"reaction taken back",
			liveOf(bob, bob, false, "X2", reaction(bobJ, mustJID(me), "M1", "")),
			chathook.Fact{Kind: chathook.FactReaction, Chat: "+972500000002", MessageID: "M1", ID: "X2", At: at,
				Sender: *person("Bob Saved", "+972500000002"), SenderKey: bob}, true},
		{"reaction by the account",
			liveOf(bob, me, true, "X3", reaction(bobJ, bobJ, "M9", "❤️")),
			chathook.Fact{Kind: chathook.FactReaction, Chat: "+972500000002", MessageID: "M9", ID: "X3", At: at, Reaction: "❤️",
				Sender: dana, SenderKey: "972500000001@s.whatsapp.net"}, true},
		{"reaction in a group, by a LID participant with a number",
			liveOf(group, "111111:5@lid", false, "X4", reaction(grp, bobJ, "G1", "😂")),
			chathook.Fact{Kind: chathook.FactReaction, Chat: group, MessageID: "G1", ID: "X4", At: at, Reaction: "😂",
				Sender: *person("Eve Saved", "+972500000006"), SenderKey: "972500000006@s.whatsapp.net"}, true},
		{"reaction in a group, by a LID participant without one",
			liveOf(group, "222222@lid", false, "X5", reaction(grp, bobJ, "G1", "😂")),
			chathook.Fact{Kind: chathook.FactReaction, Chat: group, MessageID: "G1", ID: "X5", At: at, Reaction: "😂",
				Sender: *person("Frank LID", ""), SenderKey: "222222@lid"}, true},
		{"reaction with no timestamp",
			liveOf(bob, bob, false, "X6", &waE2E.Message{ReactionMessage: &waE2E.ReactionMessage{Key: cli.BuildMessageKey(bobJ, mustJID(me), "M1"), Text: proto.String("🙏")}}),
			chathook.Fact{Kind: chathook.FactReaction, Chat: "+972500000002", MessageID: "M1", ID: "X6", At: sent, Reaction: "🙏",
				Sender: *person("Bob Saved", "+972500000002"), SenderKey: bob}, true},
		{"reaction to a status update", liveOf("status@broadcast", bob, false, "X7", reaction(types.StatusBroadcastJID, bobJ, "S1", "👍")),
			chathook.Fact{}, false},
		{"reaction with no target", liveOf(bob, bob, false, "X8", &waE2E.Message{ReactionMessage: &waE2E.ReactionMessage{Text: proto.String("👍")}}),
			chathook.Fact{}, false},
		{"a disappearing-messages setting", liveOf(bob, bob, false, "P1", &waE2E.Message{ProtocolMessage: &waE2E.ProtocolMessage{Type: waE2E.ProtocolMessage_EPHEMERAL_SETTING.Enum()}}),
			chathook.Fact{}, false},
		{"a message", liveOf(bob, bob, false, "M7", text("hello")), chathook.Fact{}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, ok := m.messageFact(ctx, c.evt, now)
			if ok != c.ok || !reflect.DeepEqual(got, c.want) {
				t.Errorf("got %+v, %v\nwant %+v, %v", got, ok, c.want, c.ok)
			}
		})
	}
}
