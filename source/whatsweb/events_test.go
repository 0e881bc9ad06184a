package whatsweb

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"reflect"
	"testing"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/ingest"
	"github.com/google/uuid"
	"go.mau.fi/whatsmeow/proto/waE2E"
	wastore "go.mau.fi/whatsmeow/store"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"
	"google.golang.org/protobuf/proto"
)

var (
	now  = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	sent = time.Date(2025, 6, 1, 11, 59, 30, 0, time.UTC)

	dana   = chathook.Person{FullName: "Dana Owner", Phone: "+972500000001"}
	danaIn = chathook.Account{Phone: "+972500000001", FullName: "Dana Owner", Email: "dana@example.com"}
)

// mapperOn is the mapper of a paired device whose stores know:
//
//	+972500000002 saved as "Bob Saved" (push name "bobby")
//	+972500000003 only by push name "Carol Push"
//	+972500000004 only by business name "Dan's Shop"
//	+972500000005 not at all
//	111111@lid    is +972500000006, saved (under the number) as "Eve Saved"
//	222222@lid    number unknown, push name "Frank LID"
//	444444@lid    number unknown, known by nothing but its redacted number
//	the group 120363000000000001@g.us is "Family"
func mapperOn(t *testing.T) (*mapper, *int) {
	t.Helper()
	ctx := context.Background()
	dev := pairedDevice(t, "972500000001:12@s.whatsapp.net", "Dana Owner")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(dev.Contacts.PutContactName(ctx, mustJID("972500000002@s.whatsapp.net"), "Bob", "Bob Saved"))
	_, _, err := dev.Contacts.PutPushName(ctx, mustJID("972500000002@s.whatsapp.net"), "bobby")
	must(err)
	_, _, err = dev.Contacts.PutPushName(ctx, mustJID("972500000003@s.whatsapp.net"), "Carol Push")
	must(err)
	_, _, err = dev.Contacts.PutBusinessName(ctx, mustJID("972500000004@s.whatsapp.net"), "Dan's Shop")
	must(err)
	must(dev.LIDs.PutLIDMapping(ctx, mustJID("111111@lid"), mustJID("972500000006@s.whatsapp.net")))
	must(dev.Contacts.PutContactName(ctx, mustJID("972500000006@s.whatsapp.net"), "Eve", "Eve Saved"))
	_, _, err = dev.Contacts.PutPushName(ctx, mustJID("222222@lid"), "Frank LID")
	must(err)
	must(dev.Contacts.PutManyRedactedPhones(ctx, []wastore.RedactedPhoneEntry{{JID: mustJID("444444@lid"), RedactedPhone: "+1∙∙∙∙∙∙∙∙80"}}))

	lookups := 0
	return &mapper{
		dev: dev,
		acc: chathook.Account{ID: 7, Phone: "+972500000001", FullName: "Dana in chathook", Email: "dana@example.com"},
		group: func(_ context.Context, jid types.JID) string {
			lookups++
			if jid.String() == "120363000000000001@g.us" {
				return "Family"
			}
			return ""
		},
		log: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}, &lookups
}

// msgEvt is a message event as whatsmeow hands it over.
func msgEvt(chat, sender string, fromMe bool, m *waE2E.Message, edit ...func(*events.Message)) *events.Message {
	c := mustJID(chat)
	evt := &events.Message{
		Info: types.MessageInfo{
			MessageSource: types.MessageSource{
				Chat: c, Sender: mustJID(sender), IsFromMe: fromMe, IsGroup: c.Server == types.GroupServer,
			},
			ID: "3EB0A1B2C3D4E5F6", Timestamp: sent, Type: "text",
		},
		Message: m, RawMessage: m,
	}
	for _, e := range edit {
		e(evt)
	}
	return evt
}

func text(s string) *waE2E.Message { return &waE2E.Message{Conversation: proto.String(s)} }

func pushName(n string) func(*events.Message) { return func(e *events.Message) { e.Info.PushName = n } }

func person(name, phone string) *chathook.Person {
	return &chathook.Person{FullName: name, Phone: phone}
}

const (
	bob   = "972500000002@s.whatsapp.net"
	me    = "972500000001:12@s.whatsapp.net"
	group = "120363000000000001@g.us"
)

