package deliver

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/chathook/chathook"
)

// countingTarget is a broker target that counts its Close calls: these
// tests are of the registry, not of a broker.
type countingTarget struct {
	mu     sync.Mutex
	closes int
}

func (c *countingTarget) Send(context.Context, Message) chathook.Outcome { return chathook.Outcome{} }

func (c *countingTarget) Close() {
	c.mu.Lock()
	c.closes++
	c.mu.Unlock()
}

func (c *countingTarget) closed() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closes
}

// TestEditedURLKeepsBothTargets: an endpoint whose URL was edited has runs
// of the old URL and of the new one going out side by side. Taking the
// targets of both, alternately, closes neither and makes no new one: each
// Send in flight keeps its connection. Once idle, each is closed once.
// Before, the registry held one target per endpoint and closed it
// whenever the other URL was asked for.
func TestEditedURLKeepsBothTargets(t *testing.T) {
	ts := newTargets(&http.Client{}, time.Second, false)
	var made []*countingTarget
	ts.open = func(string, chathook.BrokerURL, dialFunc) Target {
		c := &countingTarget{}
		made = append(made, c)
		return c
	}
	old := chathook.Webhook{Key: 7, URL: "nats://127.0.0.1:4222/old"}
	edited := chathook.Webhook{Key: 7, URL: "nats://127.0.0.1:4222/new"}
	var first [2]Target
	for i := range 6 {
		wh := []chathook.Webhook{old, edited}[i%2]
		got := ts.get(wh)
		if i < 2 {
			first[i] = got
		} else if got != first[i%2] {
			t.Fatalf("get %d (%s): a new target, want the one already held", i, wh.URL)
		}
		for j, c := range made {
			if c.closed() != 0 {
				t.Fatalf("after get %d (%s): target %d closed while its URL is in use", i, wh.URL, j)
			}
		}
	}
	if len(made) != 2 {
		t.Fatalf("%d targets made, want 2 (one per URL)", len(made))
	}
	ts.closeIdle(time.Now().Add(time.Hour))
	for j, c := range made {
		if c.closed() != 1 {
			t.Errorf("target %d closed %d times once idle, want 1", j, c.closed())
		}
	}
}
