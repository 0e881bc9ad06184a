package deliver_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/app"
	"github.com/chathook/chathook/chathooktest"
	"github.com/chathook/chathook/deliver"
	"github.com/chathook/chathook/store"
	"github.com/google/uuid"
)

// onEveryStore runs test on a fresh SQLite file and a PostgreSQL schema.
func onEveryStore(t *testing.T, test func(t *testing.T, st store.Store)) {
	for name, db := range map[string]func(t *testing.T) string{
		"sqlite":   func(t *testing.T) string { return "sqlite:" + filepath.Join(t.TempDir(), "chathook.db") },
		"postgres": func(t *testing.T) string { return chathooktest.Postgres(t) },
	} {
		t.Run(name, func(t *testing.T) { test(t, openStore(t, db(t))) })
	}
}

func openStore(t testing.TB, db string) store.Store {
	t.Helper()
	st, err := app.OpenStore(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// addWorkspace creates a workspace whose webhook posts to url.
func addWorkspace(t testing.TB, st store.Store, url string) string {
	t.Helper()
	ctx := context.Background()
	created, err := app.CreateWorkspace(ctx, st, "acme", "o@acme.example", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.UpdateWebhook(ctx, created.WorkspaceID, chathook.Outbound, time.Now(), chathook.WebhookUpdate{URL: &url}); err != nil {
		t.Fatal(err)
	}
	return created.WorkspaceID
}

// ingestChats stores one message in each of chats chats of ws, straight
// into the store, as a source would; round tells one call's messages
// from another's.
func ingestChats(t testing.TB, st store.Store, ws string, chats, round int) {
	t.Helper()
	var in []chathook.Incoming
	for c := range chats {
		id := fmt.Sprintf("r%d-m%d", round, c)
		in = append(in, chathook.Incoming{Account: chathook.Account{Phone: "+15550000000"},
			Chat:      chathook.Chat{ExternalID: fmt.Sprintf("+1555200%04d", c)},
			MessageID: id, UUID: uuid.NewString(), Direction: chathook.Received, Timestamp: time.Now(), Text: id})
	}
	if _, err := st.Ingest(context.Background(), ws, time.Now(), in); err != nil {
		t.Fatal(err)
	}
}

// eventually polls cond until it holds; the deadline is only a safety net.
func eventually(t *testing.T, what string, deadline time.Duration, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(deadline); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("%s: not after %s", what, deadline)
		}
	}
}

// TestFailingReceiverIsDisabledAfterTen: a receiver that answers 500 from
// the start, with 200 chats waiting. The workspace backs off to one POST
// at a time from the first failure, so the webhook is disabled after
// exactly chathook.DisableAfter failures, each a POST. Before, a lane
// sent PerEndpoint (64) at once, and all of them counted.
func TestFailingReceiverIsDisabledAfterTen(t *testing.T) {
	onEveryStore(t, func(t *testing.T, st store.Store) {
		var posts atomic.Int64
		rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			posts.Add(1)
			w.WriteHeader(http.StatusInternalServerError)
		}))
		t.Cleanup(rcv.Close)
		ws := addWorkspace(t, st, rcv.URL)
		ingestChats(t, st, ws, 200, 0)
		var schedule []time.Duration // the real one, a thousand times quicker
		for _, wait := range deliver.Schedule {
			schedule = append(schedule, wait/1000)
		}
		d := deliver.New(deliver.Config{Store: st, AllowPrivateTargets: true, Schedule: schedule, Logger: slog.New(slog.DiscardHandler)})
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
		t.Logf("%d POSTs, %d consecutive failures", posts.Load(), wh.ConsecutiveFailures)
		if wh.ConsecutiveFailures != chathook.DisableAfter || posts.Load() != chathook.DisableAfter {
			t.Errorf("disabled after %d failures and %d POSTs, want %d of each", wh.ConsecutiveFailures, posts.Load(), chathook.DisableAfter)
		}
	})
}

// slowReceiver answers its first ramp requests 200 after 1.1 s (slow, as
// a receiver that takes seconds is, and successful, so the lane's window
// opens), then holds every request until release is closed.
type slowReceiver struct {
	*httptest.Server
	mu   sync.Mutex
	n    int // requests arrived
	held int // requests being held
}

