package sqlite

import (
	"context"
	"sync"
)

// turns lets the dispatcher's bookkeeping (its claims and the outcomes it
// records) take SQLite's one writer before an ingest group that arrives
// while they wait for it. database/sql hands a freed connection to any of
// its waiters; a group of 1,000 messages holds the writer for 15 ms or
// more, and while a claim or an outcome record waits behind it the POSTs
// run dry. Draining first keeps the backlog and its latency down (with
// batches: 5% more delivered a second, p99 from 2.9 to 2 s), and costs a
// group at most the two short transactions that were waiting when it came.
// A bookkeeping transaction that asks after the group came does not hold it
// back, so ingest is never starved.
type turns struct {
	mu      sync.Mutex
	asked   uint64        // bookkeeping transactions that have asked for the writer
	seated  uint64        // of those, how many have got it or given up
	waiting int           // ingest groups waiting for them (for tests)
	changed chan struct{} // closed, and replaced, when seated moves
}

func newTurns() *turns {
	return &turns{changed: make(chan struct{})}
}

// ask is called by bookkeeping before it asks for the writer; seated must
// be called once it has the writer, or has given up.
func (t *turns) ask() (seated func()) {
	t.mu.Lock()
	t.asked++
	t.mu.Unlock()
	return func() {
		t.mu.Lock()
		t.seated++
		close(t.changed)
		t.changed = make(chan struct{})
		t.mu.Unlock()
	}
}

// wait returns once as many bookkeeping transactions have been seated as
// had asked when it was called, or when ctx ends. An ingest group calls it
// before it asks for the writer. (Transactions are seated in any order, so
// a later one may count for an earlier one still waiting: the group then
// goes with it, which is no worse than before.)
func (t *turns) wait(ctx context.Context) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	target := t.asked
	if t.seated >= target {
		return nil
	}
	t.waiting++
	defer func() { t.waiting-- }()
	for t.seated < target {
		changed := t.changed
		t.mu.Unlock()
		select {
		case <-changed:
		case <-ctx.Done():
			t.mu.Lock()
			return ctx.Err()
		}
		t.mu.Lock()
	}
	return nil
}
