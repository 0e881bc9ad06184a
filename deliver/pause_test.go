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

// switchReceiver answers 503 while down, else 200, and keeps per chat
// the rounds it accepted (message ids "r<round>-m<chat>", as ingestChats
// writes them), in the order they came.
type switchReceiver struct {
	*httptest.Server
	down   atomic.Bool
	failed chan struct{} // closed at the first 503

	mu   sync.Mutex
	once sync.Once
	got  map[int][]int // chat -> rounds accepted, in order
}

func newSwitchReceiver(t *testing.T, down bool) *switchReceiver {
	s := &switchReceiver{failed: make(chan struct{}), got: map[int][]int{}}
	s.down.Store(down)
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if s.down.Load() {
			s.once.Do(func() { close(s.failed) })
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		var p struct {
			Message struct {
				MessageID string `json:"message_id"`
			}
		}
		var round, chat int
		if json.Unmarshal(body, &p) != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		if _, err := fmt.Sscanf(p.Message.MessageID, "r%d-m%d", &round, &chat); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		s.mu.Lock()
		s.got[chat] = append(s.got[chat], round)
		s.mu.Unlock()
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *switchReceiver) accepted() (n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, rounds := range s.got {
		n += len(rounds)
	}
	return n
}

// TestPausedEndpointDoesNotStallOthers: endpoint A is down (503) with a
// backlog of 40 chats handed to the dispatcher as they are stored, more
// than the deliveries that may wait in memory (2 × BatchSize = 16), and
// endpoint B is healthy. While A is down and paused, a batch of 20 chats
// posted to B all arrive, and once A is back every one of its messages
// arrives, in order per chat. Before, a paused lane kept its waiting runs
// in memory: A's 39 filled the cap, so no claim was made and nothing was
// handed over for any endpoint until A recovered.
func TestPausedEndpointDoesNotStallOthers(t *testing.T) {
	const chatsA, roundsA, chatsB = 40, 2, 20
	a := newSwitchReceiver(t, true)
	b := newSwitchReceiver(t, false)
	st := openStore(t, "sqlite:"+filepath.Join(t.TempDir(), "chathook.db")) // SQLite: the store hands over as it stores
	wsA := addWorkspace(t, st, a.URL)
	wsB := addWorkspace(t, st, b.URL)
	// A first retry at 2 s: pauses of 0.4 s, 0.8 s, 1.6 s … so ten counted
	// failures, the disable, take over a minute, longer than the test waits.
	schedule := slices.Repeat([]time.Duration{2 * time.Second}, 30)
	d := deliver.New(deliver.Config{Store: st, AllowPrivateTargets: true, Schedule: schedule, BatchSize: 8,
		Poll: 100 * time.Millisecond, Grace: time.Second, Logger: slog.New(slog.DiscardHandler)})
	runFor(t, d, nil)

	// B's first message arriving shows Run is under way, taking hand-overs.
	ingestChats(t, st, wsB, 1, 0)
	eventually(t, "B's first message", 30*time.Second, func() bool { return b.accepted() == 1 })
	for round := range roundsA {
		ingestChats(t, st, wsA, chatsA, round)
	}
	select {
	case <-a.failed:
	case <-time.After(30 * time.Second): // a safety net only
		t.Fatal("A was never tried")
	}

	ingestChats(t, st, wsB, chatsB, 1)
	eventually(t, "B's batch while A is down", 30*time.Second, func() bool { return b.accepted() == 1+chatsB })
	whA, err := st.Webhook(context.Background(), wsA, chathook.Outbound)
	if err != nil {
		t.Fatal(err)
	}
	if !whA.Enabled || whA.ConsecutiveFailures == 0 {
		t.Fatalf("A: enabled %v with %d failures, want enabled and failing while B's batch went out", whA.Enabled, whA.ConsecutiveFailures)
	}
	t.Logf("B's batch arrived while A was down, with %d counted failures", whA.ConsecutiveFailures)

	a.down.Store(false)
	eventually(t, "A's messages once it is back", 60*time.Second, func() bool { return a.accepted() == chatsA*roundsA })
	a.mu.Lock()
	defer a.mu.Unlock()
	for c := range chatsA {
		if got := a.got[c]; !slices.Equal(got, []int{0, 1}) {
			t.Errorf("A, chat %d: accepted rounds %v, want [0 1]", c, got)
		}
	}
}