// TestMessageMapping proves SPEC 5.1's tables field by field, on a real
// whatsmeow sqlstore holding the contacts and the LID map.
func TestMessageMapping(t *testing.T) {
	direct := func(ext, phone, name string) chathook.Chat {
		return chathook.Chat{ExternalID: ext, Phone: phone, FullName: name}
	}
	family := chathook.Chat{ExternalID: group, FullName: "Family", IsGroup: true}
	received := func(c chathook.Chat, text string) chathook.Incoming {
		return chathook.Incoming{
			Account: danaIn, Chat: c, MessageID: "3EB0A1B2C3D4E5F6", Direction: chathook.Received, Timestamp: sent,
			Sender: person(c.FullName, c.Phone), Recipient: &dana, Text: text,
		}
	}
	sentTo := func(c chathook.Chat, text string) chathook.Incoming {
		in := received(c, text)
		in.Direction, in.Sender, in.Recipient = chathook.Sent, &dana, person(c.FullName, c.Phone)
		return in
	}
	skipped := func(in chathook.Incoming, atts ...chathook.Attachment) chathook.Incoming {
		in.SkipReason = ingest.SkipAttachments
		in.Attachments = atts
		return in
	}
	// These messages carry no media key: their files fail at once (see
	// TestAttachmentMapping for files with one).
	noKey := func(t chathook.AttachmentType) chathook.Attachment {
		return chathook.Attachment{Type: t, State: chathook.MediaFailed, Error: errNoMediaKey}
	}
	withFormer := func(in chathook.Incoming, former string) chathook.Incoming {
		in.ChatFormerID = former
		return in
	}
	inGroup := func(from chathook.Person, dir chathook.Direction, text string) chathook.Incoming {
		return chathook.Incoming{
			Account: danaIn, Chat: family, MessageID: "3EB0A1B2C3D4E5F6", Direction: dir, Timestamp: sent,
			Sender: &from, Recipient: person("Family", ""), Text: text,
		}
	}
	bobChat := direct("+972500000002", "+972500000002", "Bob Saved")
	eveChat := direct("+972500000006", "+972500000006", "Eve Saved")

	for _, c := range []struct {
		name string
		evt  *events.Message
		want *chathook.Incoming // nil: not a message
	}{
		{"conversation received", msgEvt(bob, bob, false, text("Hi! How are you? 👋"), pushName("bobby")),
			ptr(received(bobChat, "Hi! How are you? 👋"))},
		{"extended text sent", msgEvt("972500000003@s.whatsapp.net", me, true,
			&waE2E.Message{ExtendedTextMessage: &waE2E.ExtendedTextMessage{Text: proto.String("see https://example.com")}}, pushName("Dana Owner")),
			ptr(sentTo(direct("+972500000003", "+972500000003", "Carol Push"), "see https://example.com"))},
		{"business name", msgEvt("972500000004@s.whatsapp.net", "972500000004@s.whatsapp.net", false, text("order ready")),
			ptr(received(direct("+972500000004", "+972500000004", "Dan's Shop"), "order ready"))},
		{"push name of the message", msgEvt("972500000005@s.whatsapp.net", "972500000005@s.whatsapp.net", false, text("hello"), pushName("Newcomer")),
			ptr(received(direct("+972500000005", "+972500000005", "Newcomer"), "hello"))},
		{"the number when nothing else", msgEvt("972500000005@s.whatsapp.net", "972500000005@s.whatsapp.net", false, text("hello")),
			ptr(received(direct("+972500000005", "+972500000005", "+972500000005"), "hello"))},
		{"own push name is not the contact's", msgEvt("972500000005@s.whatsapp.net", me, true, text("hi"), pushName("Dana Owner")),
			ptr(sentTo(direct("+972500000005", "+972500000005", "+972500000005"), "hi"))},

		{"image with caption", msgEvt(bob, bob, false, &waE2E.Message{ImageMessage: &waE2E.ImageMessage{Caption: proto.String("look")}}),
			ptr(skipped(received(bobChat, "look"), noKey(chathook.AttachImage)))},
		{"video", msgEvt(bob, bob, false, &waE2E.Message{VideoMessage: &waE2E.VideoMessage{}}), ptr(skipped(received(bobChat, ""), noKey(chathook.AttachVideo)))},
		{"video note", msgEvt(bob, bob, false, &waE2E.Message{PtvMessage: &waE2E.VideoMessage{}}), ptr(skipped(received(bobChat, ""), noKey(chathook.AttachVideo)))},
		{"audio", msgEvt(bob, bob, false, &waE2E.Message{AudioMessage: &waE2E.AudioMessage{PTT: proto.Bool(true)}}), ptr(skipped(received(bobChat, ""), noKey(chathook.AttachVoice)))},
		{"document with caption", msgEvt(bob, me, true, &waE2E.Message{DocumentMessage: &waE2E.DocumentMessage{FileName: proto.String("a.pdf"), Caption: proto.String("the contract")}}),
			ptr(skipped(sentTo(bobChat, "the contract"), chathook.Attachment{Type: chathook.AttachDocument, FileName: "a.pdf",
				State: chathook.MediaFailed, Error: errNoMediaKey}))},
		{"sticker", msgEvt(bob, bob, false, &waE2E.Message{StickerMessage: &waE2E.StickerMessage{}}), ptr(skipped(received(bobChat, ""), noKey(chathook.AttachSticker)))},
		{"location", msgEvt(bob, bob, false, &waE2E.Message{LocationMessage: &waE2E.LocationMessage{DegreesLatitude: proto.Float64(32.1), Name: proto.String("Home")}}),
			ptr(skipped(received(bobChat, ""), chathook.Attachment{Type: chathook.AttachLocation, Latitude: 32.1, Name: "Home"}))},
		{"live location", msgEvt(bob, bob, false, &waE2E.Message{LiveLocationMessage: &waE2E.LiveLocationMessage{Caption: proto.String("on my way")}}),
			ptr(skipped(received(bobChat, "on my way"), chathook.Attachment{Type: chathook.AttachLocation}))},
		{"contact card", msgEvt(bob, bob, false, &waE2E.Message{ContactMessage: &waE2E.ContactMessage{DisplayName: proto.String("Zed")}}),
			ptr(skipped(received(bobChat, ""), chathook.Attachment{Type: chathook.AttachContact}))},
		{"no contact cards", msgEvt(bob, bob, false, &waE2E.Message{ContactsArrayMessage: &waE2E.ContactsArrayMessage{}}), nil},

		{"reaction", msgEvt(bob, bob, false, &waE2E.Message{ReactionMessage: &waE2E.ReactionMessage{Text: proto.String("👍")}}), nil},
		{"revoke", msgEvt(bob, bob, false, &waE2E.Message{ProtocolMessage: &waE2E.ProtocolMessage{Type: waE2E.ProtocolMessage_REVOKE.Enum()}},
			func(e *events.Message) { e.Info.Edit = types.EditAttributeSenderRevoke }), nil},
		{"edit as protocol message", msgEvt(bob, bob, false, &waE2E.Message{ProtocolMessage: &waE2E.ProtocolMessage{
			Type: waE2E.ProtocolMessage_MESSAGE_EDIT.Enum(), EditedMessage: text("fixed typo")}}), nil},
		{"edit unwrapped", msgEvt(bob, bob, false, text("fixed typo"), func(e *events.Message) { e.IsEdit = true }), nil},
		{"edit attribute", msgEvt(bob, bob, false, text("fixed typo"), func(e *events.Message) { e.Info.Edit = types.EditAttributeMessageEdit }), nil},
		{"poll", msgEvt(bob, bob, false, &waE2E.Message{PollCreationMessage: &waE2E.PollCreationMessage{Name: proto.String("Lunch?")}}), nil},
		{"poll v3", msgEvt(bob, bob, false, &waE2E.Message{PollCreationMessageV3: &waE2E.PollCreationMessage{Name: proto.String("Lunch?")}}), nil},
		{"call", msgEvt(bob, bob, false, &waE2E.Message{Call: &waE2E.Call{}}), nil},
		{"empty text", msgEvt(bob, bob, false, text(" \n ")), nil},
		{"invisible text", msgEvt(bob, bob, false, text("\u200b\u200d")), nil},
		{"no message", msgEvt(bob, bob, false, nil), nil},
		{"status update", msgEvt("status@broadcast", bob, false, text("my status")), nil},
		{"newsletter", msgEvt("120363111111111111@newsletter", "120363111111111111@newsletter", false, text("news")), nil},
		{"broadcast list: the sender's chat", msgEvt("1234567890@broadcast", bob, false, text("to all")),
			ptr(received(bobChat, "to all"))},

		{"LID chat, number known", msgEvt("111111@lid", "111111@lid", false, text("hi from lid")),
			ptr(withFormer(received(eveChat, "hi from lid"), "111111@lid"))},
		{"number chat whose LID is known", msgEvt("972500000006@s.whatsapp.net", me, true, text("hi eve")),
			ptr(withFormer(sentTo(eveChat, "hi eve"), "111111@lid"))},
		{"LID chat, number unknown", msgEvt("222222@lid", "222222@lid", false, text("who am i")),
			ptr(received(direct("222222@lid", "", "Frank LID"), "who am i"))},
		{"LID chat, redacted number only", msgEvt("444444@lid", "444444@lid", false, text("hey")),
			ptr(received(direct("444444@lid", "", "+1∙∙∙∙∙∙∙∙80"), "hey"))},
		{"LID chat, number in the message", msgEvt("555555@lid", "555555@lid", false, text("pn in attrs"),
			func(e *events.Message) { e.Info.SenderAlt = mustJID("972500000007@s.whatsapp.net") }),
			ptr(withFormer(received(direct("+972500000007", "+972500000007", "+972500000007"), "pn in attrs"), "555555@lid"))},
		{"sent to a LID chat, number in the message", msgEvt("666666@lid", me, true, text("to lid"),
			func(e *events.Message) { e.Info.RecipientAlt = mustJID("972500000008@s.whatsapp.net") }),
			ptr(withFormer(sentTo(direct("+972500000008", "+972500000008", "+972500000008"), "to lid"), "666666@lid"))},

		{"group, saved participant", msgEvt(group, "972500000002:3@s.whatsapp.net", false, text("dinner at 8"), pushName("bobby")),
			ptr(inGroup(chathook.Person{FullName: "Bob Saved"}, chathook.Received, "dinner at 8"))},
		{"group, LID participant", msgEvt(group, "111111:2@lid", false, text("ok")),
			ptr(inGroup(chathook.Person{FullName: "Eve Saved"}, chathook.Received, "ok"))},
		{"group, unknown LID participant", msgEvt(group, "333333@lid", false, text("new here"), pushName("Gus")),
			ptr(inGroup(chathook.Person{FullName: "Gus"}, chathook.Received, "new here"))},
		{"group, sent", msgEvt(group, me, true, text("see you")),
			ptr(inGroup(chathook.Person{FullName: "Dana Owner"}, chathook.Sent, "see you"))},
		{"group, image", msgEvt(group, bob, false, &waE2E.Message{ImageMessage: &waE2E.ImageMessage{}}),
			ptr(skipped(inGroup(chathook.Person{FullName: "Bob Saved"}, chathook.Received, ""), noKey(chathook.AttachImage)))},
		{"group, reaction", msgEvt(group, bob, false, &waE2E.Message{ReactionMessage: &waE2E.ReactionMessage{Text: proto.String("❤")}}), nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			m, _ := mapperOn(t)
			got, ok := m.incoming(context.Background(), c.evt, types.EmptyJID, now, false)
			if c.want == nil {
				if ok {
					t.Fatalf("mapped to a message: %+v", got)
				}
				return
			}
			if !ok {
				t.Fatal("not mapped to a message")
			}
			if _, err := uuid.Parse(got.UUID); err != nil {
				t.Errorf("UUID %q: %v", got.UUID, err)
			}
			sameIncoming(t, got, *c.want)
			if err := ingest.Check(got, now); err != nil {
				t.Errorf("the ingest API would refuse it: %v", err)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

// sameIncoming compares every field but the UUID, which is random.
func sameIncoming(t *testing.T, got, want chathook.Incoming) {
	t.Helper()
	got.UUID, want.UUID = "", ""
	if !reflect.DeepEqual(got, want) {
		t.Errorf("mapped to\n%s\nwant\n%s", describe(got), describe(want))
	}
}

func describe(in chathook.Incoming) string {
	p := func(x *chathook.Person) string {
		if x == nil {
			return "nil"
		}
		return fmt.Sprintf("%+v", *x)
	}
	return fmt.Sprintf("  account %+v\n  chat %+v former %q\n  id %q %s at %v history %v\n  sender %s recipient %s\n  text %q skip %q\n  attachments %+v",
		in.Account, in.Chat, in.ChatFormerID, in.MessageID, in.Direction, in.Timestamp, in.History,
		p(in.Sender), p(in.Recipient), in.Text, in.SkipReason, in.Attachments)
}
