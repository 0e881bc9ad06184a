package api_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/chathook/chathook/api"
	"github.com/chathook/chathook/app"
	"github.com/chathook/chathook/chathooktest"
	"github.com/chathook/chathook/store"
)

// absent, as a value given to msg, deletes the field; nil sends null.
type absentField struct{}

var absent absentField

// msg is a valid message with the given id, changed by path/value pairs
// such as "chat.phone", "x".
func msg(id string, pairs ...any) map[string]any {
	m := map[string]any{
		"account":    map[string]any{"phone": "+972500000000", "full_name": "Amnon Haha", "email": "amnon@acme.com"},
		"chat":       map[string]any{"external_id": "+97254000000", "full_name": "John Doe"},
		"message_id": id,
		"direction":  "received",
		"text":       "hello 👋",
	}
	for i := 0; i < len(pairs); i += 2 {
		obj, parts := m, strings.Split(pairs[i].(string), ".")
		for _, p := range parts[:len(parts)-1] {
			obj = obj[p].(map[string]any)
		}
		if pairs[i+1] == absent {
			delete(obj, parts[len(parts)-1])
		} else {
			obj[parts[len(parts)-1]] = pairs[i+1]
		}
	}
	return m
}

func batch(msgs ...any) map[string]any { return map[string]any{"messages": msgs} }

type errorAnswer struct {
	Error string `json:"error"`
	Field string `json:"field"`
}

// wantError asserts an answer is the JSON error of SPEC section 6 with
// the given status, naming field ("" when the error concerns no field).
func wantError(t *testing.T, status int, body []byte, wantStatus int, field string) {
	t.Helper()
	var e errorAnswer
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		t.Fatalf("%d, not a JSON error: %s", status, body)
	}
	if status != wantStatus || e.Field != field || e.Error == "" {
		t.Errorf("%d %+v, want %d naming %q", status, e, wantStatus, field)
	}
	if field != "" && !strings.HasPrefix(e.Error, field+": ") {
		t.Errorf("error %q does not start with its field %q", e.Error, field)
	}
}

type ingestAnswer struct {
	Status string `json:"status"`
	ChatID string `json:"chat_id"`
	Reason string `json:"reason"`
}

var digits = regexp.MustCompile(`^[1-9][0-9]*$`)

// ingestOne posts one message and returns the answer, failing unless 202.
func ingestOne(t *testing.T, ws *chathooktest.Workspace, m any) ingestAnswer {
	t.Helper()
	status, body := ws.Do(t, http.MethodPost, "/api/v1/messages", m)
	var a ingestAnswer
	if err := strictJSON(body, &a); status != http.StatusAccepted || err != nil {
		t.Fatalf("POST message: %d %s (%v)", status, body, err)
	}
	if !digits.MatchString(a.ChatID) {
		t.Errorf("chat_id %q is not a string of digits", a.ChatID)
	}
	return a
}

// ingestBatch posts a batch and returns the answers, failing unless 202.
func ingestBatch(t *testing.T, ws *chathooktest.Workspace, msgs ...any) []ingestAnswer {
	t.Helper()
	status, body := ws.Do(t, http.MethodPost, "/api/v1/messages/batch", batch(msgs...))
	var a struct {
		Results []ingestAnswer `json:"results"`
	}
	if err := strictJSON(body, &a); status != http.StatusAccepted || err != nil || len(a.Results) != len(msgs) {
		t.Fatalf("POST batch of %d: %d %s (%v)", len(msgs), status, body, err)
	}
	return a.Results
}

