package app_test

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chathook/chathook/chathooktest"
)

// batches builds the bodies of n messages over chats chats, 1000 a batch.
func batches(n, chats int) []string {
	var out []string
	for start := 0; start < n; start += 1000 {
		var msgs []string
		for i := start; i < min(start+1000, n); i++ {
			msgs = append(msgs, fmt.Sprintf(`{"account":{"phone":"+15550000000"},"chat":{"external_id":"+1555100%04d"},`+
				`"message_id":"m%d","direction":"received","text":"hello, this is message %d"}`, i%chats, i, i))
		}
		out = append(out, `{"messages":[`+strings.Join(msgs, ",")+`]}`)
	}
	return out
}

// ingestAll posts the batches from 4 clients at once, spread over the
// instances the workspaces stand for.
func ingestAll(b *testing.B, instances []*chathooktest.Workspace, bodies []string) {
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := w; i < len(bodies); i += 4 {
				ws := instances[i%len(instances)]
				if status, body := ws.Do(b, http.MethodPost, "/api/v1/messages/batch", bodies[i]); status != http.StatusAccepted {
					b.Errorf("ingest: %d %s", status, body)
				}
			}
		})
	}
	wg.Wait()
}

// BenchmarkEndToEnd: b.N messages over 100 chats through the batch API,
// from the first POST to the last delivery to a local sink. msgs/s is the
// end-to-end figure of issue 2 (target 2,000, product goal 10,000).
func BenchmarkEndToEnd(b *testing.B) { endToEnd(b, "", 1) }

// BenchmarkEndToEndPostgres: the same on PostgreSQL, with one instance
// and with two sharing the database (each ingesting half the batches and
// delivering with its own dispatcher).
func BenchmarkEndToEndPostgres(b *testing.B) {
	for _, n := range []int{1, 2} {
		b.Run(fmt.Sprintf("instances=%d", n), func(b *testing.B) { endToEnd(b, chathooktest.Postgres(b), n) })
	}
}

// endToEnd runs the end-to-end benchmark on db ("": a fresh SQLite file)
// with n instances.
func endToEnd(b *testing.B, db string, n int) {
	sink := chathooktest.NewSink(b)
	first := chathooktest.Start(b, chathooktest.Options{DB: db})
	ws := first.NewWorkspace(b, "bench")
	ws.PointAt(b, sink.URL)
	instances := []*chathooktest.Workspace{ws}
	for range n - 1 {
		instances = append(instances, ws.On(chathooktest.Start(b, chathooktest.Options{DB: first.DB})))
	}
	bodies := batches(b.N, 100)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	ingestAll(b, instances, bodies)
	ingested := time.Since(start)
	got := sink.WaitFor(b, b.N, 10*time.Minute)
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "msgs/s")
	b.ReportMetric(float64(b.N)/ingested.Seconds(), "ingest-msgs/s")
	ids := map[string]bool{}
	for _, r := range got {
		ids[r.Header.Get("webhook-id")] = true
	}
	if len(got) != b.N || len(ids) != b.N {
		b.Fatalf("%d deliveries with %d distinct ids for %d messages", len(got), len(ids), b.N)
	}
}

// BenchmarkIngestBatch: the batch API alone (no webhook URL, nothing is
// queued), 1000 messages a request.
func BenchmarkIngestBatch(b *testing.B) {
	svc := chathooktest.Start(b, chathooktest.Options{})
	ws := svc.NewWorkspace(b, "bench")
	bodies := batches(b.N, 100)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	ingestAll(b, []*chathooktest.Workspace{ws}, bodies)
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
}
