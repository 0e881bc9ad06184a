package app_test

import (
	"bufio"
	"encoding/json"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chathook/chathook/app"
	"github.com/chathook/chathook/chathooktest"
)

// logLines parses a JSON log, one object a line.
func logLines(t *testing.T, log string) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(log))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var line map[string]any
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("a log line is not JSON: %v: %s", err, sc.Text())
		}
		out = append(out, line)
	}
	return out
}

// requestLine returns the "request" log line of request id id, or nil.
func requestLine(t *testing.T, log *chathooktest.SyncBuffer, id string) map[string]any {
	t.Helper()
	for _, l := range logLines(t, log.String()) {
		if l["msg"] == "request" && l["request_id"] == id {
			return l
		}
	}
	return nil
}

// TestRequestLogs: every request, whatever part of the service answers
// it, logs one line with its id, method, route (the pattern, not the
// path), status, duration and size, and answers X-Request-Id: the
// client's when sane, a new one otherwise.
func TestRequestLogs(t *testing.T) {
	log := &chathooktest.SyncBuffer{}
	svc := chathooktest.Start(t, chathooktest.Options{Config: app.Config{Logger: slog.New(slog.NewJSONHandler(log, nil))}})
	ws := svc.NewWorkspace(t, "acme")
	do := func(method, path, id string, token bool) (*http.Response, string) {
		t.Helper()
		req, err := http.NewRequest(method, svc.URL+path, strings.NewReader(`{"full_name": "x"}`))
		if err != nil {
			t.Fatal(err)
		}
		if id != "" {
			req.Header.Set("X-Request-Id", id)
		}
		if token {
			req.Header.Set("Authorization", "Bearer "+ws.APIToken)
		}
		resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp, resp.Header.Get("X-Request-Id")
	}
	for _, c := range []struct {
		method, path, id string
		token            bool
		route            string
		status           int
	}{
		{"PUT", "/api/v1/chats/12345678", "put-chat-1", true, "/api/v1/chats/{chat_id}", http.StatusNotFound},
		{"GET", "/api/v1/webhooks/outbound", "get-webhook-1", false, "/api/v1/webhooks/outbound", http.StatusUnauthorized},
		{"GET", "/healthz", "health-1", false, "/healthz", http.StatusOK},
		{"GET", "/chat/12345678/messages/?before=1", "web-1", false, "GET /chat/{chat_id}/messages/{$}", http.StatusSeeOther},
		{"GET", "/sources/cloud-api/" + ws.WorkspaceID + "?hub.mode=subscribe", "meta-1", false, "/sources/cloud-api/", http.StatusForbidden},
	} {
		resp, echoed := do(c.method, c.path, c.id, c.token)
		if echoed != c.id {
			t.Errorf("%s %s: X-Request-Id %q, want the client's %q", c.method, c.path, echoed, c.id)
		}
		var line map[string]any
		chathooktest.Eventually(t, "the request's log line", func() bool { line = requestLine(t, log, c.id); return line != nil })
		dur, _ := line["duration"].(float64) // slog's JSON: nanoseconds
		if line["method"] != c.method || line["route"] != c.route || line["status"] != float64(resp.StatusCode) ||
			resp.StatusCode != c.status || dur <= 0 || line["bytes"] == nil || line["level"] != "INFO" {
			t.Errorf("%s %s (%d): log line %v, want route %q and status %d", c.method, c.path, resp.StatusCode, line, c.route, c.status)
		}
		if raw, _ := json.Marshal(line); strings.Contains(string(raw), "12345678") || strings.Contains(string(raw), ws.WorkspaceID) {
			t.Errorf("%s %s: the raw path is in the request's line: %s", c.method, c.path, raw)
		}
	}

	random := regexp.MustCompile(`^[0-9a-f]{32}$`)
	for _, bad := range []string{"", strings.Repeat("a", app.MaxRequestID+1), "caf\u00e9"} {
		_, echoed := do("GET", "/healthz", bad, false)
		if !random.MatchString(echoed) {
			t.Errorf("X-Request-Id %q: answered %q, want a new random id", bad, echoed)
		}
		chathooktest.Eventually(t, "the new id's log line", func() bool { return requestLine(t, log, echoed) != nil })
	}
	if _, echoed := do("GET", "/healthz", strings.Repeat("b", app.MaxRequestID), false); echoed != strings.Repeat("b", app.MaxRequestID) {
		t.Errorf("an id of %d characters was replaced by %q", app.MaxRequestID, echoed)
	}
}

// TestDeliveryLogCarriesWebhookID: a failed attempt's log line names the
// webhook-id the receiver got, so a receiver's report can be found in
// the log.
func TestDeliveryLogCarriesWebhookID(t *testing.T) {
	log := &chathooktest.SyncBuffer{}
	svc := chathooktest.Start(t, chathooktest.Options{Config: app.Config{
		Logger: slog.New(slog.NewJSONHandler(log, nil)), RetrySchedule: []time.Duration{time.Millisecond},
	}})
	ws := svc.NewWorkspace(t, "acme")
	sink := chathooktest.NewSink(t)
	sink.Respond = func(n int, r *http.Request) int {
		if n == 1 {
			return http.StatusBadGateway
		}
		return http.StatusNoContent
	}
	ws.PointAt(t, sink.URL)
	ws.Post(t, received)
	id := sink.WaitFor(t, 1, 10*time.Second)[0].Header.Get("webhook-id")
	if id == "" {
		t.Fatal("no webhook-id")
	}
	var failed map[string]any
	for _, l := range logLines(t, log.String()) {
		if l["msg"] == "delivery failed" {
			failed = l
		}
	}
	if failed == nil || failed["webhook_id"] != id {
		t.Fatalf("delivery failed line %v, want webhook_id %q", failed, id)
	}
}
