package web_test

import (
	"context"
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/event"
	"github.com/chathook/chathook/store"
)

// endpoint adds an endpoint to workspace ws through the store.
func (h *harness) endpoint(ws, id, hook, description string, f event.Format, events ...string) chathook.Webhook {
	h.t.Helper()
	wh, err := h.st.CreateWebhook(context.Background(), ws, chathook.Webhook{
		ID: id, URL: hook, Description: description, Events: events, Format: f, Granularity: chathook.NoAggregation,
		Accounts: []int64{}, Enabled: true, Secret: "whsec_dGVzdHRlc3R0ZXN0dGVzdHRlc3R0ZXN0dGVzdA==",
	}, h.clock())
	if err != nil {
		h.t.Fatal(err)
	}
	return wh
}

// endpointRow is the list's row of an endpoint, tags stripped and spaces
// squeezed: what a person reads in it.
func endpointRow(t *testing.T, body, id string) string {
	t.Helper()
	m := regexp.MustCompile(`(?s)<tr data-endpoint="` + regexp.QuoteMeta(id) + `">(.*?)</tr>`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no row of %s in the list:\n%s", id, body)
	}
	text := regexp.MustCompile(`<[^>]+>`).ReplaceAllString(m[1], " ")
	return html.UnescapeString(strings.Join(strings.Fields(text), " "))
}

// The list shows every endpoint, outbound first, with its URL,
// description, events, format, state (and why it was disabled) and the
// latest delivery's result; the navigation leads to it.
func TestWebhooksListShowsEveryEndpoint(t *testing.T) {
	t.Parallel()
	h := newHarness(t, true, "")
	ctx := context.Background()
	ws := h.ws.WorkspaceID
	hook := "http://127.0.0.1:9/outbound"
	if _, err := h.st.UpdateWebhook(ctx, ws, chathook.Outbound, h.clock(), chathook.WebhookUpdate{URL: &hook}); err != nil {
		t.Fatal(err)
	}
	h.ingest(ws, "John", "one")
	h.disable(ws) // outbound: ten failures, disabled automatically
	crm := h.endpoint(ws, "ep_00000000000000a1", "https://crm.example.com/in", "CRM <sync>", event.Envelope, event.ChatCreated, event.MessageReceivedNew)
	off := h.endpoint(ws, "ep_00000000000000b2", "https://audit.example.com/in", "", event.Envelope, event.All)
	enabled := false
	if _, err := h.st.UpdateWebhook(ctx, ws, off.ID, h.clock(), chathook.WebhookUpdate{Enabled: &enabled}); err != nil {
		t.Fatal(err)
	}
	other := h.workspace("other")
	h.endpoint(other.WorkspaceID, "ep_00000000000000c3", "https://theirs.example.com/in", "Theirs", event.Envelope, event.All)

	v := h.signedIn("acme")
	a := v.get("/settings/webhooks/")
	if a.status != http.StatusOK {
		t.Fatalf("the list: %d %s", a.status, a.body)
	}
	if !strings.Contains(a.body, `href="/settings/webhooks/" id="nav-webhooks" aria-current="page"`) {
		t.Errorf("the navigation does not lead to the list")
	}
	order := regexp.MustCompile(`<tr data-endpoint="([^"]+)">`).FindAllStringSubmatch(a.body, -1)
	if len(order) != 3 || order[0][1] != chathook.Outbound || order[1][1] != crm.ID || order[2][1] != off.ID {
		t.Fatalf("rows %v, want outbound, %s, %s", order, crm.ID, off.ID)
	}
	for id, want := range map[string][]string{
		chathook.Outbound: {"Outbound", hook, "message:new", "seed", "disabled automatically", "10 consecutive", "failed", "HTTP 503"},
		crm.ID:            {"CRM <sync>", crm.ID, "https://crm.example.com/in", "chat:created", "message:received:new", "event", "enabled", "none yet"},
		off.ID:            {off.ID, "https://audit.example.com/in", "all events", "disabled by you"},
	} {
		row := endpointRow(t, a.body, id)
		for _, w := range want {
			if !strings.Contains(row, w) {
				t.Errorf("the row of %s lacks %q: %s", id, w, row)
			}
		}
	}
	if strings.Contains(a.body, "CRM <sync>") || strings.Contains(a.body, "Theirs") {
		t.Errorf("the description is not escaped, or another workspace's endpoint is listed")
	}
	if !strings.Contains(a.body, `href="/settings/webhooks/new" id="add-endpoint"`) {
		t.Errorf("no link to the add form")
	}
	// The outbound page still names the list and itself.
	if p := v.get("/settings/webhooks/outbound"); p.status != http.StatusOK || !strings.Contains(p.body, `<a href="/settings/webhooks/" id="all-endpoints">`) {
		t.Errorf("outbound's page: %d", p.status)
	}
}

