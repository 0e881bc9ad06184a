package deliver_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/deliver"
)

// outageReceiver answers 200 to its first ramp requests, then is down:
// it holds the next together requests until that many are in flight at
// once (all the attempts a wide window had on the wire when the receiver
// went down), answers them 500 together, and answers 500 to every request
// for downFor after that; then 200 again. It keeps, per chat, the rounds
// it accepted, in the order they came.
type outageReceiver struct {
	*httptest.Server
	ramp, together int
	downFor        time.Duration

	mu       sync.Mutex
	n        int              // requests arrived
	held     int              // requests of the outage's start arrived
	released chan struct{}    // closed when together requests are held
	upAt     time.Time        // when the receiver is back (set on release)
	failed   int              // requests answered 500
	got      map[string][]int // chat -> rounds accepted, in order
}

func newOutageReceiver(t *testing.T, ramp, together int, downFor time.Duration) *outageReceiver {
	o := &outageReceiver{ramp: ramp, together: together, downFor: downFor, released: make(chan struct{}), got: map[string][]int{}}
	o.Server = httptest.NewServer(http.HandlerFunc(o.serve))
	t.Cleanup(o.Close)
	return o
}

func (o *outageReceiver) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	o.mu.Lock()
	o.n++
	switch {
	case o.n <= o.ramp:
	case o.held < o.together:
		o.held++
		if o.held == o.together {
			o.upAt = time.Now().Add(o.downFor)
			close(o.released)
		}
		o.failed++
		o.mu.Unlock()
		select {
		case <-o.released:
		case <-r.Context().Done():
		case <-time.After(30 * time.Second): // a safety net: the test then fails on the count
		}
		w.WriteHeader(http.StatusInternalServerError)
		return
	case time.Now().Before(o.upAt):
		o.failed++
		o.mu.Unlock()
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	defer o.mu.Unlock()
	var p struct {
		Message struct {
			MessageID string `json:"message_id"`
		}
	}
	var round, chat int
	if err := json.Unmarshal(body, &p); err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	if _, err := fmt.Sscanf(p.Message.MessageID, "r%d-m%d", &round, &chat); err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	key := fmt.Sprint(chat)
	o.got[key] = append(o.got[key], round)
}

func (o *outageReceiver) accepted() (n int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, rounds := range o.got {
		n += len(rounds)
	}
	return n
}

// TestShortOutageDoesNotDisable: a receiver that took 100 deliveries of
// 64 chats (which opened the lane's window to 64) goes down with 32
// attempts in flight, stays down for 2 s (with the first retry at 100 ms,
// as 100 s would be with the default 5 s), and comes back. The endpoint
// is not disabled, and every message arrives, once, in order per chat.
// Before, the 32 failures in flight counted 32 (one outage counts once,
// store.Finished.Overlapped), and the attempts after them, one at a time
// but each as soon as the last failure was recorded, reached ten in
// milliseconds (the pause after each counted failure).
func TestShortOutageDoesNotDisable(t *testing.T) {
	const chats, rounds, ramp, together = 64, 8, 100, 32
	const downFor = 2 * time.Second
	rcv := newOutageReceiver(t, ramp, together, downFor)
	st := openStore(t, "sqlite:"+filepath.Join(t.TempDir(), "chathook.db"))
	ws := addWorkspace(t, st, rcv.URL)
	for round := range rounds {
		ingestChats(t, st, ws, chats, round)
	}
	schedule := slices.Repeat([]time.Duration{100 * time.Millisecond}, 30) // pauses of 20 ms, 40 ms … 1.2 s
	var counted atomic.Int64                                               // failures recorded as counting toward the disable
	d := deliver.New(deliver.Config{Store: st, AllowPrivateTargets: true, Schedule: schedule, Grace: time.Second,
		Logger: slog.New(slog.DiscardHandler), Recorded: func(r deliver.Recorded) {
			if !r.OK() && !r.Overlapped {
				counted.Add(1)
			}
		}})
	runFor(t, d, nil)

	select {
	case <-rcv.released:
	case <-time.After(30 * time.Second): // a safety net only
		t.Fatalf("the receiver never had %d attempts in flight at once", together)
	}
	disabled := false
	eventually(t, "every message, or the disable", 60*time.Second, func() bool {
		wh, err := st.Webhook(context.Background(), ws, chathook.Outbound)
		disabled = err == nil && !wh.Enabled
		return disabled || rcv.accepted() == chats*rounds
	})
	wh, err := st.Webhook(context.Background(), ws, chathook.Outbound)
	if err != nil {
		t.Fatal(err)
	}
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	t.Logf("%d failed attempts while down, %d of them counted", rcv.failed, counted.Load())
	if disabled || !wh.Enabled {
		t.Fatalf("disabled by an outage of %s: %q, last error %q", downFor, wh.DisabledReason, wh.LastError)
	}
	want := make([]int, rounds)
	for i := range want {
		want[i] = i
	}
	for c := range chats {
		if got := rcv.got[fmt.Sprint(c)]; !slices.Equal(got, want) {
			t.Errorf("chat %d: accepted rounds %v, want %v", c, got, want)
		}
	}
}

