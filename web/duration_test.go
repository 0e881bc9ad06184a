package web_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"testing"
	"time"
)

// The test button shows how long the receiver took (it said "< 1 ms" for
// a receiver that took 15 s).
func TestTestMessageShowsTheRealDuration(t *testing.T) {
	t.Parallel()
	h := newHarness(t, true, "")
	v := h.signedIn("acme")
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(300 * time.Millisecond)
		w.WriteHeader(http.StatusNoContent)
	}))
	defer sink.Close()
	v.get("/settings/webhooks/outbound")
	v.post("/settings/webhooks/outbound", settingsForm(sink.URL+"/hook", "none", false))
	a := v.post("/settings/webhooks/outbound/test", url.Values{})
	m := regexp.MustCompile(`Delivered: the receiver answered HTTP 204, in ([0-9]+) ms`).FindStringSubmatch(a.body)
	if m == nil {
		t.Fatalf("no duration in ms shown: %d\n%s", a.status, a.body)
	}
	if ms, _ := strconv.Atoi(m[1]); ms < 300 {
		t.Errorf("shown %d ms for a receiver that took 300 ms", ms)
	}
}
