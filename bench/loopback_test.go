package bench

import (
	"context"
	"log/slog"
	"testing"
	"time"
)

// The ceiling's figure is whatever the machine gives: the test checks
// that it measured something, never how much.
func TestCeilingCountsPosts(t *testing.T) {
	p := plan{messages: 100, chats: 10, clients: 4, batch: 1}
	c := ceiling{clients: 4, path: p.path(), body: p.body([]int{0}), warmUp: 20 * time.Millisecond, measure: 200 * time.Millisecond}
	if err := c.run(t.Context(), slog.New(slog.DiscardHandler)); err != nil || c.postsPerS <= 0 {
		t.Errorf("ceiling = %v, %v", c.postsPerS, err)
	}
	// Fair to the service: the clients kept their connections, as the
	// run's clients do, rather than paying for a new one a POST.
	if c.conns < 1 || c.conns > 2*4 {
		t.Errorf("%d connections for 4 clients", c.conns)
	}
}

func TestCeilingStopsWithItsContext(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	c := ceiling{clients: 2, path: "/", body: []byte("{}"), warmUp: time.Hour, measure: time.Hour}
	if err := c.run(ctx, slog.New(slog.DiscardHandler)); err == nil {
		t.Error("a cancelled measure gave a figure")
	}
}
