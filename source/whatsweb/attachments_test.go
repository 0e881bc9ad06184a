package whatsweb

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/ingest"
	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"
	"google.golang.org/protobuf/proto"
)

// TestAttachmentMapping proves each kind of WhatsApp message with media
// becomes its attachments (SPEC 8): the file's fields, and a Source from
// which the file can be downloaded again and a media retry receipt sent.
func TestAttachmentMapping(t *testing.T) {
	key, sha, enc := []byte("0123456789abcdef0123456789abcdef"), []byte("plain-sha"), []byte("enc-sha")
	info := &msgEvt(group, "972500000002:3@s.whatsapp.net", false, nil).Info
	src := func(mt whatsmeow.MediaType, length int64) []byte {
		b, err := json.Marshal(MediaFile{DirectPath: "/v/t62/abc.enc", MediaKey: key, FileSHA256: sha, FileEncSHA256: enc,
			FileLength: length, MediaType: mt, Chat: group, Sender: "972500000002:3@s.whatsapp.net", ID: "3EB0A1B2C3D4E5F6"})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	pending := func(a chathook.Attachment, mt whatsmeow.MediaType) chathook.Attachment {
		a.State, a.Source = chathook.MediaPending, src(mt, a.Size)
		return a
	}
	const path = "/v/t62/abc.enc"

	for _, c := range []struct {
		name string
		msg  *waE2E.Message
		text string
		want []chathook.Attachment
	}{
		{"image", &waE2E.Message{ImageMessage: &waE2E.ImageMessage{Caption: proto.String("look"), Mimetype: proto.String("image/jpeg"),
			FileLength: proto.Uint64(48213), Width: proto.Uint32(1280), Height: proto.Uint32(960),
			DirectPath: proto.String(path), MediaKey: key, FileSHA256: sha, FileEncSHA256: enc}}, "look",
			[]chathook.Attachment{pending(chathook.Attachment{Type: chathook.AttachImage, MimeType: "image/jpeg", Size: 48213, Width: 1280, Height: 960}, whatsmeow.MediaImage)}},
		{"video", &waE2E.Message{VideoMessage: &waE2E.VideoMessage{Mimetype: proto.String("video/mp4"), FileLength: proto.Uint64(900000),
			Width: proto.Uint32(640), Height: proto.Uint32(360), Seconds: proto.Uint32(12),
			DirectPath: proto.String(path), MediaKey: key, FileSHA256: sha, FileEncSHA256: enc}}, "",
			[]chathook.Attachment{pending(chathook.Attachment{Type: chathook.AttachVideo, MimeType: "video/mp4", Size: 900000, Width: 640, Height: 360, DurationS: 12}, whatsmeow.MediaVideo)}},
		{"gif", &waE2E.Message{VideoMessage: &waE2E.VideoMessage{Mimetype: proto.String("video/mp4"), GifPlayback: proto.Bool(true),
			Caption: proto.String("lol"), FileLength: proto.Uint64(5000), DirectPath: proto.String(path), MediaKey: key, FileSHA256: sha, FileEncSHA256: enc}}, "lol",
			[]chathook.Attachment{pending(chathook.Attachment{Type: chathook.AttachVideo, MimeType: "video/mp4", Size: 5000}, whatsmeow.MediaVideo)}},
		{"video note", &waE2E.Message{PtvMessage: &waE2E.VideoMessage{Mimetype: proto.String("video/mp4"), Seconds: proto.Uint32(3),
			FileLength: proto.Uint64(7000), DirectPath: proto.String(path), MediaKey: key, FileSHA256: sha, FileEncSHA256: enc}}, "",
			[]chathook.Attachment{pending(chathook.Attachment{Type: chathook.AttachVideo, MimeType: "video/mp4", Size: 7000, DurationS: 3}, whatsmeow.MediaVideo)}},
		{"audio", &waE2E.Message{AudioMessage: &waE2E.AudioMessage{Mimetype: proto.String("audio/mpeg"), Seconds: proto.Uint32(200),
			FileLength: proto.Uint64(3000000), DirectPath: proto.String(path), MediaKey: key, FileSHA256: sha, FileEncSHA256: enc}}, "",
			[]chathook.Attachment{pending(chathook.Attachment{Type: chathook.AttachAudio, MimeType: "audio/mpeg", Size: 3000000, DurationS: 200}, whatsmeow.MediaAudio)}},
		{"voice note", &waE2E.Message{AudioMessage: &waE2E.AudioMessage{Mimetype: proto.String("audio/ogg; codecs=opus"), PTT: proto.Bool(true),
			Seconds: proto.Uint32(7), FileLength: proto.Uint64(12000), DirectPath: proto.String(path), MediaKey: key, FileSHA256: sha, FileEncSHA256: enc}}, "",
			[]chathook.Attachment{pending(chathook.Attachment{Type: chathook.AttachVoice, MimeType: "audio/ogg; codecs=opus", Size: 12000, DurationS: 7}, whatsmeow.MediaAudio)}},
		{"document", &waE2E.Message{DocumentMessage: &waE2E.DocumentMessage{Mimetype: proto.String("application/pdf"), FileName: proto.String("contract.pdf"),
			FileLength: proto.Uint64(80000), DirectPath: proto.String(path), MediaKey: key, FileSHA256: sha, FileEncSHA256: enc}}, "",
			[]chathook.Attachment{pending(chathook.Attachment{Type: chathook.AttachDocument, MimeType: "application/pdf", Size: 80000, FileName: "contract.pdf"}, whatsmeow.MediaDocument)}},
		{"document with caption, wrapped", &waE2E.Message{DocumentWithCaptionMessage: &waE2E.FutureProofMessage{Message: &waE2E.Message{
			DocumentMessage: &waE2E.DocumentMessage{Mimetype: proto.String("application/pdf"), FileName: proto.String("a\x00b\n.pdf"), Caption: proto.String("signed"),
				FileLength: proto.Uint64(10), DirectPath: proto.String(path), MediaKey: key, FileSHA256: sha, FileEncSHA256: enc}}}}, "signed",
			[]chathook.Attachment{pending(chathook.Attachment{Type: chathook.AttachDocument, MimeType: "application/pdf", Size: 10, FileName: "ab.pdf"}, whatsmeow.MediaDocument)}},
		{"sticker", &waE2E.Message{StickerMessage: &waE2E.StickerMessage{Mimetype: proto.String("image/webp"), Width: proto.Uint32(512), Height: proto.Uint32(512),
			FileLength: proto.Uint64(20000), DirectPath: proto.String(path), MediaKey: key, FileSHA256: sha, FileEncSHA256: enc}}, "",
			[]chathook.Attachment{pending(chathook.Attachment{Type: chathook.AttachSticker, MimeType: "image/webp", Size: 20000, Width: 512, Height: 512}, whatsmeow.MediaImage)}},
		{"file with no key", &waE2E.Message{ImageMessage: &waE2E.ImageMessage{Mimetype: proto.String("image/png"), DirectPath: proto.String(path)}}, "",
			[]chathook.Attachment{{Type: chathook.AttachImage, MimeType: "image/png", State: chathook.MediaFailed, Error: errNoMediaKey}}},
		{"location", &waE2E.Message{LocationMessage: &waE2E.LocationMessage{DegreesLatitude: proto.Float64(32.0853), DegreesLongitude: proto.Float64(34.7818),
			Name: proto.String("Dizengoff Center"), Address: proto.String("Dizengoff St 50, Tel Aviv")}}, "",
			[]chathook.Attachment{{Type: chathook.AttachLocation, Latitude: 32.0853, Longitude: 34.7818, Name: "Dizengoff Center", Address: "Dizengoff St 50, Tel Aviv"}}},
		{"live location", &waE2E.Message{LiveLocationMessage: &waE2E.LiveLocationMessage{DegreesLatitude: proto.Float64(-33.8688),
			DegreesLongitude: proto.Float64(151.2093), Caption: proto.String("on my way")}}, "on my way",
			[]chathook.Attachment{{Type: chathook.AttachLocation, Latitude: -33.8688, Longitude: 151.2093}}},
		{"contact", &waE2E.Message{ContactMessage: &waE2E.ContactMessage{DisplayName: proto.String("Zed"),
			Vcard: proto.String("BEGIN:VCARD\nVERSION:3.0\nFN:Zed\nTEL:+15550001\nEND:VCARD")}}, "",
			[]chathook.Attachment{{Type: chathook.AttachContact, VCard: "BEGIN:VCARD\nVERSION:3.0\nFN:Zed\nTEL:+15550001\nEND:VCARD"}}},
		{"contacts", &waE2E.Message{ContactsArrayMessage: &waE2E.ContactsArrayMessage{Contacts: []*waE2E.ContactMessage{
			{Vcard: proto.String("BEGIN:VCARD\nFN:A\nEND:VCARD")}, {Vcard: proto.String("BEGIN:VCARD\nFN:B\x00\nEND:VCARD")}}}}, "",
			[]chathook.Attachment{{Type: chathook.AttachContact, VCard: "BEGIN:VCARD\nFN:A\nEND:VCARD"}, {Type: chathook.AttachContact, VCard: "BEGIN:VCARD\nFN:B\nEND:VCARD"}}},
		{"location off Earth", &waE2E.Message{LocationMessage: &waE2E.LocationMessage{DegreesLatitude: proto.Float64(95), Name: proto.String("Moon")}}, "",
			[]chathook.Attachment{{Type: chathook.AttachLocation, Name: "Moon", Error: "WhatsApp gave coordinates that are not on Earth"}}},
		{"text", text("hi"), "hi", nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			text, got, ok := content(c.msg, info)
			if !ok || text != c.text {
				t.Fatalf("content: %q, %v; want %q", text, ok, c.text)
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("attachments\n%+v\nwant\n%+v", got, c.want)
			}
			for _, a := range got {
				if a.State != chathook.MediaPending {
					continue
				}
				var f MediaFile
				if err := json.Unmarshal(a.Source, &f); err != nil {
					t.Fatal(err)
				}
				mi, err := f.Info()
				if err != nil || mi.ID != info.ID || mi.Chat != info.Chat || mi.Sender != info.Sender || !mi.IsGroup || mi.IsFromMe {
					t.Errorf("the receipt's message key %+v, %v; want %+v", mi, err, info.MessageSource)
				}
			}
		})
	}
}

