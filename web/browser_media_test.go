package web_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/chathook/chathook"
	"github.com/chromedp/chromedp"
)

// A chat with a photo, a voice note, a document, a location and a
// contact card, in Chromium: the photo is an image of its size, the
// voice note a player, the document a download with its size, the
// location a map link; the chat list previews the last of them.
func TestBrowserChatMedia(t *testing.T) {
	svc, ws := service(t)
	c := newMediaChat(t, svc.Store, ws.WorkspaceID, time.Now, "Dana Media")
	c.post("Lunch menu for Friday", chathook.Attachment{Type: chathook.AttachImage, Width: 640, Height: 480, State: chathook.MediaPending, Source: []byte("photo")})
	c.post("", chathook.Attachment{Type: chathook.AttachVoice, DurationS: 2, State: chathook.MediaPending, Source: []byte("voice")})
	c.post("Here is the invoice", chathook.Attachment{Type: chathook.AttachDocument, FileName: "invoice-2026-03.pdf", State: chathook.MediaPending, Source: []byte("pdf")})
	c.post("", pending(chathook.AttachVideo, "too-large"))
	c.post("", chathook.Attachment{Type: chathook.AttachContact, VCard: "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Sam Supplier\r\nTEL:+15557654321\r\nEND:VCARD\r\n"})
	c.post("", chathook.Attachment{Type: chathook.AttachLocation, Latitude: 51.5007, Longitude: -0.1246, Name: "Big Ben", Address: "Westminster, London SW1A 0AA"})
	c.download(map[string]file{
		"photo": {mime: "image/png", bytes: testPNG(640, 480)}, "voice": {mime: "audio/wav", bytes: testWAV(2)},
		"pdf": {mime: "application/pdf", bytes: testPDF(1_234_567)}, "too-large": {fail: "the file is larger than the media size limit (--media-max-bytes)"},
	})

	ctx := tab(t)
	do(t, ctx, "open the chat", chromedp.Navigate(fmt.Sprintf("%s/chat/%d/messages/", svc.URL, c.id)))
	signIn(t, ctx, svc.URL, "owner@acme.example", browserPassword)
	do(t, ctx, "see the timeline", chromedp.WaitVisible(chromedp.ID("timeline")))

	img := run(t, ctx, "read the photo", chromedp.Evaluate[map[string]any](`(() => {
		const i = document.querySelector('.attachment.image img');
		const r = i.getBoundingClientRect();
		return {src: i.getAttribute('src'), alt: i.alt, lazy: i.loading, w: r.width, h: r.height,
			caption: i.closest('.msg').querySelector('.text').textContent};
	})()`))
	if src, _ := img["src"].(string); len(src) < 8 || src[:7] != "/media/" {
		t.Errorf("the photo's src is %v", img["src"])
	}
	if img["alt"] != "Photo: Lunch menu for Friday" || img["lazy"] != "lazy" || img["caption"] != "Lunch menu for Friday" {
		t.Errorf("the photo: %v", img)
	}
	// Its width and height reserve its shape before it loads: 4:3.
	if w, h := img["w"].(float64), img["h"].(float64); w <= 0 || h <= 0 || w/h < 1.3 || w/h > 1.36 {
		t.Errorf("the photo is laid out %v×%v, want 4:3", w, h)
	}
	voice := run(t, ctx, "read the voice note", chromedp.Evaluate[map[string]any](`(() => {
		const a = document.querySelector('.attachment.audio audio');
		return {controls: a.controls, src: a.getAttribute('src'), label: a.closest('figure').querySelector('figcaption').textContent};
	})()`))
	if voice["controls"] != true || voice["label"] != "🎤 Voice message · 0:02" {
		t.Errorf("the voice note: %v", voice)
	}
	if got := text(t, ctx, ".attachment.document"); got != "📄 invoice-2026-03.pdf · 1.2 MB" {
		t.Errorf("the document reads %q", got)
	}
	if got := run(t, ctx, "read the document's link", chromedp.Evaluate[string](`document.querySelector('.attachment.document a').getAttribute('download')`)); got != "invoice-2026-03.pdf" {
		t.Errorf("the document downloads as %q", got)
	}
	if got := text(t, ctx, ".attachment.missing"); got != "🎥 Video — the file is larger than the media size limit (--media-max-bytes)" {
		t.Errorf("the failed video reads %q", got)
	}
	if got := run(t, ctx, "read the map link", chromedp.Evaluate[string](`document.querySelector('.attachment.location a').href`)); got != "https://www.openstreetmap.org/?mlat=51.5007&mlon=-0.1246#map=17/51.5007/-0.1246" {
		t.Errorf("the location links %q", got)
	}
	if got := text(t, ctx, ".attachment.contact"); got != "👤 Sam Supplier · vCard" {
		t.Errorf("the contact reads %q", got)
	}
	// The photo's bytes come from /media/{token}, with no session of
	// their own: it loads at its size.
	waitFor(t, ctx, "the photo loaded", `(() => { const i = document.querySelector('.attachment.image img'); return i.complete && i.naturalWidth === 640; })()`)
	screenshot(t, ctx, "chat-media", 1280, 800, true)

	do(t, ctx, "go to the chat list", chromedp.Click(chromedp.CSS("a.back")), chromedp.WaitVisible(chromedp.ID("chat-list")))
	if got := text(t, ctx, "#chat-list .chat-last"); got != "📍 Big Ben" {
		t.Errorf("the chat list previews %q", got)
	}
}
