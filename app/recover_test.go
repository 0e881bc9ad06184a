package app_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chathook/chathook/app"
	"github.com/chathook/chathook/chathooktest"
	"github.com/chathook/chathook/payload"
)

type activityRow struct {
	WebhookID string `json:"webhook_id"`
	Status    string `json:"status"`
	Attempts  int    `json:"attempts"`
}

func activity(t *testing.T, ws *chathooktest.Workspace) []activityRow {
	t.Helper()
	status, body := ws.Do(t, http.MethodGet, "/api/v1/webhooks/outbound/activity", nil)
	var a struct {
		Entries []activityRow `json:"entries"`
	}
	if err := json.Unmarshal(body, &a); status != http.StatusOK || err != nil {
		t.Fatalf("activity: %d %s", status, body)
	}
	return a.Entries
}

func recoverSince(t *testing.T, ws *chathooktest.Workspace, since time.Time) int {
	t.Helper()
	status, body := ws.Do(t, http.MethodPost, "/api/v1/webhooks/outbound/recover", map[string]any{"since": since.UTC().Format(time.RFC3339)})
	var got struct {
		Deliveries int `json:"deliveries"`
	}
	if err := json.Unmarshal(body, &got); status != http.StatusAccepted || err != nil {
		t.Fatalf("recover: %d %s", status, body)
	}
	return got.Deliveries
}

// TestRecoverAfterAnOutage: a receiver is down long enough for
// deliveries to fail for good and for the webhook to be disabled (the
// user discards what waited). Once it is back, a recovery sends every one
// of them again, with its original webhook-id, in order per chat; the
// activity and the detailed log show the new attempts; a second recovery
// sends nothing.
func TestRecoverAfterAnOutage(t *testing.T) {
	cfg := quick()
	cfg.RetrySchedule = []time.Duration{5 * time.Millisecond, 5 * time.Millisecond} // three attempts, then failed
	svc := chathooktest.Start(t, chathooktest.Options{Config: cfg})
	ws := svc.NewWorkspace(t, "acme")
	began := time.Now().Add(-time.Minute)

	sink := chathooktest.NewSink(t)
	var broken atomic.Bool
	broken.Store(true)
	var mu sync.Mutex
	failedIDs := map[string]bool{} // webhook-ids the receiver refused
	sink.Respond = func(_ int, r *http.Request) int {
		if broken.Load() {
			mu.Lock()
			failedIDs[r.Header.Get("webhook-id")] = true
			mu.Unlock()
			return http.StatusServiceUnavailable
		}
		return http.StatusOK
	}
	ws.PointAt(t, sink.URL)

	// Three deliveries fail for good: 9 failed attempts.
	postAll(t, ws, chatMessage(1, 1), chatMessage(1, 2), chatMessage(2, 1))
	until(t, "three deliveries failed for good", func() bool {
		n := 0
		for _, a := range activity(t, ws) {
			if a.Status == "failed" {
				n++
			}
		}
		return n == 3
	})
	// The 10th failure disables the webhook; the user discards what waits.
	postAll(t, ws, chatMessage(3, 1))
	until(t, "the webhook disabled", func() bool { return !state(t, ws).Enabled })
	if status, body := ws.Do(t, http.MethodPut, "/api/v1/webhooks/outbound", map[string]any{"enabled": true, "discard_pending": true}); status != http.StatusOK {
		t.Fatalf("enable, discarding: %d %s", status, body)
	}
	refused := sink.Attempts()
	if refused != 10 || len(failedIDs) != 4 {
		t.Fatalf("%d attempts of %d deliveries before the recovery, want 10 of 4", refused, len(failedIDs))
	}

	broken.Store(false)
	if n := recoverSince(t, ws, began); n != 4 {
		t.Fatalf("recovered %d, want 4 (3 failed, 1 discarded)", n)
	}
	got := sink.WaitFor(t, 4, 10*time.Second)
	var order []string
	for _, r := range got {
		w := chathooktest.Verified(t, ws, r)
		if !failedIDs[r.Header.Get("webhook-id")] {
			t.Errorf("%s came with a new webhook-id %s", w.Message.ID, r.Header.Get("webhook-id"))
		}
		order = append(order, w.Message.ID)
	}
	if i1, i2 := strings.Index(strings.Join(order, " "), "c1-m1"), strings.Index(strings.Join(order, " "), "c1-m2"); i1 < 0 || i2 < i1 {
		t.Errorf("delivered %v: chat 1's messages out of order", order)
	}
	if n := recoverSince(t, ws, began); n != 0 {
		t.Errorf("a second recovery queued %d", n)
	}

	// The new attempts are in the activity and in the log.
	until(t, "the activity showing the four delivered", func() bool {
		n := 0
		for _, a := range activity(t, ws) {
			if failedIDs[a.WebhookID] && a.Status == "delivered" {
				n++
			}
		}
		return n == 4
	})
	perID := map[string][]string{}
	for _, r := range ws.Log(t) {
		perID[r.WebhookID] = append(perID[r.WebhookID], strconv.Itoa(r.Attempt)+":"+r.Outcome)
	}
	for id := range failedIDs {
		rows := perID[id]
		if len(rows) < 2 || !strings.HasSuffix(rows[len(rows)-1], ":delivered") {
			t.Errorf("log of %s: %v, want the new attempt delivered last", id, rows)
		}
	}
	if sink.Attempts() != refused+4 {
		t.Errorf("%d POSTs after the recovery, want 4", sink.Attempts()-refused)
	}
}

