package whatswebtest

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"

	"github.com/chathook/chathook/source/whatsweb"
	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/proto/waMmsRetry"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"
	"go.mau.fi/whatsmeow/util/cbcutil"
	"go.mau.fi/whatsmeow/util/gcmutil"
	"go.mau.fi/whatsmeow/util/hkdfutil"
	"google.golang.org/protobuf/proto"
)

// Media is a file uploaded to WhatsApp's media servers (the CDN), as a
// message carries it: put these fields in an ImageMessage, a
// DocumentMessage, ...
//
// The CDN is a real HTTP server on 127.0.0.1 holding the file encrypted
// as WhatsApp encrypts media, so that a Client's Download runs
// whatsmeow's own download, HMAC check and decryption.
type Media struct {
	DirectPath    string
	MediaKey      []byte
	FileSHA256    []byte
	FileEncSHA256 []byte
	FileLength    uint64
}

// cdn is WhatsApp's media servers and what the phones keep of the files.
type cdn struct {
	mu      sync.Mutex
	srv     *httptest.Server
	files   map[string]*cdnFile // by direct path
	uploads int                 // files uploaded, so that each path differs
	silent  bool                // phones do not answer media retry receipts
	asked   []string            // message ids of media retry receipts, in order
}

type cdnFile struct {
	enc    []byte // ciphertext and MAC, as served
	key    []byte
	status int  // not 0: what the CDN answers instead of the file
	lost   bool // the phone no longer has it either
}

// PutMedia uploads data as a file of media type mt (whatsmeow.MediaImage,
// ...) under a media key of its own, and returns what a message of it
// carries. The CDN runs until the test ends.
func (n *Network) PutMedia(t testing.TB, data []byte, mt whatsmeow.MediaType) Media {
	t.Helper()
	key := make([]byte, 32)
	rand.Read(key)
	c := n.world.media(t)
	enc := encrypt(t, key, mt, data)
	c.mu.Lock()
	defer c.mu.Unlock()
	path := c.pathLocked()
	c.files[path] = &cdnFile{enc: enc, key: key}
	plain, encSum := sha256.Sum256(data), sha256.Sum256(enc)
	return Media{DirectPath: path, MediaKey: key, FileSHA256: plain[:], FileEncSHA256: encSum[:], FileLength: uint64(len(data))}
}

// encrypt is WhatsApp's media encryption (what whatsmeow's Upload does):
// AES-CBC under keys expanded from the media key for its type, then the
// first 10 bytes of an HMAC-SHA256 of the IV and ciphertext.
func encrypt(t testing.TB, mediaKey []byte, mt whatsmeow.MediaType, data []byte) []byte {
	t.Helper()
	keys := hkdfutil.SHA256(mediaKey, nil, []byte(mt), 112)
	iv, cipherKey, macKey := keys[:16], keys[16:48], keys[48:80]
	ct, err := cbcutil.Encrypt(cipherKey, iv, append([]byte(nil), data...))
	if err != nil {
		t.Fatalf("whatswebtest: encrypt media: %v", err)
	}
	mac := hmac.New(sha256.New, macKey)
	mac.Write(iv)
	mac.Write(ct)
	return append(ct, mac.Sum(nil)[:10]...)
}

// DropMedia makes the CDN answer 404 for a file, as WhatsApp's does
// after some weeks; the phone still has it and uploads it again when
// asked by a media retry receipt.
func (n *Network) DropMedia(path string) {
	n.world.cdnFile(path, func(f *cdnFile) { f.status = http.StatusNotFound })
}

// LoseMedia drops a file from the CDN and from the phone: a media retry
// receipt is answered that the phone no longer has it.
func (n *Network) LoseMedia(path string) {
	n.world.cdnFile(path, func(f *cdnFile) { f.status, f.lost = http.StatusNotFound, true })
}

// FailMedia makes the CDN answer status for a file (0: the file again).
func (n *Network) FailMedia(path string, status int) {
	n.world.cdnFile(path, func(f *cdnFile) { f.status = status })
}

// CorruptMedia flips a bit of a file as the CDN keeps it.
func (n *Network) CorruptMedia(path string) {
	n.world.cdnFile(path, func(f *cdnFile) { f.enc[len(f.enc)/2] ^= 1 })
}

// SilencePhones makes the phones ignore media retry receipts (true), as
// a phone that is off does, or answer them again (false).
func (n *Network) SilencePhones(silent bool) {
	c := n.world.media(nil)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.silent = silent
}

// RetryReceipts returns the message ids of the media retry receipts
// clients sent, in order.
func (n *Network) RetryReceipts() []string {
	c := n.world.media(nil)
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.asked...)
}

// media returns the world's CDN, started on first use (t then closes it
// when the test ends).
func (w *world) media(t testing.TB) *cdn {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.cdn == nil {
		w.cdn = &cdn{files: map[string]*cdnFile{}}
	}
	if w.cdn.srv == nil && t != nil {
		c := w.cdn
		c.srv = httptest.NewServer(http.HandlerFunc(c.serve))
		t.Cleanup(c.srv.Close)
	}
	return w.cdn
}

