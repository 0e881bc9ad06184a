package chathooktest

import (
	"bytes"
	"hash/maphash"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"time"
)

// Counter is a receiver for benchmarks: it keeps counts, not bodies, so
// that what it holds does not grow with the load it measures.
type Counter struct {
	*httptest.Server
	mu        sync.Mutex
	requests  int
	messages  int
	repeated  int // requests whose webhook-id was seen before
	seen      map[uint64]struct{}
	seed      maphash.Seed
	more      chan struct{}
	firstSeen time.Time
	lastSeen  time.Time
}

// NewCounter starts a counter that is closed when the test ends.
func NewCounter(t TB) *Counter {
	c := &Counter{seen: map[uint64]struct{}{}, seed: maphash.MakeSeed(), more: make(chan struct{}, 1)}
	c.Server = httptest.NewServer(http.HandlerFunc(c.serve))
	t.Cleanup(c.Close)
	return c
}

var messageKey = []byte(`"message_id":`)

func (c *Counter) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	n := bytes.Count(body, messageKey) // one per message, in a single or a bundle
	id := maphash.String(c.seed, r.Header.Get("webhook-id"))
	now := time.Now()
	c.mu.Lock()
	c.requests++
	c.messages += n
	if _, ok := c.seen[id]; ok {
		c.repeated++
	}
	c.seen[id] = struct{}{}
	if c.firstSeen.IsZero() {
		c.firstSeen = now
	}
	c.lastSeen = now
	c.mu.Unlock()
	select {
	case c.more <- struct{}{}:
	default:
	}
	w.WriteHeader(http.StatusNoContent)
}

// Counts returns requests, messages carried, and requests that repeated
// a webhook-id.
func (c *Counter) Counts() (requests, messages, repeated int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.requests, c.messages, c.repeated
}

// WaitForMessages waits until n messages arrived, failing after timeout,
// and returns when the last one did.
func (c *Counter) WaitForMessages(t TB, n int, timeout time.Duration) time.Time {
	t.Helper()
	deadline := time.After(timeout)
	for {
		c.mu.Lock()
		have, last := c.messages, c.lastSeen
		c.mu.Unlock()
		if have >= n {
			return last
		}
		select {
		case <-c.more:
		case <-deadline:
			t.Fatalf("counter: %d of %d messages after %s", have, n, timeout)
		}
	}
}
