package group

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/chathook/chathook"
)

// recorder is a Commit that keeps what it was given, in memory, and fails
// any transaction holding a message whose text is "bad".
type recorder struct {
	mu        sync.Mutex
	groups    [][]Batch
	committed map[string]bool // message ids
	hold      chan struct{}   // when set, each commit waits for a receive
}

func (r *recorder) commit(_ context.Context, batches []Batch) ([][]chathook.IngestResult, error) {
	if r.hold != nil {
		<-r.hold
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.groups = append(r.groups, batches)
	out := make([][]chathook.IngestResult, len(batches))
	for i, b := range batches {
		for _, m := range b.Msgs {
			if m.Text == "bad" {
				return nil, errors.New("cannot write " + m.MessageID)
			}
			out[i] = append(out[i], chathook.IngestResult{Status: chathook.Accepted, Reason: b.WorkspaceID + "/" + m.MessageID})
		}
	}
	for _, b := range batches {
		for _, m := range b.Msgs {
			r.committed[m.MessageID] = true
		}
	}
	return out, nil
}

func msgs(ids ...string) []chathook.Incoming {
	out := make([]chathook.Incoming, len(ids))
	for i, id := range ids {
		out[i] = chathook.Incoming{MessageID: id, Text: "hi"}
	}
	return out
}

// A call alone is written at once, in a transaction of its own: nothing
// waits for company.
func TestLoneCallsCommitAlone(t *testing.T) {
	r := &recorder{committed: map[string]bool{}}
	g := New(r.commit, 1)
	defer g.Close()
	for i := range 5 {
		res, err := g.Ingest(context.Background(), "ws", time.Now(), msgs(fmt.Sprint(i)))
		if err != nil || len(res) != 1 || res[0].Reason != fmt.Sprintf("ws/%d", i) {
			t.Fatalf("call %d: %+v %v", i, res, err)
		}
	}
	if len(r.groups) != 5 {
		t.Errorf("5 calls one after the other made %d transactions", len(r.groups))
	}
	if s := g.Stats(); s != (Stats{Groups: 5, Calls: 5, Messages: 5}) {
		t.Errorf("stats %+v", s)
	}
}

// Calls that arrive while a transaction is written go into the next one
// together: one batch per workspace, in workspace order, each call's
// messages in arrival order, Now the latest; each call gets its own
// results.
func TestWaitingCallsShareTheNextTransaction(t *testing.T) {
	r := &recorder{committed: map[string]bool{}, hold: make(chan struct{})}
	g := New(r.commit, 1)
	defer g.Close()
	first := make(chan error, 1)
	go func() {
		_, err := g.Ingest(context.Background(), "ws-b", time.Now(), msgs("first"))
		first <- err
	}()
	for g.Stats().Groups == 0 { // the worker holds the first call's transaction
		time.Sleep(time.Millisecond)
	}
	type answer struct {
		res []chathook.IngestResult
		err error
	}
	t1 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	answers := make([]chan answer, 10)
	for i := range answers {
		answers[i] = make(chan answer, 1)
		ws := []string{"ws-b", "ws-a"}[i%2]
		go func() {
			res, err := g.Ingest(context.Background(), ws, t1.Add(time.Duration(i)*time.Second), msgs(fmt.Sprintf("%d.1", i), fmt.Sprintf("%d.2", i)))
			answers[i] <- answer{res, err}
		}()
		for g.door.waiting.Load() < int64(i+1) { // one at a time, so that arrival order is known
			time.Sleep(time.Millisecond)
		}
	}
	r.hold <- struct{}{} // the first transaction commits
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	r.hold <- struct{}{} // the second, which holds the ten
	for i, a := range answers {
		got := <-a
		ws := []string{"ws-b", "ws-a"}[i%2]
		if got.err != nil || len(got.res) != 2 || got.res[0].Reason != fmt.Sprintf("%s/%d.1", ws, i) || got.res[1].Reason != fmt.Sprintf("%s/%d.2", ws, i) {
			t.Errorf("call %d: %+v %v", i, got.res, got.err)
		}
	}
	if len(r.groups) != 2 {
		t.Fatalf("%d transactions, want 2", len(r.groups))
	}
	second := r.groups[1]
	if len(second) != 2 || second[0].WorkspaceID != "ws-a" || second[1].WorkspaceID != "ws-b" {
		t.Fatalf("the second transaction's batches: %+v", second)
	}
	for k, b := range second {
		var want []string
		for i := 1 - k; i < 10; i += 2 { // ws-a (k 0) has the odd calls, ws-b the even ones
			want = append(want, fmt.Sprintf("%d.1", i), fmt.Sprintf("%d.2", i))
		}
		var got []string
		for _, m := range b.Msgs {
			got = append(got, m.MessageID)
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s: messages %v, want %v", b.WorkspaceID, got, want)
		}
		if latest := t1.Add(time.Duration(9-k) * time.Second); !b.Now.Equal(latest) { // call 9 or 8
			t.Errorf("%s: now %v, want its latest call's %v", b.WorkspaceID, b.Now, latest)
		}
	}
}

// A transaction that fails is written again call by call: the bad call
// gets the error, the others their results, and no call is answered
// before a transaction holding it committed.
func TestFailedGroupIsWrittenCallByCall(t *testing.T) {
	r := &recorder{committed: map[string]bool{}, hold: make(chan struct{})}
	g := New(r.commit, 1)
	defer g.Close()
	go g.Ingest(context.Background(), "ws", time.Now(), msgs("first"))
	for g.Stats().Groups == 0 {
		time.Sleep(time.Millisecond)
	}
	type answer struct {
		id  string
		err error
	}
	answers := make(chan answer, 5)
	for i := range 5 {
		go func() {
			m := msgs(fmt.Sprint(i))
			if i == 2 {
				m[0].Text = "bad"
			}
			_, err := g.Ingest(context.Background(), "ws", time.Now(), m)
			r.mu.Lock()
			if err == nil && !r.committed[m[0].MessageID] {
				t.Errorf("call %d answered before its message was committed", i)
			}
			r.mu.Unlock()
			answers <- answer{m[0].MessageID, err}
		}()
		for g.door.waiting.Load() < int64(i+1) {
			time.Sleep(time.Millisecond)
		}
	}
	go func() {
		for range 1 + 1 + 5 { // first; the group of five, which fails; each of the five alone
			r.hold <- struct{}{}
		}
	}()
	for range 5 {
		a := <-answers
		if (a.id == "2") != (a.err != nil) {
			t.Errorf("call %s: %v", a.id, a.err)
		}
	}
	if s := g.Stats(); s.Retried != 5 || s.Groups != 7 {
		t.Errorf("stats %+v, want 7 transactions and 5 calls written again", s)
	}
}

// A caller that has gone before its group is written gets its context's
// error and nothing of it is written; after Close, calls are refused.
func TestGoneCallersAndClose(t *testing.T) {
	r := &recorder{committed: map[string]bool{}, hold: make(chan struct{})}
	g := New(r.commit, 1)
	go g.Ingest(context.Background(), "ws", time.Now(), msgs("first"))
	for g.Stats().Groups == 0 {
		time.Sleep(time.Millisecond)
	}
	ctx, cancel := context.WithCancel(context.Background())
	gone := make(chan error, 1)
	go func() {
		_, err := g.Ingest(ctx, "ws", time.Now(), msgs("gone"))
		gone <- err
	}()
	for g.door.waiting.Load() < 1 {
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-gone; !errors.Is(err, context.Canceled) {
		t.Errorf("a cancelled call: %v", err)
	}
	r.hold <- struct{}{}
	g.Close()
	if r.committed["gone"] {
		t.Error("the cancelled call's message was written")
	}
	if _, err := g.Ingest(context.Background(), "ws", time.Now(), msgs("late")); !errors.Is(err, ErrClosed) {
		t.Errorf("a call after Close: %v", err)
	}
}
