package postgres_test

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/store/postgres"
	"github.com/chathook/chathook/store/postgres/pgtest"
	"github.com/chathook/chathook/store/storetest"
	"github.com/google/uuid"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func openCounting(tb testing.TB, url string, workers int) (*postgres.Store, *atomic.Int64) {
	tb.Helper()
	st, writes, err := postgres.OpenForTest(context.Background(), url, workers)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	return st, writes
}

func newWorkspace(tb testing.TB, st *postgres.Store) string {
	tb.Helper()
	ctx := context.Background()
	id := uuid.NewString()
	if _, err := st.CreateWorkspace(ctx, chathook.Workspace{ID: id, Name: "acme", OwnerEmail: "acme@example.com", CreatedAt: t0},
		[]byte("token-"+id), "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"); err != nil {
		tb.Fatal(err)
	}
	url := "https://receiver.example.com/hook"
	if _, err := st.UpdateWebhook(ctx, id, chathook.Outbound, t0, chathook.WebhookUpdate{URL: &url}); err != nil {
		tb.Fatal(err)
	}
	return id
}

// A lone message of a known account and chat costs two round trips: BEGIN
// with the reads, then the insert with COMMIT; a new chat costs one more.
// A group of many calls costs about as much as one.
func TestGroupRoundTrips(t *testing.T) {
	url := pgtest.URL(t)
	st, writes := openCounting(t, url+"&pool_max_conns=1", 4)
	ctx := context.Background()
	ws := newWorkspace(t, st)
	ingest := func(msgs ...chathook.Incoming) []chathook.IngestResult {
		t.Helper()
		res, err := st.Ingest(ctx, ws, t0, msgs)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	ingest(storetest.Message(1, 1)) // the account, the chat, and the statements prepared on the one connection
	for _, c := range []struct {
		name string
		msg  chathook.Incoming
		want int64
	}{
		{"a known chat", storetest.Message(1, 2), 2},
		{"a new chat", storetest.Message(2, 1), 3},
		{"a duplicate", storetest.Message(1, 2), 2},
	} {
		before := writes.Load()
		ingest(c.msg)
		if got := writes.Load() - before; got != c.want {
			t.Errorf("%s: %d round trips, want %d", c.name, got, c.want)
		}
	}

	// 200 concurrent calls into existing chats.
	before, groupsBefore := writes.Load(), st.IngestStats().Groups
	var wg sync.WaitGroup
	for i := range 200 {
		wg.Go(func() {
			if _, err := st.Ingest(ctx, ws, t0, []chathook.Incoming{storetest.Message(1+i%2, 100+i)}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	groups := st.IngestStats().Groups - groupsBefore
	perGroup := float64(writes.Load()-before) / float64(groups)
	t.Logf("200 calls: %d groups, %.2f round trips a group", groups, perGroup)
	if perGroup > 2.5 {
		t.Errorf("%.2f round trips a group, want 2", perGroup)
	}
}

// Two instances on one database, each given the same messages by many
// callers at once, store each message once, answer every call, and
// answer Accepted for exactly one copy of each, all copies with its chat.
// No deadlock reaches a caller: the groups take their locks in one order.
func TestInstancesIngestSameMessagesOnce(t *testing.T) {
	url := pgtest.URL(t)
	a, _ := openCounting(t, url, 4)
	b, _ := openCounting(t, url, 4)
	ctx := context.Background()
	ws := newWorkspace(t, a)
	const chats, perChat, callers = 20, 20, 32
	var msgs []chathook.Incoming
	for c := range chats {
		for n := range perChat {
			msgs = append(msgs, storetest.Message(c, n))
		}
	}
	type answer struct {
		key string
		res chathook.IngestResult
	}
	answers := make(chan answer, 2*callers*len(msgs))
	var wg sync.WaitGroup
	for i := range 2 * callers {
		st := []*postgres.Store{a, b}[i%2]
		wg.Go(func() {
			// Each caller sends every message once, alone or in pairs,
			// starting at a different place.
			for j := 0; j < len(msgs); {
				k := (j + i*37) % len(msgs)
				call := []chathook.Incoming{msgs[k]}
				if i%3 == 0 && k+1 < len(msgs) && j+1 < len(msgs) {
					call = append(call, msgs[k+1])
					j++
				}
				j++
				for n := range call { // each receipt of a message has a uuid of its own
					call[n].UUID = uuid.NewString()
				}
				res, err := st.Ingest(ctx, ws, t0, call)
				if err != nil {
					t.Errorf("caller %d: %v", i, err)
					return
				}
				for n, r := range res {
					answers <- answer{call[n].MessageID, r}
				}
			}
		})
	}
	wg.Wait()
	close(answers)
	accepted := map[string]int{}
	chatOf := map[string]int64{}
	for ans := range answers {
		switch ans.res.Status {
		case chathook.Accepted:
			accepted[ans.key]++
		case chathook.Duplicate:
		default:
			t.Errorf("%s: %+v", ans.key, ans.res)
		}
		if c, ok := chatOf[ans.key]; ok && c != ans.res.ChatID {
			t.Errorf("%s: answered chat %d and %d", ans.key, c, ans.res.ChatID)
		}
		chatOf[ans.key] = ans.res.ChatID
	}
	for _, m := range msgs {
		if accepted[m.MessageID] != 1 {
			t.Errorf("%s accepted %d times, want once", m.MessageID, accepted[m.MessageID])
		}
	}
	var stored, distinct, deliveries, chatRows int
	if err := a.QueryRowForTest(ctx, `SELECT count(*), count(DISTINCT message_id),
		(SELECT count(*) FROM deliveries), (SELECT count(*) FROM chats) FROM messages`).Scan(&stored, &distinct, &deliveries, &chatRows); err != nil {
		t.Fatal(err)
	}
	if stored != len(msgs) || distinct != len(msgs) || deliveries != len(msgs) || chatRows != chats {
		t.Errorf("%d messages (%d distinct), %d deliveries, %d chats; want %d, %d, %d",
			stored, distinct, deliveries, chatRows, len(msgs), len(msgs), chats)
	}
	for _, st := range []*postgres.Store{a, b} {
		s := st.IngestStats()
		t.Logf("%d calls in %d groups, %d written again alone", s.Calls, s.Groups, s.Retried)
	}
}

// BenchmarkIngestSingle is 64 callers sending one message a call, over
// 1,000 chats, as the single workload of chathook bench does, on a store
// writing workers groups at once.
func BenchmarkIngestSingle(b *testing.B) {
	for _, workers := range []int{1, 2, 4, 8} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			st, writes := openCounting(b, pgtest.URL(b), workers)
			ctx := context.Background()
			ws := newWorkspace(b, st)
			var next atomic.Int64
			b.SetParallelism(64 / runtime.GOMAXPROCS(0))
			b.ResetTimer()
			start := time.Now()
			before := writes.Load()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					n := int(next.Add(1))
					if _, err := st.Ingest(ctx, ws, t0, []chathook.Incoming{storetest.Message(n%1000, n)}); err != nil {
						b.Error(err)
						return
					}
				}
			})
			s := st.IngestStats()
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
			b.ReportMetric(float64(s.Calls)/float64(s.Groups), "calls/group")
			b.ReportMetric(float64(writes.Load()-before)/float64(s.Groups), "roundtrips/group")
		})
	}
}

