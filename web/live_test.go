package web_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/live"
	"github.com/chathook/chathook/store"
	"github.com/chathook/chathook/web"
	"github.com/google/uuid"
)

// liveHarness is the web UI with a hub, writing through its decorator.
func liveHarness(t *testing.T) (*harness, store.Store) {
	t.Helper()
	hub := live.NewHub()
	var st store.Store
	h := newHarnessWith(t, false, "", func(cfg *web.Config) {
		st = live.Wrap(cfg.Store, hub)
		cfg.Store, cfg.Live = st, hub
	})
	return h, st
}

// stream is an open GET /live: its response and the data of its events.
type stream struct {
	resp *http.Response
	data chan string
}

func (v *visitor) openLive(t *testing.T) (*stream, int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, v.h.base+"/live", nil)
	resp, err := v.c.Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); resp.Body.Close() })
	if resp.StatusCode != http.StatusOK {
		return nil, resp.StatusCode
	}
	s := &stream{resp: resp, data: make(chan string, 16)}
	go func() {
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if d, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
				s.data <- d
			}
		}
		close(s.data)
	}()
	return s, resp.StatusCode
}

func (s *stream) next(t *testing.T) map[string]any {
	t.Helper()
	select {
	case d, ok := <-s.data:
		if !ok {
			t.Fatal("the stream ended")
		}
		var ev map[string]any
		if err := json.Unmarshal([]byte(d), &ev); err != nil {
			t.Fatalf("event data %q: %v", d, err)
		}
		return ev
	case <-time.After(5 * time.Second):
		t.Fatal("no event within 5 s")
	}
	return nil
}

func liveIngest(t *testing.T, st store.Store, ws, chat string) int64 {
	t.Helper()
	res, err := st.Ingest(context.Background(), ws, time.Now(), []chathook.Incoming{{
		Account:   chathook.Account{Phone: "+15550000000", FullName: "Agent"},
		Chat:      chathook.Chat{ExternalID: chatPhone(chat), Phone: chatPhone(chat), FullName: chat},
		MessageID: uuid.NewString(), UUID: uuid.NewString(), Direction: chathook.Received, Timestamp: time.Now(), Text: "hi",
	}})
	if err != nil {
		t.Fatal(err)
	}
	return res[0].ChatID
}

// GET /live streams the signed-in workspace's changes, and only its own.
func TestLiveStreamsOwnWorkspaceOnly(t *testing.T) {
	h, st := liveHarness(t)
	beta := h.workspace("beta")
	acmeTab, _ := h.signedIn("acme").openLive(t)
	betaTab, _ := h.signedIn("beta").openLive(t)
	if ct := acmeTab.resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Errorf("Content-Type %q", ct)
	}
	if acmeTab.resp.Header.Get("X-Accel-Buffering") != "no" {
		t.Error("no X-Accel-Buffering: no, so nginx would buffer the stream")
	}

	betaChat := liveIngest(t, st, beta.WorkspaceID, "Bob")
	acmeChat := liveIngest(t, st, h.ws.WorkspaceID, "Alice")
	if ev := acmeTab.next(t); !slices.Equal(ev["chats"].([]any), []any{float64(acmeChat)}) {
		t.Fatalf("acme's tab got %v, want chats [%d] (beta's chat is %d)", ev, acmeChat, betaChat)
	}
	if ev := betaTab.next(t); !slices.Equal(ev["chats"].([]any), []any{float64(betaChat)}) {
		t.Fatalf("beta's tab got %v, want chats [%d]", ev, betaChat)
	}
	select {
	case d := <-acmeTab.data:
		t.Fatalf("acme's tab got a second event %s", d)
	case <-time.After(200 * time.Millisecond):
	}
}

func TestLiveNeedsASessionAndLimitsStreams(t *testing.T) {
	h, _ := liveHarness(t)
	if _, status := h.visitor().openLive(t); status != http.StatusUnauthorized {
		t.Errorf("signed out: %d, want 401", status)
	}
	v := h.signedIn("acme")
	for i := range live.MaxStreams {
		if _, status := v.openLive(t); status != http.StatusOK {
			t.Fatalf("stream %d: %d", i+1, status)
		}
	}
	if _, status := v.openLive(t); status != http.StatusTooManyRequests {
		t.Errorf("stream %d of one sign-in: %d, want 429", live.MaxStreams+1, status)
	}
	if _, status := h.signedIn("acme").openLive(t); status != http.StatusOK {
		t.Errorf("another sign-in: %d, want 200", status)
	}
}

// Without a hub there is nothing to stream: 204 tells EventSource to stop.
func TestLiveWithoutHub(t *testing.T) {
	h := newHarness(t, false, "")
	if _, status := h.signedIn("acme").openLive(t); status != http.StatusNoContent {
		t.Errorf("got %d, want 204", status)
	}
}

// A reconnecting EventSource (Last-Event-ID set) is told at once to
// refetch: changes may have been made while it was away.
func TestLiveReconnectRefetches(t *testing.T) {
	h, _ := liveHarness(t)
	v := h.signedIn("acme")
	req, _ := http.NewRequest(http.MethodGet, h.base+"/live", nil)
	req.Header.Set("Last-Event-ID", "1")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	resp, err := v.c.Do(req.WithContext(ctx))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	s := &stream{resp: resp, data: make(chan string, 16)}
	go func() {
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if d, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
				s.data <- d
			}
		}
		close(s.data)
	}()
	if ev := s.next(t); ev["all"] != true {
		t.Fatalf("first event of a reconnect: %v, want all", ev)
	}
}

// Closing the hub (at shutdown) ends every stream: a server's shutdown
// waits for open requests, and a stream never ends by itself.
func TestLiveEndsAtHubClose(t *testing.T) {
	hub := live.NewHub()
	var st store.Store
	h := newHarnessWith(t, false, "", func(cfg *web.Config) {
		st = live.Wrap(cfg.Store, hub)
		cfg.Store, cfg.Live = st, hub
	})
	tab, _ := h.signedIn("acme").openLive(t)
	chat := liveIngest(t, st, h.ws.WorkspaceID, "Alice")
	if ev := tab.next(t); !slices.Equal(ev["chats"].([]any), []any{float64(chat)}) {
		t.Fatalf("got %v", ev)
	}
	hub.Close()
	select {
	case _, ok := <-tab.data:
		if ok {
			t.Fatal("an event after Close")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the stream did not end when the hub closed")
	}
	if _, status := h.signedIn("acme").openLive(t); status != http.StatusServiceUnavailable {
		t.Errorf("a stream opened after Close: %d, want 503", status)
	}
}

// A stream ends when its session does (here, signed out in another tab),
// at its next heartbeat.
func TestLiveEndsWithTheSession(t *testing.T) {
	t.Cleanup(web.SetLiveHeartbeat(50 * time.Millisecond))
	h, _ := liveHarness(t)
	v := h.signedIn("acme")
	tab, _ := v.openLive(t)
	other, _ := h.signedIn("acme").openLive(t) // another sign-in goes on
	v.get("/chats/")                           // for the CSRF token
	if a := v.post("/signout", url.Values{}); a.status != http.StatusSeeOther {
		t.Fatalf("sign out: %d", a.status)
	}
	select {
	case _, ok := <-tab.data:
		if ok {
			t.Fatal("an event after sign-out")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the stream outlived its session")
	}
	select {
	case _, ok := <-other.data:
		if !ok {
			t.Fatal("another sign-in's stream ended")
		}
	case <-time.After(300 * time.Millisecond): // several beats, and still open
	}
}
