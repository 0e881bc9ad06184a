package api_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chathook/chathook/chathooktest"
)

type endpointAnswer struct {
	ID                       string   `json:"id"`
	URL                      string   `json:"url"`
	Description              string   `json:"description"`
	Enabled                  bool     `json:"enabled"`
	Events                   []string `json:"events"`
	Format                   string   `json:"format"`
	Granularity              string   `json:"granularity"`
	Accounts                 []string `json:"accounts"`
	Secret                   string   `json:"secret"`
	ConsecutiveFailures      int      `json:"consecutive_failures"`
	DisabledReason           string   `json:"disabled_reason"`
	DisabledAt               string   `json:"disabled_at"`
	LastError                string   `json:"last_error"`
	PreviousSecretValidUntil string   `json:"previous_secret_valid_until"`
	CreatedAt                string   `json:"created_at"`
}

func decodeEndpoint(t *testing.T, what string, status, want int, body []byte) endpointAnswer {
	t.Helper()
	var e endpointAnswer
	if err := strictJSON(body, &e); status != want || err != nil {
		t.Fatalf("%s: %d %s (%v), want %d", what, status, body, err, want)
	}
	return e
}

func addEndpoint(t *testing.T, ws *chathooktest.Workspace, body any) endpointAnswer {
	t.Helper()
	status, data := ws.Do(t, http.MethodPost, "/api/v1/webhooks", body)
	return decodeEndpoint(t, "POST /api/v1/webhooks", status, http.StatusCreated, data)
}

func listEndpoints(t *testing.T, ws *chathooktest.Workspace) (string, []endpointAnswer) {
	t.Helper()
	status, data := ws.Do(t, http.MethodGet, "/api/v1/webhooks", nil)
	var out struct {
		Webhooks []endpointAnswer `json:"webhooks"`
	}
	if err := strictJSON(data, &out); status != http.StatusOK || err != nil {
		t.Fatalf("GET /api/v1/webhooks: %d %s (%v)", status, data, err)
	}
	return string(data), out.Webhooks
}

