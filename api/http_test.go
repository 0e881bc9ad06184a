package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chathook/chathook/api"
	"github.com/chathook/chathook/app"
	"github.com/chathook/chathook/chathooktest"
)

func message(id string) string {
	return fmt.Sprintf(`{"account": {"phone": "+972500000000"}, "chat": {"external_id": "+97254000000"},
		"message_id": %q, "direction": "received", "text": "hello"}`, id)
}

type errorAnswer struct {
	Error string `json:"error"`
	Field string `json:"field"`
}

func decodeError(t *testing.T, body []byte) errorAnswer {
	t.Helper()
	var e errorAnswer
	if err := json.Unmarshal(body, &e); err != nil || e.Error == "" {
		t.Fatalf("not a JSON error: %s", body)
	}
	return e
}

// Every validation error reaches the client as a 400 naming the field,
// through both ingest routes.
func TestIngestErrorsNameTheField(t *testing.T) {
	svc := chathooktest.Start(t, chathooktest.Options{})
	ws := svc.NewWorkspace(t, "acme")
	for _, c := range []struct {
		name, body, field string
		status            int
	}{
		{"malformed JSON", `{"account":`, "body", 400},
		{"unknown direction", strings.Replace(message("a"), `"received"`, `"sideways"`, 1), "direction", 400},
		{"missing account phone", strings.Replace(message("a"), `"phone": "+972500000000"`, `"full_name": "x"`, 1), "account.phone", 400},
		{"text too long", strings.Replace(message("a"), `"hello"`, `"`+strings.Repeat("x", 65537)+`"`, 1), "text", 400},
		{"body too large", `{"text": "` + strings.Repeat("x", api.MaxMessageBody) + `"}`, "body", 413},
	} {
		t.Run(c.name, func(t *testing.T) {
			status, body := ws.Do(t, http.MethodPost, "/api/v1/messages", c.body)
			if status != c.status {
				t.Errorf("status %d, want %d: %s", status, c.status, body)
			}
			if e := decodeError(t, body); e.Field != c.field || !strings.HasPrefix(e.Error, c.field+": ") {
				t.Errorf("error %+v, want it to name %s", e, c.field)
			}
			if c.status == 413 {
				return
			}
			status, body = ws.Do(t, http.MethodPost, "/api/v1/messages/batch", `{"messages": [`+message("ok")+`,`+c.body+`]}`)
			if want := "messages[1]"; c.field == "body" {
				// A malformed message breaks the whole batch's JSON.
				if status != 400 || decodeError(t, body).Field != "body" {
					t.Errorf("batch: %d %s", status, body)
				}
			} else if e := decodeError(t, body); status != 400 || e.Field != want+"."+c.field {
				t.Errorf("batch: %d %+v, want 400 naming %s.%s", status, e, want, c.field)
			}
		})
	}
	var big []string
	for i := range 1001 {
		big = append(big, message(fmt.Sprint(i)))
	}
	status, body := ws.Do(t, http.MethodPost, "/api/v1/messages/batch", `{"messages": [`+strings.Join(big, ",")+`]}`)
	if e := decodeError(t, body); status != 400 || e.Field != "messages" {
		t.Errorf("a batch of 1001: %d %+v", status, e)
	}
}

// A rejected batch writes nothing: its good messages are new afterwards.
func TestRejectedBatchWritesNothing(t *testing.T) {
	svc := chathooktest.Start(t, chathooktest.Options{})
	ws := svc.NewWorkspace(t, "acme")
	bad := strings.Replace(message("m5"), `"received"`, `"sideways"`, 1)
	status, _ := ws.Do(t, http.MethodPost, "/api/v1/messages/batch",
		`{"messages": [`+message("m0")+`,`+message("m1")+`,`+bad+`]}`)
	if status != 400 {
		t.Fatalf("status %d", status)
	}
	status, body := ws.Do(t, http.MethodPost, "/api/v1/messages", message("m0"))
	if status != 202 || !strings.Contains(string(body), `"accepted"`) || !strings.Contains(string(body), `"chat_id":"10000001"`) {
		t.Errorf("after a rejected batch: %d %s; want accepted in the first chat ever made", status, body)
	}
}

