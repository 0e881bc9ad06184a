package media_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/media"
	"github.com/chathook/chathook/store"
	"github.com/chathook/chathook/store/sqlite"
	"github.com/chathook/chathook/store/storetest"
	"github.com/chathook/chathook/store/tables"
)

var t0 = time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)

// files is a media server on the real SQLite store's blobs, with the
// attachments its lookup knows.
type files struct {
	t     *testing.T
	srv   *httptest.Server
	blobs store.Blobs
	now   time.Time
	atts  map[int64]chathook.Attachment
	fail  error // lookup's error for any id, when not nil
}

func newFiles(t *testing.T) *files {
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "chathook.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	f := &files{t: t, blobs: st.Blobs(), now: t0, atts: map[int64]chathook.Attachment{}}
	lookup := func(ctx context.Context, id int64) (chathook.Attachment, error) {
		if f.fail != nil {
			return chathook.Attachment{}, f.fail
		}
		a, ok := f.atts[id]
		if !ok {
			return a, fmt.Errorf("attachment %d: %w", id, chathook.ErrNotFound)
		}
		return a, nil
	}
	mux := http.NewServeMux()
	mux.Handle("/media/{token}", media.Handler(lookup, f.blobs, func() time.Time { return f.now }))
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

// add stores data (unless a is not MediaStored) as attachment a, and
// returns a link to it made at t0.
func (f *files) add(a chathook.Attachment, data []byte) string {
	f.t.Helper()
	a.ID = int64(len(f.atts) + 1)
	a.LinkKey = []byte(fmt.Sprintf("key-%d-0123456789", a.ID))
	if a.State == chathook.MediaStored {
		ref, size, err := f.blobs.Put(context.Background(), bytes.NewReader(data))
		if err != nil {
			f.t.Fatal(err)
		}
		a.Blob, a.Size, a.StoredAt = ref, size, t0.Add(-time.Minute)
	}
	f.atts[a.ID] = a
	link, _ := media.Link(f.srv.URL, a, t0)
	return link
}

func (f *files) do(method, url string, header ...string) (*http.Response, []byte) {
	f.t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		f.t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := f.srv.Client().Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		f.t.Fatal(err)
	}
	return res, body
}

// refused checks an answer of status with a JSON error, and returns it.
func refused(t *testing.T, res *http.Response, body []byte, status int) string {
	t.Helper()
	var e struct{ Error string }
	if res.StatusCode != status || res.Header.Get("Content-Type") != "application/json" || json.Unmarshal(body, &e) != nil || e.Error == "" {
		t.Fatalf("status %d, %s %q; want %d with a JSON error", res.StatusCode, res.Header.Get("Content-Type"), body, status)
	}
	return e.Error
}

