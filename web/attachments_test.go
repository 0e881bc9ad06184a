package web_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"html"
	"image"
	"image/color"
	"image/png"
	"math"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/media"
	"github.com/chathook/chathook/store"
	"github.com/google/uuid"
)

// mediaChat is a chat of a QR-linked account whose messages carry
// attachments, stored as the media downloader stores them: ingested
// pending, claimed, their bytes put in the store's blob store, finished.
// The account's lease is the test's ("web-test"), so no running
// service's downloader claims its files before the test does.
type mediaChat struct {
	t    testing.TB
	st   store.Store
	ws   string
	now  func() time.Time
	name string
	at   time.Time // the next message's timestamp
	id   int64
}

// file is what a test's fake download gives an attachment.
type file struct {
	mime  string
	bytes []byte
	fail  string // not "": the download fails with this error
}

const mediaOwner = "web-test"

func newMediaChat(t testing.TB, st store.Store, ws string, now func() time.Time, name string) *mediaChat {
	t.Helper()
	_, err := st.LinkAccount(context.Background(), ws, chathook.Account{
		Phone: "+15550000000", FullName: "Agent", JID: "15550000000:7@s.whatsapp.net", Email: "owner@acme.example",
	}, mediaOwner, now().Add(365*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	return &mediaChat{t: t, st: st, ws: ws, now: now, name: name, at: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}
}

func (h *harness) mediaChat(name string) *mediaChat {
	return newMediaChat(h.t, h.st, h.ws.WorkspaceID, h.clock, name)
}

// post stores one received message with text and attachments.
func (c *mediaChat) post(text string, as ...chathook.Attachment) {
	c.t.Helper()
	res, err := c.st.Ingest(context.Background(), c.ws, c.now(), []chathook.Incoming{{
		Account:   chathook.Account{Phone: "+15550000000", FullName: "Agent"},
		Chat:      chathook.Chat{ExternalID: chatPhone(c.name), Phone: "+15551000001", FullName: c.name},
		MessageID: uuid.NewString(), UUID: uuid.NewString(), Direction: chathook.Received,
		Timestamp: c.at, Text: text, Attachments: as,
	}})
	if err != nil {
		c.t.Fatal(err)
	}
	if res[0].Status != chathook.Accepted {
		c.t.Fatalf("ingest: %+v", res[0])
	}
	c.id, c.at = res[0].ChatID, c.at.Add(time.Minute)
}

// download claims every pending attachment and stores what files gives
// it, by its Source (the downloader's own id of the file).
func (c *mediaChat) download(files map[string]file) {
	c.t.Helper()
	ctx, now := context.Background(), c.now()
	ds, err := c.st.ClaimDownloads(ctx, mediaOwner, now, time.Minute, 100, 0)
	if err != nil {
		c.t.Fatal(err)
	}
	if len(ds) != len(files) {
		c.t.Fatalf("claimed %d downloads, want %d", len(ds), len(files))
	}
	for _, d := range ds {
		f, ok := files[string(d.Source)]
		if !ok {
			c.t.Fatalf("no file for the download of %s", d.Source)
		}
		a := d.Attachment
		if f.fail != "" {
			a.State, a.Error = chathook.MediaFailed, f.fail
		} else {
			ref, size, err := c.st.Blobs().Put(ctx, bytes.NewReader(f.bytes))
			if err != nil {
				c.t.Fatal(err)
			}
			sum := sha256.Sum256(f.bytes)
			a.State, a.Blob, a.Size, a.MimeType, a.SHA256 = chathook.MediaStored, ref, size, f.mime, hex.EncodeToString(sum[:])
		}
		if ok, err := c.st.FinishDownload(ctx, mediaOwner, a, now, now); err != nil || !ok {
			c.t.Fatalf("finish the download of %s: %v, %v", d.Source, ok, err)
		}
	}
}

func pending(t chathook.AttachmentType, source string) chathook.Attachment {
	return chathook.Attachment{Type: t, State: chathook.MediaPending, Source: []byte(source)}
}

// testPNG is a w×h picture: real image bytes, which a browser decodes.
func testPNG(w, h int) []byte {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.RGBA{uint8(40 + 150*x/w), uint8(120 + 100*y/h), 160, 255})
		}
	}
	var buf bytes.Buffer
	_ = png.Encode(&buf, img)
	return buf.Bytes()
}

// testWAV is seconds of a 440 Hz tone: 8 kHz, 8-bit mono PCM.
func testWAV(seconds int) []byte {
	n := 8000 * seconds
	var b bytes.Buffer
	w := func(v any) { _ = binary.Write(&b, binary.LittleEndian, v) }
	b.WriteString("RIFF")
	w(uint32(36 + n))
	b.WriteString("WAVEfmt ")
	w(uint32(16))
	w(uint16(1))    // PCM
	w(uint16(1))    // mono
	w(uint32(8000)) // samples a second
	w(uint32(8000)) // bytes a second
	w(uint16(1))    // block
	w(uint16(8))    // bits
	b.WriteString("data")
	w(uint32(n))
	for i := range n {
		b.WriteByte(uint8(128 + 60*math.Sin(2*math.Pi*440*float64(i)/8000)))
	}
	return b.Bytes()
}

// testPDF is a PDF padded to size bytes.
func testPDF(size int) []byte {
	head := "%PDF-1.4\n%" + strings.Repeat("x", 10) + "\n"
	return []byte(head + strings.Repeat(" ", size-len(head)-6) + "%%EOF\n")
}