func strictJSON(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

// getWebhook returns the raw GET /api/v1/webhooks/outbound answer.
func getWebhook(t *testing.T, ws *chathooktest.Workspace) string {
	t.Helper()
	status, body := ws.Do(t, http.MethodGet, "/api/v1/webhooks/outbound", nil)
	if status != http.StatusOK {
		t.Fatalf("GET webhook: %d %s", status, body)
	}
	return string(body)
}

// Every validation error of ingest reaches the client as a 400 naming
// the field, through both ingest routes, and writes nothing.
func TestIngestErrors(t *testing.T) {
	svc := chathooktest.Start(t, chathooktest.Options{})
	ws := svc.NewWorkspace(t, "acme")

	// Messages that are JSON objects: alone they name field; as
	// messages[1] of a batch, "messages[1]." + field.
	for _, c := range []struct {
		name  string
		msg   map[string]any
		field string
	}{
		{"direction is a number", msg("a", "direction", 5), "direction"},
		{"is_group is a string", msg("a", "chat.is_group", "no"), "chat.is_group"},
		{"unknown field", msg("a", "direcion", "sent"), "direcion"},
		{"unknown field in chat", msg("a", "chat.name", "John"), "chat.name"},
		{"field name in another case", msg("a", "text", absent, "TEXT", "hello"), "TEXT"},
		{"nested field name in another case", msg("a", "chat.External_ID", "x"), "chat.External_ID"},
		{"only invisible text", msg("a", "text", "\u200b\u2060\ufeff\u00ad"), "text"},
		{"no account", msg("a", "account", absent), "account"},
		{"no account phone", msg("a", "account.phone", absent), "account.phone"},
		{"invalid account phone", msg("a", "account.phone", "+972 50"), "account.phone"},
		{"invalid account email", msg("a", "account.email", "amnon"), "account.email"},
		{"no chat", msg("a", "chat", absent), "chat"},
		{"no chat id", msg("a", "chat.external_id", absent), "chat.external_id"},
		{"invalid chat phone", msg("a", "chat.phone", "John"), "chat.phone"},
		{"no message_id", msg("a", "message_id", absent), "message_id"},
		{"message_id too long", msg(strings.Repeat("x", 257)), "message_id"},
		{"message_id with a control character", msg("a\x01b"), "message_id"},
		{"no direction", msg("a", "direction", absent), "direction"},
		{"unknown direction", msg("a", "direction", "sideways"), "direction"},
		{"bad timestamp", msg("a", "timestamp", "24/02/2021"), "timestamp"},
		{"invalid sender phone", msg("a", "sender", map[string]any{"phone": "me"}), "sender.phone"},
		{"invalid recipient phone", msg("a", "recipient", map[string]any{"phone": "you"}), "recipient.phone"},
		{"name too long", msg("a", "chat.full_name", strings.Repeat("名", 257)), "chat.full_name"},
		{"invalid sent_by email", msg("a", "sent_by", map[string]any{"email": "jane"}), "sent_by.email"},
		{"no text", msg("a", "text", absent), "text"},
		{"text of 65537 emoji", msg("a", "text", strings.Repeat("👋", 65537)), "text"},
	} {
		t.Run(c.name, func(t *testing.T) {
			status, body := ws.Do(t, http.MethodPost, "/api/v1/messages", c.msg)
			wantError(t, status, body, http.StatusBadRequest, c.field)
			status, body = ws.Do(t, http.MethodPost, "/api/v1/messages/batch", batch(msg("ok"), c.msg))
			wantError(t, status, body, http.StatusBadRequest, "messages[1]."+c.field)
		})
	}

	// Bodies that are not a message at all.
	for _, c := range []struct {
		name, body, field string
	}{
		{"empty body", "", "body"},
		{"malformed JSON", `{"account": `, "body"},
		{"not an object", `["hello"]`, "body"},
		{"two objects", `{} {}`, "body"},
	} {
		t.Run(c.name, func(t *testing.T) {
			for _, path := range []string{"/api/v1/messages", "/api/v1/messages/batch"} {
				status, body := ws.Do(t, http.MethodPost, path, c.body)
				wantError(t, status, body, http.StatusBadRequest, c.field)
			}
		})
	}

	// A key given twice: encoding/json would let the last one win.
	one, err := json.Marshal(msg("twice"))
	if err != nil {
		t.Fatal(err)
	}
	twice := strings.Replace(string(one), `"text":`, `"text":"first","text":`, 1)
	status, body := ws.Do(t, http.MethodPost, "/api/v1/messages", twice)
	wantError(t, status, body, http.StatusBadRequest, "text")
	status, body = ws.Do(t, http.MethodPost, "/api/v1/messages/batch", `{"messages":[`+string(one)+`,`+twice+`]}`)
	wantError(t, status, body, http.StatusBadRequest, "messages[1].text")

	// What is wrong with a batch as a whole.
	many := make([]any, 1001)
	for i := range many {
		many[i] = msg(fmt.Sprint("many", i))
	}
	for _, c := range []struct {
		name  string
		body  any
		field string
	}{
		{"no messages", map[string]any{}, "messages"},
		{"messages null", map[string]any{"messages": nil}, "messages"},
		{"empty list", batch(), "messages"},
		{"messages not a list", map[string]any{"messages": msg("a")}, "messages"},
		{"1001 messages", batch(many...), "messages"},
		{"unknown key", map[string]any{"messages": []any{msg("a")}, "mesages": 1}, "mesages"},
		{"a message that is not an object", batch(msg("a"), "hello"), "messages[1]"},
		{"bad messages[3]", batch(msg("b0"), msg("b1"), msg("b2"), msg("b3", "chat.phone", "x"), msg("b4")), "messages[3].chat.phone"},
	} {
		t.Run(c.name, func(t *testing.T) {
			status, body := ws.Do(t, http.MethodPost, "/api/v1/messages/batch", c.body)
			wantError(t, status, body, http.StatusBadRequest, c.field)
		})
	}

	// None of it was stored: the good messages of the refused batches,
	// and the first chat, are new.
	for _, id := range []string{"ok", "a", "many0", "many1000", "b0", "b4"} {
		if a := ingestOne(t, ws, msg(id)); a.Status != "accepted" {
			t.Errorf("%s after it was refused: %+v, want accepted", id, a)
		}
	}
}

// A batch with one bad message is refused whole: nothing of it is written.
func TestRejectedBatchWritesNothing(t *testing.T) {
	svc := chathooktest.Start(t, chathooktest.Options{})
	ws := svc.NewWorkspace(t, "acme")
	msgs := make([]any, 8)
	for i := range msgs {
		msgs[i] = msg(fmt.Sprint("m", i), "chat.external_id", fmt.Sprint("+9725400000", i))
	}
	msgs[5] = msg("m5", "direction", "sideways")
	status, body := ws.Do(t, http.MethodPost, "/api/v1/messages/batch", batch(msgs...))
	wantError(t, status, body, http.StatusBadRequest, "messages[5].direction")

	first := ingestOne(t, ws, msgs[0])
	if first.Status != "accepted" || first.Reason != "" {
		t.Errorf("messages[0] after its batch was refused: %+v, want accepted", first)
	}
	// No chat of the refused batch exists: this one is the first ever.
	if first.ChatID != "10000001" {
		t.Errorf("chat_id %s: the refused batch made chats", first.ChatID)
	}
	msgs[5] = msg("m5")
	got := ingestBatch(t, ws, msgs...)
	for i, a := range got {
		want := "accepted"
		if i == 0 {
			want = "duplicate"
		}
		if a.Status != want {
			t.Errorf("results[%d] = %+v, want %s", i, a, want)
		}
	}
}

func TestBodyLimits(t *testing.T) {
	svc := chathooktest.Start(t, chathooktest.Options{})
	ws := svc.NewWorkspace(t, "acme")

	// A message padded with spaces to exactly the limit passes.
	m, _ := json.Marshal(msg("at-limit"))
	atLimit := append(m, bytes.Repeat([]byte(" "), api.MaxMessageBody-len(m))...)
	if a := ingestOne(t, ws, atLimit); a.Status != "accepted" {
		t.Errorf("a body of exactly %d bytes: %+v", api.MaxMessageBody, a)
	}
	for _, c := range []struct {
		name, path string
		size       int
	}{
		{"message", "/api/v1/messages", api.MaxMessageBody + 1},
		{"batch", "/api/v1/messages/batch", api.MaxBatchBody + 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			status, body := ws.Do(t, http.MethodPost, c.path, append(m, bytes.Repeat([]byte(" "), c.size-len(m))...))
			wantError(t, status, body, http.StatusRequestEntityTooLarge, "body")
		})
	}
}