// receiver is a webhook receiver on a real socket that keeps every POST
// and answers status (204 unless set); unlike chathooktest.Sink it takes
// the event format's payloads, whose schemas docs/ tests.
type receiver struct {
	*httptest.Server
	mu     sync.Mutex
	got    [][]byte
	hdr    []http.Header
	status int
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{status: http.StatusNoContent}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.got, r.hdr = append(r.got, body), append(r.hdr, req.Header.Clone())
		status := r.status
		r.mu.Unlock()
		w.WriteHeader(status)
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) wait(t *testing.T, n int) ([][]byte, []http.Header) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		r.mu.Lock()
		got, hdr := append([][]byte(nil), r.got...), append([]http.Header(nil), r.hdr...)
		r.mu.Unlock()
		if len(got) >= n {
			return got, hdr
		}
		if time.Now().After(deadline) {
			t.Fatalf("receiver: %d of %d POSTs", len(got), n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// An endpoint is added with its defaults and a secret of its own, listed
// after outbound, read, changed and deleted; outbound is listed as an
// endpoint in the seed format, and cannot be deleted.
func TestEndpointsRoundTrip(t *testing.T) {
	svc := chathooktest.Start(t, chathooktest.Options{})
	ws := svc.NewWorkspace(t, "acme")
	other := svc.NewWorkspace(t, "other")
	oldOutbound := getWebhook(t, ws)

	_, list := listEndpoints(t, ws)
	if len(list) != 1 || list[0].ID != "outbound" || list[0].Format != "seed" || fmt.Sprint(list[0].Events) != "[message:new]" ||
		list[0].Secret != ws.WebhookSecret || list[0].Granularity != "none" || list[0].Accounts == nil {
		t.Fatalf("a new workspace's endpoints: %+v", list)
	}

	ep := addEndpoint(t, ws, map[string]any{"url": "https://crm.example/in", "events": []string{"chat:created", "message:received:new"}})
	if !strings.HasPrefix(ep.ID, "ep_") || len(ep.ID) != 19 || ep.Format != "event" || ep.Granularity != "none" || !ep.Enabled ||
		ep.Description != "" || len(ep.Accounts) != 0 || ep.Accounts == nil || !strings.HasPrefix(ep.Secret, "whsec_") ||
		ep.Secret == ws.WebhookSecret || fmt.Sprint(ep.Events) != "[chat:created message:received:new]" || ep.CreatedAt == "" {
		t.Errorf("POST with defaults: %+v", ep)
	}
	seed := addEndpoint(t, ws, map[string]any{"url": "https://bundles.example/in", "events": []string{"*"}, "format": "seed",
		"granularity": "6h", "enabled": false, "description": "nightly bundles"})
	if seed.Format != "seed" || seed.Granularity != "6h" || seed.Enabled || seed.Description != "nightly bundles" ||
		fmt.Sprint(seed.Events) != "[message:new]" || seed.ID == ep.ID || seed.Secret == ep.Secret {
		t.Errorf("POST a seed endpoint: %+v", seed)
	}

	raw, list := listEndpoints(t, ws)
	if len(list) != 3 || list[0].ID != "outbound" || list[1].ID != ep.ID || list[2].ID != seed.ID {
		t.Fatalf("list: %s", raw)
	}
	status, body := ws.Do(t, http.MethodGet, "/api/v1/webhooks/"+ep.ID, nil)
	if got := decodeEndpoint(t, "GET", status, http.StatusOK, body); fmt.Sprint(got) != fmt.Sprint(ep) {
		t.Errorf("GET %s: %+v, want %+v", ep.ID, got, ep)
	}
	status, body = ws.Do(t, http.MethodGet, "/api/v1/webhooks/outbound", nil)
	if status != http.StatusOK || string(body) != oldOutbound {
		t.Errorf("GET outbound changed shape: %s, want %s", body, oldOutbound)
	}

	// PATCH changes what it names only.
	status, body = ws.Do(t, http.MethodPatch, "/api/v1/webhooks/"+ep.ID,
		map[string]any{"description": "CRM", "events": []string{"*"}, "enabled": false})
	patched := decodeEndpoint(t, "PATCH", status, http.StatusOK, body)
	if patched.Description != "CRM" || fmt.Sprint(patched.Events) != "[*]" || patched.Enabled || patched.URL != ep.URL ||
		patched.Secret != ep.Secret || patched.Format != "event" {
		t.Errorf("PATCH: %+v", patched)
	}
	// A format change re-checks the events, and may come with them.
	status, body = ws.Do(t, http.MethodPatch, "/api/v1/webhooks/"+ep.ID,
		map[string]any{"format": "seed", "events": []string{"message:sent:new"}, "granularity": "1h"})
	patched = decodeEndpoint(t, "PATCH to seed", status, http.StatusOK, body)
	if patched.Format != "seed" || fmt.Sprint(patched.Events) != "[message:sent:new]" || patched.Granularity != "1h" {
		t.Errorf("PATCH to seed: %+v", patched)
	}
	secret := "whsec_" + strings.Repeat("A", 40)
	status, body = ws.Do(t, http.MethodPatch, "/api/v1/webhooks/"+ep.ID, map[string]any{"secret": secret, "discard_pending": true})
	if got := decodeEndpoint(t, "PATCH secret", status, http.StatusOK, body); got.Secret != secret {
		t.Errorf("PATCH secret: %+v", got)
	}

	// Outbound is an endpoint to PATCH, within its rules.
	status, body = ws.Do(t, http.MethodPatch, "/api/v1/webhooks/outbound",
		map[string]any{"url": "https://hook.example/in", "description": "the first", "events": []string{"message:new"}, "format": "seed"})
	if got := decodeEndpoint(t, "PATCH outbound", status, http.StatusOK, body); got.ID != "outbound" || got.URL != "https://hook.example/in" ||
		got.Description != "the first" || got.Secret != ws.WebhookSecret {
		t.Errorf("PATCH outbound: %+v", got)
	}
	if !strings.Contains(getWebhook(t, ws), `"url":"https://hook.example/in"`) {
		t.Errorf("PATCH outbound is not what GET outbound shows: %s", getWebhook(t, ws))
	}

	// Another workspace sees none of them.
	for _, m := range []string{http.MethodGet, http.MethodPatch, http.MethodDelete} {
		status, body = other.Do(t, m, "/api/v1/webhooks/"+ep.ID, map[string]any{})
		wantError(t, status, body, http.StatusNotFound, "id")
	}
	if _, l := listEndpoints(t, other); len(l) != 1 {
		t.Errorf("another workspace lists %d endpoints", len(l))
	}

	status, body = ws.Do(t, http.MethodDelete, "/api/v1/webhooks/outbound", nil)
	wantError(t, status, body, http.StatusConflict, "id")
	status, body = ws.Do(t, http.MethodDelete, "/api/v1/webhooks/"+ep.ID, nil)
	if status != http.StatusNoContent || len(body) != 0 {
		t.Errorf("DELETE: %d %s", status, body)
	}
	for _, m := range []string{http.MethodGet, http.MethodDelete, http.MethodPatch} {
		status, body = ws.Do(t, m, "/api/v1/webhooks/"+ep.ID, map[string]any{})
		wantError(t, status, body, http.StatusNotFound, "id")
	}
	if _, l := listEndpoints(t, ws); len(l) != 2 || l[0].ID != "outbound" || l[1].ID != seed.ID {
		t.Errorf("after DELETE: %+v", l)
	}
	for _, id := range []string{"ep_0123456789abcdef", "ep_x", "nope", "%ff", "OUTBOUND"} {
		status, body = ws.Do(t, http.MethodGet, "/api/v1/webhooks/"+id, nil)
		wantError(t, status, body, http.StatusNotFound, "id")
		status, body = ws.Do(t, http.MethodGet, "/api/v1/webhooks/"+id+"/activity", nil)
		wantError(t, status, body, http.StatusNotFound, "id")
	}
}

// Every bad input is a 400 naming its field, and nothing is saved.
func TestEndpointBadInput(t *testing.T) {
	svc := chathooktest.Start(t, chathooktest.Options{})
	ws := svc.NewWorkspace(t, "acme")
	other := svc.NewWorkspace(t, "other")
	otherAccount := ingestOne(t, other, msg("o1", "account.phone", "+15550001111"))
	_ = otherAccount
	ep := addEndpoint(t, ws, map[string]any{"url": "https://crm.example/in", "events": []string{"message:new"}})
	seed := addEndpoint(t, ws, map[string]any{"url": "https://seed.example/in", "events": []string{"message:new"}, "format": "seed", "granularity": "1h"})
	before, _ := listEndpoints(t, ws)

	valid := func(pairs ...any) map[string]any {
		m := map[string]any{"url": "https://crm.example/x", "events": []string{"message:new"}}
		for i := 0; i < len(pairs); i += 2 {
			if pairs[i+1] == absent {
				delete(m, pairs[i].(string))
			} else {
				m[pairs[i].(string)] = pairs[i+1]
			}
		}
		return m
	}
	for _, c := range []struct {
		name, path, method string
		body               any
		field              string
	}{
		{"no url", "", "POST", valid("url", absent), "url"},
		{"null url", "", "POST", valid("url", nil), "url"},
		{"empty url", "", "POST", valid("url", ""), "url"},
		{"ftp url", "", "POST", valid("url", "ftp://x.example/"), "url"},
		{"no events", "", "POST", valid("events", absent), "events"},
		{"empty events", "", "POST", valid("events", []string{}), "events"},
		{"unknown event", "", "POST", valid("events", []string{"message:gone"}), "events"},
		{"event and the one it includes", "", "POST", valid("events", []string{"message:new", "message:sent:new"}), "events"},
		{"* beside a type", "", "POST", valid("events", []string{"*", "chat:created"}), "events"},
		{"events not strings", "", "POST", valid("events", []int{1}), "events"},
		{"chat event in seed", "", "POST", valid("events", []string{"chat:created"}, "format", "seed"), "events"},
		{"unknown format", "", "POST", valid("format", "xml"), "format"},
		{"unknown granularity", "", "POST", valid("format", "seed", "granularity", "2h"), "granularity"},
		{"granularity in the event format", "", "POST", valid("granularity", "1h"), "granularity"},
		{"long description", "", "POST", valid("description", strings.Repeat("é", 257)), "description"},
		{"NUL in description", "", "POST", valid("description", "a\x00b"), "description"},
		{"account not a string", "", "POST", valid("accounts", []int{1}), "accounts"},
		{"account not digits", "", "POST", valid("accounts", []string{"abc"}), "accounts"},
		{"account zero", "", "POST", valid("accounts", []string{"0"}), "accounts"},
		{"another workspace's account", "", "POST", valid("accounts", []string{"1"}), "accounts"},
		{"no such account", "", "POST", valid("accounts", []string{"99999"}), "accounts"},
		{"secret on POST", "", "POST", valid("secret", "whsec_"+strings.Repeat("A", 40)), "secret"},
		{"unknown field", "", "POST", valid("uri", "x"), "uri"},
		{"enabled not a bool", "", "POST", valid("enabled", "yes"), "enabled"},
		{"not an object", "", "POST", []any{}, "body"},

		{"PATCH empty url", ep.ID, "PATCH", map[string]any{"url": ""}, "url"},
		{"PATCH bad url, valid rest", ep.ID, "PATCH", map[string]any{"url": "javascript:x", "description": "ok"}, "url"},
		{"PATCH granularity on an event endpoint", ep.ID, "PATCH", map[string]any{"granularity": "24h"}, "granularity"},
		{"PATCH format event on a bundling endpoint", seed.ID, "PATCH", map[string]any{"format": "event"}, "format"},
		{"PATCH seed format with chat events", ep.ID, "PATCH", map[string]any{"format": "seed", "events": []string{"chat:created"}}, "events"},
		{"PATCH events against the format as it is", seed.ID, "PATCH", map[string]any{"events": []string{"message:status"}}, "events"},
		{"PATCH bad secret", ep.ID, "PATCH", map[string]any{"secret": "hunter2", "description": "x"}, "secret"},
		{"PATCH valid fields, bad account", ep.ID, "PATCH", map[string]any{"description": "x", "enabled": false, "accounts": []string{"7"}}, "accounts"},
		{"PATCH outbound to the event format", "outbound", "PATCH", map[string]any{"format": "event"}, "format"},
		{"PATCH outbound's events", "outbound", "PATCH", map[string]any{"events": []string{"message:received:new"}}, "events"},
		{"PATCH outbound's events, all", "outbound", "PATCH", map[string]any{"events": []string{"chat:created"}}, "events"},
		{"PATCH outbound's bad description", "outbound", "PATCH", map[string]any{"description": "a\x00"}, "description"},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := "/api/v1/webhooks"
			if c.path != "" {
				path += "/" + c.path
			}
			status, body := ws.Do(t, c.method, path, c.body)
			wantError(t, status, body, http.StatusBadRequest, c.field)
			if after, _ := listEndpoints(t, ws); after != before {
				t.Errorf("a refused %s changed the endpoints:\n got %s\nwant %s", c.method, after, before)
			}
		})
	}
}

