package whatsweb_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/media"
	"github.com/chathook/chathook/source/whatsweb"
	"github.com/chathook/chathook/source/whatsweb/whatswebtest"
	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/types/events"
)

// fetchEnv is Dana's account paired and connected on a Manager, whose
// Fetcher downloads from the fake network's CDN.
type fetchEnv struct {
	*env
	m   *whatsweb.Manager
	acc chathook.Account
	fc  *whatswebtest.Client
}

func newFetchEnv(t *testing.T) *fetchEnv {
	t.Helper()
	e := newEnv(t, sqliteOpener(t)) // the Fetcher reads no table: one store is enough
	m := e.manager(t, "a")
	acc, fc := e.pair(t, m, e.net, danaJID, "Dana Owner")
	return &fetchEnv{env: e, m: m, acc: acc, fc: fc}
}

// download is a pending attachment of the file md of a message from Bob.
func (e *fetchEnv) download(t *testing.T, md whatswebtest.Media, mt whatsmeow.MediaType, id string) chathook.Download {
	t.Helper()
	src, err := json.Marshal(whatsweb.MediaFile{DirectPath: md.DirectPath, MediaKey: md.MediaKey, FileSHA256: md.FileSHA256,
		FileEncSHA256: md.FileEncSHA256, FileLength: int64(md.FileLength), MediaType: mt, Chat: bobJID, Sender: bobJID, ID: id})
	if err != nil {
		t.Fatal(err)
	}
	return chathook.Download{
		Attachment: chathook.Attachment{ID: 1, Type: chathook.AttachImage, MimeType: "image/jpeg", Size: int64(md.FileLength),
			Width: 4, Height: 3, State: chathook.MediaPending, Source: src},
		MessageID: id, WorkspaceID: e.ws.ID, Account: e.acc,
	}
}