func newSlowReceiver(t *testing.T, ramp int, release <-chan struct{}, arrived chan<- struct{}) *slowReceiver {
	s := &slowReceiver{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.n++
		k := s.n
		if k > ramp {
			s.held++
		}
		s.mu.Unlock()
		select {
		case arrived <- struct{}{}:
		default:
		}
		if k <= ramp {
			time.Sleep(1100 * time.Millisecond) // the receiver's slowness, not a wait for a condition
			return
		}
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *slowReceiver) holding() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.held
}

// TestSlowReceiversLeaveFastOnesASlot: four workspaces whose receivers
// are slow but succeed, each with more chats waiting than it may send at
// once, and a fifth whose receiver answers at once. Once the slow ones
// hold all the slots they may (three quarters of Workers, an even share
// each), the fast workspace's deliveries all go out while the slow ones'
// requests are still held. Before, the four
// slow workspaces filled every slot (4 × PerEndpoint = Workers) and the
// fast one waited for them to end.
func TestSlowReceiversLeaveFastOnesASlot(t *testing.T) {
	cases := []struct {
		name                 string
		workers, perEndpoint int // 0: the defaults, 256 and 64
		ramp                 int // slow successes that open a window to perEndpoint: 1, 2, then 8
		chats                int // each slow workspace's
	}{
		{"small", 16, 4, 3, 20},
		{"defaults", 0, 0, 11, 100},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			workers := orDefault(c.workers, 256)
			slowShare := workers - workers/4
			release, arrived := make(chan struct{}), make(chan struct{}, 1)
			var fastGot atomic.Int64
			fast := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { fastGot.Add(1) }))
			t.Cleanup(fast.Close)
			st := openStore(t, "sqlite:"+filepath.Join(t.TempDir(), "chathook.db"))
			var slow []*slowReceiver
			for range 4 {
				s := newSlowReceiver(t, c.ramp, release, arrived)
				slow = append(slow, s)
				ingestChats(t, st, addWorkspace(t, st, s.URL), c.chats, 0)
			}
			fastWS := addWorkspace(t, st, fast.URL)

			d := deliver.New(deliver.Config{Store: st, AllowPrivateTargets: true, Workers: c.workers, PerEndpoint: c.perEndpoint,
				Timeout: 5 * time.Minute, Grace: time.Second, Logger: slog.New(slog.DiscardHandler)})
			runFor(t, d, func() { close(release) })
			held := func() (n int) {
				for _, s := range slow {
					n += s.holding()
				}
				return n
			}
			for end := time.Now().Add(60 * time.Second); held() < slowShare; {
				select {
				case <-arrived:
				case <-time.After(time.Until(end)):
					t.Fatalf("the slow receivers hold %d requests, want %d", held(), slowShare)
				}
			}

			const fastChats = 20
			start := time.Now()
			ingestChats(t, st, fastWS, fastChats, 0)
			d.Ingested()
			eventually(t, "the fast workspace's deliveries", 20*time.Second, func() bool { return fastGot.Load() >= fastChats })
			took := time.Since(start)
			var each []int
			for _, s := range slow {
				each = append(each, s.holding())
			}
			t.Logf("fast workspace: %d deliveries in %s, while the slow ones held %v requests", fastChats, took, each)
			if n := held(); n > slowShare {
				t.Errorf("the slow workspaces hold %d slots, want at most %d", n, slowShare)
			}
			if slices.Contains(each, 0) {
				t.Errorf("a slow workspace has no request in flight: %v", each)
			}
		})
	}
}

func orDefault(v, def int) int {
	if v > 0 {
		return v
	}
	return def
}

