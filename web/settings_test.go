package web_test

import (
	"context"
	"encoding/csv"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/store"
)

func settingsForm(u, granularity string, enabled bool) url.Values {
	f := url.Values{"url": {u}, "granularity": {granularity}}
	if enabled {
		f.Set("enabled", "on")
	}
	return f
}

// An invalid field is named beside it, the typed values stay in the form,
// and nothing is saved; a valid form saves every field.
func TestSettingsValidationSavesNothingAndSaysWhere(t *testing.T) {
	t.Parallel()
	h := newHarness(t, false, "")
	v := h.signedIn("acme")
	v.get("/settings/webhooks/outbound")
	for _, tc := range []struct {
		name, url, granularity, field, says string
	}{
		{"relative URL", "hooks/x", "1h", "url", "must start with http://, https://"},
		{"ftp", "ftp://hooks.example.com/x", "none", "url", "must start with http://, https://"},
		{"loopback", "http://127.0.0.1:9000/hook", "none", "url", "--allow-private-targets"},
		{"metadata", "http://169.254.169.254/latest", "none", "url", "link-local or metadata"},
		{"loopback as a number", "http://2130706433/hook", "none", "url", "--allow-private-targets"},
		{"documentation range", "http://192.0.2.10/hook", "none", "url", "--allow-private-targets"},
		{"password", "https://user:pass@hooks.example.com/x", "none", "url", "user name or password"},
		{"port", "https://hooks.example.com:99999/x", "none", "url", "use 1 to 65535"},
		{"granularity", "https://hooks.example.com/x", "2h", "granularity", "Choose one of the offered granularities."},
	} {
		a := v.post("/settings/webhooks/outbound", settingsForm(tc.url, tc.granularity, true))
		if a.status != http.StatusUnprocessableEntity {
			t.Errorf("%s: %d, want 422", tc.name, a.status)
			continue
		}
		errP := fmt.Sprintf(`<p class="field-error" id="%s-error">`, tc.field)
		i := strings.Index(a.body, errP)
		if i < 0 || !strings.Contains(a.body[i:i+400], tc.says) {
			t.Errorf("%s: no error beside %s saying %q", tc.name, tc.field, tc.says)
		}
		// As typed, but for a password: a page never shows one.
		if !strings.Contains(a.body, `value="`+chathook.RedactURL(tc.url)+`"`) || strings.Contains(a.body, "user:pass@hooks") {
			t.Errorf("%s: the URL typed is not kept, or shows its password", tc.name)
		}
	}
	if wh, _ := h.st.Webhook(context.Background(), h.ws.WorkspaceID, chathook.Outbound); wh.URL != "" || wh.Granularity != chathook.NoAggregation || !wh.Enabled {
		t.Fatalf("an invalid form saved something: %+v", wh)
	}
	a := v.post("/settings/webhooks/outbound", settingsForm("https://hooks.example.com/chathook", "12h", false))
	if a.status != http.StatusSeeOther || a.header.Get("Location") != "/settings/webhooks/outbound?saved=1" {
		t.Fatalf("a valid form: %d %s", a.status, a.body)
	}
	wh, _ := h.st.Webhook(context.Background(), h.ws.WorkspaceID, chathook.Outbound)
	if wh.URL != "https://hooks.example.com/chathook" || wh.Granularity != chathook.TwelveHourly || wh.Enabled {
		t.Errorf("saved %+v", wh)
	}
	a = v.get("/settings/webhooks/outbound?saved=1")
	if !strings.Contains(a.body, "Settings saved.") || !strings.Contains(a.body, `<option value="12h" selected>`) ||
		!strings.Contains(a.body, `id="off-banner"`) || strings.Contains(a.body, `id="enabled" name="enabled" checked`) {
		t.Errorf("the page after saving does not show what was saved")
	}
}