func addForm(hook, description, format, granularity string, events []string, accounts ...string) url.Values {
	return url.Values{"url": {hook}, "description": {description}, "format": {format}, "granularity": {granularity},
		"events": events, "accounts": accounts}
}

// The add form checks as the API does and shows every error at once,
// each beside its field, keeping what was typed; a valid form creates an
// endpoint with an id and a secret of its own and leads to its page.
func TestAddEndpointFormChecksEveryFieldAndCreates(t *testing.T) {
	t.Parallel()
	h := newHarness(t, false, "")
	ctx := context.Background()
	ws := h.ws.WorkspaceID
	acc := h.link(ws, "+15550000001", "Support", "s@acme.example", chathook.AccountConnected)
	theirs := h.link(h.workspace("other").WorkspaceID, "+15550000009", "Theirs", "t@other.example", chathook.AccountConnected)
	v := h.signedIn("acme")
	page := v.get("/settings/webhooks/new")
	if page.status != http.StatusOK {
		t.Fatalf("the form: %d", page.status)
	}
	for _, want := range []string{`value="message:received:new"`, `value="*" id="event-all"`, "a message is received", "Chats", "WhatsApp accounts",
		fmt.Sprintf(`name="accounts" value="%d"`, acc.ID), `value="event" id="format-event" checked`} {
		if !strings.Contains(page.body, want) {
			t.Errorf("the form lacks %s", want)
		}
	}
	if strings.Contains(page.body, "+15550000009") {
		t.Errorf("the form offers another workspace's account")
	}

	a := v.post("/settings/webhooks/new", addForm("http://127.0.0.1/hook", strings.Repeat("d", 257), "seed", "6h",
		[]string{event.MessageStatus}, strconv.FormatInt(theirs.ID, 10)))
	if a.status != http.StatusUnprocessableEntity {
		t.Fatalf("a bad form: %d %s", a.status, a.body)
	}
	for _, id := range []string{"url-error", "description-error", "events-error", "accounts-error"} {
		if !strings.Contains(a.body, `id="`+id+`"`) {
			t.Errorf("no %s beside its field", id)
		}
	}
	if !strings.Contains(html.UnescapeString(a.body), `"message:status" cannot be sent in the seed format`) ||
		!strings.Contains(a.body, `value="http://127.0.0.1/hook"`) || !strings.Contains(a.body, `value="seed" id="format-seed" checked`) ||
		!strings.Contains(a.body, `value="message:status" checked`) || !strings.Contains(a.body, `<option value="6h" selected>`) {
		t.Errorf("the refused form does not keep what was typed, or says nothing of the seed format:\n%s", a.body)
	}
	a = v.post("/settings/webhooks/new", addForm("https://hooks.example.com/x", "", "event", "1h", []string{event.All, event.MessageNew}))
	if a.status != http.StatusUnprocessableEntity || !strings.Contains(a.body, `id="granularity-error"`) || !strings.Contains(a.body, `id="events-error"`) ||
		strings.Contains(a.body, `id="url-error"`) {
		t.Errorf("granularity with the event format, and * beside a type: %d\n%s", a.status, a.body)
	}
	a = v.post("/settings/webhooks/new", addForm("https://hooks.example.com/x", "caf\xe9", "event", "none", []string{event.MessageNew}))
	if a.status != http.StatusBadRequest { // every form is refused so (form.go)
		t.Errorf("a description that is not UTF-8: %d", a.status)
	}
	a = v.post("/settings/webhooks/new", addForm("", "", "xml", "none", nil))
	for _, id := range []string{"url-error", "format-error", "events-error"} {
		if a.status != http.StatusUnprocessableEntity || !strings.Contains(a.body, `id="`+id+`"`) {
			t.Errorf("an empty form: %d, no %s", a.status, id)
		}
	}
	if list, _ := h.st.Webhooks(ctx, ws); len(list) != 1 {
		t.Fatalf("refused forms created %d endpoints", len(list)-1)
	}

	a = v.post("/settings/webhooks/new", addForm("https://hooks.example.com/crm", "  CRM  ", "event", "none",
		[]string{event.MessageSentNew, event.MessageReceivedNew}, strconv.FormatInt(acc.ID, 10)))
	if a.status != http.StatusSeeOther {
		t.Fatalf("a valid form: %d %s", a.status, a.body)
	}
	m := regexp.MustCompile(`^/settings/webhooks/(ep_[0-9a-f]{16})\?created=1$`).FindStringSubmatch(a.header.Get("Location"))
	if m == nil {
		t.Fatalf("led to %q", a.header.Get("Location"))
	}
	wh, err := h.st.Webhook(ctx, ws, m[1])
	if err != nil {
		t.Fatal(err)
	}
	out, _ := h.st.Webhook(ctx, ws, chathook.Outbound)
	if wh.URL != "https://hooks.example.com/crm" || wh.Description != "CRM" || wh.Format != event.Envelope || !wh.Enabled ||
		!slices.Equal(wh.Events, []string{event.MessageReceivedNew, event.MessageSentNew}) || !slices.Equal(wh.Accounts, []int64{acc.ID}) ||
		!strings.HasPrefix(wh.Secret, "whsec_") || wh.Secret == out.Secret || wh.Granularity != chathook.NoAggregation {
		t.Errorf("created %+v", wh)
	}
	p := v.get(a.header.Get("Location"))
	if p.status != http.StatusOK || !strings.Contains(p.body, `id="created"`) || !strings.Contains(p.body, `<h2 id="endpoint-name">CRM</h2>`) ||
		!strings.Contains(p.body, inHTML(wh.Secret)) || !strings.Contains(p.body, `value="message:sent:new" checked`) {
		t.Errorf("the new endpoint's page: %d\n%s", p.status, p.body)
	}

	// A seed-format endpoint may aggregate.
	a = v.post("/settings/webhooks/new", addForm("https://hooks.example.com/zap", "", "seed", "24h", []string{event.All}))
	if a.status != http.StatusSeeOther {
		t.Fatalf("a seed endpoint: %d %s", a.status, a.body)
	}
	id := strings.TrimSuffix(strings.TrimPrefix(a.header.Get("Location"), "/settings/webhooks/"), "?created=1")
	if wh, _ := h.st.Webhook(ctx, ws, id); wh.Format != event.Seed || wh.Granularity != chathook.Daily || !slices.Equal(wh.Events, []string{event.MessageNew}) {
		t.Errorf("the seed endpoint: %+v", wh)
	}
	if a := v.post("/settings/webhooks/new", url.Values{"url": {"https://hooks.example.com/x"}, "events": {"*"}, "csrf": {"forged"}}); a.status != http.StatusForbidden {
		t.Errorf("without the CSRF token: %d", a.status)
	}
}