// TestWidenedWindowStartsWaitingRuns: one workspace, a chat with many
// messages whose receiver answers the chat's first POST at once and holds
// every later one until the test ends, and other chats answered at once.
// The long chat's run goes first, with the new lane's window of one; its
// first success widens the window, and that must start the other chats'
// runs while the long one is still in progress. Before, a widened window
// started nothing until a run ended, so the other chats waited for the
// whole of the long chat's run.
func TestWidenedWindowStartsWaitingRuns(t *testing.T) {
	onEveryStore(t, func(t *testing.T, st store.Store) {
		const longChat, others, longRun = "+15552000000", 5, 20
		release := make(chan struct{})
		var longPosts, otherPosts atomic.Int64
		rcv := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			if !strings.Contains(string(body), longChat) {
				otherPosts.Add(1)
				return
			}
			if longPosts.Add(1) == 1 {
				return
			}
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}))
		t.Cleanup(rcv.Close)
		ws := addWorkspace(t, st, rcv.URL)
		// The long chat's messages are stored first, so its run is the
		// lane's first; ingestChats' chat 0 is longChat.
		for round := range longRun {
			ingestChats(t, st, ws, 1, round)
		}
		ingestChats(t, st, ws, 1+others, longRun) // chat 0 once more, and the others
		d := deliver.New(deliver.Config{Store: st, AllowPrivateTargets: true, Timeout: 5 * time.Minute, Grace: time.Second,
			Logger: slog.New(slog.DiscardHandler)})
		runFor(t, d, func() { close(release) })
		eventually(t, "the other chats' deliveries", 20*time.Second, func() bool { return otherPosts.Load() >= others })
		if n := longPosts.Load(); n > 2 {
			t.Errorf("the long chat made %d POSTs while its second was held", n)
		}
	})
}

// TestReceiverTurningSlowGivesBackSlots: a workspace whose receiver
// answers its first three POSTs at once, which opens the lane's window to
// PerEndpoint (8 runs in flight, of 16 messages each), then takes 1.2 s
// for each. Once the lane is slow it may hold only the slow lanes' share
// (Workers less a quarter: 6): its runs beyond it put their rest back in
// the lane at their next POST instead of holding their slots for the
// whole run. Before, the lane kept its 8 slots until its runs ended.
func TestReceiverTurningSlowGivesBackSlots(t *testing.T) {
	const workers, chats, msgs = 8, 8, 16
	share := workers - workers/4
	const after, until = 24, 40 // slow POSTs: by the 25th every one made before the lane turned slow has ended
	var mu sync.Mutex
	var n, slowN, inFlight, most int
	reached := make(chan struct{})
	rcv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		mu.Lock()
		n++
		if n <= 3 {
			mu.Unlock()
			return
		}
		slowN++
		inFlight++
		if slowN > after && slowN <= until {
			most = max(most, inFlight)
		}
		if slowN == until {
			close(reached)
		}
		mu.Unlock()
		time.Sleep(1200 * time.Millisecond) // the receiver's slowness, not a wait for a condition
		mu.Lock()
		inFlight--
		mu.Unlock()
	}))
	t.Cleanup(rcv.Close)
	st := openStore(t, "sqlite:"+filepath.Join(t.TempDir(), "chathook.db"))
	ws := addWorkspace(t, st, rcv.URL)
	for round := range msgs {
		ingestChats(t, st, ws, chats, round)
	}
	d := deliver.New(deliver.Config{Store: st, AllowPrivateTargets: true, Workers: workers, PerEndpoint: workers,
		Timeout: time.Minute, Grace: time.Second, Logger: slog.New(slog.DiscardHandler)})
	runFor(t, d, nil)
	select {
	case <-reached:
	case <-time.After(2 * time.Minute): // a safety net only
		mu.Lock()
		defer mu.Unlock()
		t.Fatalf("the receiver got %d slow POSTs, want %d", slowN, until)
	}
	mu.Lock()
	defer mu.Unlock()
	t.Logf("at most %d slow POSTs at once, from the %dth to the %dth", most, after+1, until)
	if most > share {
		t.Errorf("a slow lane had %d POSTs in flight, want at most its share, %d", most, share)
	}
}