// A workspace has at most 20 endpoints, outbound included: the 21st is
// refused with a 409 that says so, and deleting one makes room.
func TestEndpointLimit(t *testing.T) {
	svc := chathooktest.Start(t, chathooktest.Options{})
	ws := svc.NewWorkspace(t, "acme")
	var last endpointAnswer
	for i := 0; i < 19; i++ {
		last = addEndpoint(t, ws, map[string]any{"url": fmt.Sprintf("https://e%d.example/", i), "events": []string{"*"}})
	}
	status, body := ws.Do(t, http.MethodPost, "/api/v1/webhooks", map[string]any{"url": "https://e20.example/", "events": []string{"*"}})
	wantError(t, status, body, http.StatusConflict, "")
	if !strings.Contains(string(body), "at most 20") {
		t.Errorf("the 21st endpoint: %s", body)
	}
	if _, l := listEndpoints(t, ws); len(l) != 20 {
		t.Errorf("%d endpoints", len(l))
	}
	if status, body := ws.Do(t, http.MethodDelete, "/api/v1/webhooks/"+last.ID, nil); status != http.StatusNoContent {
		t.Fatalf("DELETE: %d %s", status, body)
	}
	addEndpoint(t, ws, map[string]any{"url": "https://e20.example/", "events": []string{"*"}})
}

