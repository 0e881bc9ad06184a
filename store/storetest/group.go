package storetest

import (
	"context"
	"sync"
	"testing"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/store"
)

// Group commit (package group): concurrent Ingest calls share a
// transaction, and each is answered as if it had been alone.
var groups = map[string]func(*testing.T, store.Store){
	"ConcurrentCallsShareTransactions": testConcurrentCallsShareTransactions,
	"BadMessageFailsOnlyItsCall":       testBadMessageFailsOnlyItsCall,
}

// callers is how many Ingest calls a round makes at once: as many as
// the API clients of `chathook bench --workload single`.
const callers = 64

// concurrently makes callers Ingest calls at once, call i with msgs(i),
// and returns each call's results and error.
func concurrently(st store.Store, ws string, msgs func(i int) []chathook.Incoming) ([][]chathook.IngestResult, []error) {
	results, errs := make([][]chathook.IngestResult, callers), make([]error, callers)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range callers {
		wg.Go(func() {
			<-start
			results[i], errs[i] = st.Ingest(context.Background(), ws, t0, msgs(i))
		})
	}
	close(start)
	wg.Wait()
	return results, errs
}

// Calls made at once are written in fewer transactions than calls, and
// every message of them is stored once and queued once, each call told
// its own results.
func testConcurrentCallsShareTransactions(t *testing.T, st store.Store) {
	ws := workspace(t, st, "acme", "https://hook.example.com")
	before := st.IngestStats()
	// Rounds until one shares a transaction: on a machine busy enough to
	// run each call before the next one starts, nothing is shared, which
	// is right but proves nothing.
	var sent int
	for round := 0; ; round++ {
		res, errs := concurrently(st, ws, func(i int) []chathook.Incoming { return []chathook.Incoming{msg(i, round)} })
		for i := range callers {
			if errs[i] != nil || len(res[i]) != 1 || res[i][0].Status != chathook.Accepted {
				t.Fatalf("round %d call %d: %+v %v", round, i, res[i], errs[i])
			}
		}
		sent += callers
		s := st.IngestStats()
		if s.Calls-before.Calls != int64(sent) || s.Messages-before.Messages != int64(sent) {
			t.Fatalf("stats count %d calls and %d messages of %d", s.Calls-before.Calls, s.Messages-before.Messages, sent)
		}
		if s.Groups-before.Groups < s.Calls-before.Calls {
			break
		}
		if round == 9 {
			t.Fatalf("%d rounds of %d calls at once, and every call had a transaction of its own", round+1, callers)
		}
	}
	// A repeat of a call's message is a duplicate, in the chat it was stored in.
	res := ingest(t, st, ws, msg(5, 0))
	if res[0].Status != chathook.Duplicate {
		t.Errorf("a repeat of a grouped message: %+v", res[0])
	}
	got := claim(t, st, "a", t0, sent+10)
	if len(got) != sent {
		t.Fatalf("claimed %d deliveries of %d messages", len(got), sent)
	}
	seen := map[string]bool{}
	for _, d := range got {
		if seen[d.Message.MessageID] {
			t.Errorf("%s queued twice", d.Message.MessageID)
		}
		seen[d.Message.MessageID] = true
	}
}

// A call whose message cannot be written fails alone: the others of its
// group are stored, each once (a group that left part of itself behind
// would make them duplicates when written again), and answered accepted.
func testBadMessageFailsOnlyItsCall(t *testing.T, st store.Store) {
	ws := workspace(t, st, "acme", "https://hook.example.com")
	stored := msg(0, 0)
	ingest(t, st, ws, stored)
	before := st.IngestStats()
	var good int
	for round := 1; ; round++ {
		const bad = callers / 2
		res, errs := concurrently(st, ws, func(i int) []chathook.Incoming {
			m := msg(1+i, round)
			if i == bad {
				m.UUID = stored.UUID // violates a unique key: the store cannot write it
			}
			return []chathook.Incoming{m}
		})
		for i := range callers {
			switch {
			case i == bad && errs[i] == nil:
				t.Fatalf("round %d: the bad call succeeded: %+v", round, res[i])
			case i != bad && (errs[i] != nil || len(res[i]) != 1 || res[i][0].Status != chathook.Accepted):
				t.Fatalf("round %d call %d, beside a bad one: %+v %v", round, i, res[i], errs[i])
			}
		}
		good += callers - 1
		if st.IngestStats().Retried > before.Retried {
			break // the bad call was in a group, which was written again call by call
		}
		if round == 10 {
			t.Fatalf("%d rounds of %d calls at once, and the bad one never shared a transaction", round, callers)
		}
	}
	got := claim(t, st, "a", t0, 10*callers)
	if len(got) != good+1 { // and the message stored first
		t.Fatalf("claimed %d deliveries, want %d", len(got), good+1)
	}
	seen := map[string]bool{}
	for _, d := range got {
		if seen[d.Message.MessageID] {
			t.Errorf("%s queued twice", d.Message.MessageID)
		}
		seen[d.Message.MessageID] = true
		if d.Message.UUID == stored.UUID && d.Message.MessageID != stored.MessageID {
			t.Errorf("the bad message %s was stored", d.Message.MessageID)
		}
	}

}