// A message of more contact cards than a message may carry keeps the
// first ingest.MaxAttachments, and passes the ingest API's rules.
func TestManyContactCards(t *testing.T) {
	m, _ := mapperOn(t)
	var cards []*waE2E.ContactMessage
	for range ingest.MaxAttachments + 3 {
		cards = append(cards, &waE2E.ContactMessage{Vcard: proto.String("BEGIN:VCARD\nFN:A\nEND:VCARD")})
	}
	in, ok := m.incoming(context.Background(), msgEvt(bob, bob, false, &waE2E.Message{ContactsArrayMessage: &waE2E.ContactsArrayMessage{Contacts: cards}}),
		types.EmptyJID, now, false)
	if !ok || len(in.Attachments) != ingest.MaxAttachments {
		t.Fatalf("%v, %d attachments", ok, len(in.Attachments))
	}
}

// A live message with a file is stored with the file pending and is
// skipped by the seed format; a history message keeps its file's
// attachment, failed: a history sync can carry thousands of files.
func TestAttachmentsLiveAndHistory(t *testing.T) {
	m, _ := mapperOn(t)
	img := &waE2E.Message{ImageMessage: &waE2E.ImageMessage{Mimetype: proto.String("image/jpeg"), Caption: proto.String(strings.Repeat("x", 3)),
		DirectPath: proto.String("/p"), MediaKey: []byte("k"), FileLength: proto.Uint64(5)}}
	for _, history := range []bool{false, true} {
		in, ok := m.incoming(context.Background(), msgEvt(bob, bob, false, img), types.EmptyJID, now, history)
		if !ok || len(in.Attachments) != 1 || in.SkipReason != ingest.SkipAttachments || in.Text != "xxx" {
			t.Fatalf("history %v: %v %+v", history, ok, in)
		}
		a := in.Attachments[0]
		switch {
		case !history && (a.State != chathook.MediaPending || a.Error != "" || a.Source == nil):
			t.Errorf("live: %+v", a)
		case history && (a.State != chathook.MediaFailed || a.Error != ErrHistoryMedia || a.MimeType != "image/jpeg"):
			t.Errorf("history: %+v", a)
		}
	}
}
