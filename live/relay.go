package live

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"sync"
	"time"
)

// Channel carries payloads between the instances of one database: on
// PostgreSQL, NOTIFY and LISTEN (store/postgres). SQLite has one
// instance, and needs none.
type Channel interface {
	// Notify sends payload (under 8000 bytes) to every listener.
	Notify(ctx context.Context, payload string) error
	// Listen calls heard with each payload until ctx ends, on a
	// connection of its own, reconnecting with backoff; reconnected is
	// called after each reconnect, since payloads may have been missed.
	Listen(ctx context.Context, heard func(payload string), reconnected func(), broken func(error)) error
}

// Coalesce is the least time between two notifications of one
// workspace: a burst of ingests costs one NOTIFY, not one each.
const Coalesce = 50 * time.Millisecond

// Relay hands a hub's changes to the other instances on a Channel, and
// theirs to the hub. Publishing only marks a workspace pending; the
// NOTIFY is sent from Run's goroutine, after the write committed, never
// on the caller's.
type Relay struct {
	hub      *Hub
	ch       Channel
	logger   *slog.Logger
	instance string

	mu      sync.Mutex
	pending map[string]*Change
	kick    chan struct{}
}

// message is a notification's payload.
type message struct {
	Instance  string  `json:"i"`
	Workspace string  `json:"w"`
	Chats     []int64 `json:"c,omitempty"`
	All       bool    `json:"a,omitempty"`
}

// NewRelay makes hub's changes go out on ch (once Run runs).
func NewRelay(hub *Hub, ch Channel, logger *slog.Logger) *Relay {
	if logger == nil {
		logger = slog.Default()
	}
	id := make([]byte, 8)
	_, _ = rand.Read(id)
	r := &Relay{hub: hub, ch: ch, logger: logger, instance: hex.EncodeToString(id),
		pending: map[string]*Change{}, kick: make(chan struct{}, 1)}
	hub.SetRemote(r.enqueue)
	return r
}

func (r *Relay) enqueue(c Change) {
	r.mu.Lock()
	p := r.pending[c.Workspace]
	if p == nil {
		p = &Change{Workspace: c.Workspace}
		r.pending[c.Workspace] = p
	}
	p.merge(c.All, c.Chats)
	r.mu.Unlock()
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

// Run sends and hears changes until ctx ends.
func (r *Relay) Run(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Go(func() {
		_ = r.ch.Listen(ctx, r.heard, func() {
			r.logger.Info("live: listening again; every open tab refetches")
			r.hub.Refetch()
		}, func(err error) {
			r.logger.Warn("live: cannot hear other instances; trying again", "err", err)
		})
	})
	for {
		select {
		case <-ctx.Done():
			wg.Wait()
			return
		case <-r.kick:
		}
		r.flush(ctx)
		// At most one NOTIFY per workspace per Coalesce: what is
		// published meanwhile waits and goes out merged.
		select {
		case <-ctx.Done():
		case <-time.After(Coalesce):
		}
	}
}

func (r *Relay) flush(ctx context.Context) {
	r.mu.Lock()
	pending := r.pending
	r.pending = map[string]*Change{}
	r.mu.Unlock()
	for _, c := range pending {
		// At most MaxChats ids of 20 digits and a UUID: far under
		// PostgreSQL's 8000 bytes.
		b, _ := json.Marshal(message{Instance: r.instance, Workspace: c.Workspace, Chats: c.Chats, All: c.All})
		if err := r.ch.Notify(ctx, string(b)); err != nil && ctx.Err() == nil {
			// The tabs of other instances miss this change until the
			// next one; their pages still show it on the next fetch.
			r.logger.Warn("live: notify", "err", err)
		}
	}
}

// heard delivers another instance's change here. Our own echo is
// ignored: our subscribers were told when it was published.
func (r *Relay) heard(payload string) {
	var m message
	if err := json.Unmarshal([]byte(payload), &m); err != nil {
		r.logger.Warn("live: a notification that is not ours", "err", err)
		return
	}
	if m.Instance == r.instance {
		return
	}
	c := Change{Workspace: m.Workspace}
	c.merge(m.All || m.Workspace == "", m.Chats)
	r.hub.Deliver(c)
}