// TestFailingEndpointPausesBetweenAttempts: a receiver that fails from
// the start, with the first retry at 50 ms, and five chats waiting, or
// one (whose retries then come one at a time, each to a new lane once
// the last pause has ended). The endpoint is disabled after exactly
// chathook.DisableAfter POSTs, and each POST comes at least its pause
// after the one before: 10 ms, 20 ms, 40 ms … at most 600 ms (the sink's
// arrival times; the pause is a lower bound, so only a lower bound is
// checked). Before, each came as soon as the last failure was recorded,
// or, for one chat, as soon as its retry was due.
func TestFailingEndpointPausesBetweenAttempts(t *testing.T) {
	for name, chats := range map[string]int{"five chats": 5, "one chat": 1} {
		t.Run(name, func(t *testing.T) {
			var mu sync.Mutex
			var arrivals []time.Time
			rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				mu.Lock()
				arrivals = append(arrivals, time.Now())
				mu.Unlock()
				w.WriteHeader(http.StatusServiceUnavailable)
			}))
			t.Cleanup(rcv.Close)
			st := openStore(t, "sqlite:"+filepath.Join(t.TempDir(), "chathook.db"))
			ws := addWorkspace(t, st, rcv.URL)
			ingestChats(t, st, ws, chats, 0)
			schedule := slices.Repeat([]time.Duration{50 * time.Millisecond}, 30)
			d := deliver.New(deliver.Config{Store: st, AllowPrivateTargets: true, Schedule: schedule, Grace: time.Second,
				Logger: slog.New(slog.DiscardHandler)})
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error)
			go func() { done <- d.Run(ctx) }()
			eventually(t, "the disable", 60*time.Second, func() bool {
				wh, err := st.Webhook(context.Background(), ws, chathook.Outbound)
				return err == nil && !wh.Enabled
			})
			cancel()
			<-done // every POST made has ended and been recorded
			wh, err := st.Webhook(context.Background(), ws, chathook.Outbound)
			if err != nil {
				t.Fatal(err)
			}
			mu.Lock()
			defer mu.Unlock()
			if wh.ConsecutiveFailures != chathook.DisableAfter || len(arrivals) != chathook.DisableAfter {
				t.Fatalf("disabled after %d failures and %d POSTs, want %d of each", wh.ConsecutiveFailures, len(arrivals), chathook.DisableAfter)
			}
			pause := 10 * time.Millisecond
			for k := 1; k < len(arrivals); k++ {
				if gap := arrivals[k].Sub(arrivals[k-1]); gap < pause {
					t.Errorf("POST %d came %s after POST %d, want at least the pause, %s", k+1, gap, k, pause)
				}
				pause = min(2*pause, 600*time.Millisecond)
			}
			t.Logf("ten failures took %s", arrivals[len(arrivals)-1].Sub(arrivals[0]))
		})
	}
}
