// Package bundle gathers messages into per-chat windows and flushes each
// window into bundle deliveries when it ends.
//
// Guarantees (with the store's, see package store):
//   - Windows are aligned to the clock in UTC and flushed once they have
//     ended, FlushDelay after the boundary so that a message received just
//     before it, still being committed, is in its window's bundle.
//   - Windows that ended while the service was down are flushed when it
//     starts; a message is never bundled twice, even by several instances.
//   - Memory stays flat however many messages wait: chats are flushed a
//     page at a time, and the store reads one bundle's messages at a time.
package bundle

import (
	"context"
	"log/slog"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/payload"
	"github.com/chathook/chathook/store"
)

// Split is how bundles are cut into parts that fit one POST.
var Split = store.Splitter{Size: payload.BundleItemSize, Fits: payload.BundleFits, Max: payload.MaxBundleMessages}

// Config of the flusher; zero values take the defaults.
type Config struct {
	Store  store.Store
	Logger *slog.Logger
	Now    func() time.Time
	// Queued is called when bundles were queued, to wake the dispatcher.
	Queued func()
	// FlushDelay after a boundary the ended window is flushed: 2s.
	FlushDelay time.Duration
	// ChatsPerTx is how many chats one transaction flushes: 200.
	ChatsPerTx int
	// Flushed, when set, is told of each flush of a workspace's waiting
	// messages that went through, and how long it took (for metrics).
	Flushed func(took time.Duration, bundles, messages int)
}

// Flusher flushes ended windows.
type Flusher struct {
	cfg  Config
	kick chan struct{}
}

// New returns a flusher; Run starts it.
func New(cfg Config) *Flusher {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Queued == nil {
		cfg.Queued = func() {}
	}
	if cfg.FlushDelay <= 0 {
		cfg.FlushDelay = 2 * time.Second
	}
	if cfg.ChatsPerTx <= 0 {
		cfg.ChatsPerTx = 200
	}
	return &Flusher{cfg: cfg, kick: make(chan struct{}, 1)}
}

// Kick makes Run look for ended windows now, as after a change of
// granularity or of the clock. It never blocks.
func (f *Flusher) Kick() {
	select {
	case f.kick <- struct{}{}:
	default:
	}
}

// Run flushes every window that has ended, at start and then after each
// hour's boundary (every granularity's windows end on one), until ctx is
// done.
func (f *Flusher) Run(ctx context.Context) error {
	for {
		if err := f.FlushEnded(ctx); err != nil && ctx.Err() == nil {
			f.cfg.Logger.Error("flush bundles", "err", err)
		}
		t := time.NewTimer(untilNextFlush(f.cfg.Now(), f.cfg.FlushDelay))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-f.kick:
		case <-t.C:
		}
		t.Stop()
	}
}

// untilNextFlush is how long after now the next hour's boundary plus delay
// comes: every granularity's windows end on an hour's boundary.
func untilNextFlush(now time.Time, delay time.Duration) time.Duration {
	wait := chathook.Hourly.WindowStart(now).Add(time.Hour + delay).Sub(now)
	if wait > time.Hour { // still within delay of the last boundary
		wait -= time.Hour
	}
	return wait
}

// FlushEnded flushes, for every endpoint that gathers bundles, what was
// received before the window that holds now.
func (f *Flusher) FlushEnded(ctx context.Context) error {
	whs, err := f.cfg.Store.BundleWebhooks(ctx)
	if err != nil {
		return err
	}
	now := f.cfg.Now()
	for _, wh := range whs {
		if _, _, err := f.flush(ctx, wh.Key, wh.Granularity.WindowStart(now.Add(-f.cfg.FlushDelay)), now); err != nil {
			return err
		}
	}
	return nil
}

// FlushAll sends every message waiting for a bundle of the endpoint
// (by Key) now, instead of at its window's end: one bundle per chat and
// window, as the windows would have made them. It returns how many
// bundles and messages were queued.
func (f *Flusher) FlushAll(ctx context.Context, endpoint int64) (bundles, messages int, err error) {
	now := f.cfg.Now()
	return f.flush(ctx, endpoint, now.Add(time.Millisecond), now)
}

// flush bundles an endpoint's messages received before before, a page of
// chats per transaction.
func (f *Flusher) flush(ctx context.Context, endpoint int64, before, now time.Time) (bundles, messages int, err error) {
	if f.cfg.Flushed != nil {
		began := time.Now() // real time, whatever the clock says
		defer func() {
			if err == nil {
				f.cfg.Flushed(time.Since(began), bundles, messages)
			}
		}()
	}
	after := int64(0)
	for {
		chats, err := f.cfg.Store.PendingChats(ctx, endpoint, before, after, f.cfg.ChatsPerTx)
		if err != nil || len(chats) == 0 {
			return bundles, messages, err
		}
		b, m, err := f.cfg.Store.FlushChats(ctx, endpoint, chats, before, now, Split)
		if err != nil {
			return bundles, messages, err
		}
		bundles, messages, after = bundles+b, messages+m, chats[len(chats)-1]
		if b > 0 {
			f.cfg.Queued()
			f.cfg.Logger.Debug("bundles queued", "endpoint", endpoint, "bundles", b, "messages", m)
		}
	}
}
