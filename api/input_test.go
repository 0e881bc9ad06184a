package api_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chathook/chathook/chathooktest"
)

// rawJSON is v as JSON with every "BROKEN" replaced by raw, which
// encoding/json would have repaired had it been in v.
func rawJSON(t *testing.T, v any, raw string) []byte {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.ReplaceAll(data, []byte("BROKEN"), []byte(raw))
}

// Invalid UTF-8 in any JSON body of the API is a 400 naming the field,
// and changes nothing; it is never stored as U+FFFD.
func TestInvalidUTF8Refused(t *testing.T) {
	svc := chathooktest.Start(t, chathooktest.Options{})
	ws := svc.NewWorkspace(t, "acme")
	chat := ingestOne(t, ws, msg("first"))
	webhook := getWebhook(t, ws)

	for _, c := range []struct {
		name, method, path string
		body               []byte
		field              string
	}{
		{"message text", "POST", "/api/v1/messages", rawJSON(t, msg("m1", "text", "Hi BROKEN"), "\xff"), "text"},
		{"message chat name", "POST", "/api/v1/messages", rawJSON(t, msg("m1", "chat.full_name", "BROKEN"), "\xc3"), "chat.full_name"},
		{"message text, a lone surrogate", "POST", "/api/v1/messages", rawJSON(t, msg("m1", "text", "BROKEN"), `\ud83d`), "text"},
		{"batch text", "POST", "/api/v1/messages/batch", rawJSON(t, batch(msg("m1"), msg("m2", "text", "BROKEN")), "\xff"), "messages[1].text"},
		{"batch account email", "POST", "/api/v1/messages/batch", rawJSON(t, batch(msg("m1", "account.email", "BROKEN@acme.com")), "\xfe"), "messages[0].account.email"},
		{"chat name", "PUT", "/api/v1/chats/" + chat.ChatID, rawJSON(t, map[string]any{"full_name": "BROKEN"}, "\xff"), "full_name"},
		{"chat responsible email", "PUT", "/api/v1/chats/" + chat.ChatID, rawJSON(t, map[string]any{"responsible_email": "BROKEN"}, `\udc00`), "responsible_email"},
		{"webhook url", "PUT", "/api/v1/webhooks/outbound", rawJSON(t, map[string]any{"url": "https://hook.example/BROKEN"}, "\xff"), "url"},
		{"webhook secret", "PUT", "/api/v1/webhooks/outbound", rawJSON(t, map[string]any{"secret": "whsec_BROKEN"}, "\xff"), "secret"},
	} {
		t.Run(c.name, func(t *testing.T) {
			status, body := ws.Do(t, c.method, c.path, c.body)
			wantError(t, status, body, http.StatusBadRequest, c.field)
			if !strings.Contains(string(body), "UTF-8") {
				t.Errorf("the error does not say UTF-8: %s", body)
			}
		})
	}
	// Nothing changed: m1 and m2 were never stored, nor the chat renamed.
	if after := getWebhook(t, ws); after != webhook {
		t.Errorf("webhook changed:\n%s\n%s", webhook, after)
	}
	for _, id := range []string{"m1", "m2"} {
		if a := ingestOne(t, ws, msg(id)); a.Status != "accepted" {
			t.Errorf("%s of a refused request was stored: %+v", id, a)
		}
	}
	status, body := ws.Do(t, http.MethodPut, "/api/v1/chats/"+chat.ChatID, map[string]any{})
	if status != http.StatusOK || !strings.Contains(string(body), `"full_name":"John Doe"`) || strings.Contains(string(body), "\ufffd") {
		t.Errorf("chat after refused PUTs: %d %s", status, body)
	}
}

// A timestamp before 2009 or more than a day ahead of the service's
// clock (the injected one, not the machine's) is a 400 naming it.
func TestTimestampOutOfRange(t *testing.T) {
	clock := chathooktest.NewClock(time.Date(2031, 6, 1, 12, 0, 0, 0, time.UTC))
	svc := chathooktest.Start(t, chathooktest.Options{Clock: clock})
	ws := svc.NewWorkspace(t, "acme")
	for _, c := range []struct{ ts, field string }{
		{"2008-12-31T23:59:59Z", "timestamp"},
		{"1970-01-01T00:00:00Z", "timestamp"},
		{"2031-06-02T12:00:01Z", "timestamp"},
		{"2031-06-02T11:59:00Z", ""}, // within a day of the clock, years after the machine's
		{"2009-01-01T00:00:00Z", ""},
	} {
		t.Run(c.ts, func(t *testing.T) {
			if c.field == "" {
				ingestOne(t, ws, msg("ok-"+c.ts, "timestamp", c.ts))
				return
			}
			status, body := ws.Do(t, http.MethodPost, "/api/v1/messages", msg("m-"+c.ts, "timestamp", c.ts))
			wantError(t, status, body, http.StatusBadRequest, c.field)
			status, body = ws.Do(t, http.MethodPost, "/api/v1/messages/batch", batch(msg("b1"), msg("b2", "timestamp", c.ts)))
			wantError(t, status, body, http.StatusBadRequest, "messages[1]."+c.field)
		})
	}
}

// The Bearer scheme is matched in any case, as HTTP says; the token is
// matched exactly.
func TestBearerSchemeInAnyCase(t *testing.T) {
	svc := chathooktest.Start(t, chathooktest.Options{})
	ws := svc.NewWorkspace(t, "acme")
	for _, c := range []struct {
		header string
		status int
	}{
		{"Bearer " + ws.APIToken, http.StatusOK},
		{"bearer " + ws.APIToken, http.StatusOK},
		{"BEARER " + ws.APIToken, http.StatusOK},
		{"bEaReR " + ws.APIToken, http.StatusOK},
		{"Bearer   " + ws.APIToken, http.StatusOK},
		{"Bearer " + strings.ToUpper(ws.APIToken), http.StatusUnauthorized},
		{"Bearer" + ws.APIToken, http.StatusUnauthorized},
		{"Bearer", http.StatusUnauthorized},
		{"bearer ", http.StatusUnauthorized},
		{"Bearers " + ws.APIToken, http.StatusUnauthorized},
		{"Token " + ws.APIToken, http.StatusUnauthorized},
	} {
		t.Run(strings.ReplaceAll(c.header, ws.APIToken, "<token>"), func(t *testing.T) {
			req, err := http.NewRequest(http.MethodGet, svc.URL+"/api/v1/webhooks/outbound", nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Authorization", c.header)
			resp, err := chathooktest.Client(t).Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != c.status {
				t.Errorf("%d %s, want %d", resp.StatusCode, body, c.status)
			}
		})
	}
}