func (w *world) cdnFile(path string, change func(*cdnFile)) {
	c := w.media(nil)
	c.mu.Lock()
	defer c.mu.Unlock()
	if f := c.files[path]; f != nil {
		change(f)
	}
}

func (c *cdn) pathLocked() string {
	c.uploads++
	sum := sha256.Sum256([]byte{byte(c.uploads), byte(c.uploads >> 8), byte(c.uploads >> 16)})
	return "/v/t62.7118-24/" + hex.EncodeToString(sum[:12]) + ".enc"
}

func (c *cdn) serve(w http.ResponseWriter, r *http.Request) {
	c.mu.Lock()
	f := c.files[r.URL.Path]
	var enc []byte
	status := http.StatusNotFound
	if f != nil {
		status, enc = f.status, append([]byte(nil), f.enc...)
	}
	c.mu.Unlock()
	if status != 0 {
		http.Error(w, http.StatusText(status), status)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.Itoa(len(enc))) // as WhatsApp's CDN does: whatsmeow preallocates it
	w.Write(enc)
}

// download is a file to download as whatsmeow sees a message's part: a
// URL on the CDN, the keys and hashes, and its length when known.
type download struct {
	f   whatsweb.MediaFile
	url string
}

func (d download) GetDirectPath() string             { return d.f.DirectPath }
func (d download) GetMediaKey() []byte               { return d.f.MediaKey }
func (d download) GetFileSHA256() []byte             { return d.f.FileSHA256 }
func (d download) GetFileEncSHA256() []byte          { return d.f.FileEncSHA256 }
func (d download) GetMediaType() whatsmeow.MediaType { return d.f.MediaType }
func (d download) GetURL() string                    { return d.url }
func (d sizedDownload) GetFileLength() uint64        { return uint64(d.f.FileLength) }

type sizedDownload struct{ download }

// Download fetches f's file from the CDN with whatsmeow's own
// DownloadToFile (over HTTP, with its hash and HMAC checks and its
// decryption), so its errors are whatsmeow's: ErrMediaDownloadFailedWith404
// for a dropped file, ErrInvalidMediaEncSHA256 for a corrupt one, ...
// It needs the socket open (whatsmeow.ErrNotConnected).
func (c *Client) Download(ctx context.Context, f whatsweb.MediaFile, dst whatsmeow.File) error {
	if !c.Connected() {
		return whatsmeow.ErrNotConnected
	}
	cdn := c.net.world.media(nil)
	cdn.mu.Lock()
	srv := cdn.srv
	cdn.mu.Unlock()
	if srv == nil {
		return whatsmeow.ErrMediaDownloadFailedWith404
	}
	cli := whatsmeow.NewClient(c.dev, nil)
	cli.SetMediaHTTPClient(srv.Client())
	var msg whatsmeow.DownloadableMessage = download{f: f, url: srv.URL + f.DirectPath}
	if f.FileLength > 0 {
		msg = sizedDownload{download{f: f, url: srv.URL + f.DirectPath}}
	}
	return cli.DownloadToFile(ctx, msg, dst)
}

// SendMediaRetryReceipt is the phone getting the receipt: unless phones
// are silenced, it answers with *events.MediaRetry, encrypted as
// WhatsApp's phones do (so that whatsmeow.DecryptMediaRetryNotification
// reads it): the file's new direct path, uploaded again, or for a file
// LoseMedia dropped, error code 2 (no longer on the phone). It needs the
// socket open.
func (c *Client) SendMediaRetryReceipt(ctx context.Context, info *types.MessageInfo, mediaKey []byte) error {
	if !c.Connected() {
		return whatsmeow.ErrNotConnected
	}
	cdn := c.net.world.media(nil)
	cdn.mu.Lock()
	defer cdn.mu.Unlock()
	cdn.asked = append(cdn.asked, info.ID)
	if cdn.silent {
		return nil
	}
	evt := &events.MediaRetry{MessageID: info.ID, ChatID: info.Chat, FromMe: info.IsFromMe}
	if info.IsGroup {
		evt.SenderID = info.Sender
	}
	var found *cdnFile
	lost := false
	for _, f := range cdn.files {
		if bytes.Equal(f.key, mediaKey) {
			found, lost = f, lost || f.lost
		}
	}
	switch {
	case found == nil || lost:
		evt.Error = &events.MediaRetryError{Code: 2}
	default:
		path := cdn.pathLocked()
		cdn.files[path] = &cdnFile{enc: found.enc, key: found.key}
		notif, err := proto.Marshal(&waMmsRetry.MediaRetryNotification{
			StanzaID: proto.String(info.ID), DirectPath: proto.String(path),
			Result: waMmsRetry.MediaRetryNotification_SUCCESS.Enum(),
		})
		if err != nil {
			return err
		}
		evt.IV = make([]byte, 12)
		rand.Read(evt.IV)
		key := hkdfutil.SHA256(mediaKey, nil, []byte("WhatsApp Media Retry Notification"), 32)
		if evt.Ciphertext, err = gcmutil.Encrypt(key, evt.IV, notif, []byte(info.ID)); err != nil {
			return err
		}
	}
	go c.Emit(evt) // the answer comes later, on the event stream
	return nil
}
