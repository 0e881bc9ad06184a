package app_test

import (
	"encoding/json"
	"fmt"
	"github.com/chathook/chathook"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chathook/chathook/app"
	"github.com/chathook/chathook/chathooktest"
)

// neighbourMessages are workspace D's backlog: n messages over chats chats.
func neighbourMessages(n, chats int) []string {
	msgs := make([]string, 0, n)
	for i := range n {
		msgs = append(msgs, chatMessage(i%chats, i/chats))
	}
	return msgs
}

// hanging is a receiver whose every request waits until the test ends (or
// the POST is given up); it counts the requests that arrived.
func hanging(t *testing.T) (url string, arrived func() int) {
	stop := make(chan struct{})
	var mu sync.Mutex
	n := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		n++
		mu.Unlock()
		select {
		case <-stop:
		case <-r.Context().Done():
		}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(stop) }) // before Close, which waits for the handlers
	return srv.URL, func() int { mu.Lock(); defer mu.Unlock(); return n }
}

// silent is a receiver that accepts connections and never answers: every
// POST times out.
func silent(t *testing.T) (url string, arrived func() int) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			go io.Copy(io.Discard, c) // read, never write
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return "http://" + ln.Addr().String() + "/hook", func() int { mu.Lock(); defer mu.Unlock(); return len(conns) }
}

// TestSlowWorkspaceSlowsOnlyItself: workspace D's 1,000 messages over 200
// chats wait on a receiver that holds every POST (or never answers);
// workspace C's one message to a fast receiver is delivered meanwhile,
// not after D's POSTs end. Before fair shares D held every slot, and C
// waited for D's timeouts: minutes.
func TestSlowWorkspaceSlowsOnlyItself(t *testing.T) {
	receivers := map[string]func(*testing.T) (string, func() int){"hanging": hanging, "silent": silent}
	for name, receiver := range receivers {
		t.Run(name, func(t *testing.T) {
			onEveryStore(t, func(t *testing.T, db string) {
				cfg := quick()
				// Longer than the test waits for C: before fair shares no
				// slot of D came free while C waited.
				cfg.DeliveryTimeout, cfg.DeliveryGrace = time.Minute, 100*time.Millisecond
				svc := chathooktest.Start(t, chathooktest.Options{DB: db, Config: cfg})
				slowURL, arrived := receiver(t)
				d, c := svc.NewWorkspace(t, "d"), svc.NewWorkspace(t, "c")
				d.PointAt(t, slowURL)
				fast := chathooktest.NewSink(t)
				c.PointAt(t, fast.URL)

				postAll(t, d, neighbourMessages(1000, 200)...)
				// D's receiver has not answered yet, so D has one POST in
				// flight (see deliver's backoff); the lanes deliver tests
				// cover many slow POSTs.
				until(t, "D's POST to hang", func() bool { return arrived() >= 1 })
				start := time.Now()
				postAll(t, c, chatMessage(1, 1))
				fast.WaitFor(t, 1, 10*time.Second)
				t.Logf("C delivered %s after it was posted, beside %d hanging POSTs of D", time.Since(start), arrived())
				if pending, err := svc.Store.Pending(t.Context(), d.WorkspaceID, chathook.Outbound); err != nil || pending != 1000 {
					t.Errorf("D: %d pending (%v), want all 1000", pending, err)
				}
			})
		})
	}
}

// TestDisableStopsAtOnce: a receiver that always fails, with many chats
// waiting. Once the disable is recorded nothing more starts: the failures
// are the 10 that disable plus at most the POSTs that were already on the
// wire (one workspace has at most 64 at once). Before, every delivery
// claimed before the disable was still POSTed, hundreds of them.
func TestDisableStopsAtOnce(t *testing.T) { onEveryStore(t, testDisableStopsAtOnce) }