// A workspace has at most 20 endpoints: the list and the form say so,
// and the form refuses one more.
func TestAddEndpointStopsAtTheLimit(t *testing.T) {
	t.Parallel()
	h := newHarness(t, false, "")
	ws := h.ws.WorkspaceID
	for i := 1; i < chathook.MaxEndpoints; i++ {
		h.endpoint(ws, fmt.Sprintf("ep_%016x", i), "https://hooks.example.com/x", "", event.Envelope, event.All)
	}
	v := h.signedIn("acme")
	if a := v.get("/settings/webhooks/"); !strings.Contains(a.body, `id="full"`) || strings.Contains(a.body, `id="add-endpoint"`) {
		t.Errorf("the list of a full workspace offers to add one")
	}
	v.get("/settings/webhooks/new")
	a := v.post("/settings/webhooks/new", addForm("https://hooks.example.com/y", "", "event", "none", []string{event.All}))
	if a.status != http.StatusUnprocessableEntity || !strings.Contains(a.body, `id="limit-error"`) || !strings.Contains(a.body, "20 endpoints") {
		t.Fatalf("the 21st: %d %s", a.status, a.body)
	}
	if list, _ := h.st.Webhooks(context.Background(), ws); len(list) != chathook.MaxEndpoints {
		t.Errorf("%d endpoints", len(list))
	}
}

