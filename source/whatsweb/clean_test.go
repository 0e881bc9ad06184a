package whatsweb

import (
	"context"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/chathook/chathook/ingest"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"
	"google.golang.org/protobuf/proto"
)

// What WhatsApp hands over beyond the ingest API's limits is cut or
// cleaned, so that the message is still stored, and the result passes
// the API's own validation.
func TestOutOfBoundsCleaned(t *testing.T) {
	ctx := context.Background()
	long := strings.Repeat("é", 300)
	m, _ := mapperOn(t)
	if _, _, err := m.dev.Contacts.PutPushName(ctx, mustJID("972500000009@s.whatsapp.net"), long); err != nil {
		t.Fatal(err)
	}
	evt := msgEvt("972500000009@s.whatsapp.net", "972500000009@s.whatsapp.net", false,
		text("a\x00b"+strings.Repeat("x", ingest.MaxText)+"\xff"), func(e *events.Message) { e.Info.Timestamp = time.Unix(0, 0) })
	in, ok := m.incoming(ctx, evt, types.EmptyJID, now, false)
	if !ok {
		t.Fatal("not stored")
	}
	if in.Chat.FullName != strings.Repeat("é", ingest.MaxName) || in.Sender.FullName != in.Chat.FullName {
		t.Errorf("name not cut to %d characters: %d, sender %d", ingest.MaxName, utf8.RuneCountInString(in.Chat.FullName), utf8.RuneCountInString(in.Sender.FullName))
	}
	if n := utf8.RuneCountInString(in.Text); n != ingest.MaxText || !strings.HasPrefix(in.Text, "abxx") || !utf8.ValidString(in.Text) {
		t.Errorf("text not cleaned: %d characters, starts %q", n, in.Text[:8])
	}
	if !in.Timestamp.Equal(now) {
		t.Errorf("a timestamp of 1970 became %v, want now", in.Timestamp)
	}
	if err := ingest.Check(in, now); err != nil {
		t.Errorf("refused by the ingest API's rules: %v", err)
	}

	// A name with line breaks and control characters is one clean line.
	if got := ingest.CleanName(" Bob\n\x00Smith\u0085 "); got != "Bob  Smith" {
		t.Errorf("cleanName = %q", got)
	}

	// A day ahead is a broken clock too.
	evt = msgEvt(bob, bob, false, text("from the future"), func(e *events.Message) { e.Info.Timestamp = now.Add(48 * time.Hour) })
	if in, ok := m.incoming(ctx, evt, types.EmptyJID, now, false); !ok || !in.Timestamp.Equal(now) {
		t.Errorf("future timestamp: stored %v as %v", ok, in.Timestamp)
	}
}

// What cannot be made valid is logged and skipped, never a crash.
func TestInvalidSkipped(t *testing.T) {
	m, _ := mapperOn(t)
	for name, id := range map[string]string{"no id": "", "long id": strings.Repeat("A", 300), "control": "AB\nCD"} {
		evt := msgEvt(bob, bob, false, text("hi"), func(e *events.Message) { e.Info.ID = id })
		if in, ok := m.incoming(context.Background(), evt, types.EmptyJID, now, false); ok {
			t.Errorf("%s: stored %+v", name, in)
		}
	}
}

// Before WhatsApp tells the device its own push name, the account keeps
// the name chathook has; the history flag and an alt address given by
// the caller are kept.
func TestAccountNameAndHistory(t *testing.T) {
	m, _ := mapperOn(t)
	m.dev.PushName = ""
	evt := msgEvt("777777@lid", me, true, &waE2E.Message{ExtendedTextMessage: &waE2E.ExtendedTextMessage{Text: proto.String("old")}})
	in, ok := m.incoming(context.Background(), evt, mustJID("972500000010@s.whatsapp.net"), now, true)
	if !ok {
		t.Fatal("not stored")
	}
	if in.Account.FullName != "" || in.Sender.FullName != "Dana in chathook" || in.Sender.Phone != "+972500000001" {
		t.Errorf("account %+v, sender %+v", in.Account, *in.Sender)
	}
	if !in.History || in.Chat.ExternalID != "+972500000010" || in.ChatFormerID != "777777@lid" {
		t.Errorf("history %v, chat %+v, former %q", in.History, in.Chat, in.ChatFormerID)
	}
}