// disable fails the workspace's deliveries until the webhook is disabled
// automatically, as the dispatcher would.
func (h *harness) disable(ws string) {
	h.t.Helper()
	ctx := context.Background()
	for i := 0; i < chathook.DisableAfter; i++ {
		now := time.Now()
		got, err := h.st.ClaimDue(ctx, "test", now, time.Minute, 1)
		if err != nil || len(got) != 1 {
			h.t.Fatalf("claim %d: %v %v", i, got, err)
		}
		out := chathook.Outcome{DeliveryID: got[0].ID, URL: got[0].Webhook.URL, At: now, Err: "HTTP 503 Service Unavailable", Status: 503}
		if err := h.st.Finish(ctx, []store.Finished{{Outcome: out, RetryAt: now}}); err != nil {
			h.t.Fatal(err)
		}
	}
}

// After an automatic disable the page says why and since when, with the
// last error, and switching it back on can discard what waited.
func TestDisabledBannerAndDiscard(t *testing.T) {
	t.Parallel()
	h := newHarness(t, true, "")
	u := "http://127.0.0.1:9/hook"
	if _, err := h.st.UpdateWebhook(context.Background(), h.ws.WorkspaceID, chathook.Outbound, time.Now(), chathook.WebhookUpdate{URL: &u}); err != nil {
		t.Fatal(err)
	}
	h.ingest(h.ws.WorkspaceID, "John", "one", "two", "three")
	h.disable(h.ws.WorkspaceID)
	v := h.signedIn("acme")
	a := v.get("/settings/webhooks/outbound")
	for _, want := range []string{`id="disabled-banner"`, "The webhook was disabled automatically", "10 consecutive",
		`<code id="last-error">HTTP 503 Service Unavailable</code>`, "3 deliveries are waiting", `id="pending-choice"`, "<time datetime="} {
		if !strings.Contains(a.body, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	a = v.post("/settings/webhooks/outbound", url.Values{"url": {u}, "granularity": {"none"}, "enabled": {"on"}, "pending": {"discard"}})
	if a.status != http.StatusSeeOther {
		t.Fatalf("enable with discard: %d %s", a.status, a.body)
	}
	if n, _ := h.st.Pending(context.Background(), h.ws.WorkspaceID, chathook.Outbound); n != 0 {
		t.Errorf("%d still waiting after discard", n)
	}
	a = v.get("/settings/webhooks/outbound")
	if strings.Contains(a.body, "disabled-banner") || strings.Count(a.body, `<span class="badge discarded">discarded</span>`) != 3 {
		t.Errorf("after discarding: banner or activity wrong:\n%s", a.body)
	}
}

// The test button reports the receiver's answer and counts nothing.
func TestTestMessageShowsTheResultAndCountsNothing(t *testing.T) {
	t.Parallel()
	h := newHarness(t, true, "")
	v := h.signedIn("acme")
	v.get("/settings/webhooks/outbound")
	if a := v.post("/settings/webhooks/outbound/test", url.Values{}); !strings.Contains(a.body, "Failed: there is no webhook URL yet") {
		t.Errorf("without a URL: %d", a.status)
	}
	status := http.StatusNoContent
	got := make(chan *http.Request, 10)
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r
		w.WriteHeader(status)
	}))
	defer sink.Close()
	v.post("/settings/webhooks/outbound", settingsForm(sink.URL+"/hook", "none", false))
	a := v.post("/settings/webhooks/outbound/test", url.Values{})
	if a.status != http.StatusOK || !strings.Contains(a.body, "Delivered: the receiver answered HTTP 204, in ") {
		t.Errorf("a 204: %d", a.status)
	}
	if r := <-got; !strings.HasPrefix(r.Header.Get("webhook-id"), "msg_test_") || r.Header.Get("webhook-signature") == "" {
		t.Errorf("headers %v", r.Header)
	}
	status = http.StatusInternalServerError
	for range chathook.DisableAfter {
		if a := v.post("/settings/webhooks/outbound/test", url.Values{}); !strings.Contains(a.body, "Failed: HTTP 500 Internal Server Error, in ") {
			t.Fatalf("a 500: %d", a.status)
		}
	}
	wh, _ := h.st.Webhook(context.Background(), h.ws.WorkspaceID, chathook.Outbound)
	acts, _ := h.st.Activity(context.Background(), h.ws.WorkspaceID, chathook.Outbound, 10)
	if wh.ConsecutiveFailures != 0 || wh.DisabledReason != "" || len(acts) != 0 {
		t.Errorf("ten failed tests counted: %+v, activity %v", wh, acts)
	}
}

