package media_test

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/event"
	"github.com/chathook/chathook/media"
	"github.com/chathook/chathook/store/sqlite"
	"github.com/google/uuid"
)

// lease is the downloads' lease in these tests.
const lease = time.Minute

// backoff is the downloads' backoff in these tests: two retries.
var backoff = []time.Duration{time.Minute, 5 * time.Minute}

// rig is a Downloader's world: the real SQLite store with a workspace,
// an event endpoint subscribed to message:new and a Cloud API number
// with a token; a clock; and a temporary directory for downloads that
// must be empty when the test ends.
type rig struct {
	t     *testing.T
	st    *sqlite.Store
	db    *sql.DB // the same file, to count what the store keeps
	ws    string
	ep    chathook.Webhook
	phone string
	now   time.Time
	tmp   string
	obs   *counts
	n     int // messages ingested
}

func newRig(t *testing.T) *rig {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "chathook.db")
	st, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	r := &rig{t: t, st: st, db: db, now: t0, tmp: t.TempDir(), obs: &counts{}}
	r.ws = uuid.NewString()
	if _, err := st.CreateWorkspace(ctx, chathook.Workspace{ID: r.ws, Name: "acme", OwnerEmail: "acme@example.com", CreatedAt: t0},
		[]byte("token-"+r.ws), "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"); err != nil {
		t.Fatal(err)
	}
	r.ep, err = st.CreateWebhook(ctx, r.ws, chathook.Webhook{ID: "ep_media", URL: "https://crm.example.com/in",
		Events: []string{event.MessageNew}, Format: event.Envelope, Granularity: chathook.NoAggregation, Enabled: true,
		Secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}, t0)
	if err != nil {
		t.Fatal(err)
	}
	acc, err := st.AddCloudAPINumber(ctx, r.ws, chathook.Account{Phone: "+15550000001", PhoneNumberID: "106000000000001",
		FullName: "Shop", Email: "ops@example.com", VerifyToken: "verify-1"}, "secret-1", "EAAB-token", t0)
	if err != nil {
		t.Fatal(err)
	}
	r.phone = acc.Phone
	// Every case, stored, failed, retried or lost, removes its file.
	t.Cleanup(func() {
		if left, err := os.ReadDir(r.tmp); err != nil || len(left) != 0 {
			t.Errorf("temporary files left: %v (%v)", left, err)
		}
	})
	return r
}

// downloader is a Downloader of the rig's store, clock and directory,
// with f for Cloud API numbers, as instance-1; change adjusts it.
func (r *rig) downloader(f media.Fetcher, change ...func(*media.Config)) *media.Downloader {
	cfg := media.Config{
		Store: r.st, Fetchers: map[chathook.AccountKind]media.Fetcher{chathook.KindCloudAPI: f}, Owner: "instance-1",
		Lease: lease, Backoff: backoff, TempDir: r.tmp, Observer: r.obs,
		Logger: slog.New(slog.DiscardHandler), Now: func() time.Time { return r.now },
	}
	for _, c := range change {
		c(&cfg)
	}
	return media.NewDownloader(cfg)
}

// message ingests a message of the Cloud API number, in a chat of its
// own, with attachments, and returns its uuid.
func (r *rig) message(as ...chathook.Attachment) string {
	r.t.Helper()
	r.n++
	in := chathook.Incoming{
		Account:   chathook.Account{Phone: r.phone},
		Chat:      chathook.Chat{ExternalID: fmt.Sprintf("+1555100%04d", r.n), Phone: fmt.Sprintf("+1555100%04d", r.n)},
		MessageID: fmt.Sprintf("wamid-%d", r.n), UUID: uuid.NewString(), Direction: chathook.Received, Timestamp: t0,
		SkipReason: "attachments are not supported", Attachments: as,
	}
	res, err := r.st.Ingest(context.Background(), r.ws, r.now, []chathook.Incoming{in})
	if err != nil || res[0].Status != chathook.Skipped {
		r.t.Fatalf("ingest: %+v, %v", res, err)
	}
	return in.UUID
}

// claim claims the due downloads as owner at the rig's now.
func (r *rig) claim(owner string) []chathook.Download {
	r.t.Helper()
	got, err := r.st.ClaimDownloads(context.Background(), owner, r.now, lease, 100, 0)
	if err != nil {
		r.t.Fatal(err)
	}
	return got
}

// only claims the one due download.
func (r *rig) only() chathook.Download {
	r.t.Helper()
	got := r.claim("instance-1")
	if len(got) != 1 {
		r.t.Fatalf("%d downloads due, want 1", len(got))
	}
	return got[0]
}

