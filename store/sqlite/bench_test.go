package sqlite_test

import (
	"context"
	"fmt"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/store"
	"github.com/chathook/chathook/store/sqlite"
	"github.com/google/uuid"
)

// BenchmarkDeliveryCycle measures the writer's work per message, phase by
// phase, for b.N messages over 1,000 chats: ingest in batches of 1000,
// claim in batches of 512, finish in batches of 256 (what the dispatcher
// does). The writer is the one resource every phase shares, so its time
// per message bounds the end-to-end rate.
func BenchmarkDeliveryCycle(b *testing.B) {
	ctx := context.Background()
	st, ws, url, t0 := newStore(b)
	msgs := make([]chathook.Incoming, b.N)
	for i := range msgs {
		msgs[i] = chathook.Incoming{
			Account:   chathook.Account{Phone: "+15550000000"},
			Chat:      chathook.Chat{ExternalID: fmt.Sprintf("+1555%07d", i%1000)},
			MessageID: fmt.Sprintf("m%d", i), UUID: uuid.Must(uuid.NewV7()).String(), Direction: chathook.Received, Timestamp: t0,
			Text: fmt.Sprintf("hello, this is message %d", i),
		}
	}
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < len(msgs); i += 1000 {
		if _, err := st.Ingest(ctx, ws, t0, msgs[i:min(i+1000, len(msgs))]); err != nil {
			b.Fatal(err)
		}
	}
	ingest := time.Since(start)
	var claiming, finishing time.Duration
	for done := 0; done < b.N; {
		t := time.Now()
		got, err := st.ClaimDue(ctx, "bench", t0, time.Minute, 512)
		claiming += time.Since(t)
		if err != nil || len(got) == 0 {
			b.Fatalf("claimed %d (%v) with %d of %d done", len(got), err, done, b.N)
		}
		for i := 0; i < len(got); i += 256 {
			var outs []store.Finished
			for _, d := range got[i:min(i+256, len(got))] {
				outs = append(outs, store.Finished{Outcome: chathook.Outcome{DeliveryID: d.ID, URL: url, At: t0, Status: 204, Duration: time.Millisecond}})
			}
			t = time.Now()
			if err := st.Finish(ctx, outs); err != nil {
				b.Fatal(err)
			}
			finishing += time.Since(t)
		}
		done += len(got)
	}
	per := func(d time.Duration) float64 { return float64(d.Microseconds()) / float64(b.N) }
	b.ReportMetric(per(ingest), "ingest-µs/msg")
	b.ReportMetric(per(claiming), "claim-µs/msg")
	b.ReportMetric(per(finishing), "finish-µs/msg")
	b.ReportMetric(float64(b.N)/(ingest+claiming+finishing).Seconds(), "writer-msgs/s")
}

// BenchmarkSingleMessages is the store's share of the single-message
// path: 64 callers at once, each ingesting one message at a time (as 64
// API clients do), over 1000 chats, while a dispatcher claims and records
// outcomes beside them. Group commit gathers the callers; cpu-µs/msg is
// the process's CPU time per message, which a busy machine changes less
// than the wall time.
func BenchmarkSingleMessages(b *testing.B) {
	ctx := context.Background()
	st, ws, url, t0 := newStore(b)
	var next atomic.Int64
	// The dispatcher's side, as it runs beside ingest: claim what is due
	// (64 at most, what it sends at once), record the outcomes.
	stop, dispatched := make(chan struct{}), make(chan struct{})
	var claims, claimed int
	go func() {
		defer close(dispatched)
		for {
			select {
			case <-stop:
				return
			default:
			}
			got, err := st.ClaimDue(ctx, "bench", t0, time.Minute, 64)
			if err != nil {
				b.Error(err)
				return
			}
			if len(got) == 0 {
				time.Sleep(time.Millisecond)
				continue
			}
			claims, claimed = claims+1, claimed+len(got)
			outs := make([]store.Finished, len(got))
			for i, d := range got {
				outs[i] = store.Finished{Outcome: chathook.Outcome{DeliveryID: d.ID, URL: url, At: t0, Status: 204, Duration: time.Millisecond}}
			}
			if err := st.Finish(ctx, outs); err != nil {
				b.Error(err)
				return
			}
		}
	}()
	cpu0 := cpuTime()
	b.ResetTimer()
	b.SetParallelism(max(1, 64/runtime.GOMAXPROCS(0)))
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := next.Add(1)
			m := chathook.Incoming{
				Account:   chathook.Account{Phone: "+15550000000"},
				Chat:      chathook.Chat{ExternalID: fmt.Sprintf("+1555%07d", i%1000)},
				MessageID: fmt.Sprintf("m%d", i), UUID: uuid.Must(uuid.NewV7()).String(), Direction: chathook.Received, Timestamp: t0,
				Text: fmt.Sprintf("hello, this is message %d", i),
			}
			if _, err := st.Ingest(ctx, ws, t0, []chathook.Incoming{m}); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	close(stop)
	<-dispatched
	b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(b.N), "cpu-µs/msg")
	b.ReportMetric(float64(claimed)/float64(max(1, claims)), "msgs/claim")
	s := st.IngestStats()
	b.ReportMetric(float64(s.Calls)/float64(s.Groups), "calls/group")
}

// cpuTime is the CPU time the process has used, user and system.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// newStore is a fresh store with one workspace whose webhook has a URL,
// and the time its messages are ingested at.
func newStore(b testing.TB) (st *sqlite.Store, ws, url string, t0 time.Time) {
	ctx := context.Background()
	st = open(b, filepath.Join(b.TempDir(), "chathook.db"))
	t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	ws = uuid.NewString()
	if _, err := st.CreateWorkspace(ctx, chathook.Workspace{ID: ws, Name: "bench", OwnerEmail: "o@example.com", CreatedAt: t0},
		[]byte("token"), "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"); err != nil {
		b.Fatal(err)
	}
	url = "https://hook.example.com"
	if _, err := st.UpdateWebhook(ctx, ws, chathook.Outbound, t0, chathook.WebhookUpdate{URL: &url}); err != nil {
		b.Fatal(err)
	}
	return st, ws, url, t0
}
