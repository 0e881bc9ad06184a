package api_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chathook/chathook/chathooktest"
	"github.com/chathook/chathook/payload"
)

// Every bad recover body is a 400 naming its field, and queues nothing.
func TestRecoverRefusesBadRanges(t *testing.T) {
	svc := chathooktest.Start(t, chathooktest.Options{})
	ws := svc.NewWorkspace(t, "acme")
	for _, c := range []struct {
		name  string
		body  any
		field string
	}{
		{"no since", map[string]any{}, "since"},
		{"since null", map[string]any{"since": nil}, "since"},
		{"since a date only", map[string]any{"since": "2026-03-01"}, "since"},
		{"since in the wire form", map[string]any{"since": "2026-03-01T09:00:00+0000"}, "since"},
		{"since a number", map[string]any{"since": 1700000000}, "since"},
		{"until not a time", map[string]any{"since": "2026-03-01T09:00:00Z", "until": "tomorrow"}, "until"},
		{"until before since", map[string]any{"since": "2026-03-01T09:00:00Z", "until": "2026-03-01T08:59:59Z"}, "until"},
		{"unknown field", map[string]any{"since": "2026-03-01T09:00:00Z", "from": "x"}, "from"},
		{"not an object", []any{}, "body"},
		{"no body", "", "body"},
	} {
		t.Run(c.name, func(t *testing.T) {
			status, body := ws.Do(t, http.MethodPost, "/api/v1/webhooks/outbound/recover", c.body)
			wantError(t, status, body, http.StatusBadRequest, c.field)
		})
	}
	status, body := ws.Do(t, http.MethodPost, "/api/v1/webhooks/outbound/recover",
		map[string]any{"since": "2026-03-01T09:00:00+02:00", "until": "2026-03-01T07:00:00Z"})
	if status != http.StatusAccepted || string(body) != `{"deliveries":0}`+"\n" {
		t.Errorf("an empty range (since = until, in two zones): %d %s", status, body)
	}
}

type rotated struct {
	Secret             string `json:"secret"`
	PreviousValidUntil string `json:"previous_valid_until"`
}

func rotate(t *testing.T, ws *chathooktest.Workspace, body any) rotated {
	t.Helper()
	status, data := ws.Do(t, http.MethodPost, "/api/v1/webhooks/outbound/secret/rotate", body)
	var r rotated
	if err := strictJSON(data, &r); status != http.StatusOK || err != nil {
		t.Fatalf("rotate: %d %s (%v)", status, data, err)
	}
	return r
}

type webhookSecrets struct {
	Secret                   string `json:"secret"`
	PreviousSecretValidUntil string `json:"previous_secret_valid_until"`
}

func secrets(t *testing.T, ws *chathooktest.Workspace) webhookSecrets {
	t.Helper()
	var w webhookSecrets
	if err := json.Unmarshal([]byte(getWebhook(t, ws)), &w); err != nil {
		t.Fatal(err)
	}
	return w
}

// A rotation answers a new secret and until when the old one signs (24 h
// on), which GET shows until then; setting a secret by hand ends the old
// one at once.
func TestRotateSecret(t *testing.T) {
	start := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	clock := chathooktest.NewClock(start)
	svc := chathooktest.Start(t, chathooktest.Options{Clock: clock})
	ws := svc.NewWorkspace(t, "acme")
	if got := secrets(t, ws); got.Secret != ws.WebhookSecret || got.PreviousSecretValidUntil != "" {
		t.Fatalf("before any rotation: %+v", got)
	}

	r := rotate(t, ws, nil)
	if _, err := payload.ParseSecret(r.Secret); err != nil || r.Secret == ws.WebhookSecret {
		t.Errorf("new secret %q (%v)", r.Secret, err)
	}
	until, err := time.Parse(time.RFC3339, r.PreviousValidUntil)
	if err != nil || !strings.HasSuffix(r.PreviousValidUntil, "Z") || until.Sub(start) < 24*time.Hour || until.Sub(start) > 24*time.Hour+time.Minute {
		t.Errorf("previous_valid_until %q (%v), want 24 hours after %v", r.PreviousValidUntil, err, start)
	}
	if got := secrets(t, ws); got.Secret != r.Secret || got.PreviousSecretValidUntil != r.PreviousValidUntil {
		t.Errorf("GET after the rotation: %+v, want %+v", got, r)
	}

	status, body := ws.Do(t, http.MethodPost, "/api/v1/webhooks/outbound/secret/rotate", map[string]any{"secret": "whsec_x"})
	wantError(t, status, body, http.StatusBadRequest, "secret")
	if got := secrets(t, ws); got.Secret != r.Secret {
		t.Errorf("a refused rotation changed the secret to %q", got.Secret)
	}

	again := rotate(t, ws, map[string]any{})
	if again.Secret == r.Secret {
		t.Error("a second rotation kept the secret")
	}
	clock.Set(start.Add(25 * time.Hour))
	if got := secrets(t, ws); got.Secret != again.Secret || got.PreviousSecretValidUntil != "" {
		t.Errorf("GET 25 h after the last rotation: %+v, want no previous secret", got)
	}

	rotate(t, ws, nil)
	status, body = ws.Do(t, http.MethodPut, "/api/v1/webhooks/outbound", map[string]any{"secret": ws.WebhookSecret})
	if status != http.StatusOK || !strings.Contains(string(body), `"previous_secret_valid_until":""`) {
		t.Errorf("PUT a secret after a rotation: %d %s, want no previous secret", status, body)
	}
}