// file reads an attachment as the store keeps it.
func (r *rig) file(id int64) chathook.Attachment {
	r.t.Helper()
	a, _, err := r.st.MediaFile(context.Background(), id)
	if err != nil {
		r.t.Fatal(err)
	}
	return a
}

// due claims the event deliveries due at the rig's now, and returns the
// attachments each carries by its message's uuid.
func (r *rig) due() map[string][]chathook.Attachment {
	r.t.Helper()
	ds, err := r.st.ClaimDue(context.Background(), "dispatcher", r.now, lease, 100)
	if err != nil {
		r.t.Fatal(err)
	}
	out := map[string][]chathook.Attachment{}
	for _, d := range ds {
		if d.Webhook.ID == r.ep.ID {
			out[d.Message.UUID] = d.Message.Attachments
		}
	}
	return out
}

// released returns the attachments of the message's event delivery if it
// is due at the rig's now; ok is false if it is not.
func (r *rig) released(msgUUID string) (as []chathook.Attachment, ok bool) {
	r.t.Helper()
	as, ok = r.due()[msgUUID]
	return as, ok
}

// blobs counts the blobs the store keeps, done or not.
func (r *rig) blobs() int {
	r.t.Helper()
	var n int
	if err := r.db.QueryRow(`SELECT count(*) FROM blobs`).Scan(&n); err != nil {
		r.t.Fatal(err)
	}
	return n
}

// photo is a pending attachment as a source gives it.
func photo(mimeType string, size int64) chathook.Attachment {
	return chathook.Attachment{Type: chathook.AttachImage, MimeType: mimeType, Size: size, Width: 1280, Height: 960,
		State: chathook.MediaPending, Source: []byte(`{"id":"media-1"}`)}
}

// source stands in for a WhatsApp source: it writes data to the
// temporary file, then returns got and err.
type source struct {
	mu    sync.Mutex
	data  []byte
	got   media.Fetched
	err   error
	calls int
	dirs  []string // where each temporary file was
}

func (s *source) Fetch(ctx context.Context, d chathook.Download, max int64, dst *os.File) (media.Fetched, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	s.dirs = append(s.dirs, filepath.Dir(dst.Name()))
	if _, err := dst.Write(s.data); err != nil {
		return media.Fetched{}, err
	}
	return s.got, s.err
}

// counts is an Observer that counts.
type counts struct {
	mu                      sync.Mutex
	stored, failed, deleted int
	bytes                   int64
}

func (c *counts) MediaStored(n int64) { c.mu.Lock(); c.stored++; c.bytes += n; c.mu.Unlock() }
func (c *counts) MediaFailed()        { c.mu.Lock(); c.failed++; c.mu.Unlock() }
func (c *counts) MediaDeleted(n int)  { c.mu.Lock(); c.deleted += n; c.mu.Unlock() }

// blobBytes reads a stored blob whole.
func (r *rig) blobBytes(ref string) []byte {
	r.t.Helper()
	b, err := r.st.Blobs().Open(context.Background(), ref)
	if err != nil {
		r.t.Fatalf("open blob %q: %v", ref, err)
	}
	defer b.Close()
	data, err := io.ReadAll(b)
	if err != nil {
		r.t.Fatal(err)
	}
	return data
}