// TestIdleLaneStartsOverAtOne: a workspace's receiver succeeds until the
// lane's window is PerEndpoint (64), the workspace goes idle for longer
// than windowKept (ForgetWindows), and its receiver starts failing. The next burst, of 200 chats, starts one POST,
// not 64, and the webhook is disabled after chathook.DisableAfter POSTs.
// Before, the memo gave the new lane the old one's window of 64: 64 POSTs
// went out at once to a receiver nobody knew to be failing.
func TestIdleLaneStartsOverAtOne(t *testing.T) {
	var posts atomic.Int64
	release, arrived := make(chan struct{}), make(chan struct{}, 1)
	st, ws, d := afterABurst(t, true, func(w http.ResponseWriter, r *http.Request) {
		posts.Add(1)
		select {
		case arrived <- struct{}{}:
		default:
		}
		select {
		case <-release:
		case <-r.Context().Done():
		}
		w.WriteHeader(http.StatusInternalServerError)
	}, release)

	ingestChats(t, st, ws, 200, 1)
	d.Ingested()
	select {
	case <-arrived: // the burst's first POST is held: what else started, started with it
	case <-time.After(time.Minute): // a safety net only
		t.Fatal("no POST of the second burst")
	}
	if n := d.InFlight(); n != 1 {
		t.Errorf("%d POSTs started at once to a receiver of unknown health, want 1", n)
	}
	close(release)
	eventually(t, "the disable", 60*time.Second, func() bool {
		wh, err := st.Webhook(context.Background(), ws, chathook.Outbound)
		return err == nil && !wh.Enabled
	})
	if n := posts.Load(); n != chathook.DisableAfter {
		t.Errorf("disabled after %d POSTs, want %d", n, chathook.DisableAfter)
	}
}

// afterABurst runs a dispatcher (on a real SQLite store, with the real
// retry schedule a thousand times quicker) whose workspace's receiver
// answers a first burst of 200 chats at once, which opens the lane's
// window to PerEndpoint, and then, once the lane has ended, answers
// with next. forget drops the window with the lane, as a pause longer
// than windowKept would. release is closed, if it is not yet, when the
// test ends.
func afterABurst(t *testing.T, forget bool, next http.HandlerFunc, release chan struct{}) (store.Store, string, *deliver.Dispatcher) {
	t.Helper()
	var first atomic.Bool
	first.Store(true)
	var oks atomic.Int64
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if first.Load() {
			oks.Add(1)
			return
		}
		next(w, r)
	}))
	t.Cleanup(rcv.Close)
	st := openStore(t, "sqlite:"+filepath.Join(t.TempDir(), "chathook.db"))
	ws := addWorkspace(t, st, rcv.URL)
	var schedule []time.Duration
	for _, wait := range deliver.Schedule {
		schedule = append(schedule, wait/1000)
	}
	d := deliver.New(deliver.Config{Store: st, AllowPrivateTargets: true, Schedule: schedule, Grace: time.Second,
		Logger: slog.New(slog.DiscardHandler)})
	if forget {
		d.ForgetWindows()
	}
	runFor(t, d, func() {
		select {
		case <-release:
		default:
			close(release)
		}
	})
	ingestChats(t, st, ws, 200, 0) // 6 successes open the window to 64
	d.Ingested()
	eventually(t, "the first burst, and its lane's end", 60*time.Second, func() bool { return oks.Load() == 200 && d.Lanes() == 0 })
	first.Store(false)
	return st, ws, d
}

// TestBrieflyIdleLaneKeepsItsWindow: a lane that empties between two
// bursts of a healthy receiver (a workspace sending one message at a
// time empties it between every two) starts the second with the window
// the first opened, not with one POST: the second burst's POSTs, all held
// by the receiver, are in flight together. A lane that started at one
// would hold back every POST but the first until it was answered.
func TestBrieflyIdleLaneKeepsItsWindow(t *testing.T) {
	var held atomic.Int64
	release := make(chan struct{})
	st, ws, d := afterABurst(t, false, func(w http.ResponseWriter, r *http.Request) {
		held.Add(1)
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}, release)

	ingestChats(t, st, ws, 8, 1)
	d.Ingested()
	eventually(t, "8 POSTs in flight at once", 60*time.Second, func() bool { return held.Load() == 8 })
	close(release)
}