func stored(typ chathook.AttachmentType, mimeType, name string) chathook.Attachment {
	return chathook.Attachment{Type: typ, MimeType: mimeType, FileName: name, State: chathook.MediaStored,
		SHA256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"}
}

func TestServeImage(t *testing.T) {
	f := newFiles(t)
	link := f.add(stored(chathook.AttachImage, "image/jpeg", ""), jpegFile)
	res, body := f.do("GET", link)
	if res.StatusCode != 200 || !bytes.Equal(body, jpegFile) {
		t.Fatalf("status %d, %d bytes; want 200 and the file", res.StatusCode, len(body))
	}
	for k, want := range map[string]string{
		"Content-Type":            "image/jpeg",
		"Content-Length":          fmt.Sprint(len(jpegFile)),
		"X-Content-Type-Options":  "nosniff",
		"Content-Security-Policy": "sandbox; default-src 'none'",
		"Content-Disposition":     `inline; filename="file.jpg"`,
		"Cache-Control":           "private, max-age=86400",
		"Etag":                    `"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"`,
		"Accept-Ranges":           "bytes",
		"Last-Modified":           t0.Add(-time.Minute).Format(http.TimeFormat),
	} {
		if got := res.Header.Get(k); got != want {
			t.Errorf("%s: %q, want %q", k, got, want)
		}
	}
	head, body := f.do("HEAD", link)
	if head.StatusCode != 200 || len(body) != 0 || head.ContentLength != int64(len(jpegFile)) {
		t.Errorf("HEAD: status %d, %d bytes of body, length %d", head.StatusCode, len(body), head.ContentLength)
	}
	if res, _ := f.do("GET", link, "If-None-Match", res.Header.Get("Etag")); res.StatusCode != http.StatusNotModified {
		t.Errorf("If-None-Match with its ETag: %d, want 304", res.StatusCode)
	}
	f.now = t0.Add(23 * time.Hour)
	if res, _ := f.do("GET", link); res.Header.Get("Cache-Control") != "private, max-age=3600" {
		t.Errorf("an hour before the link expires: Cache-Control %q, want max-age=3600", res.Header.Get("Cache-Control"))
	}
}

// Ranges across chunks' edges read the right bytes: single, suffix,
// several at once, and one past the end.
func TestServeRanges(t *testing.T) {
	f := newFiles(t)
	const chunk = tables.ChunkSize
	data := storetest.Bytes(9, 3*chunk+17)
	link := f.add(stored(chathook.AttachVideo, "video/mp4", "clip.mp4"), data)
	res, body := f.do("GET", link, "Range", fmt.Sprintf("bytes=%d-%d", chunk-50, 2*chunk+49))
	if res.StatusCode != 206 || !bytes.Equal(body, data[chunk-50:2*chunk+50]) {
		t.Errorf("a range over two chunk edges: status %d, %d bytes, not the file's", res.StatusCode, len(body))
	}
	if got, want := res.Header.Get("Content-Range"), fmt.Sprintf("bytes %d-%d/%d", chunk-50, 2*chunk+49, len(data)); got != want {
		t.Errorf("Content-Range %q, want %q", got, want)
	}
	if res, body := f.do("GET", link, "Range", "bytes=-17"); res.StatusCode != 206 || !bytes.Equal(body, data[3*chunk:]) {
		t.Errorf("the last 17 bytes: status %d, %q", res.StatusCode, body)
	}
	res, body = f.do("GET", link, "Range", fmt.Sprintf("bytes=0-9,%d-%d", 2*chunk-1, 2*chunk))
	ct, params, _ := mime.ParseMediaType(res.Header.Get("Content-Type"))
	if res.StatusCode != 206 || ct != "multipart/byteranges" {
		t.Fatalf("two ranges: status %d, %s", res.StatusCode, ct)
	}
	parts := multipart.NewReader(bytes.NewReader(body), params["boundary"])
	for _, want := range [][]byte{data[:10], data[2*chunk-1 : 2*chunk+1]} {
		p, err := parts.NextPart()
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := io.ReadAll(p); !bytes.Equal(got, want) || p.Header.Get("Content-Type") != "video/mp4" {
			t.Errorf("part: %x (%s), want %x (video/mp4)", got, p.Header.Get("Content-Type"), want)
		}
	}
	if res, _ := f.do("GET", link, "Range", fmt.Sprintf("bytes=%d-", len(data)+1)); res.StatusCode != http.StatusRequestedRangeNotSatisfiable {
		t.Errorf("a range past the end: status %d, want 416", res.StatusCode)
	}
	// Many ranges, each reading a chunk again: the whole file instead.
	many := "bytes=0-0"
	for range media.MaxRanges {
		many += fmt.Sprintf(",%d-%d,0-0", chunk, chunk)
	}
	if res, body := f.do("GET", link, "Range", many); res.StatusCode != 200 || !bytes.Equal(body, data) {
		t.Errorf("%d ranges: status %d, %d bytes; want the whole file", 2*media.MaxRanges+1, res.StatusCode, len(body))
	}
}

func TestServeDocumentsAsDownloads(t *testing.T) {
	f := newFiles(t)
	for _, c := range []struct {
		a        chathook.Attachment
		ct, disp string
	}{
		{stored(chathook.AttachDocument, docx, "Q3 report.docx"), docx, `attachment; filename="Q3 report.docx"`},
		{stored(chathook.AttachDocument, "application/pdf", `../../etc/"naïve".pdf`), "application/pdf",
			`attachment; filename="_na__ve_.pdf"; filename*=UTF-8''%22na%C3%AFve%22.pdf`},
		{stored(chathook.AttachDocument, "application/pdf", "invoice\u202Efdp.exe"), "application/pdf",
			`attachment; filename="invoicefdp.exe"`},
		{stored(chathook.AttachDocument, "text/html", "page.html"), media.OctetStream, `attachment; filename="page.html"`},
		{stored(chathook.AttachImage, "image/svg+xml", ""), media.OctetStream, `attachment; filename="file"`},
		{stored(chathook.AttachDocument, "", "..."), media.OctetStream, `attachment; filename="file"`},
		{stored(chathook.AttachVoice, "audio/ogg; codecs=opus", ""), "audio/ogg; codecs=opus", `inline; filename="file.oga"`},
	} {
		res, body := f.do("GET", f.add(c.a, htmlFile))
		if res.StatusCode != 200 || !bytes.Equal(body, htmlFile) {
			t.Errorf("%s: status %d", c.a.MimeType, res.StatusCode)
		}
		if got := res.Header.Get("Content-Type"); got != c.ct {
			t.Errorf("%s: Content-Type %q, want %q", c.a.MimeType, got, c.ct)
		}
		if got := res.Header.Get("Content-Disposition"); got != c.disp {
			t.Errorf("%s %q: Content-Disposition %q, want %q", c.a.MimeType, c.a.FileName, got, c.disp)
		}
		if res.Header.Get("X-Content-Type-Options") != "nosniff" || res.Header.Get("Content-Security-Policy") == "" {
			t.Errorf("%s: no nosniff or CSP", c.a.MimeType)
		}
	}
}

// Whatever is wrong with a token that is not a valid link, the answer is
// the same 404.
func TestServeUnknownTokens(t *testing.T) {
	f := newFiles(t)
	link := f.add(stored(chathook.AttachImage, "image/jpeg", ""), jpegFile)
	other := f.add(stored(chathook.AttachImage, "image/jpeg", ""), jpegFile)
	token := link[strings.LastIndex(link, "/")+1:]
	parts := strings.Split(token, ".")
	flip := func(s string) string { // the last character changed
		c := byte('A')
		if s[len(s)-1] == 'A' {
			c = 'B'
		}
		return s[:len(s)-1] + string(c)
	}
	later := media.Link
	longer, _ := later(f.srv.URL, f.atts[1], t0.Add(time.Hour))
	otherParts := strings.Split(other[strings.LastIndex(other, "/")+1:], ".")
	var first string
	for name, tok := range map[string]string{
		"malformed":                      "not-a-token",
		"empty parts":                    "a..",
		"unknown attachment":             "zz." + parts[1] + "." + parts[2],
		"tampered signature":             parts[0] + "." + parts[1] + "." + flip(parts[2]),
		"tampered expiry":                parts[0] + "." + strings.Split(longer[strings.LastIndex(longer, "/")+1:], ".")[1] + "." + parts[2],
		"another attachment's signature": parts[0] + "." + parts[1] + "." + otherParts[2],
		"another attachment's id":        otherParts[0] + "." + parts[1] + "." + parts[2],
		"no signature":                   parts[0] + "." + parts[1] + ".",
	} {
		res, body := f.do("GET", f.srv.URL+"/media/"+tok)
		msg := refused(t, res, body, http.StatusNotFound)
		if first == "" {
			first = msg
		}
		if msg != first || !bytes.Equal(body, []byte(`{"error":"`+first+`"}`+"\n")) {
			t.Errorf("%s: %q, want the same answer as every unknown token, %q", name, body, first)
		}
	}
	if res, _ := f.do("GET", link); res.StatusCode != 200 {
		t.Errorf("the untampered link: %d", res.StatusCode)
	}
}

func TestServeGoneAndMissing(t *testing.T) {
	f := newFiles(t)
	link := f.add(stored(chathook.AttachImage, "image/jpeg", ""), jpegFile)
	deleted := f.add(chathook.Attachment{Type: chathook.AttachImage, State: chathook.MediaDeleted}, nil)
	pending := f.add(chathook.Attachment{Type: chathook.AttachImage, State: chathook.MediaPending}, nil)
	failed := f.add(chathook.Attachment{Type: chathook.AttachImage, State: chathook.MediaFailed, Error: "too large"}, nil)
	location := f.add(chathook.Attachment{Type: chathook.AttachLocation, Latitude: 1, Longitude: 2}, nil)
	blobGone := f.add(stored(chathook.AttachImage, "image/jpeg", ""), jpegFile)
	if err := f.blobs.Delete(context.Background(), f.atts[6].Blob); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]struct {
		link   string
		status int
	}{
		"deleted": {deleted, 410}, "blob deleted meanwhile": {blobGone, 410},
		"pending": {pending, 404}, "failed": {failed, 404}, "no file": {location, 404},
	} {
		res, body := f.do("GET", c.link)
		if msg := refused(t, res, body, c.status); msg == "no such file" {
			t.Errorf("%s: %q, the unknown token's answer to a valid link", name, msg)
		}
	}

	f.now = t0.Add(media.LinkTTL - time.Second)
	if res, _ := f.do("GET", link); res.StatusCode != 200 {
		t.Errorf("a second before it expires: %d", res.StatusCode)
	}
	f.now = t0.Add(media.LinkTTL)
	res, body := f.do("GET", link)
	if msg := refused(t, res, body, 410); !strings.Contains(msg, "expired") {
		t.Errorf("expired link: %q", msg)
	}
	res, body = f.do("HEAD", link)
	if res.StatusCode != 410 || len(body) != 0 {
		t.Errorf("HEAD of an expired link: %d, %q", res.StatusCode, body)
	}
}