func hexSum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// A stored file: its bytes under its Blob, with their SHA-256 and size,
// typed by its bytes; the message's held event delivery is due at once,
// carrying it; the Observer and Settled hear of it.
func TestDownloadStores(t *testing.T) {
	r := newRig(t)
	msg := r.message(photo("image/png", 48213))
	if _, ok := r.released(msg); ok {
		t.Fatal("the event delivery was due before its file was downloaded")
	}
	src := &source{data: pngFile}
	settled := 0
	d := r.downloader(src, func(c *media.Config) { c.Settled = func() { settled++ } })
	dl := r.only()
	r.now = t0.Add(3 * time.Second)
	d.Download(context.Background(), dl)

	a := r.file(dl.ID)
	if a.State != chathook.MediaStored || a.Error != "" || !a.StoredAt.Equal(r.now) {
		t.Fatalf("attachment %s (%q), stored at %v; want stored at %v", a.State, a.Error, a.StoredAt, r.now)
	}
	if got := r.blobBytes(a.Blob); !bytes.Equal(got, pngFile) {
		t.Errorf("the blob holds %d bytes, not the file's %d", len(got), len(pngFile))
	}
	if a.Size != int64(len(pngFile)) || a.SHA256 != hexSum(pngFile) || a.MimeType != "image/png" {
		t.Errorf("size %d, sha256 %s, type %q; want %d, %s, image/png", a.Size, a.SHA256, a.MimeType, len(pngFile), hexSum(pngFile))
	}
	// Nothing the Fetcher did not learn changes.
	if a.Width != 1280 || a.Height != 960 || a.FileName != "" || string(a.Source) != `{"id":"media-1"}` {
		t.Errorf("kept fields changed: %+v", a)
	}
	as, ok := r.released(msg)
	if !ok {
		t.Fatal("the event delivery is not due once the file is stored")
	}
	if len(as) != 1 || as[0].State != chathook.MediaStored || as[0].Blob != a.Blob {
		t.Errorf("the delivery carries %+v", as)
	}
	if settled != 1 || r.obs.stored != 1 || r.obs.bytes != int64(len(pngFile)) || r.obs.failed != 0 {
		t.Errorf("settled %d, observed %+v", settled, r.obs)
	}
	if len(src.dirs) != 1 || src.dirs[0] != r.tmp {
		t.Errorf("the file was fetched into %v, want %s", src.dirs, r.tmp)
	}
}

// The stored type is Classify's of the file's bytes and the claim: the
// Fetcher's claim over the attachment's, octet-stream when the bytes
// contradict it, and Office files told from zips by entries beyond the
// first 3 KiB.
func TestDownloadTypesByBytes(t *testing.T) {
	// A document whose Word entry starts past 3 KiB: its type shows in
	// the first HeadSize bytes only.
	var b bytes.Buffer
	z := zip.NewWriter(&b)
	for _, e := range []struct {
		name string
		size int
	}{{"[Content_Types].xml", 3200}, {"word/document.xml", 4}, {"word/media/image1.png", 4000}} {
		w, err := z.CreateHeader(&zip.FileHeader{Name: e.name, Method: zip.Store})
		if err != nil {
			t.Fatal(err)
		}
		w.Write(bytes.Repeat([]byte("x"), e.size))
	}
	if err := z.Close(); err != nil {
		t.Fatal(err)
	}
	lateDocx := b.Bytes()
	for _, c := range []struct {
		name             string
		data             []byte
		claimed, fetched string
		want             string
	}{
		{"a PNG claimed as JPEG", pngFile, "image/jpeg", "", media.OctetStream},
		{"the Fetcher's claim over the attachment's", pngFile, "image/jpeg", "image/png", "image/png"},
		{"a JPEG as claimed", jpegFile, "image/jpeg", "", "image/jpeg"},
		{"HTML claimed as a PDF", htmlFile, "application/pdf", "", media.OctetStream},
		{"an unclaimed Word file past 3 KiB", lateDocx, "", "", docx},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := newRig(t)
			a := chathook.Attachment{Type: chathook.AttachDocument, MimeType: c.claimed, Size: int64(len(c.data)),
				State: chathook.MediaPending, Source: []byte(`{"id":"doc"}`)}
			r.message(a)
			dl := r.only()
			r.downloader(&source{data: c.data, got: media.Fetched{MimeType: c.fetched}}).Download(context.Background(), dl)
			if got := r.file(dl.ID); got.State != chathook.MediaStored || got.MimeType != c.want {
				t.Errorf("%s as %q; want stored as %q", got.State, got.MimeType, c.want)
			}
		})
	}
}

// What the Fetcher learnt replaces the attachment's: file name, size in
// pixels, duration and source.
func TestDownloadTakesWhatTheFetcherLearnt(t *testing.T) {
	r := newRig(t)
	r.message(chathook.Attachment{Type: chathook.AttachVideo, MimeType: "video/mp4", FileName: "VID-1.mp4", Width: 640, Height: 480,
		DurationS: 3, State: chathook.MediaPending, Source: []byte(`{"id":"media-1"}`)})
	dl := r.only()
	got := media.Fetched{FileName: "holiday.mp4", Width: 1920, Height: 1080, Duration: 42, Source: []byte(`{"id":"media-1","reuploaded":true}`)}
	r.downloader(&source{data: mp4File, got: got}).Download(context.Background(), dl)
	a := r.file(dl.ID)
	if a.State != chathook.MediaStored || a.FileName != "holiday.mp4" || a.Width != 1920 || a.Height != 1080 || a.DurationS != 42 ||
		string(a.Source) != string(got.Source) {
		t.Errorf("stored %+v; want what the Fetcher learnt", a)
	}
}

