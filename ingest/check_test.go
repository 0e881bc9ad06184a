package ingest_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/ingest"
)

// Check holds a message a source built to the API's rules, naming the
// field as the API would.
func TestCheck(t *testing.T) {
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	good := chathook.Incoming{
		Account:   chathook.Account{Phone: "+972500000000", FullName: "Dana", Email: "dana@example.com"},
		Chat:      chathook.Chat{ExternalID: "+972500000002", FullName: "Bob", Phone: "+972500000002"},
		MessageID: "3EB0C767D26A1D2D", Direction: chathook.Received, Timestamp: now.Add(-time.Minute),
		Sender: &chathook.Person{FullName: "Bob", Phone: "+972500000002"}, Text: "hi",
	}
	if err := ingest.Check(good, now); err != nil {
		t.Fatalf("a good message: %v", err)
	}
	for _, c := range []struct {
		field  string
		change func(*chathook.Incoming)
	}{
		{"chat.full_name", func(in *chathook.Incoming) { in.Chat.FullName = "Bob\xff" }},
		{"sender.full_name", func(in *chathook.Incoming) { in.Sender = &chathook.Person{FullName: "\xc3"} }},
		{"text", func(in *chathook.Incoming) { in.Text = strings.Repeat("a", ingest.MaxText+1) }},
		{"text", func(in *chathook.Incoming) { in.Text = " " }},
		{"timestamp", func(in *chathook.Incoming) { in.Timestamp = now.Add(48 * time.Hour) }},
		{"account.phone", func(in *chathook.Incoming) { in.Account.Phone = "" }},
	} {
		in := good
		c.change(&in)
		var fe *ingest.FieldError
		if err := ingest.Check(in, now); !errors.As(err, &fe) || fe.Field != c.field {
			t.Errorf("%s: %v", c.field, err)
		}
	}
	skipped := good
	skipped.Text, skipped.SkipReason = "", ingest.SkipAttachments
	skipped.Attachments = []chathook.Attachment{{Type: chathook.AttachVoice, State: chathook.MediaPending, Source: []byte(`{}`)}}
	if err := ingest.Check(skipped, now); err != nil {
		t.Errorf("a voice note without a caption, to download: %v", err)
	}
	skipped.Attachments[0].Latitude = 100
	var fe *ingest.FieldError
	if err := ingest.Check(skipped, now); !errors.As(err, &fe) || fe.Field != "attachments[0].latitude" {
		t.Errorf("a source's attachment out of range: %v", err)
	}
}