// fetch runs the Manager's Fetcher into a new file, and returns the
// file's bytes.
func (e *fetchEnv) fetch(t *testing.T, d chathook.Download, max int64) (media.Fetched, []byte, error) {
	t.Helper()
	f, err := os.Create(filepath.Join(t.TempDir(), "file"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	f.WriteString("left over from an attempt before") // emptied by the fetch
	got, ferr := e.m.Fetcher().Fetch(context.Background(), d, max, f)
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	data, err := io.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	return got, data, ferr
}

// photo is a file's bytes, longer than an AES block and not a multiple
// of one.
var photo = bytes.Repeat([]byte("\xff\xd8\xff\xe0 a JPEG, as far as this test cares "), 100)

// The file is downloaded through whatsmeow's own download from a real
// HTTP server, decrypted, and checked: its bytes arrive whole, and the
// attachment's fields come back.
func TestFetchQR(t *testing.T) {
	e := newFetchEnv(t)
	md := e.net.PutMedia(t, photo, whatsmeow.MediaImage)
	got, data, err := e.fetch(t, e.download(t, md, whatsmeow.MediaImage, "M1"), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(data, photo) {
		t.Fatalf("downloaded %d bytes, not the %d of the file", len(data), len(photo))
	}
	want := media.Fetched{MimeType: "image/jpeg", Width: 4, Height: 3}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("fetched %+v, want %+v", got, want)
	}
	if r := e.net.RetryReceipts(); len(r) != 0 {
		t.Errorf("media retry receipts sent for a file the CDN has: %v", r)
	}
}

// The errors of a download: what no retry cures is permanent (a file
// over the limit, a corrupt one, one the phone lost, a broken source),
// what may pass is not (an account held elsewhere, a server error, a
// phone that does not answer).
func TestFetchQRErrors(t *testing.T) {
	e := newFetchEnv(t)
	put := func(id string) (whatswebtest.Media, chathook.Download) {
		md := e.net.PutMedia(t, photo, whatsmeow.MediaDocument)
		return md, e.download(t, md, whatsmeow.MediaDocument, id)
	}

	_, d := put("BIG")
	if _, _, err := e.fetch(t, d, int64(len(photo))-1); !errors.Is(err, media.ErrTooLarge) {
		t.Errorf("a file over the limit: %v", err)
	}

	_, d = put("ELSEWHERE")
	d.Account.ID = e.acc.ID + 1000
	if _, _, err := e.fetch(t, d, 1<<20); !errors.Is(err, whatsweb.ErrNotHeld) || media.IsPermanent(err) {
		t.Errorf("an account not held here: %v (permanent %v)", err, media.IsPermanent(err))
	}

	md, d := put("CORRUPT")
	e.net.CorruptMedia(md.DirectPath)
	if _, _, err := e.fetch(t, d, 1<<20); !errors.Is(err, whatsweb.ErrMediaCorrupt) || !media.IsPermanent(err) {
		t.Errorf("a corrupt file: %v (permanent %v)", err, media.IsPermanent(err))
	}

	md, d = put("WRONGKEY")
	var f whatsweb.MediaFile
	json.Unmarshal(d.Source, &f)
	f.MediaKey = bytes.Repeat([]byte{7}, 32)
	f.FileEncSHA256 = nil // so that the HMAC is what fails
	d.Source, _ = json.Marshal(f)
	if _, _, err := e.fetch(t, d, 1<<20); !errors.Is(err, whatsweb.ErrMediaCorrupt) || !media.IsPermanent(err) {
		t.Errorf("a file under another key: %v (permanent %v)", err, media.IsPermanent(err))
	}

	md, d = put("ERR500")
	e.net.FailMedia(md.DirectPath, http.StatusInternalServerError)
	if _, _, err := e.fetch(t, d, 1<<20); err == nil || media.IsPermanent(err) {
		t.Errorf("a server error: %v (permanent %v)", err, media.IsPermanent(err))
	}
	e.net.FailMedia(md.DirectPath, 0)
	if _, data, err := e.fetch(t, d, 1<<20); err != nil || !bytes.Equal(data, photo) {
		t.Errorf("after the server error passed: %d bytes, %v", len(data), err)
	}

	md, d = put("LOST")
	e.net.LoseMedia(md.DirectPath)
	if _, _, err := e.fetch(t, d, 1<<20); !errors.Is(err, whatsweb.ErrMediaGoneOnPhone) || !media.IsPermanent(err) {
		t.Errorf("a file the phone lost: %v (permanent %v)", err, media.IsPermanent(err))
	}

	md, d = put("SILENT")
	e.net.DropMedia(md.DirectPath)
	e.net.SilencePhones(true)
	whatsweb.SetMediaRetryWait(e.m, 50*time.Millisecond) // the phone never answers: the wait's length changes nothing but the test's time
	if _, _, err := e.fetch(t, d, 1<<20); err == nil || media.IsPermanent(err) {
		t.Errorf("a phone that does not answer: %v (permanent %v)", err, media.IsPermanent(err))
	}
	e.net.SilencePhones(false)

	for _, src := range []string{`{}`, `not json`, ``} {
		d.Source = []byte(src)
		if _, _, err := e.fetch(t, d, 1<<20); !errors.Is(err, whatsweb.ErrNoMediaFile) || !media.IsPermanent(err) {
			t.Errorf("source %q: %v", src, err)
		}
	}
	if want := []string{"LOST", "SILENT"}; !reflect.DeepEqual(e.net.RetryReceipts(), want) {
		t.Errorf("media retry receipts %v, want %v", e.net.RetryReceipts(), want)
	}

	// A disconnected account's files wait for it.
	md, d = put("OFFLINE")
	e.fc.Disconnect()
	e.fc.Emit(&events.Disconnected{})
	if _, _, err := e.fetch(t, d, 1<<20); !errors.Is(err, whatsweb.ErrNotHeld) || media.IsPermanent(err) {
		t.Errorf("a disconnected account: %v", err)
	}
}

// The media retry round trip: the CDN dropped the file (404), so the
// fetcher sends a media retry receipt; the phone uploads the file again
// and answers with an encrypted *events.MediaRetry, which whatsmeow's
// DecryptMediaRetryNotification reads; the file is downloaded from its
// new path, which the attachment's new Source keeps, so that the next
// download needs no receipt.
func TestFetchQRMediaRetry(t *testing.T) {
	e := newFetchEnv(t)
	md := e.net.PutMedia(t, photo, whatsmeow.MediaVideo)
	d := e.download(t, md, whatsmeow.MediaVideo, "OLD1")
	e.net.DropMedia(md.DirectPath)

	got, data, err := e.fetch(t, d, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(data, photo) {
		t.Fatalf("downloaded %d bytes, not the %d of the file", len(data), len(photo))
	}
	if r := e.net.RetryReceipts(); !reflect.DeepEqual(r, []string{"OLD1"}) {
		t.Errorf("media retry receipts %v", r)
	}
	var was, now whatsweb.MediaFile
	if err := json.Unmarshal(d.Source, &was); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(got.Source, &now); err != nil {
		t.Fatalf("new source %q: %v", got.Source, err)
	}
	if now.DirectPath == was.DirectPath || now.DirectPath == "" {
		t.Errorf("new direct path %q, was %q", now.DirectPath, was.DirectPath)
	}
	was.DirectPath = now.DirectPath
	if !reflect.DeepEqual(now, was) {
		t.Errorf("the new source changed more than the path:\n%+v\n%+v", now, was)
	}

	d.Source = got.Source
	again, data, err := e.fetch(t, d, 1<<20)
	if err != nil || !bytes.Equal(data, photo) || again.Source != nil {
		t.Errorf("from the new path: %d bytes, source %q, %v", len(data), again.Source, err)
	}
	if r := e.net.RetryReceipts(); len(r) != 1 {
		t.Errorf("media retry receipts after the new path: %v", r)
	}
}

// A sender that declares a small file (or none) cannot make chathook
// write a large one: the CDN serves 4 MiB (with its Content-Length) for
// a limit of 64 KiB, and the download stops with ErrTooLarge once the
// file would pass the limit plus WhatsApp's padding and MAC, so that
// dst never holds more than that.
func TestFetchQRBoundedWhileDownloading(t *testing.T) {
	e := newFetchEnv(t)
	const max = 64 << 10
	big := bytes.Repeat([]byte("not the 100 bytes the message says "), (4<<20)/35)
	for _, declared := range []uint64{100, 0} {
		md := e.net.PutMedia(t, big, whatsmeow.MediaDocument)
		md.FileLength = declared // a modified client's claim; 0 is unknown
		f, err := os.Create(filepath.Join(t.TempDir(), "file"))
		if err != nil {
			t.Fatal(err)
		}
		_, ferr := e.m.Fetcher().Fetch(context.Background(), e.download(t, md, whatsmeow.MediaDocument, "BIG"), max, f)
		st, err := f.Stat()
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		if !errors.Is(ferr, media.ErrTooLarge) || !media.IsPermanent(ferr) {
			t.Errorf("declared %d: %v, want ErrTooLarge", declared, ferr)
		}
		if st.Size() > max+whatsweb.MediaOverhead {
			t.Errorf("declared %d: the file grew to %d bytes, over the limit %d plus %d", declared, st.Size(), max, whatsweb.MediaOverhead)
		}
	}

	// A file of exactly max bytes still arrives whole: the overhead is
	// WhatsApp's, not the file's.
	exact := big[:max]
	md := e.net.PutMedia(t, exact, whatsmeow.MediaDocument)
	if _, data, err := e.fetch(t, e.download(t, md, whatsmeow.MediaDocument, "EXACT"), max); err != nil || !bytes.Equal(data, exact) {
		t.Errorf("a file of exactly the limit: %d bytes, %v", len(data), err)
	}
	md = e.net.PutMedia(t, big[:max+1], whatsmeow.MediaDocument)
	md.FileLength = 0
	if _, _, err := e.fetch(t, e.download(t, md, whatsmeow.MediaDocument, "ONEMORE"), max); !errors.Is(err, media.ErrTooLarge) {
		t.Errorf("a file one byte over the limit, length unknown: %v", err)
	}
}

// The bounded file refuses every write and truncation whose end would
// pass the limit, writes nothing of a refused write, takes the offset
// of a Seek into account, and refuses everything after a refusal (so
// that whatsmeow's next media host stops at its first write).
func TestBoundedFile(t *testing.T) {
	const max = 100
	limit := int64(max + whatsweb.MediaOverhead)
	f, err := os.Create(filepath.Join(t.TempDir(), "file"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	size := func() int64 {
		t.Helper()
		st, err := f.Stat()
		if err != nil {
			t.Fatal(err)
		}
		return st.Size()
	}

	b := whatsweb.NewBoundedFile(f, max)
	if n, err := b.Write(make([]byte, limit-2)); err != nil || n != int(limit-2) {
		t.Fatalf("a write within the limit: %d, %v", n, err)
	}
	if n, err := b.Write(make([]byte, 3)); n != 0 || !errors.Is(err, media.ErrTooLarge) || size() != limit-2 {
		t.Errorf("a write past the limit: %d, %v; file %d bytes", n, err, size())
	}

	b = whatsweb.NewBoundedFile(f, max)
	if _, err := b.Seek(limit-1, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	if n, err := b.Write([]byte("ab")); n != 0 || !errors.Is(err, media.ErrTooLarge) {
		t.Errorf("a write past the limit after a seek: %d, %v", n, err)
	}

	b = whatsweb.NewBoundedFile(f, max)
	if n, err := b.WriteAt([]byte("ab"), limit-2); err != nil || n != 2 {
		t.Errorf("a WriteAt up to the limit: %d, %v", n, err)
	}
	if n, err := b.WriteAt([]byte("ab"), limit-1); n != 0 || !errors.Is(err, media.ErrTooLarge) || size() != limit {
		t.Errorf("a WriteAt past the limit: %d, %v; file %d bytes", n, err, size())
	}

	b = whatsweb.NewBoundedFile(f, max)
	if err := b.Truncate(limit); err != nil {
		t.Errorf("a truncation to the limit: %v", err)
	}
	if err := b.Truncate(4 << 20); !errors.Is(err, media.ErrTooLarge) || size() != limit {
		t.Errorf("a truncation past the limit: %v; file %d bytes", err, size())
	}
	// After a refusal, nothing more is written, even within the limit.
	if _, err := b.Seek(0, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Write([]byte("x")); !errors.Is(err, media.ErrTooLarge) {
		t.Errorf("a write after a refusal: %v", err)
	}
	if _, err := b.WriteAt([]byte("x"), 0); !errors.Is(err, media.ErrTooLarge) {
		t.Errorf("a WriteAt after a refusal: %v", err)
	}
	if err := b.Truncate(0); !errors.Is(err, media.ErrTooLarge) {
		t.Errorf("a truncation after a refusal: %v", err)
	}
}
