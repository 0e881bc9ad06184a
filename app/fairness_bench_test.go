package app_test

import (
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chathook/chathook/chathooktest"
)

// BenchmarkSlowNeighbour measures how long workspace C's one message takes
// to reach its fast receiver while workspace D's 1,000 messages over 200
// chats wait on a receiver that answers 200 after 12 s (under the 15 s
// timeout: never a failure). Run it with -benchtime 1x.
func BenchmarkSlowNeighbour(b *testing.B) {
	for range b.N {
		svc := chathooktest.Start(b, chathooktest.Options{})
		var arrived atomic.Int64
		slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			arrived.Add(1)
			select {
			case <-time.After(12 * time.Second):
			case <-r.Context().Done():
			}
			w.WriteHeader(http.StatusOK)
		}))
		d, c := svc.NewWorkspace(b, "d"), svc.NewWorkspace(b, "c")
		d.PointAt(b, slow.URL)
		fast := chathooktest.NewSink(b)
		c.PointAt(b, fast.URL)
		d.Post(b, neighbourMessages(1000, 200)...)
		for arrived.Load() < 32 {
			time.Sleep(10 * time.Millisecond)
		}
		start := time.Now()
		c.Post(b, chatMessage(1, 1))
		fast.WaitFor(b, 1, 10*time.Minute)
		b.ReportMetric(time.Since(start).Seconds(), "c-latency-s")
		svc.Stop(b)
		slow.Close()
	}
}
