package deliver_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/deliver"
	"github.com/chathook/chathook/payload"
)

// A test POST is signed like a delivery, reports the receiver's answer in
// words, and records nothing: the dispatcher has no store to record in.
func TestTestPostIsSignedAndNotADelivery(t *testing.T) {
	secret := payload.NewSecret()
	key, _ := payload.ParseSecret(secret)
	rec := newRecorder(t, func(n int, w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("User-Agent") != "chathook/"+chathook.Version || r.Header.Get("Content-Type") != "application/json" {
			t.Errorf("headers %v", r.Header)
		}
		if n == 2 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	d := deliver.New(deliver.Config{AllowPrivateTargets: true, BaseURL: "https://chathook.example.com"})
	wh := chathook.Webhook{URL: rec.URL + "/hook", Secret: secret, Enabled: false}

	ok := d.Test(context.Background(), wh)
	if !ok.OK() || ok.Status != http.StatusNoContent || ok.Err != "" || ok.URL != wh.URL || ok.DeliveryID != 0 {
		t.Errorf("a 204: %+v", ok)
	}
	got := rec.wait(t, 1)[0]
	ts, _ := strconv.ParseInt(got.ts, 10, 64)
	if !strings.HasPrefix(got.id, "msg_test_") || !payload.Verify(key, got.id, ts, got.body, got.sig) {
		t.Errorf("webhook-id %q, signature %q does not verify", got.id, got.sig)
	}
	var body struct {
		Chat struct {
			ChatURL string `json:"chat_url"`
		} `json:"chat"`
		Message struct{ Text string } `json:"message"`
	}
	if err := json.Unmarshal(got.body, &body); err != nil || !strings.Contains(body.Message.Text, "test message") ||
		!strings.HasPrefix(body.Chat.ChatURL, "https://chathook.example.com/chat/") {
		t.Errorf("body %s (%v)", got.body, err)
	}

	bad := d.Test(context.Background(), wh)
	if bad.OK() || bad.Status != http.StatusServiceUnavailable || bad.Err != "HTTP 503 Service Unavailable" {
		t.Errorf("a 503: %+v", bad)
	}
	refused := d.Test(context.Background(), chathook.Webhook{URL: "http://127.0.0.1:1/hook", Secret: secret})
	if refused.Err != "connection refused" {
		t.Errorf("a closed port: %+v", refused)
	}
}