// A retryable error is tried again after each backoff, at the
// Downloader's clock, keeping the delivery held; once the backoff is
// spent the attachment fails with the error, and the delivery goes,
// carrying it.
func TestDownloadRetriesThenFails(t *testing.T) {
	r := newRig(t)
	msg := r.message(photo("image/jpeg", 1000))
	src := &source{data: jpegFile[:10], err: errors.New("connection reset by peer")}
	settled := 0
	d := r.downloader(src, func(c *media.Config) { c.Settled = func() { settled++ } })
	for i, wait := range backoff {
		dl := r.only()
		if dl.Attempts != i {
			t.Fatalf("try %d: %d attempts before it", i+1, dl.Attempts)
		}
		d.Download(context.Background(), dl)
		a := r.file(dl.ID)
		if a.State != chathook.MediaPending || a.Error != "connection reset by peer" || a.Blob != "" {
			t.Fatalf("after try %d: %s (%q), blob %q; want pending with the error", i+1, a.State, a.Error, a.Blob)
		}
		r.now = r.now.Add(wait - time.Second)
		if got := r.claim("instance-1"); len(got) != 0 {
			t.Fatalf("after try %d: due again %v early", i+1, time.Second)
		}
		if _, ok := r.released(msg); ok {
			t.Fatalf("after try %d: the delivery went while the file was pending", i+1)
		}
		r.now = r.now.Add(time.Second)
	}
	dl := r.only()
	d.Download(context.Background(), dl)
	if src.calls != len(backoff)+1 {
		t.Errorf("%d fetches, want %d", src.calls, len(backoff)+1)
	}
	a := r.file(dl.ID)
	if a.State != chathook.MediaFailed || a.Error != "connection reset by peer" {
		t.Fatalf("once the backoff is spent: %s (%q), want failed with the error", a.State, a.Error)
	}
	as, ok := r.released(msg)
	if !ok || len(as) != 1 || as[0].State != chathook.MediaFailed || as[0].Error != "connection reset by peer" {
		t.Fatalf("the delivery: due %v, carrying %+v", ok, as)
	}
	if settled != 1 || r.obs.failed != 1 || r.obs.stored != 0 || r.blobs() != 0 {
		t.Errorf("settled %d, observed %+v, %d blobs", settled, r.obs, r.blobs())
	}
}

// Failures no retry cures fail the attachment at once, with a clear
// error, and release the delivery.
func TestDownloadFailsAtOnce(t *testing.T) {
	big := bytes.Repeat([]byte{0xff}, 2048)
	for _, c := range []struct {
		name     string
		declared int64
		src      *source
		fetchers bool // false: no Fetcher for Cloud API numbers
		calls    int
		want     string // in the error
	}{
		{"a permanent error", 100, &source{err: media.Permanent(errors.New("the file expired at WhatsApp"))}, true, 1,
			"the file expired at WhatsApp"},
		{"declared over the limit", 4096, &source{data: big}, true, 0, "--media-max-bytes"},
		{"larger than the limit once fetched", 100, &source{data: big}, true, 1, "--media-max-bytes"},
		{"the Fetcher's ErrTooLarge", 0, &source{err: media.ErrTooLarge}, true, 1, "--media-max-bytes"},
		{"no Fetcher for the account's kind", 100, &source{data: pngFile}, false, 0, "cannot download files of cloud_api accounts"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := newRig(t)
			msg := r.message(photo("image/png", c.declared))
			d := r.downloader(c.src, func(cfg *media.Config) {
				cfg.MaxBytes = 1024
				if !c.fetchers {
					cfg.Fetchers = map[chathook.AccountKind]media.Fetcher{chathook.KindWeb: c.src}
				}
			})
			dl := r.only()
			d.Download(context.Background(), dl)
			a := r.file(dl.ID)
			if a.State != chathook.MediaFailed || !strings.Contains(a.Error, c.want) || a.Blob != "" {
				t.Errorf("%s (%q), blob %q; want failed saying %q", a.State, a.Error, a.Blob, c.want)
			}
			if c.src.calls != c.calls {
				t.Errorf("%d fetches, want %d", c.src.calls, c.calls)
			}
			if as, ok := r.released(msg); !ok || len(as) != 1 || as[0].Error != a.Error {
				t.Errorf("the delivery: due %v, carrying %+v", ok, as)
			}
			if r.obs.failed != 1 || r.blobs() != 0 {
				t.Errorf("observed %+v, %d blobs", r.obs, r.blobs())
			}
		})
	}
}

