package chathook_test

import (
	"testing"

	"github.com/chathook/chathook"
)

func TestPreview(t *testing.T) {
	card := "BEGIN:VCARD\r\nVERSION:3.0\r\nN:Doe;John;;;\r\nFN:John Doe\r\nTEL;type=CELL:+15551234567\r\nEND:VCARD\r\n"
	cases := []struct {
		name string
		m    chathook.Message
		want string
	}{
		{"text", chathook.Message{Text: "hello"}, "hello"},
		{"text on one line", chathook.Message{Text: "hello\n\n  there "}, "hello there"},
		{"photo", msg("", chathook.Attachment{Type: chathook.AttachImage}), "📷 Photo"},
		{"photo with a caption", msg("Lunch menu", chathook.Attachment{Type: chathook.AttachImage}), "📷 Lunch menu"},
		{"video", msg("", chathook.Attachment{Type: chathook.AttachVideo}), "🎥 Video"},
		{"audio", msg("", chathook.Attachment{Type: chathook.AttachAudio}), "🎵 Audio"},
		{"voice", msg("", chathook.Attachment{Type: chathook.AttachVoice}), "🎤 Voice message"},
		{"document", msg("", chathook.Attachment{Type: chathook.AttachDocument, FileName: "invoice.pdf"}), "📄 invoice.pdf"},
		{"document without a name", msg("", chathook.Attachment{Type: chathook.AttachDocument}), "📄 Document"},
		{"document whose name is two lines", msg("", chathook.Attachment{Type: chathook.AttachDocument, FileName: "a\nb.pdf"}), "📄 a b.pdf"},
		{"document with a caption", msg("the invoice", chathook.Attachment{Type: chathook.AttachDocument, FileName: "x.pdf"}), "📄 the invoice"},
		{"sticker", msg("", chathook.Attachment{Type: chathook.AttachSticker}), "💟 Sticker"},
		{"location", msg("", chathook.Attachment{Type: chathook.AttachLocation, Latitude: 1, Longitude: 2}), "📍 Location"},
		{"named location", msg("", chathook.Attachment{Type: chathook.AttachLocation, Name: "Harbour Café"}), "📍 Harbour Café"},
		{"contact", msg("", chathook.Attachment{Type: chathook.AttachContact}), "👤 Contact"},
		{"contact card", msg("", chathook.Attachment{Type: chathook.AttachContact, VCard: card}), "👤 John Doe"},
		{"the first of several", msg("", chathook.Attachment{Type: chathook.AttachVoice}, chathook.Attachment{Type: chathook.AttachImage}), "🎤 Voice message"},
		{"an unknown type", msg("", chathook.Attachment{Type: "hologram"}), "📎 Attachment"},
		{"nothing", chathook.Message{}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := c.m.Preview(); got != c.want {
				t.Errorf("Preview() = %q, want %q", got, c.want)
			}
		})
	}
}

func msg(text string, as ...chathook.Attachment) chathook.Message {
	return chathook.Message{Text: text, Attachments: as}
}

func TestVCardName(t *testing.T) {
	cases := []struct{ name, vcard, want string }{
		{"FN", "BEGIN:VCARD\nVERSION:3.0\nFN:Jane Roe\nEND:VCARD", "Jane Roe"},
		{"CRLF and parameters", "BEGIN:VCARD\r\nVERSION:2.1\r\nFN;CHARSET=UTF-8:Zoë Ünal\r\nEND:VCARD\r\n", "Zoë Ünal"},
		{"a group", "BEGIN:VCARD\nitem1.FN:Grouped Name\nEND:VCARD", "Grouped Name"},
		{"lower case", "begin:vcard\nfn:lower case\nend:vcard", "lower case"},
		{"folded", "BEGIN:VCARD\r\nFN:A very long\r\n  name\r\nEND:VCARD", "A very long name"},
		{"escapes", `FN:Doe\, John \; Co\\`, `Doe, John ; Co\`},
		{"only N", "BEGIN:VCARD\nN:Doe;John;;;\nEND:VCARD", "John Doe"},
		{"FN wins over N", "N:Doe;John;;;\nFN:Johnny", "Johnny"},
		{"an empty FN falls back to N", "FN:\nN:Doe;John", "John Doe"},
		{"N with a family name only", "N:Doe", "Doe"},
		{"no name", "BEGIN:VCARD\nTEL:+1555\nEND:VCARD", ""},
		{"not a vcard", "hello", ""},
		{"empty", "", ""},
		{"TEL is not FN", "TEL;X-FN=1:+1555", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := chathook.VCardName(c.vcard); got != c.want {
				t.Errorf("VCardName(%q) = %q, want %q", c.vcard, got, c.want)
			}
		})
	}
}