// The page's log download is the API's CSV, for the session's workspace,
// and the activity fragment lists the latest deliveries.
func TestLogDownloadAndActivityFragment(t *testing.T) {
	t.Parallel()
	h := newHarness(t, true, "")
	u := "http://127.0.0.1:9/hook"
	h.st.UpdateWebhook(context.Background(), h.ws.WorkspaceID, chathook.Outbound, time.Now(), chathook.WebhookUpdate{URL: &u})
	h.ingest(h.ws.WorkspaceID, "John <Doe>", "one", "two", "three")
	h.disable(h.ws.WorkspaceID)
	v := h.signedIn("acme")
	a := v.get("/settings/webhooks/outbound/log")
	if a.status != http.StatusOK || a.header.Get("Content-Type") != "text/csv; charset=utf-8" ||
		!strings.HasPrefix(a.header.Get("Content-Disposition"), `attachment; filename="chathook-log-`) {
		t.Fatalf("download: %d %v", a.status, a.header)
	}
	rows, err := csv.NewReader(strings.NewReader(a.body)).ReadAll()
	if err != nil || len(rows) != 1+chathook.DisableAfter || rows[0][0] != "time" || rows[1][8] != "retrying" || rows[1][11] != "HTTP 503 Service Unavailable" {
		t.Fatalf("CSV (%v):\n%s", err, a.body)
	}
	if a := v.get("/settings/webhooks/outbound/log?format=jsonl"); a.status != http.StatusOK || strings.Count(a.body, "\n") != chathook.DisableAfter {
		t.Errorf("JSON lines: %d\n%s", a.status, a.body)
	}
	if a := v.get("/settings/webhooks/outbound/log?format=xml"); a.status != http.StatusBadRequest {
		t.Errorf("format=xml: %d", a.status)
	}
	h.workspace("beta")
	if a := h.signedIn("beta").get("/settings/webhooks/outbound/log"); a.status != http.StatusOK || strings.Count(a.body, "\n") != 1 {
		t.Errorf("another workspace's download holds more than the header:\n%s", a.body)
	}
	a = v.get("/settings/webhooks/outbound/activity")
	if a.status != http.StatusOK || strings.Contains(a.body, "<html") || !strings.Contains(a.body, "John &lt;Doe&gt;") ||
		!strings.Contains(a.body, `<span class="badge retrying">retrying</span>`) {
		t.Errorf("fragment: %d\n%s", a.status, a.body)
	}
}

// A form field that is not valid UTF-8 is refused, naming the field, and
// saves nothing: the API refuses the same bytes, so the web UI must too.
func TestFormsRefuseInvalidUTF8(t *testing.T) {
	t.Parallel()
	h := newHarness(t, false, "")
	v := h.signedIn("acme")
	v.get("/settings/webhooks/outbound")
	a := v.post("/settings/webhooks/outbound", settingsForm("https://hooks.example.com/\xff\xfe", "none", true))
	if a.status != http.StatusBadRequest || !strings.Contains(a.body, "field url is not valid UTF-8") {
		t.Fatalf("settings with invalid UTF-8: %d %q", a.status, a.body)
	}
	if wh, _ := h.st.Webhook(context.Background(), h.ws.WorkspaceID, chathook.Outbound); wh.URL != "" {
		t.Fatalf("invalid UTF-8 saved: %q", wh.URL)
	}
	s := h.visitor()
	s.get("/signin")
	a = s.signIn("owner\xc3@acme.example", "whatever password")
	if a.status != http.StatusBadRequest || !strings.Contains(a.body, "field email is not valid UTF-8") {
		t.Fatalf("sign-in with invalid UTF-8: %d %q", a.status, a.body)
	}
}
