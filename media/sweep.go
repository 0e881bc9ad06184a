package media

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/chathook/chathook/store"
)

// sweepBatch is how many files one ExpireMedia marks: a transaction
// kept short, repeated until none is left.
const sweepBatch = 100

// Sweep deletes the files stored longer ago than retention (their links
// then answer 410) and the blobs that no attachment names since
// OrphanAge (a download cut off by a crash), and returns how many of
// each it deleted. Every instance may run it; each file is expired once,
// and counted (expired, obs) once, even if its blob's deletion fails:
// that blob is left to a later sweep, as an orphan.
func Sweep(ctx context.Context, st store.Media, blobs store.Blobs, retention time.Duration, now time.Time, obs Observer) (expired, orphans int, err error) {
	if blobs == nil {
		blobs = st.Blobs()
	}
	for {
		refs, err := st.ExpireMedia(ctx, now.Add(-retention), sweepBatch)
		if err != nil {
			return expired, orphans, fmt.Errorf("expire media: %w", err)
		}
		// The files are expired now (their links answer 410), whether or
		// not their blobs go: each is counted, and every blob is tried.
		expired += len(refs)
		if obs != nil && len(refs) > 0 {
			obs.MediaDeleted(len(refs))
		}
		var failed []error
		for _, ref := range refs {
			// A blob left here, by an error or a crash, is an orphan now:
			// a later sweep's DeleteOrphans takes it.
			if err := blobs.Delete(ctx, ref); err != nil {
				failed = append(failed, fmt.Errorf("delete blob %s: %w", ref, err))
			}
		}
		if len(failed) > 0 {
			return expired, orphans, errors.Join(failed...)
		}
		if len(refs) < sweepBatch {
			break
		}
	}
	orphans, err = blobs.DeleteOrphans(ctx, now.Add(-OrphanAge))
	if err != nil {
		return expired, orphans, fmt.Errorf("delete orphan blobs: %w", err)
	}
	return expired, orphans, nil
}
