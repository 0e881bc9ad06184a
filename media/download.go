package media

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/store"
)

// Defaults of Config.
const (
	DefaultMaxBytes  = 100 << 20           // --media-max-bytes
	DefaultRetention = 30 * 24 * time.Hour // --media-retention
	// DefaultWorkers downloads run at once per instance: enough to keep a
	// burst of photos moving, few enough that files never crowd memory
	// (each streams through a temporary file) or the database's writer.
	DefaultWorkers = 4
	// DefaultLease is how long a claimed download is this instance's:
	// longer than a 100 MiB file takes on a slow link; a crashed
	// instance's downloads are taken up again after it.
	DefaultLease = 15 * time.Minute
	// OrphanAge is how old a blob no attachment names must be before the
	// sweeper deletes it: far longer than a download holds its lease, so
	// a file being stored is never taken for an orphan.
	OrphanAge = 2 * time.Hour
)

// DefaultBackoff is when a failed download is tried again: after 10 s,
// 30 s, 2 min, 5 min and 15 min, then the attachment fails. The
// message's deliveries wait meanwhile, and with them the later messages
// of its chat (order per chat), so it gives up within about 25 minutes.
var DefaultBackoff = []time.Duration{10 * time.Second, 30 * time.Second, 2 * time.Minute, 5 * time.Minute, 15 * time.Minute}

// Observer counts what downloads and the sweeper do (see metrics.Set).
type Observer interface {
	MediaStored(bytes int64)
	MediaFailed()
	MediaDeleted(files int)
}

// Config is what a Downloader needs.
type Config struct {
	Store    store.Media
	Fetchers map[chathook.AccountKind]Fetcher // by the kind of the attachment's account
	Owner    string                           // this instance's name on leases (the same as whatsweb's)
	MaxBytes int64                            // 0: DefaultMaxBytes
	Workers  int                              // 0: DefaultWorkers
	Lease    time.Duration                    // 0: DefaultLease
	Backoff  []time.Duration                  // nil: DefaultBackoff
	Poll     time.Duration                    // 0: PollInterval
	TempDir  string                           // "": os.TempDir()
	Settled  func()                           // called after an attachment was stored or failed (kicks the dispatcher); may be nil
	Observer Observer                         // may be nil
	Logger   *slog.Logger
	Now      func() time.Time
}

// Downloader downloads pending attachments: claims them from the store,
// streams each through a temporary file into the blob store, and records
// the outcome, which releases the message's deliveries once it has no
// pending attachment left.
type Downloader struct {
	cfg  Config
	kick chan struct{}
}

