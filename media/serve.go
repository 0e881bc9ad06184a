package media

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"path"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/store"
	"github.com/gabriel-vasile/mimetype"
)

// MaxRanges is how many ranges one request may ask of a file; a request
// of more gets the whole file (a player asks for one or two).
const MaxRanges = 8

// Handler serves GET and HEAD /media/{token}: the file a link of Link
// names, with no other credential (SPEC 8). Mount it on a pattern with
// {token}; without one the path's last segment is the token.
//
// Guarantees:
//   - A malformed token, one of no attachment, or one not signed with its
//     attachment's key gets the same 404, so an answer tells nothing of
//     whether a file exists. Only a correctly signed token learns more:
//     410 once it has expired or its file was deleted, 404 while its file
//     is pending or after it failed.
//   - A file is served with ServedType of its stored type (never HTML or
//     SVG), X-Content-Type-Options: nosniff, a sandboxing
//     Content-Security-Policy, inline only when an image, audio or video,
//     and as a download with a safe file name otherwise.
//   - Ranges, HEAD and conditional requests (ETag: the file's SHA-256)
//     are http.ServeContent's; the file is read a chunk at a time.
//   - Caches keep it privately, never longer than the link is valid.
//
// lookup returns an attachment by id (chathook.ErrNotFound if none), now
// is the clock links expire by.
func Handler(lookup func(ctx context.Context, id int64) (chathook.Attachment, error), blobs store.Blobs, now func() time.Time) http.Handler {
	return server{lookup: lookup, blobs: blobs, now: now}
}

type server struct {
	lookup func(ctx context.Context, id int64) (chathook.Attachment, error)
	blobs  store.Blobs
	now    func() time.Time
}

// errUnknown is the one answer to every token that is not a valid link.
const errUnknown = "no such file"

func (s server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		fail(w, http.StatusMethodNotAllowed, "only GET and HEAD are allowed")
		return
	}
	token := r.PathValue("token")
	if token == "" {
		token = path.Base(r.URL.Path)
	}
	tok, err := ParseToken(token)
	if err != nil {
		fail(w, http.StatusNotFound, errUnknown)
		return
	}
	a, err := s.lookup(r.Context(), tok.ID)
	if errors.Is(err, chathook.ErrNotFound) {
		fail(w, http.StatusNotFound, errUnknown)
		return
	}
	if err != nil {
		fail(w, http.StatusInternalServerError, "the file could not be looked up; try again")
		return
	}
	if a.ID != tok.ID || !tok.Check(a) {
		fail(w, http.StatusNotFound, errUnknown)
		return
	}
	now := s.now()
	if !now.Before(tok.Expires) {
		fail(w, http.StatusGone, "this link has expired: GET /api/v1/messages/{message_uuid} gives fresh links")
		return
	}
	switch a.State {
	case chathook.MediaStored:
	case chathook.MediaDeleted:
		fail(w, http.StatusGone, "the file was deleted: its retention (--media-retention) has passed")
		return
	case chathook.MediaPending:
		fail(w, http.StatusNotFound, "the file is not downloaded yet")
		return
	default:
		fail(w, http.StatusNotFound, "the file could not be downloaded")
		return
	}
	b, err := s.blobs.Open(r.Context(), a.Blob)
	if errors.Is(err, chathook.ErrNotFound) { // deleted since the attachment was read
		fail(w, http.StatusGone, "the file was deleted: its retention (--media-retention) has passed")
		return
	}
	if err != nil {
		fail(w, http.StatusInternalServerError, "the file could not be read; try again")
		return
	}
	defer b.Close()
	ct := ServedType(a.MimeType)
	h := w.Header()
	h.Set("Content-Type", ct)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "sandbox; default-src 'none'")
	h.Set("Referrer-Policy", "no-referrer") // the link is its own credential
	h.Set("Content-Disposition", disposition(ct, a.FileName))
	h.Set("Cache-Control", fmt.Sprintf("private, max-age=%d", int64(tok.Expires.Sub(now)/time.Second)))
	if isHex(a.SHA256) {
		h.Set("ETag", `"`+a.SHA256+`"`)
	}
	// Each range reads its chunks again: a request of thousands of them
	// would make a file's link read gigabytes. Past a few, the whole file.
	if strings.Count(r.Header.Get("Range"), ",") >= MaxRanges {
		r.Header.Del("Range")
	}
	http.ServeContent(w, r, "", a.StoredAt, b)
}

// fail answers {"error": msg}; never cached, as the file's state changes.
func fail(w http.ResponseWriter, status int, msg string) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"error": msg})
}

func isHex(s string) bool {
	for _, c := range s {
		if !strings.ContainsRune("0123456789abcdefABCDEF", c) {
			return false
		}
	}
	return s != ""
}

// disposition is the Content-Disposition of a file served as ct: inline
// for images, audio and video (ct is never SVG: see ServedType), a
// download otherwise; with its name made safe (SafeFileName) in ASCII and
// in full (RFC 6266, RFC 5987 encoded).
func disposition(ct, fileName string) string {
	kind := "attachment"
	if top, _, _ := strings.Cut(ct, "/"); top == "image" || top == "audio" || top == "video" {
		kind = "inline"
	}
	name := SafeFileName(fileName)
	if name == "" {
		ext := ""
		if m := mimetype.Lookup(ct); m != nil {
			ext = m.Extension()
		}
		name = "file" + ext
	}
	ascii := []byte(name)
	for i, c := range ascii {
		if c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '%' {
			ascii[i] = '_'
		}
	}
	v := kind + `; filename="` + string(ascii) + `"`
	if string(ascii) != name {
		v += "; filename*=UTF-8''" + encode5987(name)
	}
	return v
}

// maxFileName is the longest file name served, in bytes: file systems
// take 255.
const maxFileName = 200

// SafeFileName is a sender's file name as it may be offered for saving:
// no folder (anything up to a / or \), no control or invisible formatting
// characters (such as a right-to-left override that disguises
// "exe.pdf"), no leading or trailing dots or spaces, at most maxFileName
// bytes (cut at a character, keeping the extension where it can); "" if
// nothing is left.
func SafeFileName(s string) string {
	if i := strings.LastIndexAny(s, `/\`); i >= 0 {
		s = s[i+1:]
	}
	s = strings.Map(func(r rune) rune {
		if r == utf8.RuneError || unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
			return -1
		}
		return r
	}, strings.ToValidUTF8(s, ""))
	s = strings.Trim(s, ". \u00a0")
	if len(s) > maxFileName {
		ext := path.Ext(s)
		if len(ext) > 16 || !utf8.ValidString(ext) {
			ext = ""
		}
		base := s[:maxFileName-len(ext)]
		for !utf8.ValidString(base) {
			base = base[:len(base)-1]
		}
		s = strings.TrimRight(base, ". ") + ext
	}
	return s
}

// encode5987 percent-encodes s as an RFC 5987 ext-value's characters:
// every byte but attr-char.
func encode5987(s string) string {
	const attr = "!#$&+-.^_`|~"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte(attr, c) >= 0 {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}