// The chat page shows each kind of attachment as SPEC 8 and issue 27
// say, with fresh links to stored files; the chat list previews them.
func TestChatShowsAttachments(t *testing.T) {
	t.Parallel()
	h := newHarness(t, true, "")
	c := h.mediaChat("Media chat")
	c.post("Lunch menu", chathook.Attachment{Type: chathook.AttachImage, Width: 640, Height: 480, State: chathook.MediaPending, Source: []byte("photo")})
	c.post("", chathook.Attachment{Type: chathook.AttachVoice, DurationS: 2, State: chathook.MediaPending, Source: []byte("voice")})
	c.post("", chathook.Attachment{Type: chathook.AttachDocument, FileName: "invoice.pdf", State: chathook.MediaPending, Source: []byte("pdf")})
	c.post("", pending(chathook.AttachVideo, "too-large"))
	c.post("", chathook.Attachment{Type: chathook.AttachLocation, Latitude: 51.5007, Longitude: -0.1246, Name: "Big Ben", Address: "Westminster, London"})
	c.post("", chathook.Attachment{Type: chathook.AttachContact, VCard: "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Jane <Roe>\r\nTEL:+15557654321\r\nEND:VCARD\r\n"})
	c.post("", chathook.Attachment{Type: chathook.AttachImage, URL: "https://cdn.example.com/cat.jpg"})
	photo, voice, pdf := testPNG(640, 480), testWAV(2), testPDF(1_234_567)
	c.download(map[string]file{
		"photo": {mime: "image/png", bytes: photo}, "voice": {mime: "audio/wav", bytes: voice}, "pdf": {mime: "application/pdf", bytes: pdf},
		"too-large": {fail: "the file is larger than the media size limit (--media-max-bytes)"},
	})
	c.post("", pending(chathook.AttachSticker, "later")) // still downloading

	v := h.signedIn("acme")
	a := v.get(fmt.Sprintf("/chat/%d/messages/", c.id))
	if a.status != http.StatusOK {
		t.Fatalf("chat page: %d", a.status)
	}
	body := a.body
	links := map[string]string{} // what each /media/ link is of: the bytes it must serve
	expect := func(what, pattern string, of []byte) {
		t.Helper()
		m := regexp.MustCompile(pattern).FindStringSubmatch(body)
		if m == nil {
			t.Errorf("the %s is not shown as /%s/ in:\n%s", what, pattern, body)
			return
		}
		if len(m) > 1 {
			links[html.UnescapeString(m[1])] = string(of)
		}
	}
	expect("photo", `<img src="(/media/[^"]+)" alt="Photo: Lunch menu" loading="lazy" width="640" height="480">`, photo)
	expect("caption", `</figure>\s*<p class="text" dir="auto">Lunch menu</p>`, nil)
	expect("voice note", `<figcaption>🎤 Voice message · 0:02</figcaption><audio controls preload="metadata" src="(/media/[^"]+)"></audio>`, voice)
	expect("document", `<a href="(/media/[^"]+)" download="invoice.pdf">📄 invoice.pdf</a> · 1.2 MB`, pdf)
	expect("failed video", `🎥 Video — <span class="why">the file is larger than the media size limit \(--media-max-bytes\)</span>`, nil)
	expect("pending sticker", `💟 Sticker — <span class="why">downloading…</span>`, nil)
	expect("location", `<a href="https://www.openstreetmap.org/\?mlat=51.5007&amp;mlon=-0.1246#map=17/51.5007/-0.1246" target="_blank" rel="noopener noreferrer">📍 Big Ben</a><br><span class="address">Westminster, London</span>`, nil)
	expect("contact", `👤 Jane &lt;Roe&gt; · <a href="data:text/vcard;charset=utf-8,BEGIN:VCARD%0D%0AVERSION:3.0%0D%0AFN:Jane%20%3CRoe%3E%0D%0ATEL:&#43;15557654321%0D%0AEND:VCARD%0D%0A" download="Jane &lt;Roe&gt;.vcf">vCard</a>`, nil)
	expect("ingest API image", `<a href="https://cdn.example.com/cat.jpg" target="_blank" rel="noopener noreferrer nofollow">📷 Photo</a> <span class="host">cdn.example.com</span>`, nil)
	if n := strings.Count(body, `<p class="text" dir="auto">`); n != 1 {
		t.Errorf("%d text paragraphs; only the photo's caption should have one", n)
	}

	// Every link is the attachment's own, valid 24 hours from this render.
	for link := range links {
		tok, err := media.ParseToken(strings.TrimPrefix(link, "/media/"))
		if err != nil {
			t.Fatalf("%s: %v", link, err)
		}
		att, ws, err := h.st.MediaFile(context.Background(), tok.ID)
		if err != nil || ws != h.ws.WorkspaceID || !tok.Check(att) {
			t.Errorf("%s is not a link of attachment %d of this workspace: %v", link, tok.ID, err)
		}
		if want := h.clock().Add(media.LinkTTL).Truncate(time.Second); !tok.Expires.Equal(want) {
			t.Errorf("%s expires at %s, want %s", link, tok.Expires, want)
		}
	}
	if len(links) != 3 {
		t.Errorf("%d distinct links to files, want 3", len(links))
	}
	// A later render makes new links, valid from then.
	h.advance(time.Hour)
	later := v.get(fmt.Sprintf("/chat/%d/messages/", c.id)).body
	for link := range links {
		if strings.Contains(later, link) {
			t.Errorf("an hour later the page still links %s", link)
		}
	}

	if csp := a.header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") || !strings.Contains(csp, "img-src 'self'") ||
		!strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") {
		t.Errorf("Content-Security-Policy %q: media must load from this site, and no inline script run", csp)
	}

	list := v.get("/chats/").body
	if !strings.Contains(list, `<span class="preview" dir="auto">💟 Sticker</span>`) {
		t.Errorf("the chat list does not preview the last message as a sticker:\n%s", list)
	}
}