// A download whose lease passed to another instance is not recorded,
// and leaves no blob behind.
func TestDownloadLostLeaseLeavesNoBlob(t *testing.T) {
	r := newRig(t)
	msg := r.message(photo("image/png", 100))
	first := r.only()
	r.now = t0.Add(2 * lease)
	second := r.claim("instance-2")
	if len(second) != 1 || second[0].ID != first.ID {
		t.Fatalf("after the lease passed instance-2 claimed %+v", second)
	}
	src := &source{data: pngFile}
	settled := 0
	r.downloader(src, func(c *media.Config) { c.Settled = func() { settled++ } }).Download(context.Background(), first)
	if src.calls != 1 {
		t.Fatalf("%d fetches", src.calls)
	}
	if a := r.file(first.ID); a.State != chathook.MediaPending || a.Blob != "" {
		t.Errorf("the lost download was recorded: %s, blob %q", a.State, a.Blob)
	}
	if n := r.blobs(); n != 0 {
		t.Errorf("%d blobs left behind", n)
	}
	if n, err := r.st.Blobs().DeleteOrphans(context.Background(), time.Now().Add(time.Hour)); err != nil || n != 0 {
		t.Errorf("orphans: %d, %v", n, err)
	}
	if _, ok := r.released(msg); ok || settled != 0 || r.obs.stored != 0 {
		t.Errorf("a lost download released the delivery (%v), settled %d, observed %+v", ok, settled, r.obs)
	}
}

// gated is a Fetcher whose first two fetches wait for each other: only
// Workers of 2 or more get past them. It counts fetches at once.
type gated struct {
	mu          sync.Mutex
	gate        chan struct{}
	calls       int
	now, maxNow int
}

func (g *gated) Fetch(ctx context.Context, _ chathook.Download, _ int64, dst *os.File) (media.Fetched, error) {
	g.mu.Lock()
	g.calls++
	g.now++
	g.maxNow = max(g.maxNow, g.now)
	first := g.calls <= 2
	if g.calls == 2 {
		close(g.gate)
	}
	g.mu.Unlock()
	defer func() { g.mu.Lock(); g.now--; g.mu.Unlock() }()
	if first {
		select {
		case <-g.gate:
		case <-ctx.Done():
			return media.Fetched{}, ctx.Err()
		}
	}
	_, err := dst.Write(jpegFile)
	return media.Fetched{}, err
}