// A body that cannot be read (here a broken chunked encoding) is a 400
// naming the body, not a 500.
func TestUnreadableBody(t *testing.T) {
	svc := chathooktest.Start(t, chathooktest.Options{})
	ws := svc.NewWorkspace(t, "acme")
	conn, err := net.Dial("tcp", strings.TrimPrefix(svc.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /api/v1/messages HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"+
		"Transfer-Encoding: chunked\r\n\r\n5\r\n{\"a\":\r\nzz\r\n", ws.APIToken)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	wantError(t, resp.StatusCode, body, http.StatusBadRequest, "body")
}

// Every /api/v1 route answers 401 and does nothing without a valid token.
func TestEveryRouteNeedsAValidToken(t *testing.T) {
	svc := chathooktest.Start(t, chathooktest.Options{})
	ws := svc.NewWorkspace(t, "acme")
	chat := ingestOne(t, ws, msg("first"))
	before := getWebhook(t, ws)

	routes := []struct {
		method, path string
		body         any
	}{
		{"GET", "/api/v1/webhooks/outbound", nil},
		{"PUT", "/api/v1/webhooks/outbound", map[string]any{"url": "https://evil.example/", "enabled": true}},
		{"GET", "/api/v1/webhooks/outbound/activity", nil},
		{"GET", "/api/v1/webhooks/outbound/log", nil},
		{"POST", "/api/v1/messages", msg("m1")},
		{"POST", "/api/v1/messages/batch", batch(msg("m2"))},
		{"PUT", "/api/v1/chats/" + chat.ChatID, map[string]any{"full_name": "taken over"}},
		{"POST", "/api/v1/chats/" + chat.ChatID + "/messages", map[string]any{"text": "not yours"}},
		{"GET", "/api/v1/chats/" + chat.ChatID + "/messages/x", nil},
		{"POST", "/api/v1/webhooks/outbound/recover", map[string]any{"since": "2020-01-01T00:00:00Z"}},
		{"POST", "/api/v1/webhooks/outbound/secret/rotate", nil},
		{"GET", "/api/v1/no-such-route", nil},
	}
	headers := []struct{ name, value string }{
		{"no header", ""},
		{"empty bearer", "Bearer "},
		{"wrong token", "Bearer chk_wrong"},
		{"another workspace's secret", "Bearer " + ws.WebhookSecret},
		{"the token without Bearer", ws.APIToken},
		{"basic auth", "Basic dXNlcjpwYXNz"},
		{"basic auth with the token", "Basic " + ws.APIToken},
	}
	for _, r := range routes {
		for _, h := range headers {
			t.Run(r.method+" "+r.path+" "+h.name, func(t *testing.T) {
				data, _ := json.Marshal(r.body)
				req, err := http.NewRequest(r.method, svc.URL+r.path, bytes.NewReader(data))
				if err != nil {
					t.Fatal(err)
				}
				if h.value != "" {
					req.Header.Set("Authorization", h.value)
				}
				resp, err := chathooktest.Client(t).Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				body, _ := io.ReadAll(resp.Body)
				wantError(t, resp.StatusCode, body, http.StatusUnauthorized, "")
				if resp.Header.Get("WWW-Authenticate") == "" || resp.Header.Get("Content-Type") != "application/json" {
					t.Errorf("headers %v", resp.Header)
				}
			})
		}
	}

	// Nothing happened.
	if after := getWebhook(t, ws); after != before {
		t.Errorf("webhook changed without a token:\n%s\n%s", before, after)
	}
	for _, id := range []string{"m1", "m2"} {
		if a := ingestOne(t, ws, msg(id)); a.Status != "accepted" {
			t.Errorf("%s posted without a token was stored: %+v", id, a)
		}
	}
	status, body := ws.Do(t, http.MethodPut, "/api/v1/chats/"+chat.ChatID, map[string]any{})
	if status != http.StatusOK || !strings.Contains(string(body), `"full_name":"John Doe"`) {
		t.Errorf("chat after PUTs without a token: %d %s", status, body)
	}
}

// One workspace's token never reads or changes another's data.
func TestWorkspaceIsolation(t *testing.T) {
	svc := chathooktest.Start(t, chathooktest.Options{})
	a, b := svc.NewWorkspace(t, "a"), svc.NewWorkspace(t, "b")
	b.PointAt(t, "https://b.example/hook")
	if status, body := b.Do(t, http.MethodPut, "/api/v1/webhooks/outbound", map[string]any{"granularity": "12h"}); status != http.StatusOK {
		t.Fatalf("b's PUT: %d %s", status, body)
	}
	bWebhook := getWebhook(t, b)
	bChat := ingestOne(t, b, msg("same-id"))

	t.Run("GET webhook", func(t *testing.T) {
		var got struct {
			URL, Secret, Granularity string
		}
		json.Unmarshal([]byte(getWebhook(t, a)), &got)
		if got.Secret != a.WebhookSecret || got.Secret == b.WebhookSecret || got.URL != "" || got.Granularity != "none" {
			t.Errorf("a's token read %+v, want a's own webhook", got)
		}
	})
	t.Run("PUT webhook", func(t *testing.T) {
		status, body := a.Do(t, http.MethodPut, "/api/v1/webhooks/outbound",
			map[string]any{"url": "https://a.example/hook", "enabled": false, "granularity": "1h"})
		if status != http.StatusOK || !strings.Contains(string(body), `"url":"https://a.example/hook"`) {
			t.Fatalf("a's PUT: %d %s", status, body)
		}
		if got := getWebhook(t, b); got != bWebhook {
			t.Errorf("a's PUT changed b's webhook:\n got %s\nwant %s", got, bWebhook)
		}
	})
	t.Run("PUT b's chat", func(t *testing.T) {
		status, body := a.Do(t, http.MethodPut, "/api/v1/chats/"+bChat.ChatID,
			map[string]any{"full_name": "taken over", "responsible_name": "Mallory"})
		wantError(t, status, body, http.StatusNotFound, "chat_id")
		status, body = b.Do(t, http.MethodPut, "/api/v1/chats/"+bChat.ChatID, map[string]any{})
		want := `{"chat_id":"` + bChat.ChatID + `","full_name":"John Doe","responsible_name":"","responsible_email":"","is_group":false,"phone":"+97254000000"}` + "\n"
		if status != http.StatusOK || string(body) != want {
			t.Errorf("b's chat after a's PUT: %d %s, want %s", status, body, want)
		}
	})
	t.Run("idempotency is per workspace", func(t *testing.T) {
		got := ingestOne(t, a, msg("same-id"))
		if got.Status != "accepted" || got.ChatID == bChat.ChatID {
			t.Errorf("the same message_id in a: %+v; b had %+v", got, bChat)
		}
		if again := ingestOne(t, a, msg("same-id")); again.Status != "duplicate" || again.ChatID != got.ChatID {
			t.Errorf("again in a: %+v", again)
		}
		if again := ingestOne(t, b, msg("same-id")); again.Status != "duplicate" || again.ChatID != bChat.ChatID {
			t.Errorf("again in b: %+v", again)
		}
	})
}

func TestWebhookSettings(t *testing.T) {
	svc := chathooktest.Start(t, chathooktest.Options{})
	ws := svc.NewWorkspace(t, "acme")
	ws.PointAt(t, "https://hook.example/in")
	before := getWebhook(t, ws)

	for _, c := range []struct {
		name  string
		body  any
		field string
	}{
		{"relative url", map[string]any{"url": "/hook"}, "url"},
		{"url without scheme", map[string]any{"url": "hook.example/in"}, "url"},
		{"ftp url", map[string]any{"url": "ftp://hook.example/in"}, "url"},
		{"javascript url", map[string]any{"url": "javascript:alert(1)"}, "url"},
		{"no host", map[string]any{"url": "https:///in"}, "url"},
		{"no host, only a port", map[string]any{"url": "http://:8080/in"}, "url"},
		{"not a URL", map[string]any{"url": "http://[::1"}, "url"},
		{"url of 2049 bytes", map[string]any{"url": "https://hook.example/" + strings.Repeat("a", 2049-21)}, "url"},
		{"url not a string", map[string]any{"url": 5}, "url"},
		{"unknown granularity", map[string]any{"granularity": "2h"}, "granularity"},
		{"granularity in capitals", map[string]any{"granularity": "6H"}, "granularity"},
		{"empty granularity", map[string]any{"granularity": ""}, "granularity"},
		{"valid url, bad granularity", map[string]any{"url": "https://other.example", "granularity": "weekly"}, "granularity"},
		{"bad url, valid granularity", map[string]any{"url": "ftp://other.example", "granularity": "24h", "enabled": false}, "url"},
		{"enabled not a bool", map[string]any{"enabled": "yes"}, "enabled"},
		{"secret", map[string]any{"secret": "hunter2"}, "secret"},
		{"unknown field", map[string]any{"uri": "https://x.example"}, "uri"},
		{"url in capitals", map[string]any{"URL": "https://x.example"}, "URL"},
		{"url twice", `{"url": "https://x.example/in", "url": "https://y.example/in"}`, "url"},
		{"not an object", []any{}, "body"},
		{"malformed", `{"url": `, "body"},
	} {
		t.Run(c.name, func(t *testing.T) {
			status, body := ws.Do(t, http.MethodPut, "/api/v1/webhooks/outbound", c.body)
			wantError(t, status, body, http.StatusBadRequest, c.field)
			if after := getWebhook(t, ws); after != before {
				t.Errorf("a refused PUT changed the webhook:\n got %s\nwant %s", after, before)
			}
		})
	}
	want := `{"url":"https://hook.example/in","enabled":true,"granularity":"none","secret":"` + ws.WebhookSecret +
		`","consecutive_failures":0,"disabled_reason":"","disabled_at":"","last_error":"","previous_secret_valid_until":""}` + "\n"
	if before != want {
		t.Errorf("GET webhook:\n got %s\nwant %s", before, want)
	}

	// Each granularity round-trips, and what a PUT leaves out stays.
	for _, g := range []string{"6h", "1h", "12h", "24h", "none"} {
		status, body := ws.Do(t, http.MethodPut, "/api/v1/webhooks/outbound", map[string]any{"granularity": g})
		got := getWebhook(t, ws)
		if status != http.StatusOK || string(body) != got || !strings.Contains(got, `"granularity":"`+g+`"`) ||
			!strings.Contains(got, `"url":"https://hook.example/in"`) || !strings.Contains(got, `"enabled":true`) {
			t.Errorf("PUT granularity %s: %d %s, then GET %s", g, status, body, got)
		}
	}
	// An empty url unsets it.
	status, body := ws.Do(t, http.MethodPut, "/api/v1/webhooks/outbound", map[string]any{"url": "", "enabled": false})
	if status != http.StatusOK || !strings.Contains(getWebhook(t, ws), `"url":"","enabled":false`) {
		t.Errorf("PUT an empty url: %d %s", status, body)
	}
	// chathooktest allows private targets, as --allow-private-targets does.
	ws.PointAt(t, "http://127.0.0.1:9/x")
}

// storeWithWorkspace opens a fresh SQLite store with workspace "acme",
// for tests that serve the API with a Config of their own.
func storeWithWorkspace(t *testing.T) (store.Store, app.Created) {
	t.Helper()
	ctx := context.Background()
	st, err := app.OpenStore(ctx, "sqlite:"+filepath.Join(t.TempDir(), "chathook.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	created, err := app.CreateWorkspace(ctx, st, "acme", "owner@acme.example", "Owner")
	if err != nil {
		t.Fatal(err)
	}
	return st, created
}

// Without AllowPrivateTargets, URLs of this machine or a private network
// are refused when saved, and nothing changes.
func TestPrivateTargetsRefused(t *testing.T) {
	st, created := storeWithWorkspace(t)
	srv := httptest.NewServer(chathooktest.CheckedHandler(t, api.New(api.Config{Store: st, AllowPrivateTargets: false})))
	t.Cleanup(srv.Close)
	put := func(t *testing.T, url string) (int, []byte) {
		return chathooktest.Do(t, http.MethodPut, srv.URL+"/api/v1/webhooks/outbound", created.APIToken, map[string]any{"url": url})
	}
	if status, body := put(t, "https://8.8.8.8/hook"); status != http.StatusOK {
		t.Fatalf("a public address: %d %s", status, body)
	}
	_, before := chathooktest.Do(t, http.MethodGet, srv.URL+"/api/v1/webhooks/outbound", created.APIToken, nil)

	for _, u := range []string{
		"http://127.0.0.1/x", "http://127.1.2.3:8080/x", "http://localhost/x", "http://LOCALHOST./x", "http://api.localhost/",
		"http://10.0.0.5/x", "http://172.16.0.1/", "http://192.168.1.1/", "http://100.64.0.1/", "http://0.0.0.0/",
		"http://169.254.169.254/latest/meta-data/", "http://[::1]/x", "http://[fd00:ec2::254]/", "http://[fe80::1]/",
		"http://[::ffff:127.0.0.1]/x",
		// Numeric spellings of loopback, as the resolver's inet_aton reads them.
		"http://2130706433/x", "http://0x7f000001/x", "http://127.1/x", "http://0177.0.0.1/x",
		// Special-purpose ranges: documentation, IETF protocol assignments, discard-only.
		"http://192.0.2.1/x", "http://198.51.100.1/x", "http://203.0.113.1/x", "http://192.0.0.1/x",
		"http://[2001:db8::1]/x", "http://[100::1]/x",
	} {
		t.Run(u, func(t *testing.T) {
			status, body := put(t, u)
			wantError(t, status, body, http.StatusBadRequest, "url")
			if !strings.Contains(string(body), "allow-private-targets") {
				t.Errorf("the error does not say how to allow it: %s", body)
			}
			_, after := chathooktest.Do(t, http.MethodGet, srv.URL+"/api/v1/webhooks/outbound", created.APIToken, nil)
			if !bytes.Equal(after, before) {
				t.Errorf("a refused PUT changed the webhook: %s", after)
			}
		})
	}
}

// A URL with a user name or password, or a port out of range, is refused
// when saved, with 400 naming url, and nothing changes: the password is
// never shown back.
func TestMalformedTargetsRefused(t *testing.T) {
	st, created := storeWithWorkspace(t)
	srv := httptest.NewServer(chathooktest.CheckedHandler(t, api.New(api.Config{Store: st, AllowPrivateTargets: false})))
	t.Cleanup(srv.Close)
	put := func(t *testing.T, url string) (int, []byte) {
		return chathooktest.Do(t, http.MethodPut, srv.URL+"/api/v1/webhooks/outbound", created.APIToken, map[string]any{"url": url})
	}
	if status, body := put(t, "https://hook.example.com:65535/x"); status != http.StatusOK {
		t.Fatalf("a good URL: %d %s", status, body)
	}
	_, before := chathooktest.Do(t, http.MethodGet, srv.URL+"/api/v1/webhooks/outbound", created.APIToken, nil)
	for _, u := range []string{
		"http://user:s3cret@hook.example.com/x", "https://user@hook.example.com/x",
		"http://hook.example.com:99999/x", "http://hook.example.com:0/x", "http://1.2.3.999/x",
	} {
		t.Run(u, func(t *testing.T) {
			status, body := put(t, u)
			wantError(t, status, body, http.StatusBadRequest, "url")
			if strings.Contains(string(body), "s3cret") {
				t.Errorf("the error shows the password: %s", body)
			}
			_, after := chathooktest.Do(t, http.MethodGet, srv.URL+"/api/v1/webhooks/outbound", created.APIToken, nil)
			if !bytes.Equal(after, before) {
				t.Errorf("a refused PUT changed the webhook: %s", after)
			}
		})
	}
}

func TestIngestAnswers(t *testing.T) {
	svc := chathooktest.Start(t, chathooktest.Options{})
	ws := svc.NewWorkspace(t, "acme")

	first := ingestOne(t, ws, msg("m1"))
	if first.Status != "accepted" || first.Reason != "" {
		t.Errorf("first: %+v", first)
	}
	dup := ingestOne(t, ws, msg("m1", "text", "edited"))
	if dup.Status != "duplicate" || dup.ChatID != first.ChatID || dup.Reason == "" {
		t.Errorf("the same message_id again: %+v, want duplicate in chat %s with a reason", dup, first.ChatID)
	}
	second := ingestOne(t, ws, msg("m2", "direction", "sent", "timestamp", "2021-02-24T16:25:29+0000"))
	if second.Status != "accepted" || second.ChatID != first.ChatID {
		t.Errorf("a second message of the chat: %+v, want chat %s", second, first.ChatID)
	}
	other := ingestOne(t, ws, msg("m3", "chat.external_id", "+97254999999"))
	if other.Status != "accepted" || other.ChatID == first.ChatID {
		t.Errorf("another chat: %+v, want a chat other than %s", other, first.ChatID)
	}
	photo := []any{map[string]any{"type": "image", "url": "https://x.example/1.jpg"}}
	skipped := ingestOne(t, ws, msg("m4", "text", absent, "attachments", photo))
	if skipped.Status != "skipped" || skipped.Reason == "" || skipped.ChatID != first.ChatID {
		t.Errorf("with attachments: %+v, want skipped with a reason", skipped)
	}
	if again := ingestOne(t, ws, msg("m4", "attachments", photo)); again.Status != "duplicate" {
		t.Errorf("a skipped message again: %+v, want duplicate", again)
	}

	got := ingestBatch(t, ws,
		msg("b1"), msg("b1"), msg("m1"), msg("b2", "attachments", photo), msg("b3", "chat", map[string]any{"phone": "+97254999999"}))
	want := []string{"accepted", "duplicate", "duplicate", "skipped", "accepted"}
	for i, a := range got {
		if a.Status != want[i] || !digits.MatchString(a.ChatID) {
			t.Errorf("results[%d] = %+v, want %s", i, a, want[i])
		}
	}
	if got[0].ChatID != first.ChatID || got[1].ChatID != first.ChatID || got[4].ChatID != other.ChatID {
		t.Errorf("chat ids %+v: want %s, %s, ..., %s", got, first.ChatID, first.ChatID, other.ChatID)
	}
}

func TestRoutes(t *testing.T) {
	svc := chathooktest.Start(t, chathooktest.Options{})
	ws := svc.NewWorkspace(t, "acme")
	chat := ingestOne(t, ws, msg("m1"))

	t.Run("unknown routes", func(t *testing.T) {
		for _, r := range []struct{ method, path string }{
			{"GET", "/api/v1/nothing"}, {"POST", "/api/v1/message"}, {"GET", "/api/v2/messages"},
			{"POST", "/api/v1/messages/batch/more"}, {"PUT", "/api/v1/chats/"}, {"PUT", "/api/v1/chats/1/2"},
		} {
			status, body := ws.Do(t, r.method, r.path, nil)
			wantError(t, status, body, http.StatusNotFound, "")
		}
	})
	t.Run("wrong methods", func(t *testing.T) {
		for _, r := range []struct{ method, path, allow string }{
			{"GET", "/api/v1/messages", "POST"},
			{"PUT", "/api/v1/messages", "POST"},
			{"GET", "/api/v1/messages/batch", "POST"},
			// SPEC 6: PATCH and DELETE of any endpoint (DELETE outbound is a 409).
			{"POST", "/api/v1/webhooks/outbound", "DELETE, GET, PATCH, PUT"},
			{"PUT", "/api/v1/webhooks/ep_0123456789abcdef", "DELETE, GET, PATCH"},
			{"DELETE", "/api/v1/webhooks", "GET, POST"},
			{"POST", "/api/v1/webhooks/outbound/activity", "GET"},
			{"GET", "/api/v1/webhooks/outbound/recover", "POST"},
			{"PUT", "/api/v1/webhooks/outbound/secret/rotate", "POST"},
			{"GET", "/api/v1/chats/" + chat.ChatID, "PUT"},
			{"DELETE", "/api/v1/chats/" + chat.ChatID, "PUT"},
			{"POST", "/api/v1/accounts", "GET"},
			{"DELETE", "/api/v1/accounts", "GET"},
			{"GET", "/api/v1/accounts/cloud-api", "POST"},
			{"DELETE", "/api/v1/accounts/cloud-api", "POST"},
			{"GET", "/api/v1/accounts/1", "DELETE, PUT"},
			{"PATCH", "/api/v1/accounts/1", "DELETE, PUT"},
		} {
			req, _ := http.NewRequest(r.method, svc.URL+r.path, nil)
			req.Header.Set("Authorization", "Bearer "+ws.APIToken)
			resp, err := chathooktest.Client(t).Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			wantError(t, resp.StatusCode, body, http.StatusMethodNotAllowed, "")
			if resp.Header.Get("Allow") != r.allow {
				t.Errorf("%s %s: Allow %q, want %q", r.method, r.path, resp.Header.Get("Allow"), r.allow)
			}
		}
	})
	t.Run("chat ids", func(t *testing.T) {
		for _, c := range []struct {
			id     string
			status int
		}{{"abc", 400}, {"0", 400}, {"-1", 400}, {"99999999999999999999", 400}, {"99999999", 404}} {
			status, body := ws.Do(t, http.MethodPut, "/api/v1/chats/"+c.id, map[string]any{"full_name": "x"})
			wantError(t, status, body, c.status, "chat_id")
		}
		status, body := ws.Do(t, http.MethodPut, "/api/v1/chats/"+chat.ChatID, map[string]any{"full_name": ""})
		wantError(t, status, body, http.StatusBadRequest, "full_name")
		status, body = ws.Do(t, http.MethodPut, "/api/v1/chats/"+chat.ChatID, map[string]any{"responsible_name": strings.Repeat("r", 257)})
		wantError(t, status, body, http.StatusBadRequest, "responsible_name")
		status, body = ws.Do(t, http.MethodPut, "/api/v1/chats/"+chat.ChatID, map[string]any{"full_name": "a\x00b"})
		wantError(t, status, body, http.StatusBadRequest, "full_name")
		status, body = ws.Do(t, http.MethodPut, "/api/v1/chats/"+chat.ChatID, map[string]any{"responsible_name": "Jane", "responsible_email": "jane@acme.com"})
		if status != http.StatusOK || !strings.Contains(string(body), `"responsible_name":"Jane","responsible_email":"jane@acme.com"`) {
			t.Errorf("assign a teammate: %d %s", status, body)
		}
	})
	t.Run("healthz", func(t *testing.T) {
		status, body := chathooktest.Do(t, http.MethodGet, svc.URL+"/healthz", "", nil)
		if status != http.StatusOK || string(body) != `{"status":"ok"}`+"\n" {
			t.Errorf("healthz: %d %s", status, body)
		}
	})
}