func TestServeRefusesOtherMethodsAndLookupErrors(t *testing.T) {
	f := newFiles(t)
	link := f.add(stored(chathook.AttachImage, "image/jpeg", ""), jpegFile)
	for _, m := range []string{"POST", "PUT", "DELETE"} {
		res, body := f.do(m, link)
		refused(t, res, body, http.StatusMethodNotAllowed)
		if res.Header.Get("Allow") != "GET, HEAD" {
			t.Errorf("%s: Allow %q", m, res.Header.Get("Allow"))
		}
	}
	f.fail = errors.New("database is locked")
	res, body := f.do("GET", link)
	if msg := refused(t, res, body, http.StatusInternalServerError); strings.Contains(msg, "locked") {
		t.Errorf("the store's error reached the client: %q", msg)
	}
}

func TestSafeFileName(t *testing.T) {
	for in, want := range map[string]string{
		"report.pdf":                      "report.pdf",
		`C:\Users\me\report.pdf`:          "report.pdf",
		"../../.bashrc":                   "bashrc",
		"  .hidden. ":                     "hidden",
		"a\x00b\nc\td.txt":                "abcd.txt",
		"photo\u202Egpj.exe":              "photogpj.exe",
		"résumé 2026.docx":                "résumé 2026.docx",
		"bad\xffutf8.txt":                 "badutf8.txt",
		"":                                "",
		"///":                             "",
		strings.Repeat("é", 150) + ".pdf": strings.Repeat("é", 98) + ".pdf",
	} {
		if got := media.SafeFileName(in); got != want {
			t.Errorf("SafeFileName(%q) = %q, want %q", in, got, want)
		}
	}
}
