package media_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/media"
	"github.com/chathook/chathook/store"
)

// storeFiles stores n files (data each) at the rig's now through a
// Downloader, and returns their attachments.
func (r *rig) storeFiles(n int, data []byte) []chathook.Attachment {
	r.t.Helper()
	for range n {
		r.message(photo("image/png", int64(len(data))))
	}
	d := r.downloader(&source{data: data})
	var out []chathook.Attachment
	for {
		ds := r.claim("instance-1")
		if len(ds) == 0 {
			break
		}
		for _, dl := range ds {
			d.Download(context.Background(), dl)
			a := r.file(dl.ID)
			if a.State != chathook.MediaStored {
				r.t.Fatalf("attachment %d: %s (%q)", a.ID, a.State, a.Error)
			}
			out = append(out, a)
		}
	}
	if len(out) != n {
		r.t.Fatalf("stored %d files, want %d", len(out), n)
	}
	return out
}

// gone reports whether a blob can no longer be opened.
func (r *rig) gone(ref string) bool {
	r.t.Helper()
	b, err := r.st.Blobs().Open(context.Background(), ref)
	if err == nil {
		b.Close()
		return false
	}
	if !errors.Is(err, chathook.ErrNotFound) {
		r.t.Fatalf("open blob %s: %v", ref, err)
	}
	return true
}

// Files stored before now-retention are deleted, more than one batch of
// them, with their blobs; newer ones stay; the Observer counts them.
func TestSweepExpiresOldFiles(t *testing.T) {
	r := newRig(t)
	old := r.storeFiles(101, pngFile) // past one ExpireMedia batch
	r.now = t0.Add(10 * time.Minute)
	old = append(old, r.storeFiles(1, pngFile)...)
	r.now = t0.Add(time.Hour)
	fresh := r.storeFiles(1, jpegFile)[0]
	r.obs = &counts{}

	// Retention 50 minutes at t0+1h: the cut is t0+10m, and a file stored
	// at the cut stays.
	expired, orphans, err := media.Sweep(context.Background(), r.st, nil, 50*time.Minute, r.now, r.obs)
	if err != nil || expired != 101 || orphans != 0 {
		t.Fatalf("swept %d files, %d orphans (%v); want 101, 0", expired, orphans, err)
	}
	if r.obs.deleted != 101 {
		t.Errorf("the Observer counted %d deleted, want 101", r.obs.deleted)
	}
	for _, a := range old[:101] {
		if got := r.file(a.ID); got.State != chathook.MediaDeleted || got.Blob != "" || !r.gone(a.Blob) {
			t.Fatalf("attachment %d: %s, blob %q (gone: %v); want deleted with its blob", a.ID, got.State, got.Blob, r.gone(a.Blob))
		}
	}
	for _, a := range []chathook.Attachment{old[101], fresh} {
		if got := r.file(a.ID); got.State != chathook.MediaStored || got.Blob != a.Blob || r.gone(a.Blob) {
			t.Errorf("attachment %d stored at %v: %s, blob %q; want it kept", a.ID, a.StoredAt, got.State, got.Blob)
		}
	}
	if n := r.blobs(); n != 2 {
		t.Errorf("%d blobs left, want 2", n)
	}

	// Again: nothing left to expire.
	if expired, _, err := media.Sweep(context.Background(), r.st, nil, 50*time.Minute, r.now, r.obs); err != nil || expired != 0 ||
		r.obs.deleted != 101 {
		t.Errorf("a second sweep expired %d (%v), observed %d", expired, err, r.obs.deleted)
	}
}

// A blob no attachment names is deleted once older than OrphanAge; a
// newer one, or one an attachment names, stays.
func TestSweepDeletesOrphanBlobs(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	named := r.storeFiles(1, pngFile)[0]
	blobs := r.st.Blobs()
	oldRef, _, err := blobs.Put(ctx, strings.NewReader("cut off by a crash"))
	if err != nil {
		t.Fatal(err)
	}
	// Blobs are begun at the wall clock, in milliseconds: the next one is
	// begun at the cut or later, this one before it.
	cut := time.Now().Truncate(time.Millisecond).Add(time.Millisecond)
	for time.Now().Before(cut) {
	}
	newRef, _, err := blobs.Put(ctx, strings.NewReader("being stored"))
	if err != nil {
		t.Fatal(err)
	}
	// The retention is long: no file expires.
	expired, orphans, err := media.Sweep(ctx, r.st, nil, 365*24*time.Hour, cut.Add(media.OrphanAge), r.obs)
	if err != nil || expired != 0 || orphans != 1 {
		t.Fatalf("swept %d files, %d orphans (%v); want 0, 1", expired, orphans, err)
	}
	if !r.gone(oldRef) || r.gone(newRef) || r.gone(named.Blob) {
		t.Errorf("gone: the old orphan %v, the new one %v, the named blob %v; want only the old orphan", r.gone(oldRef),
			r.gone(newRef), r.gone(named.Blob))
	}
	if r.obs.deleted != 0 {
		t.Errorf("the Observer counted %d files deleted: orphans are no attachment's", r.obs.deleted)
	}
}

// flaky is the store's blobs, except that deleting bad fails.
type flaky struct {
	store.Blobs
	bad string
}

func (f flaky) Delete(ctx context.Context, ref string) error {
	if ref == f.bad {
		return fmt.Errorf("blob %s: disk I/O error", ref)
	}
	return f.Blobs.Delete(ctx, ref)
}

// A blob that cannot be deleted does not keep the sweep from the others
// of its batch, nor the Observer from counting the files expired (their
// links answer 410); the error names it, and a later sweep deletes it as
// an orphan.
func TestSweepGoesOnPastAFailedDelete(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	files := r.storeFiles(3, pngFile)
	r.obs = &counts{}
	now := t0.Add(time.Hour)
	expired, _, err := media.Sweep(ctx, r.st, flaky{r.st.Blobs(), files[0].Blob}, time.Minute, now, r.obs)
	if err == nil || !strings.Contains(err.Error(), "disk I/O error") {
		t.Fatalf("err %v, want the failed delete's", err)
	}
	if expired != 3 || r.obs.deleted != 3 {
		t.Errorf("expired %d, observed %d; want 3 files expired", expired, r.obs.deleted)
	}
	for i, a := range files {
		if got := r.file(a.ID); got.State != chathook.MediaDeleted || r.gone(a.Blob) != (i > 0) {
			t.Errorf("attachment %d: %s, blob gone %v", i, got.State, r.gone(a.Blob))
		}
	}
	// The next sweep, long enough after, finds the blob left behind.
	_, orphans, err := media.Sweep(ctx, r.st, nil, time.Minute, time.Now().Add(2*media.OrphanAge), r.obs)
	if err != nil || orphans != 1 || !r.gone(files[0].Blob) || r.blobs() != 0 {
		t.Errorf("the later sweep: %d orphans (%v), %d blobs left", orphans, err, r.blobs())
	}
}