// Groups that create the same new chats in opposite orders may deadlock
// on them; the loser is written again, and no caller hears of it.
func TestNewChatsInOppositeOrders(t *testing.T) {
	url := pgtest.URL(t)
	a, _ := openCounting(t, url, 2)
	b, _ := openCounting(t, url, 2)
	ctx := context.Background()
	ws := newWorkspace(t, a)
	before := a.IngestStats().Groups + b.IngestStats().Groups
	var calls atomic.Int64
	for round := range 5 {
		var wg sync.WaitGroup
		for i := range 16 {
			st := []*postgres.Store{a, b}[i%2]
			wg.Go(func() {
				x, y := storetest.Message(2*round, i), storetest.Message(2*round+1, i)
				if i%2 == 1 {
					x, y = y, x
				}
				calls.Add(1)
				res, err := st.Ingest(ctx, ws, t0, []chathook.Incoming{x, y})
				if err != nil {
					t.Errorf("round %d caller %d: %v", round, i, err)
					return
				}
				for _, r := range res {
					if r.Status != chathook.Accepted {
						t.Errorf("round %d caller %d: %+v", round, i, r)
					}
				}
			})
		}
		wg.Wait()
	}
	var chats int
	if err := a.QueryRowForTest(ctx, `SELECT count(*) FROM chats`).Scan(&chats); err != nil {
		t.Fatal(err)
	}
	if chats != 10 {
		t.Errorf("%d chats, want 10", chats)
	}
	t.Logf("%d calls in %d groups", calls.Load(), a.IngestStats().Groups+b.IngestStats().Groups-before)
}