// An endpoint's page edits its description, events and accounts with
// the same checks, runs the outbound page's actions for it alone, and
// deletes it; another workspace's endpoint is a 404 everywhere.
func TestEndpointPageEditsActsAndDeletes(t *testing.T) {
	t.Parallel()
	h := newHarness(t, true, "")
	ctx := context.Background()
	ws := h.ws.WorkspaceID
	var mu sync.Mutex
	var got []string
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, string(body))
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(sink.Close)
	ep := h.endpoint(ws, "ep_00000000000000a1", sink.URL, "CRM", event.Envelope, event.MessageNew)
	v := h.signedIn("acme")
	page := v.get("/settings/webhooks/" + ep.ID)
	for _, want := range []string{`action="/settings/webhooks/ep_00000000000000a1"`, `action="/settings/webhooks/ep_00000000000000a1/test"`,
		`action="/settings/webhooks/ep_00000000000000a1/recover"`, `action="/settings/webhooks/ep_00000000000000a1/secret/rotate"`,
		`action="/settings/webhooks/ep_00000000000000a1/delete"`, `data-src="/settings/webhooks/ep_00000000000000a1/activity"`,
		`href="/settings/webhooks/ep_00000000000000a1/log"`, `value="message:new" checked`, `id="description"`} {
		if !strings.Contains(page.body, want) {
			t.Errorf("the endpoint's page lacks %s", want)
		}
	}
	if strings.Contains(page.body, `id="granularity"`) {
		t.Errorf("an event-format endpoint is offered aggregation")
	}
	if out := v.get("/settings/webhooks/outbound"); strings.Contains(out.body, `/delete"`) || strings.Contains(out.body, `name="events"`) {
		t.Errorf("outbound's page offers delete or events")
	}

	edit := url.Values{"url": {sink.URL}, "enabled": {"on"}, "description": {"CRM sync"}, "events": {event.MessageNew, event.MessageSentNew}}
	a := v.post("/settings/webhooks/"+ep.ID, edit)
	if a.status != http.StatusUnprocessableEntity || !strings.Contains(a.body, `id="events-error"`) || !strings.Contains(a.body, `value="CRM sync"`) {
		t.Errorf("message:new beside message:sent:new: %d", a.status)
	}
	edit["url"] = []string{""}
	if a := v.post("/settings/webhooks/"+ep.ID, edit); a.status != http.StatusUnprocessableEntity || !strings.Contains(a.body, `id="url-error"`) {
		t.Errorf("no URL: %d", a.status)
	}
	edit["url"], edit["events"], edit["granularity"] = []string{sink.URL}, []string{event.MessageStatus, event.ChatCreated}, []string{"none"}
	a = v.post("/settings/webhooks/"+ep.ID, edit)
	if a.status != http.StatusSeeOther || a.header.Get("Location") != "/settings/webhooks/"+ep.ID+"?saved=1" {
		t.Fatalf("a valid edit: %d %s", a.status, a.body)
	}
	wh, _ := h.st.Webhook(ctx, ws, ep.ID)
	if wh.Description != "CRM sync" || !slices.Equal(wh.Events, []string{event.ChatCreated, event.MessageStatus}) || !wh.Enabled {
		t.Errorf("saved %+v", wh)
	}

	// The test button posts a webhook:test event to this endpoint.
	v.get("/settings/webhooks/" + ep.ID)
	a = v.post("/settings/webhooks/"+ep.ID+"/test", url.Values{})
	if !strings.Contains(a.body, "Delivered: the receiver answered HTTP 204") {
		t.Errorf("the test: %d\n%s", a.status, a.body)
	}
	mu.Lock()
	if len(got) != 1 || !strings.Contains(got[0], `"type":"webhook:test"`) {
		t.Errorf("the receiver got %q", got)
	}
	mu.Unlock()
	a = v.post("/settings/webhooks/"+ep.ID+"/secret/rotate", url.Values{})
	if a.header.Get("Location") != "/settings/webhooks/"+ep.ID+"?rotated=1#secret" {
		t.Errorf("rotate led to %q", a.header.Get("Location"))
	}
	if after, _ := h.st.Webhook(ctx, ws, ep.ID); after.Secret == ep.Secret {
		t.Errorf("the endpoint's secret was not rotated")
	}
	if out, _ := h.st.Webhook(ctx, ws, chathook.Outbound); out.Secret != h.ws.WebhookSecret {
		t.Errorf("rotating the endpoint's secret rotated outbound's")
	}
	if a := v.get("/settings/webhooks/" + ep.ID + "/activity"); a.status != http.StatusOK || !strings.Contains(a.body, "No deliveries yet") {
		t.Errorf("the activity fragment: %d %s", a.status, a.body)
	}
	if a := v.get("/settings/webhooks/" + ep.ID + "/log"); a.status != http.StatusOK || !strings.HasPrefix(a.header.Get("Content-Type"), "text/csv") {
		t.Errorf("the log: %d %s", a.status, a.header.Get("Content-Type"))
	}

	// Another workspace sees none of it.
	h.workspace("intruder")
	w := h.signedIn("intruder")
	for _, path := range []string{"", "/activity", "/log"} {
		if a := w.get("/settings/webhooks/" + ep.ID + path); a.status != http.StatusNotFound {
			t.Errorf("another workspace's GET %s: %d", path, a.status)
		}
	}
	w.get("/settings/webhooks/")
	for _, path := range []string{"", "/test", "/secret/rotate", "/delete", "/recover"} {
		if a := w.post("/settings/webhooks/"+ep.ID+path, url.Values{"url": {"https://x.example.com"}, "events": {"*"}, "since": {"2026-01-01T00:00"}}); a.status != http.StatusNotFound {
			t.Errorf("another workspace's POST %s: %d", path, a.status)
		}
	}
	if a := v.get("/settings/webhooks/ep_ffffffffffffffff"); a.status != http.StatusNotFound {
		t.Errorf("no such endpoint: %d", a.status)
	}

	// Outbound cannot be deleted; the endpoint can.
	if a := v.post("/settings/webhooks/outbound/delete", url.Values{}); a.status != http.StatusConflict {
		t.Errorf("deleting outbound: %d", a.status)
	}
	if a := v.post("/settings/webhooks/"+ep.ID+"/delete", url.Values{"csrf": {"forged"}}); a.status != http.StatusForbidden {
		t.Errorf("delete without the CSRF token: %d", a.status)
	}
	a = v.post("/settings/webhooks/"+ep.ID+"/delete", url.Values{})
	if a.status != http.StatusSeeOther || a.header.Get("Location") != "/settings/webhooks/?deleted="+ep.ID {
		t.Fatalf("delete: %d %s", a.status, a.header.Get("Location"))
	}
	if _, err := h.st.Webhook(ctx, ws, ep.ID); !errors.Is(err, chathook.ErrNotFound) {
		t.Errorf("after delete: %v", err)
	}
	if list := v.get(a.header.Get("Location")); !strings.Contains(list.body, `id="deleted"`) || strings.Contains(list.body, `data-endpoint="`+ep.ID+`"`) {
		t.Errorf("the list after delete:\n%s", list.body)
	}
}