// NewDownloader returns a Downloader; Run starts it.
func NewDownloader(cfg Config) *Downloader {
	if cfg.MaxBytes <= 0 {
		cfg.MaxBytes = DefaultMaxBytes
	}
	if cfg.Workers <= 0 {
		cfg.Workers = DefaultWorkers
	}
	if cfg.Lease <= 0 {
		cfg.Lease = DefaultLease
	}
	if cfg.Backoff == nil {
		cfg.Backoff = DefaultBackoff
	}
	if cfg.Poll <= 0 {
		cfg.Poll = PollInterval
	}
	if cfg.Settled == nil {
		cfg.Settled = func() {}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Downloader{cfg: cfg, kick: make(chan struct{}, 1)}
}

// Kick makes Run look for pending attachments now: a message with
// attachments was stored.
func (d *Downloader) Kick() {
	select {
	case d.kick <- struct{}{}:
	default:
	}
}

// PollInterval is how often Run looks for downloads without a Kick: for
// retries coming due, and for attachments another instance stored.
const PollInterval = 2 * time.Second

// SmallFile is the largest file a downloader's last free slot takes:
// large files (declared larger) take at most Workers-1 slots, so that a
// few long videos never hold up another chat's photo or voice note.
const SmallFile = 16 << 20

// Run downloads until ctx is done, Workers at a time, of which at most
// Workers-1 large files (see SmallFile).
func (d *Downloader) Run(ctx context.Context) {
	var wg sync.WaitGroup
	defer wg.Wait()
	var mu sync.Mutex
	inFlight, large := 0, 0
	largeSlots := max(d.cfg.Workers-1, 1)
	for ctx.Err() == nil {
		mu.Lock()
		free, bigFree := d.cfg.Workers-inFlight, max(largeSlots-large, 0)
		mu.Unlock()
		var claimed []chathook.Download
		// Files of any size, as many as large ones may take; then the
		// slots left, for small files only.
		for _, c := range []struct {
			limit   int
			maxSize int64
		}{{min(free, bigFree), 0}, {free - min(free, bigFree), SmallFile}} {
			if c.limit <= 0 || ctx.Err() != nil {
				continue
			}
			got, err := d.cfg.Store.ClaimDownloads(ctx, d.cfg.Owner, d.cfg.Now(), d.cfg.Lease, c.limit, c.maxSize)
			if err != nil && ctx.Err() == nil {
				d.cfg.Logger.Error("media: claim downloads", "err", err)
			}
			claimed = append(claimed, got...)
			if len(got) < c.limit && c.maxSize == 0 {
				// Fewer files than large slots: the small slots may take
				// small ones only, and the claim found every due one.
				break
			}
		}
		for _, dl := range claimed {
			isLarge := dl.Size > SmallFile
			mu.Lock()
			inFlight++
			if isLarge {
				large++
			}
			mu.Unlock()
			wg.Go(func() {
				defer func() {
					mu.Lock()
					inFlight--
					if isLarge {
						large--
					}
					mu.Unlock()
					d.Kick()
				}()
				d.Download(ctx, dl)
			})
		}
		if len(claimed) > 0 && len(claimed) == free {
			continue // there may be more
		}
		select {
		case <-ctx.Done():
		case <-d.kick:
		case <-time.After(d.cfg.Poll):
		}
	}
}

// Download fetches one claimed attachment and records what became of
// it. A download is cut off at nine tenths of its lease, before another
// claim could take it up; one claimed again after every attempt it has
// was cut off each time (a crash, a stop), and fails without another.
func (d *Downloader) Download(ctx context.Context, dl chathook.Download) {
	a := dl.Attachment
	var err error
	if dl.Attempts > len(d.cfg.Backoff) {
		err = Permanent(fmt.Errorf("the download was cut off %d times (chathook stopped or crashed while downloading it)", dl.Attempts))
	} else {
		limit := d.cfg.Lease * 9 / 10
		fctx, cancel := context.WithTimeout(ctx, limit)
		err = d.fetchSafely(fctx, dl, &a)
		cancel()
		if err != nil && ctx.Err() == nil && errors.Is(fctx.Err(), context.DeadlineExceeded) {
			err = fmt.Errorf("the download took longer than %s: %w", limit, err)
		}
	}
	now := d.cfg.Now()
	var retryAt time.Time
	switch {
	case err == nil:
		a.State, a.Error, a.StoredAt = chathook.MediaStored, "", now
	case ctx.Err() != nil:
		return // shutting down: the lease runs out, and another claim takes it up
	case IsPermanent(err) || dl.Attempts+1 > len(d.cfg.Backoff):
		a.State, a.Error = chathook.MediaFailed, errorText(err)
	default:
		a.State, a.Error = chathook.MediaPending, errorText(err)
		retryAt = now.Add(d.cfg.Backoff[dl.Attempts])
	}
	log := d.cfg.Logger.With("workspace", dl.WorkspaceID, "account", dl.Account.ID, "attachment", a.ID, "type", a.Type)
	ok, ferr := d.cfg.Store.FinishDownload(ctx, d.cfg.Owner, a, now, retryAt)
	if ferr != nil || !ok {
		if ferr != nil {
			log.Error("media: record download", "err", ferr)
		} else {
			log.Warn("media: download lease lost; another instance takes it up")
		}
		if a.State == chathook.MediaStored {
			if err := d.cfg.Store.Blobs().Delete(context.WithoutCancel(ctx), a.Blob); err != nil {
				log.Error("media: delete unrecorded blob", "blob", a.Blob, "err", err) // an orphan: the sweeper's
			}
		}
		return
	}
	switch a.State {
	case chathook.MediaStored:
		log.Info("media: stored", "bytes", a.Size, "mime_type", a.MimeType)
		if d.cfg.Observer != nil {
			d.cfg.Observer.MediaStored(a.Size)
		}
	case chathook.MediaFailed:
		log.Warn("media: download failed", "attempts", dl.Attempts+1, "err", a.Error)
		if d.cfg.Observer != nil {
			d.cfg.Observer.MediaFailed()
		}
	default:
		log.Info("media: download will be tried again", "attempts", dl.Attempts+1, "at", retryAt, "err", a.Error)
		return
	}
	d.cfg.Settled()
}

// fetchSafely is fetch with a panic (a source's library on a crafted
// file, say) made the attachment's failure instead of the service's
// crash, which the next claim of the file would repeat.
func (d *Downloader) fetchSafely(ctx context.Context, dl chathook.Download, a *chathook.Attachment) (err error) {
	defer func() {
		if p := recover(); p != nil {
			d.cfg.Logger.Error("media: download panicked", "attachment", dl.ID, "panic", p, "stack", string(debug.Stack()))
			err = Permanent(errors.New("the file could not be read: chathook's download of it failed unexpectedly"))
		}
	}()
	return d.fetch(ctx, dl, a)
}

// fetch downloads dl's file through a temporary file into the blob
// store, filling a with what was learnt.
func (d *Downloader) fetch(ctx context.Context, dl chathook.Download, a *chathook.Attachment) error {
	f := d.cfg.Fetchers[dl.Account.Kind]
	if f == nil {
		return Permanent(fmt.Errorf("chathook cannot download files of %s accounts", dl.Account.Kind))
	}
	if a.Size > d.cfg.MaxBytes {
		return tooLarge(a.Size, d.cfg.MaxBytes)
	}
	tmp, err := os.CreateTemp(d.cfg.TempDir, "chathook-media-*")
	if err != nil {
		return fmt.Errorf("temporary file: %w", err)
	}
	defer func() {
		tmp.Close()
		os.Remove(tmp.Name())
	}()
	got, err := f.Fetch(ctx, dl, d.cfg.MaxBytes, tmp)
	if errors.Is(err, ErrTooLarge) {
		return tooLarge(a.Size, d.cfg.MaxBytes)
	}
	if err != nil {
		return err
	}
	info, err := tmp.Stat()
	if err != nil {
		return err
	}
	if info.Size() > d.cfg.MaxBytes {
		return tooLarge(info.Size(), d.cfg.MaxBytes)
	}
	head := make([]byte, HeadSize)
	n, err := tmp.ReadAt(head, 0)
	if err != nil && err != io.EOF {
		return err
	}
	claimed := a.MimeType
	if got.MimeType != "" {
		claimed = got.MimeType
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return err
	}
	sum := sha256.New()
	ref, size, err := d.cfg.Store.Blobs().Put(ctx, io.TeeReader(tmp, sum))
	if err != nil {
		return fmt.Errorf("store the file: %w", err)
	}
	a.Blob, a.Size, a.SHA256, a.MimeType = ref, size, hex.EncodeToString(sum.Sum(nil)), Classify(head[:n], claimed)
	if got.FileName != "" {
		a.FileName = got.FileName
	}
	if got.Width > 0 && got.Height > 0 {
		a.Width, a.Height = got.Width, got.Height
	}
	if got.Duration > 0 {
		a.DurationS = got.Duration
	}
	if got.Source != nil {
		a.Source = got.Source
	}
	return nil
}

func tooLarge(size, limit int64) error {
	if size > 0 {
		return Permanent(fmt.Errorf("%w: %s, over the %s limit", ErrTooLarge, bytesText(size), bytesText(limit)))
	}
	return Permanent(fmt.Errorf("%w of %s", ErrTooLarge, bytesText(limit)))
}

// errorText is an attachment's error in words for a person.
func errorText(err error) string {
	msg := err.Error()
	if len(msg) > 500 {
		msg = strings.ToValidUTF8(msg[:500], "") + "…"
	}
	return msg
}

// bytesText writes n bytes as a person reads them: "1.5 MiB".
func bytesText(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d bytes", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