// The routes under an endpoint reach that endpoint only: its test POST,
// activity, log, recovery, secret rotation and flush; outbound's are
// untouched by another's.
func TestEndpointRoutes(t *testing.T) {
	svc := chathooktest.Start(t, chathooktest.Options{})
	ws := svc.NewWorkspace(t, "acme")
	out := chathooktest.NewSink(t)
	ws.PointAt(t, out.URL)
	rcv := newReceiver(t)
	ep := addEndpoint(t, ws, map[string]any{"url": rcv.URL + "/events", "events": []string{"message:received:new"}})

	// test: a webhook:test event to the endpoint, none to outbound.
	status, body := ws.Do(t, http.MethodPost, "/api/v1/webhooks/"+ep.ID+"/test", nil)
	var tested struct {
		Status     int    `json:"status"`
		Error      string `json:"error"`
		DurationMS int64  `json:"duration_ms"`
	}
	if err := strictJSON(body, &tested); status != http.StatusOK || err != nil || tested.Status != http.StatusNoContent || tested.Error != "" {
		t.Fatalf("test: %d %s (%v)", status, body, err)
	}
	got, hdr := rcv.wait(t, 1)
	if !bytes.Contains(got[0], []byte(`"type":"webhook:test"`)) || !strings.HasPrefix(hdr[0].Get("webhook-id"), "evt_") {
		t.Errorf("test POST: %s %v", got[0], hdr[0])
	}
	rcv.mu.Lock()
	rcv.status = http.StatusTeapot
	rcv.mu.Unlock()
	status, body = ws.Do(t, http.MethodPost, "/api/v1/webhooks/"+ep.ID+"/test", map[string]any{})
	if err := strictJSON(body, &tested); status != http.StatusOK || err != nil || tested.Status != http.StatusTeapot || tested.Error == "" {
		t.Errorf("test answered 418: %d %s (%v)", status, body, err)
	}
	rcv.mu.Lock()
	rcv.status = http.StatusNoContent
	rcv.got, rcv.hdr = nil, nil
	rcv.mu.Unlock()
	if out.Attempts() != 0 {
		t.Errorf("outbound got %d POSTs from another endpoint's test", out.Attempts())
	}
	status, body = ws.Do(t, http.MethodPost, "/api/v1/webhooks/outbound/test", nil)
	if err := strictJSON(body, &tested); status != http.StatusOK || err != nil || tested.Status != http.StatusNoContent {
		t.Errorf("outbound's test: %d %s (%v)", status, body, err)
	}
	if got := out.WaitFor(t, 1, 10*time.Second); !strings.HasPrefix(got[0].Header.Get("webhook-id"), "msg_test_") {
		t.Errorf("outbound's test POST: %v", got[0].Header)
	}
	status, body = ws.Do(t, http.MethodPost, "/api/v1/webhooks/"+ep.ID+"/test", map[string]any{"x": 1})
	wantError(t, status, body, http.StatusBadRequest, "x")

	// A message reaches both; each logs its own delivery.
	ingestOne(t, ws, msg("m1"))
	out.WaitFor(t, 2, 10*time.Second)
	got, hdr = rcv.wait(t, 1)
	if !bytes.Contains(got[0], []byte(`"type":"message:received:new"`)) {
		t.Errorf("event endpoint got %s", got[0])
	}
	eventID := hdr[0].Get("webhook-id")
	activity := func(id string) string {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			status, body := ws.Do(t, http.MethodGet, "/api/v1/webhooks/"+id+"/activity", nil)
			if status != http.StatusOK {
				t.Fatalf("activity of %s: %d %s", id, status, body)
			}
			if strings.Contains(string(body), `"status":"delivered"`) || time.Now().After(deadline) {
				return string(body)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	epActivity, outActivity := activity(ep.ID), activity("outbound")
	if !strings.Contains(epActivity, eventID) || strings.Count(epActivity, `"webhook_id"`) != 1 {
		t.Errorf("the endpoint's activity: %s, want its event %s only", epActivity, eventID)
	}
	if strings.Contains(outActivity, eventID) || strings.Count(outActivity, `"webhook_id"`) != 1 {
		t.Errorf("outbound's activity: %s, want its own delivery only", outActivity)
	}
	status, body = ws.Do(t, http.MethodGet, "/api/v1/webhooks/outbound/activity", nil)
	if status != http.StatusOK || string(body) != outActivity {
		t.Errorf("/outbound/activity is not /{id}/activity of outbound: %s", body)
	}
	logOf := func(id string) []chathooktest.LogRow {
		t.Helper()
		status, body := ws.Do(t, http.MethodGet, "/api/v1/webhooks/"+id+"/log?format=jsonl", nil)
		if status != http.StatusOK {
			t.Fatalf("log of %s: %d %s", id, status, body)
		}
		var rows []chathooktest.LogRow
		sc := bufio.NewScanner(bytes.NewReader(body))
		for sc.Scan() {
			var r chathooktest.LogRow
			if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
				t.Fatal(err)
			}
			rows = append(rows, r)
		}
		return rows
	}
	if rows := logOf(ep.ID); len(rows) != 1 || rows[0].WebhookID != eventID || rows[0].Kind != "event" || !strings.HasSuffix(rows[0].URL, "/events") {
		t.Errorf("the endpoint's log: %+v", rows)
	}
	if rows := ws.Log(t); len(rows) != 1 || rows[0].WebhookID == eventID || rows[0].URL != out.URL {
		t.Errorf("outbound's log: %+v", rows)
	}

	// Rotating the endpoint's secret leaves outbound's alone.
	status, body = ws.Do(t, http.MethodPost, "/api/v1/webhooks/"+ep.ID+"/secret/rotate", nil)
	var r rotated
	if err := strictJSON(body, &r); status != http.StatusOK || err != nil || r.Secret == ep.Secret || r.Secret == ws.WebhookSecret {
		t.Fatalf("rotate: %d %s (%v)", status, body, err)
	}
	if s := secrets(t, ws); s.Secret != ws.WebhookSecret || s.PreviousSecretValidUntil != "" {
		t.Errorf("outbound after another endpoint's rotation: %+v", s)
	}
	status, body = ws.Do(t, http.MethodGet, "/api/v1/webhooks/"+ep.ID, nil)
	if got := decodeEndpoint(t, "GET", status, http.StatusOK, body); got.Secret != r.Secret || got.PreviousSecretValidUntil != r.PreviousValidUntil {
		t.Errorf("the endpoint after its rotation: %+v, want %+v", got, r)
	}

	// Recover: the endpoint's delivery failed for good, outbound's did
	// not; recovering the endpoint queues its own only.
	rcv.mu.Lock()
	rcv.status = http.StatusGone
	rcv.mu.Unlock()
	since := time.Now().UTC().Add(-time.Minute).Format(time.RFC3339)
	status, body = ws.Do(t, http.MethodPost, "/api/v1/webhooks/"+ep.ID+"/recover", map[string]any{"since": since})
	if status != http.StatusAccepted || string(body) != `{"deliveries":0}`+"\n" {
		t.Errorf("recover with nothing failed: %d %s", status, body)
	}
	status, body = ws.Do(t, http.MethodPost, "/api/v1/webhooks/"+ep.ID+"/recover", map[string]any{"since": "yesterday"})
	wantError(t, status, body, http.StatusBadRequest, "since")

	// Flush: the seed endpoint's bundles, not outbound's.
	bundled := newReceiver(t)
	seed := addEndpoint(t, ws, map[string]any{"url": bundled.URL, "events": []string{"message:new"}, "format": "seed", "granularity": "24h"})
	if status, body := ws.Do(t, http.MethodPut, "/api/v1/webhooks/outbound", map[string]any{"granularity": "24h"}); status != http.StatusOK {
		t.Fatalf("outbound granularity: %d %s", status, body)
	}
	ingestBatch(t, ws, msg("b1"), msg("b2"))
	status, body = ws.Do(t, http.MethodPost, "/api/v1/webhooks/"+seed.ID+"/flush", nil)
	if status != http.StatusOK || string(body) != `{"bundles":1,"messages":2}`+"\n" {
		t.Fatalf("flush: %d %s", status, body)
	}
	if got, hdr := bundled.wait(t, 1); !strings.HasPrefix(hdr[0].Get("webhook-id"), "bnd_") || !bytes.Contains(got[0], []byte(`"b2"`)) {
		t.Errorf("flushed: %v %s", hdr[0], got[0])
	}
	status, body = ws.Do(t, http.MethodPost, "/api/v1/webhooks/"+seed.ID+"/flush", nil)
	if status != http.StatusOK || string(body) != `{"bundles":0,"messages":0}`+"\n" {
		t.Errorf("flush again: %d %s", status, body)
	}
	status, body = ws.Do(t, http.MethodPost, "/api/v1/webhooks/outbound/flush", nil)
	if status != http.StatusOK || string(body) != `{"bundles":1,"messages":2}`+"\n" {
		t.Errorf("outbound's flush after the other's: %d %s", status, body)
	}

	// A deleted endpoint's routes are 404.
	if status, body := ws.Do(t, http.MethodDelete, "/api/v1/webhooks/"+ep.ID, nil); status != http.StatusNoContent {
		t.Fatalf("DELETE: %d %s", status, body)
	}
	for _, r := range []struct{ method, sub string }{{"GET", "activity"}, {"GET", "log"}, {"POST", "flush"}, {"POST", "recover"},
		{"POST", "secret/rotate"}, {"POST", "test"}} {
		status, body := ws.Do(t, r.method, "/api/v1/webhooks/"+ep.ID+"/"+r.sub, map[string]any{"since": since})
		wantError(t, status, body, http.StatusNotFound, "id")
	}
}

// The outbound webhook without a URL has nothing to test: 409 naming url.
func TestEndpointTestWithoutURL(t *testing.T) {
	svc := chathooktest.Start(t, chathooktest.Options{})
	ws := svc.NewWorkspace(t, "acme")
	status, body := ws.Do(t, http.MethodPost, "/api/v1/webhooks/outbound/test", nil)
	wantError(t, status, body, http.StatusConflict, "url")
}
