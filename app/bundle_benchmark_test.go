package app_test

import (
	"fmt"
	"runtime"
	"runtime/metrics"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chathook/chathook/app"
	"github.com/chathook/chathook/chathooktest"
)

// BenchmarkBundleFlush: msgs messages over chats chats in one 1h window,
// then the time from the window's end to the last bundle at a local sink,
// and the peak heap in use meanwhile. The heap must not grow with msgs:
// the flusher streams a page of chats at a time.
//
//	go test ./app -run '^$' -bench BundleFlush -benchtime 1x -timeout 60m
func BenchmarkBundleFlush(b *testing.B) { bundleFlush(b, func(chathooktest.TB) string { return "" }) }

// BenchmarkBundleFlushPostgres: the same on PostgreSQL, one instance.
func BenchmarkBundleFlushPostgres(b *testing.B) { bundleFlush(b, chathooktest.Postgres) }

func bundleFlush(b *testing.B, db func(chathooktest.TB) string) {
	for _, size := range []struct{ msgs, chats int }{{100_000, 10_000}, {1_000_000, 100_000}} {
		b.Run(fmt.Sprintf("msgs=%d/chats=%d", size.msgs, size.chats), func(b *testing.B) {
			for range b.N {
				benchFlush(b, db(b), size.msgs, size.chats)
			}
		})
	}
}

// benchFlush runs one flush on db ("": a fresh SQLite file).
func benchFlush(b *testing.B, db string, msgs, chats int) {
	b.StopTimer()
	clock := chathooktest.NewClock(day.Add(10 * time.Hour))
	svc := chathooktest.Start(b, chathooktest.Options{DB: db, Clock: clock, Config: app.Config{}})
	ws := svc.NewWorkspace(b, "bench")
	sink := chathooktest.NewCounter(b)
	ws.PointAt(b, sink.URL)
	if status, body := ws.Do(b, "PUT", "/api/v1/webhooks/outbound", map[string]string{"granularity": "1h"}); status != 200 {
		b.Fatalf("granularity: %d %s", status, body)
	}
	ingestAll(b, []*chathooktest.Workspace{ws}, batches(msgs, chats))

	runtime.GC()
	var peak atomic.Uint64
	stop := make(chan struct{})
	var sampler sync.WaitGroup
	sampler.Go(func() { samplePeakHeap(&peak, stop) })
	b.StartTimer()
	start := time.Now()
	clock.Set(day.Add(11*time.Hour + 3*time.Second))
	svc.Tick()
	last := sink.WaitForMessages(b, msgs, 30*time.Minute)
	b.StopTimer()
	close(stop)
	sampler.Wait()
	requests, got, repeated := sink.Counts()
	elapsed := last.Sub(start)
	b.ReportMetric(elapsed.Seconds(), "s-to-flush")
	b.ReportMetric(float64(got)/elapsed.Seconds(), "msgs/s")
	b.ReportMetric(float64(requests), "bundles")
	b.ReportMetric(float64(peak.Load())/(1<<20), "peak-heap-MiB")
	if got != msgs || repeated != 0 || requests < chats {
		b.Errorf("%d messages in %d bundles (%d repeated) for %d messages over %d chats", got, requests, repeated, msgs, chats)
	}
	svc.Stop(b)
}

// samplePeakHeap records the largest heap in use until stop is closed.
func samplePeakHeap(peak *atomic.Uint64, stop <-chan struct{}) {
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for {
		metrics.Read(sample)
		if v := sample[0].Value.Uint64(); v > peak.Load() {
			peak.Store(v)
		}
		select {
		case <-stop:
			return
		case <-t.C:
		}
	}
}
