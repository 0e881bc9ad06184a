// Package group is group commit for Ingest: calls that arrive while a
// transaction is being written wait for it, and then go together into the
// next one, so that they share one commit and one wait for the disk.
//
// A lone call is written at once: nothing waits for company, so a quiet
// service answers as fast as before, and a group grows by itself with the
// load (it holds whatever arrived during the previous commit). A call is
// answered only when the transaction holding it has committed, so an
// accepted message is as durable as it was with a transaction of its own.
//
// A group whose transaction fails is written again one call at a time:
// one bad message fails only the call it came in, and the others are
// answered as if they had been alone.
package group

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"sync/atomic"
	"time"

	"github.com/chathook/chathook"
)

// Batch is what one transaction writes for one workspace: the messages
// of one or more calls, in the order the calls arrived.
type Batch struct {
	WorkspaceID string
	Now         time.Time
	Msgs        []chathook.Incoming
}

// Commit writes batches in one transaction, one workspace each, and
// returns each batch's results (in the order of its messages), or an
// error if the transaction did not commit.
type Commit func(ctx context.Context, batches []Batch) ([][]chathook.IngestResult, error)

// ErrClosed is the answer to a call made after Close.
var ErrClosed = errors.New("store: closed")

// MaxMessages is how many messages a group gathers at most, a full batch
// request's worth: a larger transaction would hold SQLite's one writer
// (and the dispatcher's claims behind it) for longer.
const MaxMessages = 1000

// Stats are totals since the Ingester started.
type Stats struct {
	Groups   int64 // transactions committed, or failed
	Calls    int64 // Ingest calls they held
	Messages int64
	Retried  int64 // calls written again alone after their group failed
}

// Ingester gathers Ingest calls into groups and hands each to Commit.
type Ingester struct {
	commit Commit
	door   door[*call]

	groups, nCalls, messages, retried atomic.Int64
}

type call struct {
	ctx         context.Context
	workspaceID string
	now         time.Time
	msgs        []chathook.Incoming
	done        chan outcome // buffered: the worker never waits for a caller who left
}

type outcome struct {
	results []chathook.IngestResult
	err     error
}

// New starts workers goroutines, each writing one group at a time: 1 for
// SQLite, which has one writer; more for a database that commits several
// transactions at once.
func New(commit Commit, workers int) *Ingester {
	g := &Ingester{commit: commit}
	g.door.open(workers, MaxMessages, func(c *call) int { return len(c.msgs) }, g.write)
	return g
}

// Ingest is store.Store's Ingest: it returns once msgs are committed, in
// a group with whatever other calls were waiting. If ctx ends first, it
// returns ctx's error, and the messages may or may not be stored: a client
// that retries is answered Duplicate for those that were.
func (g *Ingester) Ingest(ctx context.Context, workspaceID string, now time.Time, msgs []chathook.Incoming) ([]chathook.IngestResult, error) {
	c := &call{ctx: ctx, workspaceID: workspaceID, now: now, msgs: msgs, done: make(chan outcome, 1)}
	if err := g.door.enter(ctx, c); err != nil {
		return nil, err
	}
	select {
	case o := <-c.done:
		return o.results, o.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Stats returns the totals so far.
func (g *Ingester) Stats() Stats {
	return Stats{Groups: g.groups.Load(), Calls: g.nCalls.Load(), Messages: g.messages.Load(), Retried: g.retried.Load()}
}

// Close waits for the groups being written and refuses calls from then
// on.
func (g *Ingester) Close() { g.door.close() }

// write commits a group, or, if its transaction fails, each call alone.
func (g *Ingester) write(group []*call) {
	live := group[:0]
	for _, c := range group {
		if err := c.ctx.Err(); err != nil { // its caller has gone: store nothing for it
			c.done <- outcome{err: err}
			continue
		}
		live = append(live, c)
	}
	if len(live) == 0 {
		return
	}
	// The commit goes on if a caller leaves meanwhile: the others wait for it.
	ctx := context.Background()
	err := g.commitCalls(ctx, live)
	if err == nil || len(live) == 1 {
		if err != nil {
			live[0].done <- outcome{err: err}
		}
		return
	}
	g.retried.Add(int64(len(live)))
	for _, c := range live {
		if err := g.commitCalls(ctx, []*call{c}); err != nil {
			c.done <- outcome{err: err}
		}
	}
}

// commitCalls writes calls in one transaction, one batch per workspace,
// and answers each call on success.
func (g *Ingester) commitCalls(ctx context.Context, calls []*call) error {
	type span struct{ batch, start int }
	spans := make([]span, len(calls))
	var batches []Batch
	// Workspaces in a fixed order, so that concurrent groups take their
	// locks (PostgreSQL) in the same order.
	order := make([]int, len(calls))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(calls[a].workspaceID, calls[b].workspaceID) })
	messages := 0
	for _, i := range order {
		c := calls[i]
		if len(batches) == 0 || batches[len(batches)-1].WorkspaceID != c.workspaceID {
			// The call's own slice, capped: a lone call is not copied,
			// and a second call's append copies rather than write into
			// the first caller's array.
			batches = append(batches, Batch{WorkspaceID: c.workspaceID, Now: c.now, Msgs: c.msgs[:len(c.msgs):len(c.msgs)]})
			spans[i] = span{len(batches) - 1, 0}
		} else {
			b := &batches[len(batches)-1]
			b.Now = later(b.Now, c.now)
			spans[i] = span{len(batches) - 1, len(b.Msgs)}
			b.Msgs = append(b.Msgs, c.msgs...)
		}
		messages += len(c.msgs)
	}
	g.groups.Add(1)
	g.nCalls.Add(int64(len(calls)))
	g.messages.Add(int64(messages))
	results, err := g.commit(ctx, batches)
	if err != nil {
		return err
	}
	for i, c := range calls {
		s := spans[i]
		c.done <- outcome{results: results[s.batch][s.start : s.start+len(c.msgs) : s.start+len(c.msgs)]}
	}
	return nil
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
