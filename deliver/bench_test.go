package deliver_test

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chathook/chathook/deliver"
)

// BenchmarkDeliver measures the dispatcher's path per delivery, claim to
// record, on SQLite: b.N messages over 200 chats of four workspaces,
// queued before the dispatcher starts, to receivers that answer at once.
// The dispatcher starts cold, so each lane's slow start is included.
func BenchmarkDeliver(b *testing.B) {
	var got atomic.Int64
	rcv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { got.Add(1) }))
	defer rcv.Close()
	st := openStore(b, "sqlite:"+filepath.Join(b.TempDir(), "chathook.db"))
	var wss []string
	for range 4 {
		wss = append(wss, addWorkspace(b, st, rcv.URL))
	}
	for i := 0; i < b.N; i += 200 {
		ingestChats(b, st, wss[(i/200)%len(wss)], min(200, b.N-i), i/200)
	}
	d := deliver.New(deliver.Config{Store: st, AllowPrivateTargets: true, Logger: slog.New(slog.DiscardHandler)})
	b.ResetTimer()
	runFor(b, d, nil)
	for end := time.Now().Add(5 * time.Minute); got.Load() < int64(b.N); time.Sleep(time.Millisecond) {
		if time.Now().After(end) {
			b.Fatalf("%d of %d delivered", got.Load(), b.N)
		}
	}
	b.StopTimer()
}