// TestRotationSignsWithBothSecrets: after a rotation a receiver that
// verifies only the old secret, and one that verifies only the new
// secret, both accept every POST (messages and bundles) for 24 hours;
// after that only the new secret signs.
func TestRotationSignsWithBothSecrets(t *testing.T) {
	start := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	clock := chathooktest.NewClock(start)
	svc := chathooktest.Start(t, chathooktest.Options{Config: app.Config{BaseURL: "https://chathook.example.com"}, Clock: clock})
	ws := svc.NewWorkspace(t, "acme")

	// The receiver verifies with one key, the one the test gives it, and
	// refuses what it cannot verify.
	var key atomic.Pointer[[]byte]
	sink := chathooktest.NewSink(t)
	sink.Respond = func(_ int, r *http.Request) int {
		body := new(bytes.Buffer)
		_, _ = body.ReadFrom(r.Body)
		ts, _ := strconv.ParseInt(r.Header.Get("webhook-timestamp"), 10, 64)
		if !payload.Verify(*key.Load(), r.Header.Get("webhook-id"), ts, body.Bytes(), r.Header.Get("webhook-signature")) {
			return http.StatusUnauthorized
		}
		return http.StatusNoContent
	}
	mustKey := func(secret string) []byte {
		k, err := payload.ParseSecret(secret)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	oldKey := mustKey(ws.WebhookSecret)
	key.Store(&oldKey)
	ws.PointAt(t, sink.URL)
	n := 0
	deliver := func(what string, msgs ...string) chathooktest.Received {
		t.Helper()
		postAll(t, ws, msgs...)
		n++
		got := sink.WaitFor(t, n, 10*time.Second)
		if sink.Attempts() != n {
			t.Fatalf("%s: %d POSTs for %d accepted: the receiver refused a signature", what, sink.Attempts(), n)
		}
		return got[n-1]
	}
	deliver("before the rotation", chatMessage(1, 1))

	status, body := ws.Do(t, http.MethodPost, "/api/v1/webhooks/outbound/secret/rotate", nil)
	var r struct {
		Secret             string `json:"secret"`
		PreviousValidUntil string `json:"previous_valid_until"`
	}
	if err := json.Unmarshal(body, &r); status != http.StatusOK || err != nil {
		t.Fatalf("rotate: %d %s", status, body)
	}
	newKey := mustKey(r.Secret)

	got := deliver("after the rotation, verifying the old secret", chatMessage(1, 2))
	if sigs := strings.Fields(got.Header.Get("webhook-signature")); len(sigs) != 2 {
		t.Errorf("webhook-signature %q, want two signatures", got.Header.Get("webhook-signature"))
	}
	// A bundle too.
	if status, body := ws.Do(t, http.MethodPut, "/api/v1/webhooks/outbound", map[string]any{"granularity": "1h"}); status != http.StatusOK {
		t.Fatalf("granularity: %d %s", status, body)
	}
	postAll(t, ws, chatMessage(2, 1))
	if status, body := ws.Do(t, http.MethodPost, "/api/v1/webhooks/outbound/flush", nil); status != http.StatusOK {
		t.Fatalf("flush: %d %s", status, body)
	}
	n++
	bundle := sink.WaitFor(t, n, 10*time.Second)[n-1]
	if sink.Attempts() != n || !strings.Contains(string(bundle.Body), `"messages"`) {
		t.Fatalf("the bundle was refused or is not one: %d POSTs, %s", sink.Attempts(), bundle.Body)
	}
	if status, body := ws.Do(t, http.MethodPut, "/api/v1/webhooks/outbound", map[string]any{"granularity": "none"}); status != http.StatusOK {
		t.Fatalf("granularity: %d %s", status, body)
	}

	key.Store(&newKey)
	deliver("after the rotation, verifying the new secret", chatMessage(1, 3))

	clock.Set(start.Add(24*time.Hour + time.Minute))
	got = deliver("a day later, verifying the new secret", chatMessage(1, 4))
	ts, _ := strconv.ParseInt(got.Header.Get("webhook-timestamp"), 10, 64)
	if sigs := strings.Fields(got.Header.Get("webhook-signature")); len(sigs) != 1 ||
		payload.Verify(oldKey, got.Header.Get("webhook-id"), ts, got.Body, got.Header.Get("webhook-signature")) {
		t.Errorf("a day later the old secret still signs: %q", got.Header.Get("webhook-signature"))
	}
}
