// Package live tells the web UI's open tabs that what they show changed:
// a hub of subscribers per workspace, a store.Store decorator that
// publishes after every write the chat pages show, and a relay that
// carries changes between instances sharing one PostgreSQL database.
//
// Guarantees:
//   - A subscriber hears only of its own workspace's changes.
//   - Publishing never blocks: each subscriber keeps one pending change,
//     merged with the next ones until it is read, so a slow tab never
//     holds up an ingest; it gets one bigger change instead (All beyond
//     MaxChats chats).
//   - A change is published after its write committed, never before.
package live

import (
	"errors"
	"slices"
	"sync"
)

// MaxChats is the most chat ids one change carries; beyond it the change
// is All: a tab refetches what it shows rather than read a long list.
const MaxChats = 64

// MaxStreams is how many subscriptions one key (a sign-in session) may
// hold at once: a user's tabs, with room to spare. Browsers speaking
// HTTP/1.1 open 6 connections per host at most, so more streams would
// stall the tabs' other requests anyway.
const MaxStreams = 8

// ErrTooMany answers Subscribe when the key holds MaxStreams already.
var ErrTooMany = errors.New("live: too many open streams for this session")

// ErrClosed answers Subscribe once the hub is closed.
var ErrClosed = errors.New("live: shutting down")

// Change is what changed in one workspace: Chats, or All of them.
type Change struct {
	Workspace string
	Chats     []int64 // ascending, no repeats; nil when All
	All       bool
}

// merge adds chats (or all) to c, keeping Chats sorted, unique and at
// most MaxChats long.
func (c *Change) merge(all bool, chats []int64) {
	if c.All {
		return
	}
	if all {
		c.All, c.Chats = true, nil
		return
	}
	for _, id := range chats {
		if i, found := slices.BinarySearch(c.Chats, id); !found {
			c.Chats = slices.Insert(c.Chats, i, id)
		}
	}
	if len(c.Chats) > MaxChats {
		c.All, c.Chats = true, nil
	}
}

// Hub fans changes out to the subscribers of each workspace on this
// instance, and hands what is published here to Remote, if set.
type Hub struct {
	mu      sync.Mutex
	subs    map[string]map[*Subscription]struct{} // by workspace
	streams map[string]int                        // by key
	remote  func(Change)
	done    chan struct{} // closed by Close
	closed  bool
}

// NewHub returns a hub with no subscribers.
func NewHub() *Hub {
	return &Hub{subs: map[string]map[*Subscription]struct{}{}, streams: map[string]int{}, done: make(chan struct{})}
}

// Done is closed when the hub closes: every stream should end then.
func (h *Hub) Done() <-chan struct{} { return h.done }

// Close ends the hub, at shutdown: Done is closed, and Subscribe answers
// ErrClosed from then on. A server's shutdown waits for open requests,
// and a stream never ends by itself. Closing twice is no error.
func (h *Hub) Close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.closed {
		h.closed = true
		close(h.done)
	}
}

// Subscription is one stream's view of its workspace's changes.
type Subscription struct {
	hub       *Hub
	workspace string
	key       string
	ready     chan struct{} // holds a token while a change is pending

	mu      sync.Mutex
	pending Change
	has     bool
	closed  bool
}

// Subscribe starts hearing of workspace's changes, for a stream of key
// (the session it belongs to): ErrTooMany if key holds MaxStreams.
// Close ends it.
func (h *Hub) Subscribe(workspace, key string) (*Subscription, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, ErrClosed
	}
	if h.streams[key] >= MaxStreams {
		return nil, ErrTooMany
	}
	h.streams[key]++
	s := &Subscription{hub: h, workspace: workspace, key: key, ready: make(chan struct{}, 1)}
	if h.subs[workspace] == nil {
		h.subs[workspace] = map[*Subscription]struct{}{}
	}
	h.subs[workspace][s] = struct{}{}
	return s, nil
}

// Ready has a value whenever a change is pending: Next then takes it.
func (s *Subscription) Ready() <-chan struct{} { return s.ready }

// Next takes the pending change, every change published since the last
// Next merged into one; false when none is pending.
func (s *Subscription) Next() (Change, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.pending, s.has
	s.pending, s.has = Change{Workspace: s.workspace}, false
	return c, ok
}

// Close stops the subscription; closing twice is no error.
func (s *Subscription) Close() {
	h := s.hub
	h.mu.Lock()
	defer h.mu.Unlock()
	s.mu.Lock()
	closed := s.closed
	s.closed = true
	s.mu.Unlock()
	if closed {
		return
	}
	delete(h.subs[s.workspace], s)
	if len(h.subs[s.workspace]) == 0 {
		delete(h.subs, s.workspace)
	}
	if h.streams[s.key]--; h.streams[s.key] <= 0 {
		delete(h.streams, s.key)
	}
}

func (s *Subscription) add(all bool, chats []int64) {
	s.mu.Lock()
	if !s.has {
		s.pending = Change{Workspace: s.workspace}
	}
	s.pending.merge(all, chats)
	s.has = true
	s.mu.Unlock()
	select {
	case s.ready <- struct{}{}:
	default: // a token is there already: the reader will find the merged change
	}
}

// SetRemote makes Publish hand every change to fn as well (the relay to
// other instances). fn must not block. Call it before publishing starts.
func (h *Hub) SetRemote(fn func(Change)) {
	h.mu.Lock()
	h.remote = fn
	h.mu.Unlock()
}

// Publish tells the workspace's subscribers here, and the remote if set,
// that chats changed (all of them when all is set or chats is long). It
// never blocks on a subscriber.
func (h *Hub) Publish(workspace string, all bool, chats ...int64) {
	if !all && len(chats) == 0 {
		return
	}
	c := Change{Workspace: workspace}
	c.merge(all, chats)
	h.Deliver(c)
	h.mu.Lock()
	remote := h.remote
	h.mu.Unlock()
	if remote != nil {
		remote(c)
	}
}

// Deliver tells this instance's subscribers of c (c.Workspace "": every
// workspace's, that all changed), without handing it to the remote: for
// changes heard from other instances.
func (h *Hub) Deliver(c Change) {
	h.mu.Lock()
	var to []*Subscription
	if c.Workspace == "" {
		for _, subs := range h.subs {
			for s := range subs {
				to = append(to, s)
			}
		}
		c.All = true
	} else {
		for s := range h.subs[c.Workspace] {
			to = append(to, s)
		}
	}
	h.mu.Unlock()
	for _, s := range to {
		s.add(c.All, c.Chats)
	}
}

// Refetch tells every subscriber here that anything may have changed:
// after the relay lost its connection, changes may have been missed.
func (h *Hub) Refetch() { h.Deliver(Change{}) }