func testDisableStopsAtOnce(t *testing.T, db string) {
	const onTheWire = 64 // deliver's default PerEndpoint
	svc := chathooktest.Start(t, chathooktest.Options{DB: db, Config: quick()})
	ws := svc.NewWorkspace(t, "acme")
	var mu sync.Mutex
	var arrivals []time.Time
	sink := chathooktest.NewSink(t)
	sink.Respond = func(int, *http.Request) int {
		mu.Lock()
		arrivals = append(arrivals, time.Now())
		mu.Unlock()
		return http.StatusInternalServerError
	}
	ws.PointAt(t, sink.URL)
	postAll(t, ws, neighbourMessages(400, 400)...)
	until(t, "the disable", func() bool { return !state(t, ws).Enabled })
	disabled := time.Now()
	svc.Stop(t) // waits for every POST that started
	s := state(t, ws.On(chathooktest.Start(t, chathooktest.Options{DB: svc.DB})))

	mu.Lock()
	defer mu.Unlock()
	after := 0
	for _, at := range arrivals {
		if at.After(disabled) {
			after++
		}
	}
	t.Logf("%d POSTs, %d consecutive failures, %d POSTs arrived after the disable was seen", len(arrivals), s.ConsecutiveFailures, after)
	if s.ConsecutiveFailures > 10+onTheWire || len(arrivals) > 10+onTheWire {
		t.Errorf("%d failures counted, %d POSTs made: want at most %d, 10 and those on the wire", s.ConsecutiveFailures, len(arrivals), 10+onTheWire)
	}
	if after > onTheWire {
		t.Errorf("%d POSTs arrived after the disable was recorded", after)
	}
}

// TestDurationIsReal: an attempt's duration is the time the receiver
// took, in the activity API and the detailed log (it was 0 for every
// attempt: "< 1 ms" for a receiver that took 15 s).
func TestDurationIsReal(t *testing.T) { onEveryStore(t, testDurationIsReal) }

func testDurationIsReal(t *testing.T, db string) {
	svc := chathooktest.Start(t, chathooktest.Options{DB: db, Config: app.Config{}})
	ws := svc.NewWorkspace(t, "acme")
	sink := chathooktest.NewSink(t)
	sink.Respond = func(int, *http.Request) int {
		time.Sleep(300 * time.Millisecond)
		return http.StatusNoContent
	}
	ws.PointAt(t, sink.URL)
	postAll(t, ws, chatMessage(1, 1))
	sink.WaitFor(t, 1, 10*time.Second)

	var activity struct {
		Entries []struct {
			Status     string `json:"status"`
			DurationMS int64  `json:"duration_ms"`
		} `json:"entries"`
	}
	until(t, "the delivery in the activity", func() bool {
		_, body := ws.Do(t, http.MethodGet, "/api/v1/webhooks/outbound/activity", nil)
		if err := json.Unmarshal(body, &activity); err != nil {
			t.Fatalf("activity %s: %v", body, err)
		}
		return len(activity.Entries) == 1 && activity.Entries[0].Status == "delivered"
	})
	if ms := activity.Entries[0].DurationMS; ms < 300 {
		t.Errorf("activity: duration_ms %d for a receiver that took 300 ms", ms)
	}
	rows := ws.Log(t)
	for _, row := range rows {
		if row.DurationMS < 300 {
			t.Errorf("log: duration_ms %d for a receiver that took 300 ms", row.DurationMS)
		}
	}
	if len(rows) != 1 {
		t.Errorf("%d log rows, want 1: %+v", len(rows), rows)
	}
	status, body := ws.Do(t, http.MethodGet, "/api/v1/webhooks/outbound/log", nil)
	if csvRows := strings.Split(strings.TrimSpace(string(body)), "\n"); status != http.StatusOK || len(csvRows) != 2 ||
		!strings.Contains(csvRows[1], fmt.Sprintf(",%d,", activity.Entries[0].DurationMS)) {
		t.Errorf("CSV log: %d %s", status, body)
	}
}

// TestDisableStopsEveryInstance: two instances share a failing webhook's
// backlog; the disable one of them records stops the other too, which
// reads the webhook's state back after each failure of its own.
func TestDisableStopsEveryInstance(t *testing.T) {
	const onTheWire = 64 // per instance: deliver's default PerEndpoint
	db := chathooktest.Postgres(t)
	a := chathooktest.Start(t, chathooktest.Options{DB: db, Config: quick()})
	b := chathooktest.Start(t, chathooktest.Options{DB: db, Config: quick()})
	ws := a.NewWorkspace(t, "acme")
	sink, _ := failing(t)
	ws.PointAt(t, sink.URL)
	msgs := neighbourMessages(600, 600)
	postAll(t, ws, msgs[:300]...)
	postAll(t, ws.On(b), msgs[300:]...)
	until(t, "the disable", func() bool { return !state(t, ws).Enabled })
	a.Stop(t)
	b.Stop(t)
	s := state(t, ws.On(chathooktest.Start(t, chathooktest.Options{DB: db})))
	t.Logf("%d POSTs, %d consecutive failures", sink.Attempts(), s.ConsecutiveFailures)
	if s.ConsecutiveFailures > 10+2*onTheWire || sink.Attempts() > 10+2*onTheWire {
		t.Errorf("%d failures counted, %d POSTs made: want at most %d", s.ConsecutiveFailures, sink.Attempts(), 10+2*onTheWire)
	}
}
