package ingest_test

import (
	"math"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/ingest"
)

// What a sender's client got wrong in an attachment is fit to Check's
// rules, never the reason Check refuses the message.
func TestFitAttachments(t *testing.T) {
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	in := chathook.Incoming{
		Account:   chathook.Account{Phone: "+972500000000", FullName: "Dana", Email: "dana@example.com"},
		Chat:      chathook.Chat{ExternalID: "+972500000002", FullName: "Bob", Phone: "+972500000002"},
		MessageID: "3EB0C767D26A1D2D", Direction: chathook.Received, Timestamp: now.Add(-time.Minute),
		SkipReason: ingest.SkipAttachments,
	}
	bad := []chathook.Attachment{
		{Type: chathook.AttachDocument, FileName: strings.Repeat("é", 300) + ".pdf", MimeType: "application/pdf\x00\n", Size: -1, Width: -3},
		{Type: chathook.AttachLocation, Latitude: 200, Longitude: 10, Name: "Nowhere\x00"},
		{Type: chathook.AttachLocation, Latitude: math.NaN(), Longitude: 10},
		{Type: chathook.AttachContact, VCard: "BEGIN:VCARD\x00\xff" + strings.Repeat("ü", 40000)},
	}
	for len(bad) < ingest.MaxAttachments+5 {
		bad = append(bad, chathook.Attachment{Type: chathook.AttachContact, VCard: "BEGIN:VCARD\r\nEND:VCARD\r\n"})
	}
	in.Attachments = append([]chathook.Attachment(nil), bad...)
	if err := ingest.Check(in, now); err == nil {
		t.Fatal("the unfit attachments pass Check: this test proves nothing")
	}

	in.Attachments = ingest.FitAttachments(in.Attachments)
	if err := ingest.Check(in, now); err != nil {
		t.Fatalf("after FitAttachments: %v", err)
	}
	got := in.Attachments
	if len(got) != ingest.MaxAttachments {
		t.Errorf("%d attachments, want %d", len(got), ingest.MaxAttachments)
	}
	if n := utf8.RuneCountInString(got[0].FileName); n != ingest.MaxName || got[0].MimeType != "application/pdf" ||
		got[0].Size != 0 || got[0].Width != 0 {
		t.Errorf("document %d characters, %+v", n, got[0])
	}
	if got[1].Latitude != 0 || got[1].Longitude != 0 || got[1].Error == "" || got[1].Name != "Nowhere" {
		t.Errorf("a location off Earth: %+v", got[1])
	}
	if !math.IsNaN(bad[2].Latitude) || math.IsNaN(got[2].Latitude) || got[2].Error == "" {
		t.Errorf("a NaN location: %+v", got[2])
	}
	if v := got[3].VCard; len(v) > 65536 || !utf8.ValidString(v) || strings.ContainsRune(v, 0) || !strings.HasPrefix(v, "BEGIN:VCARD") {
		t.Errorf("vCard of %d bytes, valid %v", len(v), utf8.ValidString(v))
	}
}
