package web_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/store"
)

// A broker acknowledges a delivery with no HTTP status: the endpoint
// list and the activity log show it as acked, not as "HTTP 0" nor as
// nothing at all; the page's URL field shows the password as ***, and
// its hint lists the forms a URL may take.
func TestBrokerAckShownAsAcked(t *testing.T) {
	t.Parallel()
	h := newHarness(t, true, "")
	ctx := context.Background()
	u := "amqp://user:S3cretPw@127.0.0.1:5672/?exchange=x"
	if _, err := h.st.UpdateWebhook(ctx, h.ws.WorkspaceID, chathook.Outbound, time.Now(), chathook.WebhookUpdate{URL: &u}); err != nil {
		t.Fatal(err)
	}
	h.ingest(h.ws.WorkspaceID, "John", "one")
	now := time.Now()
	got, err := h.st.ClaimDue(ctx, "test", now, time.Minute, 1)
	if err != nil || len(got) != 1 {
		t.Fatalf("claim: %v %v", got, err)
	}
	out := chathook.Outcome{DeliveryID: got[0].ID, URL: chathook.RedactURL(u), At: now, Duration: time.Millisecond}
	if err := h.st.Finish(ctx, []store.Finished{{Outcome: out}}); err != nil {
		t.Fatal(err)
	}
	v := h.signedIn("acme")
	for _, path := range []string{"/settings/webhooks/", "/settings/webhooks/outbound/activity"} {
		a := v.get(path)
		if a.status != http.StatusOK || !strings.Contains(a.body, `<span class="status">acked</span>`) || strings.Contains(a.body, "HTTP 0") {
			t.Errorf("GET %s: %d, without acked:\n%s", path, a.status, a.body)
		}
	}
	a := v.get("/settings/webhooks/outbound")
	for _, want := range []string{`value="amqp://user:***@127.0.0.1:5672/?exchange=x"`, `id="url-forms"`, "nats://host:4222/&lt;subject prefix&gt;",
		"amqp://user:pass@host:5672/&lt;vhost&gt;?exchange=&lt;name&gt;", "keeps the stored one"} {
		if !strings.Contains(a.body, want) {
			t.Errorf("the endpoint's page lacks %q", want)
		}
	}
	if strings.Contains(a.body, "S3cretPw") {
		t.Errorf("the endpoint's page shows the password")
	}
	// Saved as shown, the password stays; a typo elsewhere is shown again
	// without it.
	a = v.post("/settings/webhooks/outbound", url.Values{"url": {"amqp://user:***@127.0.0.1:5672/?exchange=y"}, "granularity": {"none"}, "enabled": {"on"}})
	if wh, _ := h.st.Webhook(ctx, h.ws.WorkspaceID, chathook.Outbound); a.status != http.StatusSeeOther ||
		wh.URL != "amqp://user:S3cretPw@127.0.0.1:5672/?exchange=y" {
		t.Errorf("save as shown: %d; stored %q", a.status, wh.URL)
	}
	v.get("/settings/webhooks/outbound")
	a = v.post("/settings/webhooks/outbound", url.Values{"url": {"amqp://user:S3cretPw@127.0.0.1:5672/"}, "granularity": {"none"}})
	if a.status != http.StatusUnprocessableEntity || !strings.Contains(a.body, "exchange") || strings.Contains(a.body, "S3cretPw") {
		t.Errorf("a URL without exchange: %d, want 422 naming the exchange without the password", a.status)
	}
	// A new password typed with a mistake in another field: the form,
	// shown again with ***, says to type it again, as *** keeps the old one.
	v.get("/settings/webhooks/outbound")
	a = v.post("/settings/webhooks/outbound", url.Values{"url": {"amqp://user:N3wPw@127.0.0.1:5672/?exchange=y"}, "granularity": {"every-other"}})
	if a.status != http.StatusUnprocessableEntity || !strings.Contains(a.body, "type it once more") || strings.Contains(a.body, "N3wPw") {
		t.Errorf("a new password with another field wrong: %d, want 422 asking for the password again, without it", a.status)
	}
}