// Run downloads, two at a time with Workers 2, what a Kick says is there
// (it never polls here), and returns when its context ends.
func TestRunDownloadsWhatIsKicked(t *testing.T) {
	r := newRig(t)
	src := &gated{gate: make(chan struct{})}
	settled := make(chan struct{}, 10)
	d := r.downloader(src, func(c *media.Config) {
		c.Workers, c.Poll = 2, time.Hour
		c.Settled = func() { settled <- struct{}{} }
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { d.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }() // on any failure too: no download outlives the test

	var msgs []string
	for range 5 {
		msgs = append(msgs, r.message(photo("image/jpeg", int64(len(jpegFile)))))
	}
	d.Kick()
	for i := range 5 {
		select {
		case <-settled:
		case <-time.After(time.Minute): // a guard only: a hang is a failure
			t.Fatalf("%d of 5 attachments settled", i)
		}
	}
	cancel()
	select {
	case <-done:
	case <-time.After(time.Minute):
		t.Fatal("Run did not return when its context ended")
	}
	src.mu.Lock()
	defer src.mu.Unlock()
	if src.calls != 5 || src.maxNow != 2 {
		t.Errorf("%d fetches, at most %d at once; want 5, 2", src.calls, src.maxNow)
	}
	due := r.due()
	for _, m := range msgs {
		as, ok := due[m]
		if !ok || len(as) != 1 || as[0].State != chathook.MediaStored || !bytes.Equal(r.blobBytes(as[0].Blob), jpegFile) {
			t.Errorf("message %s: due %v, carrying %+v", m, ok, as)
		}
	}
}

// A download claimed again after every attempt it has was cut off each
// time (the instance died while downloading it): the next claim fails it
// without fetching, and its message goes out.
func TestDownloadCutOffEveryTimeFails(t *testing.T) {
	r := newRig(t)
	msg := r.message(photo("image/jpeg", 1000))
	src := &source{data: jpegFile}
	d := r.downloader(src)
	var dl chathook.Download
	for range len(backoff) + 2 { // every attempt, and one more claim
		dl = r.only()
		r.now = r.now.Add(lease + time.Second) // its instance died: the lease runs out
	}
	r.now = r.now.Add(-lease - time.Second)
	d.Download(context.Background(), dl)
	if src.calls != 0 {
		t.Errorf("fetched %d times after every attempt was spent", src.calls)
	}
	a := r.file(dl.ID)
	if a.State != chathook.MediaFailed || !strings.Contains(a.Error, "cut off") {
		t.Errorf("attachment %s: %q", a.State, a.Error)
	}
	if _, ok := r.released(msg); !ok {
		t.Error("the message was not released")
	}
}

// panicky is a Fetcher that panics, as a library might on a crafted file.
type panicky struct{}

func (panicky) Fetch(context.Context, chathook.Download, int64, *os.File) (media.Fetched, error) {
	panic("index out of range")
}

// A Fetcher that panics fails its attachment; the service goes on.
func TestDownloadPanicFailsTheAttachment(t *testing.T) {
	r := newRig(t)
	msg := r.message(photo("image/jpeg", 1000))
	d := r.downloader(panicky{})
	dl := r.only()
	d.Download(context.Background(), dl)
	if a := r.file(dl.ID); a.State != chathook.MediaFailed || !strings.Contains(a.Error, "could not be read") {
		t.Errorf("attachment %s: %q", a.State, a.Error)
	}
	if _, ok := r.released(msg); !ok {
		t.Error("the message was not released")
	}
}

// stalled is a Fetcher that hangs until its context ends, as a download
// whose server stopped sending.
type stalled struct{ deadline chan time.Time }

func (s stalled) Fetch(ctx context.Context, _ chathook.Download, _ int64, _ *os.File) (media.Fetched, error) {
	d, _ := ctx.Deadline()
	s.deadline <- d
	<-ctx.Done()
	return media.Fetched{}, ctx.Err()
}

// A download is cut off before its lease runs out, and tried again.
func TestDownloadIsCutOffBeforeItsLease(t *testing.T) {
	r := newRig(t)
	r.message(photo("image/jpeg", 1000))
	src := stalled{deadline: make(chan time.Time, 1)}
	const short = 200 * time.Millisecond
	d := r.downloader(src, func(c *media.Config) { c.Lease = short })
	dl := r.only()
	start := time.Now()
	d.Download(context.Background(), dl)
	if deadline := <-src.deadline; deadline.IsZero() || deadline.After(start.Add(short)) {
		t.Errorf("the fetch's deadline is %v, want before the lease ends (%v)", deadline, start.Add(short))
	}
	if a := r.file(dl.ID); a.State != chathook.MediaPending || !strings.Contains(a.Error, "took longer than") {
		t.Errorf("attachment %s: %q, want pending again, saying it took too long", a.State, a.Error)
	}
}

// bySize is a Fetcher that holds large files (declared larger than
// media.SmallFile) until released, and writes small ones at once.
type bySize struct {
	release chan struct{}
	mu      sync.Mutex
	small   int
}

func (b *bySize) Fetch(ctx context.Context, d chathook.Download, _ int64, dst *os.File) (media.Fetched, error) {
	if d.Size > media.SmallFile {
		select {
		case <-b.release:
		case <-ctx.Done():
			return media.Fetched{}, ctx.Err()
		}
	} else {
		b.mu.Lock()
		b.small++
		b.mu.Unlock()
	}
	_, err := dst.Write(jpegFile)
	return media.Fetched{}, err
}

// Large files never take the last worker: another chat's photo is
// stored while every other worker downloads a large video.
func TestLargeFilesLeaveASlotForSmallOnes(t *testing.T) {
	r := newRig(t)
	for range 3 {
		r.message(photo("image/jpeg", media.SmallFile+1))
	}
	small := r.message(photo("image/jpeg", 1000))
	src := &bySize{release: make(chan struct{})}
	settled := make(chan struct{}, 10)
	d := r.downloader(src, func(c *media.Config) {
		c.Workers, c.Poll = 3, time.Hour
		c.Settled = func() { settled <- struct{}{} }
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { d.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	d.Kick()
	select {
	case <-settled:
	case <-time.After(time.Minute): // a guard only
		t.Fatal("the small file was not stored while large ones were downloading")
	}
	if _, ok := r.released(small); !ok {
		t.Error("the small file's message was not released first")
	}
	close(src.release)
	for i := range 3 {
		select {
		case <-settled:
		case <-time.After(time.Minute):
			t.Fatalf("%d of 3 large files stored", i)
		}
	}
}