// A path whose id no endpoint can have, bytes that are not UTF-8
// included, is a 404 on every endpoint route, as in the API: it is not
// looked up (PostgreSQL would refuse the parameter, a 500).
func TestEndpointIDNotUTF8IsNotFound(t *testing.T) {
	t.Parallel()
	h := newHarness(t, false, "")
	v := h.signedIn("acme")
	const id = "%FF"
	for _, path := range []string{"", "/activity", "/log"} {
		if a := v.get("/settings/webhooks/" + id + path); a.status != http.StatusNotFound || !strings.Contains(a.body, "no such webhook") {
			t.Errorf("GET %s: %d, want 404\n%s", path, a.status, a.body)
		}
	}
	v.get("/settings/webhooks/")
	for _, path := range []string{"", "/test", "/secret/rotate", "/delete", "/recover"} {
		form := url.Values{"url": {"https://x.example.com"}, "granularity": {"none"}, "since": {"2026-01-01T00:00"}}
		if a := v.post("/settings/webhooks/"+id+path, form); a.status != http.StatusNotFound || !strings.Contains(a.body, "no such webhook") {
			t.Errorf("POST %s: %d, want 404\n%s", path, a.status, a.body)
		}
	}
}

// An endpoint's activity and log are its own: a delivery of outbound is
// not in them, and theirs are not in outbound's.
func TestEndpointActivityIsItsOwn(t *testing.T) {
	t.Parallel()
	h := newHarness(t, true, "")
	ctx := context.Background()
	ws := h.ws.WorkspaceID
	ep := h.endpoint(ws, "ep_00000000000000a1", "http://127.0.0.1:9/ep", "CRM", event.Envelope, event.MessageReceivedNew)
	h.ingest(ws, "John", "one")
	got, err := h.st.ClaimDue(ctx, "test", time.Now(), time.Minute, 10)
	if err != nil || len(got) != 1 || got[0].Webhook.ID != ep.ID {
		t.Fatalf("claimed %v %v (outbound has no URL: only the endpoint's)", got, err)
	}
	now := time.Now()
	if err := h.st.Finish(ctx, []store.Finished{{Outcome: chathook.Outcome{DeliveryID: got[0].ID, URL: ep.URL, At: now, Status: 500, Err: "HTTP 500 Internal Server Error"}}}); err != nil {
		t.Fatal(err)
	}
	v := h.signedIn("acme")
	if a := v.get("/settings/webhooks/" + ep.ID + "/activity"); !strings.Contains(a.body, "HTTP 500 Internal Server Error") {
		t.Errorf("the endpoint's activity:\n%s", a.body)
	}
	if a := v.get("/settings/webhooks/outbound/activity"); !strings.Contains(a.body, "No deliveries yet") {
		t.Errorf("outbound's activity shows the endpoint's delivery:\n%s", a.body)
	}
	if a := v.get("/settings/webhooks/" + ep.ID + "/log"); strings.Count(a.body, "\n") != 2 || !strings.Contains(a.body, "HTTP 500") {
		t.Errorf("the endpoint's log:\n%s", a.body)
	}
	if a := v.get("/settings/webhooks/outbound/log"); strings.Count(a.body, "\n") != 1 {
		t.Errorf("outbound's log has the endpoint's attempts:\n%s", a.body)
	}
	if a := v.get("/settings/webhooks/"); !strings.Contains(endpointRow(t, a.body, ep.ID), "HTTP 500") {
		t.Errorf("the list does not show the latest result")
	}
}