func TestEveryAPIRouteNeedsAValidToken(t *testing.T) {
	svc := chathooktest.Start(t, chathooktest.Options{})
	svc.NewWorkspace(t, "acme")
	routes := []struct{ method, path string }{
		{"POST", "/api/v1/messages"}, {"POST", "/api/v1/messages/batch"},
		{"GET", "/api/v1/webhooks/outbound"}, {"PUT", "/api/v1/webhooks/outbound"},
		{"PUT", "/api/v1/chats/10000001"}, {"GET", "/api/v1/nothing-here"},
	}
	for _, r := range routes {
		for name, header := range map[string]string{"none": "", "wrong": "Bearer chk_wrong", "basic": "Basic dXNlcjpwYXNz", "empty bearer": "Bearer "} {
			req, _ := http.NewRequest(r.method, svc.URL+r.path, strings.NewReader(message("x")))
			if header != "" {
				req.Header.Set("Authorization", header)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			var e errorAnswer
			json.NewDecoder(resp.Body).Decode(&e)
			resp.Body.Close()
			if resp.StatusCode != 401 || e.Error == "" || resp.Header.Get("WWW-Authenticate") == "" {
				t.Errorf("%s %s with %s token: %d %+v", r.method, r.path, name, resp.StatusCode, e)
			}
		}
	}
}

// One workspace's token never reads or changes another's data.
func TestWorkspacesCannotReachEachOther(t *testing.T) {
	svc := chathooktest.Start(t, chathooktest.Options{})
	a, b := svc.NewWorkspace(t, "a"), svc.NewWorkspace(t, "b")
	b.PointAt(t, "https://b.example/hook")

	_, body := a.Do(t, http.MethodGet, "/api/v1/webhooks/outbound", nil)
	var got struct{ URL, Secret string }
	json.Unmarshal(body, &got)
	if got.Secret != a.WebhookSecret || got.URL != "" {
		t.Errorf("a's token read %+v, want a's own webhook", got)
	}
	a.Do(t, http.MethodPut, "/api/v1/webhooks/outbound", map[string]any{"url": "https://a.example/hook", "enabled": false})
	_, body = b.Do(t, http.MethodGet, "/api/v1/webhooks/outbound", nil)
	json.Unmarshal(body, &got)
	if got.URL != "https://b.example/hook" || got.Secret != b.WebhookSecret || strings.Contains(string(body), `"enabled":false`) {
		t.Errorf("a's PUT changed b's webhook: %s", body)
	}

	_, body = b.Do(t, http.MethodPost, "/api/v1/messages", message("same-id"))
	var res struct {
		Status string
		ChatID string `json:"chat_id"`
	}
	json.Unmarshal(body, &res)
	status, body := a.Do(t, http.MethodPut, "/api/v1/chats/"+res.ChatID, map[string]string{"full_name": "taken over"})
	if status != 404 || decodeError(t, body).Field != "chat_id" {
		t.Errorf("a renamed b's chat %s: %d %s", res.ChatID, status, body)
	}
	if _, body = a.Do(t, http.MethodPost, "/api/v1/messages", message("same-id")); !strings.Contains(string(body), `"accepted"`) {
		t.Errorf("the same message_id in another workspace: %s", body)
	}
}

func TestWebhookSettings(t *testing.T) {
	svc := chathooktest.Start(t, chathooktest.Options{})
	ws := svc.NewWorkspace(t, "acme")
	ws.PointAt(t, "https://hook.example/in")
	for _, c := range []struct {
		name  string
		body  any
		field string
	}{
		{"relative url", map[string]any{"url": "/hook"}, "url"},
		{"ftp url", map[string]any{"url": "ftp://hook.example/in"}, "url"},
		{"no host", map[string]any{"url": "https:///in"}, "url"},
		{"too long", map[string]any{"url": "https://hook.example/" + strings.Repeat("a", 2048)}, "url"},
		{"url not a string", map[string]any{"url": 5}, "url"},
		{"granularity", map[string]any{"granularity": "2h"}, "granularity"},
		{"enabled not a bool", map[string]any{"enabled": "yes"}, "enabled"},
		{"secret", map[string]any{"secret": "hunter2"}, "secret"},
		{"unknown", map[string]any{"uri": "https://x.example"}, "uri"},
		{"valid url, bad granularity", map[string]any{"url": "https://other.example", "granularity": "weekly"}, "granularity"},
	} {
		t.Run(c.name, func(t *testing.T) {
			status, body := ws.Do(t, http.MethodPut, "/api/v1/webhooks/outbound", c.body)
			if e := decodeError(t, body); status != 400 || e.Field != c.field {
				t.Errorf("%d %+v, want 400 naming %s", status, e, c.field)
			}
		})
	}
	_, body := ws.Do(t, http.MethodGet, "/api/v1/webhooks/outbound", nil)
	want := `{"url":"https://hook.example/in","enabled":true,"granularity":"none","secret":"` + ws.WebhookSecret + `","consecutive_failures":0,"disabled_reason":"","disabled_at":"","last_error":""}` + "\n"
	if string(body) != want {
		t.Errorf("after refused PUTs:\n got %s\nwant %s", body, want)
	}
	status, body := ws.Do(t, http.MethodPut, "/api/v1/webhooks/outbound", map[string]any{"granularity": "6h", "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"})
	_, again := ws.Do(t, http.MethodGet, "/api/v1/webhooks/outbound", nil)
	if status != 200 || string(body) != string(again) || !strings.Contains(string(again), `"granularity":"6h"`) ||
		!strings.Contains(string(again), `"url":"https://hook.example/in"`) || !strings.Contains(string(again), "MfKQ9r8") {
		t.Errorf("PUT %d %s, then GET %s", status, body, again)
	}
}

// Without --allow-private-targets, URLs of this machine or a private
// network are refused when saved.
func TestPrivateURLsRefused(t *testing.T) {
	st, err := app.OpenStore(context.Background(), "sqlite:"+filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	created, err := app.CreateWorkspace(context.Background(), st, "acme", "o@acme.example", "")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(api.New(api.Config{Store: st}))
	defer srv.Close()
	for _, u := range []string{"http://127.0.0.1/x", "http://localhost:8080/x", "http://10.0.0.5/x", "http://192.168.1.1/",
		"http://169.254.169.254/latest/meta-data/", "http://[::1]/x", "http://[fd00:ec2::254]/", "http://100.64.0.1/", "http://api.localhost/"} {
		status, body := chathooktest.Do(t, http.MethodPut, srv.URL+"/api/v1/webhooks/outbound", created.APIToken, map[string]string{"url": u})
		if e := decodeError(t, body); status != 400 || e.Field != "url" {
			t.Errorf("%s: %d %+v", u, status, e)
		}
	}
	status, body := chathooktest.Do(t, http.MethodPut, srv.URL+"/api/v1/webhooks/outbound", created.APIToken, map[string]string{"url": "https://8.8.8.8/hook"})
	if status != 200 {
		t.Errorf("a public address: %d %s", status, body)
	}
}

func TestRoutes(t *testing.T) {
	svc := chathooktest.Start(t, chathooktest.Options{})
	ws := svc.NewWorkspace(t, "acme")
	status, body := ws.Do(t, http.MethodGet, "/api/v1/messages", nil)
	if e := decodeError(t, body); status != 405 || !strings.Contains(e.Error, "POST") {
		t.Errorf("GET messages: %d %+v", status, e)
	}
	if status, body = ws.Do(t, http.MethodGet, "/api/v1/nothing", nil); status != 404 || decodeError(t, body).Error == "" {
		t.Errorf("unknown route: %d %s", status, body)
	}
	if status, body = ws.Do(t, http.MethodPut, "/api/v1/chats/abc", map[string]string{"full_name": "x"}); status != 400 || decodeError(t, body).Field != "chat_id" {
		t.Errorf("a chat id that is not a number: %d %s", status, body)
	}
	if status, body = ws.Do(t, http.MethodPut, "/api/v1/chats/99999999", map[string]string{"full_name": "x"}); status != 404 {
		t.Errorf("no such chat: %d %s", status, body)
	}
	if status, body = chathooktest.Do(t, http.MethodGet, svc.URL+"/healthz", "", nil); status != 200 || !strings.Contains(string(body), "ok") {
		t.Errorf("healthz: %d %s", status, body)
	}
}
