package group

import (
	"context"
	"sync"
	"testing"
	"time"
)

// table is a read over a map that a test changes. A read takes its
// snapshot first, as a database read does when it begins, says so on
// began, then waits for a receive on hold before it answers.
type table struct {
	mu    sync.Mutex
	rows  map[string]int
	reads [][]string
	began chan struct{}
	hold  chan struct{}
}

func (tb *table) read(_ context.Context, keys []string) (map[string]int, error) {
	tb.mu.Lock()
	tb.reads = append(tb.reads, keys)
	out := map[string]int{}
	for _, k := range keys {
		if v, ok := tb.rows[k]; ok {
			out[k] = v
		}
	}
	tb.mu.Unlock()
	tb.began <- struct{}{}
	<-tb.hold
	return out, nil
}

// Lookups made while a read runs share the next read, each key asked
// once, and each gets its own key's value. That read begins after they
// were made, so it sees a change made before them: a token revoked
// before a request is refused to it.
func TestWaitingLookupsShareTheNextRead(t *testing.T) {
	tb := &table{rows: map[string]int{"a": 1, "b": 2, "gone": 3}, began: make(chan struct{}, 10), hold: make(chan struct{})}
	r := NewReads(tb.read, 1)
	defer r.Close()
	type answer struct {
		v  int
		ok bool
	}
	first := make(chan answer, 1)
	go func() {
		v, ok, _ := r.Get(context.Background(), "gone")
		first <- answer{v, ok}
	}()
	<-tb.began // the first read runs, held
	tb.mu.Lock()
	delete(tb.rows, "gone")
	tb.mu.Unlock()

	keys := []string{"a", "b", "gone", "a", "missing", "b"}
	answers := make([]chan answer, len(keys))
	for i, k := range keys {
		answers[i] = make(chan answer, 1)
		go func() {
			v, ok, err := r.Get(context.Background(), k)
			if err != nil {
				t.Error(err)
			}
			answers[i] <- answer{v, ok}
		}()
	}
	for r.door.waiting.Load() < int64(len(keys)) {
		time.Sleep(time.Millisecond)
	}
	tb.hold <- struct{}{} // the first read ends
	if got := <-first; got != (answer{3, true}) {
		t.Errorf("the first lookup, made before the removal: %+v", got)
	}
	<-tb.began
	tb.hold <- struct{}{} // the second, which holds the six
	want := map[string]answer{"a": {1, true}, "b": {2, true}, "gone": {0, false}, "missing": {0, false}}
	for i, k := range keys {
		if got := <-answers[i]; got != want[k] {
			t.Errorf("%s: %+v, want %+v", k, got, want[k])
		}
	}
	tb.mu.Lock()
	defer tb.mu.Unlock()
	if len(tb.reads) != 2 || len(tb.reads[1]) != 4 {
		t.Errorf("reads %v, want [gone] then the four keys once each", tb.reads)
	}
}

// After Close, lookups are refused.
func TestReadsClose(t *testing.T) {
	tb := &table{rows: map[string]int{}, began: make(chan struct{}, 1), hold: make(chan struct{}, 1)}
	r := NewReads(tb.read, 2)
	r.Close()
	if _, _, err := r.Get(context.Background(), "a"); err != ErrClosed {
		t.Errorf("a lookup after Close: %v", err)
	}
}
