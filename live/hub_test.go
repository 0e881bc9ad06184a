package live_test

import (
	"slices"
	"testing"
	"time"

	"github.com/chathook/chathook/live"
)

// next waits for sub's pending change, failing after a few seconds.
func next(t *testing.T, sub *live.Subscription) live.Change {
	t.Helper()
	select {
	case <-sub.Ready():
	case <-time.After(5 * time.Second):
		t.Fatal("no change arrived")
	}
	c, ok := sub.Next()
	if !ok {
		t.Fatal("Ready fired but no change was pending")
	}
	return c
}

// none fails if sub has a change pending.
func none(t *testing.T, sub *live.Subscription) {
	t.Helper()
	if c, ok := sub.Next(); ok {
		t.Fatalf("unexpected change %+v", c)
	}
}

func subscribe(t *testing.T, h *live.Hub, ws, key string) *live.Subscription {
	t.Helper()
	sub, err := h.Subscribe(ws, key)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sub.Close)
	return sub
}

func TestFanOutToEveryTabOfTheWorkspace(t *testing.T) {
	h := live.NewHub()
	a1, a2 := subscribe(t, h, "ws-a", "s1"), subscribe(t, h, "ws-a", "s2")
	b := subscribe(t, h, "ws-b", "s3")
	h.Publish("ws-a", false, 7, 3, 7)
	for _, sub := range []*live.Subscription{a1, a2} {
		if c := next(t, sub); c.Workspace != "ws-a" || c.All || !slices.Equal(c.Chats, []int64{3, 7}) {
			t.Errorf("got %+v, want ws-a chats [3 7]", c)
		}
	}
	none(t, b) // another workspace's change never arrives
	h.Publish("ws-b", true)
	if c := next(t, b); !c.All || c.Workspace != "ws-b" {
		t.Errorf("got %+v, want ws-b all", c)
	}
	none(t, a1)
}

// A tab that does not read never blocks Publish: its changes merge into
// one, which becomes All past MaxChats chats.
func TestSlowSubscriberDoesNotBlockPublish(t *testing.T) {
	h := live.NewHub()
	slow := subscribe(t, h, "ws", "s")
	done := make(chan struct{})
	go func() {
		for i := range 10 * live.MaxChats {
			h.Publish("ws", false, int64(i%3+1))
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Publish blocked on a subscriber that does not read")
	}
	if c := next(t, slow); c.All || !slices.Equal(c.Chats, []int64{1, 2, 3}) {
		t.Errorf("merged change: got %+v, want chats [1 2 3]", c)
	}
	for i := range live.MaxChats + 1 {
		h.Publish("ws", false, int64(100+i))
	}
	if c := next(t, slow); !c.All || c.Chats != nil {
		t.Errorf("past MaxChats: got %+v, want all", c)
	}
	none(t, slow)
}

func TestStreamsPerSessionAreLimited(t *testing.T) {
	h := live.NewHub()
	var subs []*live.Subscription
	for range live.MaxStreams {
		subs = append(subs, subscribe(t, h, "ws", "session"))
	}
	if _, err := h.Subscribe("ws", "session"); err != live.ErrTooMany {
		t.Fatalf("stream %d: got %v, want ErrTooMany", live.MaxStreams+1, err)
	}
	subscribe(t, h, "ws", "other session") // another session is not counted
	subs[0].Close()
	subs[0].Close() // twice is no error, and frees one place only
	subscribe(t, h, "ws", "session")
	if _, err := h.Subscribe("ws", "session"); err != live.ErrTooMany {
		t.Fatalf("after one closed and reopened: got %v, want ErrTooMany", err)
	}
	// A closed subscription hears nothing more.
	h.Publish("ws", false, 1)
	none(t, subs[0])
}

func TestRefetchAndRemote(t *testing.T) {
	h := live.NewHub()
	var sent []live.Change
	h.SetRemote(func(c live.Change) { sent = append(sent, c) })
	a, b := subscribe(t, h, "ws-a", "1"), subscribe(t, h, "ws-b", "2")
	h.Deliver(live.Change{Workspace: "ws-a", Chats: []int64{5}}) // heard from another instance
	if c := next(t, a); !slices.Equal(c.Chats, []int64{5}) {
		t.Errorf("delivered: got %+v", c)
	}
	if len(sent) != 0 {
		t.Errorf("a delivered change went back to the remote: %+v", sent)
	}
	h.Publish("ws-b", false, 9)
	if len(sent) != 1 || sent[0].Workspace != "ws-b" || !slices.Equal(sent[0].Chats, []int64{9}) {
		t.Errorf("remote got %+v, want one ws-b [9]", sent)
	}
	next(t, b)
	h.Refetch()
	for _, sub := range []*live.Subscription{a, b} {
		if c := next(t, sub); !c.All {
			t.Errorf("after Refetch: got %+v, want all", c)
		}
	}
}

func TestClosedHubEndsStreams(t *testing.T) {
	h := live.NewHub()
	subscribe(t, h, "ws", "s")
	select {
	case <-h.Done():
		t.Fatal("Done before Close")
	default:
	}
	h.Close()
	h.Close()
	select {
	case <-h.Done():
	default:
		t.Fatal("Done still open after Close")
	}
	if _, err := h.Subscribe("ws", "s2"); err != live.ErrClosed {
		t.Fatalf("Subscribe after Close: %v, want ErrClosed", err)
	}
}

// BenchmarkPublish is the cost an ingest pays to tell a workspace of 50
// open tabs, none of them reading.
func BenchmarkPublish(b *testing.B) {
	h := live.NewHub()
	for i := range 50 {
		sub, _ := h.Subscribe("ws", string(rune('a'+i)))
		defer sub.Close()
	}
	for i := 0; b.Loop(); i++ {
		h.Publish("ws", false, int64(i%live.MaxChats)) // pending lists at their longest
	}
}