// A seed-format endpoint aggregates like outbound; an event-format one
// is refused a granularity. /settings/webhooks leads to the list.
func TestEndpointGranularityFollowsItsFormat(t *testing.T) {
	t.Parallel()
	h := newHarness(t, false, "")
	ctx := context.Background()
	ws := h.ws.WorkspaceID
	seed := h.endpoint(ws, "ep_00000000000000a1", "https://zap.example.com/in", "Zapier", event.Seed, event.MessageNew)
	ev := h.endpoint(ws, "ep_00000000000000b2", "https://crm.example.com/in", "CRM", event.Envelope, event.MessageNew)
	v := h.signedIn("acme")
	if a := v.get("/settings/webhooks"); a.status/100 != 3 || a.header.Get("Location") != "/settings/webhooks/" {
		t.Errorf("/settings/webhooks: %d %s", a.status, a.header.Get("Location"))
	}
	if a := v.get("/settings/webhooks/" + seed.ID); !strings.Contains(a.body, `id="granularity"`) || strings.Contains(a.body, `value="message:status" checked`) {
		t.Errorf("the seed endpoint's page offers no aggregation")
	}
	form := url.Values{"url": {"https://zap.example.com/in"}, "enabled": {"on"}, "granularity": {"6h"}, "events": {event.MessageNew}}
	if a := v.post("/settings/webhooks/"+seed.ID, form); a.status != http.StatusSeeOther {
		t.Fatalf("6h for the seed endpoint: %d %s", a.status, a.body)
	}
	if wh, _ := h.st.Webhook(ctx, ws, seed.ID); wh.Granularity != chathook.SixHourly {
		t.Errorf("saved %+v", wh)
	}
	form["events"] = []string{event.MessageStatus}
	if a := v.post("/settings/webhooks/"+seed.ID, form); a.status != http.StatusUnprocessableEntity || !strings.Contains(a.body, `id="events-error"`) {
		t.Errorf("message:status for a seed endpoint: %d", a.status)
	}
	form["url"], form["events"] = []string{"https://crm.example.com/in"}, []string{event.MessageNew}
	if a := v.post("/settings/webhooks/"+ev.ID, form); a.status != http.StatusUnprocessableEntity || !strings.Contains(a.body, `id="granularity-error"`) {
		t.Errorf("6h for an event endpoint: %d", a.status)
	}
	if wh, _ := h.st.Webhook(ctx, ws, ev.ID); wh.Granularity != chathook.NoAggregation {
		t.Errorf("the event endpoint aggregates: %+v", wh)
	}
}
