package web

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/media"
)

func TestHumanSize(t *testing.T) {
	for n, want := range map[int64]string{
		0: "", -1: "", 1: "1 byte", 2: "2 bytes", 999: "999 bytes", 1000: "1 kB", 1234: "1.2 kB", 9949: "9.9 kB",
		9951: "10 kB", 48213: "48 kB", 999_499: "999 kB", 999_500: "1 MB", 1_234_567: "1.2 MB", 104_857_600: "105 MB",
		2_500_000_000: "2.5 GB", 3_000_000_000_000: "3 TB",
	} {
		if got := humanSize(n); got != want {
			t.Errorf("humanSize(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestClockDuration(t *testing.T) {
	for s, want := range map[int]string{0: "", -3: "", 7: "0:07", 59: "0:59", 60: "1:00", 750: "12:30", 3723: "1:02:03"} {
		if got := clockDuration(s); got != want {
			t.Errorf("clockDuration(%d) = %q, want %q", s, got, want)
		}
	}
}

// What the chat page shows of each kind and state of attachment.
func TestAttachmentOf(t *testing.T) {
	now := time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)
	stored := func(a chathook.Attachment) chathook.Attachment {
		a.ID, a.State, a.LinkKey, a.Blob = 42, chathook.MediaStored, []byte("0123456789abcdef"), "b1"
		return a
	}
	cases := []struct {
		name    string
		a       chathook.Attachment
		caption string
		check   func(t *testing.T, v attachmentView)
	}{
		{"a stored photo: a fresh link, its caption as alt text", stored(chathook.Attachment{Type: chathook.AttachImage, Width: 1280, Height: 960}),
			"Lunch\nmenu", func(t *testing.T, v attachmentView) {
				want(t, v.Show, "image")
				want(t, v.Alt, "Photo: Lunch menu")
				if !strings.HasPrefix(v.Href, "/media/") {
					t.Fatalf("href %q is not a relative /media/ link", v.Href)
				}
				tok, err := media.ParseToken(strings.TrimPrefix(v.Href, "/media/"))
				if err != nil || tok.ID != 42 || !tok.Expires.Equal(now.Add(media.LinkTTL)) {
					t.Errorf("token %+v, %v: want attachment 42, expiring at %s", tok, err, now.Add(media.LinkTTL))
				}
				if !tok.Check(stored(chathook.Attachment{})) {
					t.Error("the link is not signed with the attachment's key")
				}
			}},
		{"a sticker", stored(chathook.Attachment{Type: chathook.AttachSticker}), "", func(t *testing.T, v attachmentView) {
			want(t, v.Show, "image")
			want(t, v.Alt, "Sticker")
		}},
		{"a video", stored(chathook.Attachment{Type: chathook.AttachVideo, Size: 3_400_000, DurationS: 75}), "", func(t *testing.T, v attachmentView) {
			want(t, v.Show, "video")
			want(t, v.Size, "3.4 MB")
			want(t, v.Duration, "1:15")
		}},
		{"a voice note", stored(chathook.Attachment{Type: chathook.AttachVoice, DurationS: 12}), "", func(t *testing.T, v attachmentView) {
			want(t, v.Show, "audio")
			want(t, v.Label, "🎤 Voice message")
			want(t, v.Duration, "0:12")
		}},
		{"audio", stored(chathook.Attachment{Type: chathook.AttachAudio}), "", func(t *testing.T, v attachmentView) { want(t, v.Show, "audio") }},
		{"a document", stored(chathook.Attachment{Type: chathook.AttachDocument, FileName: "invoice.pdf", Size: 1_234_567}), "", func(t *testing.T, v attachmentView) {
			want(t, v.Show, "document")
			want(t, v.Label, "📄 invoice.pdf")
			want(t, v.FileName, "invoice.pdf")
			want(t, v.Size, "1.2 MB")
		}},
		{"pending", chathook.Attachment{Type: chathook.AttachImage, State: chathook.MediaPending}, "", func(t *testing.T, v attachmentView) {
			want(t, v.Show, "missing")
			want(t, v.Missing, "downloading…")
			want(t, v.Href, "")
		}},
		{"failed", chathook.Attachment{Type: chathook.AttachVideo, State: chathook.MediaFailed, Error: "the file is larger than the media size limit"}, "",
			func(t *testing.T, v attachmentView) {
				want(t, v.Show, "missing")
				want(t, v.Missing, "the file is larger than the media size limit")
				want(t, v.Href, "")
			}},
		{"failed without a reason", chathook.Attachment{Type: chathook.AttachVideo, State: chathook.MediaFailed}, "", func(t *testing.T, v attachmentView) {
			want(t, v.Missing, "not downloaded")
		}},
		{"deleted: no link, though the row keeps its key", chathook.Attachment{ID: 7, Type: chathook.AttachImage, State: chathook.MediaDeleted, LinkKey: []byte("k")}, "",
			func(t *testing.T, v attachmentView) {
				want(t, v.Show, "missing")
				want(t, v.Missing, "expired")
				want(t, v.Href, "")
			}},
		{"an ingest API attachment: its URL as given", chathook.Attachment{Type: chathook.AttachImage, URL: "https://cdn.example.com/a.jpg"}, "",
			func(t *testing.T, v attachmentView) {
				want(t, v.Show, "external")
				want(t, v.Host, "cdn.example.com")
				want(t, v.Href, "")
			}},
		{"a file with neither file nor URL", chathook.Attachment{Type: chathook.AttachAudio}, "", func(t *testing.T, v attachmentView) {
			want(t, v.Show, "label")
		}},
		{"a location", chathook.Attachment{Type: chathook.AttachLocation, Latitude: 32.0853, Longitude: -34.78, Name: "Harbour Café", Address: "12 Harbour St"}, "",
			func(t *testing.T, v attachmentView) {
				want(t, v.Show, "location")
				want(t, v.Label, "📍 Harbour Café")
				want(t, v.Map, "https://www.openstreetmap.org/?mlat=32.0853&mlon=-34.78#map=17/32.0853/-34.78")
			}},
		{"a contact: its card as a data: link", chathook.Attachment{Type: chathook.AttachContact, VCard: "BEGIN:VCARD\nFN:Jane Roe/#1\nTEL:+1 555\nEND:VCARD"}, "",
			func(t *testing.T, v attachmentView) {
				want(t, v.Show, "contact")
				want(t, v.Label, "👤 Jane Roe/#1")
				want(t, v.FileName, "Jane Roe/#1.vcf")
				data, ok := strings.CutPrefix(string(v.VCard), "data:text/vcard;charset=utf-8,")
				if !ok {
					t.Fatalf("vcard link %q", v.VCard)
				}
				if strings.ContainsAny(data, "#\n /") {
					t.Errorf("the data link %q is not escaped", data)
				}
				card, err := url.PathUnescape(data)
				want(t, card, "BEGIN:VCARD\nFN:Jane Roe/#1\nTEL:+1 555\nEND:VCARD")
				if err != nil {
					t.Error(err)
				}
			}},
		{"a contact without a name", chathook.Attachment{Type: chathook.AttachContact, VCard: "BEGIN:VCARD\nEND:VCARD"}, "", func(t *testing.T, v attachmentView) {
			want(t, v.Label, "👤 Contact")
			want(t, v.FileName, "contact.vcf")
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { c.check(t, attachmentOf(c.a, c.caption, now)) })
	}
}

func want(t *testing.T, got, want string) {
	t.Helper()
	if got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
