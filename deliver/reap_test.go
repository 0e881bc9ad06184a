package deliver_test

import (
	"context"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/deliver"
	"github.com/chathook/chathook/store"
)

// renewCounter is a store that counts lease renewals.
type renewCounter struct {
	store.Store
	renewals atomic.Int64
}

func (r *renewCounter) ExtendLeases(ctx context.Context, owner string, ids []int64, until time.Time) error {
	r.renewals.Add(1)
	return r.Store.ExtendLeases(ctx, owner, ids, until)
}

// hangingTarget is a broker target whose Close hangs until released, as
// an AMQP close waiting seconds for a broker's close-ok does.
type hangingTarget struct {
	closing chan struct{} // closed when Close is called
	release chan struct{}
	once    sync.Once
}

func (h *hangingTarget) Send(context.Context, deliver.Message) chathook.Outcome {
	return chathook.Outcome{}
}

func (h *hangingTarget) Close() {
	h.once.Do(func() { close(h.closing) })
	<-h.release
}

// TestIdleTargetCloseDoesNotDelayRenewal: an idle broker target whose
// Close hangs is closed by the lease renewal's loop, which goes on
// renewing leases meanwhile. Before, the renewal closed idle targets
// itself, and waited for each Close: a broker slow to answer a close held
// back every lease of the dispatcher, which could expire.
func TestIdleTargetCloseDoesNotDelayRenewal(t *testing.T) {
	st := &renewCounter{Store: openStore(t, "sqlite:"+filepath.Join(t.TempDir(), "chathook.db"))}
	d := deliver.New(deliver.Config{Store: st, Lease: 300 * time.Millisecond, Grace: time.Second,
		Logger: slog.New(slog.DiscardHandler)}) // renewals every 100 ms
	h := &hangingTarget{closing: make(chan struct{}), release: make(chan struct{})}
	d.HoldTarget(1, "amqp://127.0.0.1:5672/?exchange=x", h, time.Now().Add(-time.Hour))
	runFor(t, d, nil)
	t.Cleanup(func() { close(h.release) }) // before runFor's: Run's end waits for nothing held

	select {
	case <-h.closing:
	case <-time.After(30 * time.Second): // a safety net only
		t.Fatal("the idle target was never closed")
	}
	from := st.renewals.Load()
	eventually(t, "two renewals while the idle target's Close hangs", 30*time.Second, func() bool {
		return st.renewals.Load() >= from+2
	})
}
