package app_test

// Replies through Cloud API numbers, through the whole service: the
// sender POSTs them to a local server that answers as Meta's Graph API
// documents, and Meta's webhook (signed as Meta signs it) brings the
// customer's messages and the number's echoes.

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chathook/chathook/app"
	"github.com/chathook/chathook/chathooktest"
	"github.com/chathook/chathook/store"
)

const (
	metaSecret    = "meta-app-secret-1"
	metaToken     = "EAAGm0PX4ZCpsBA-test-token"
	phoneNumberID = "106540352242922"
	sheena        = "16505551234"
)

// graphAPI is Meta's Graph API as the tests need it: it answers each
// request with the next of its answers (the last one again when they run
// out) and records what it was sent.
type graphAPI struct {
	*httptest.Server
	mu       sync.Mutex
	answers  []graphAnswer
	requests []graphRequest
	onSend   func() // called as a request arrives, before it is answered
}

type graphAnswer struct {
	status int
	body   string
}

type graphRequest struct {
	Path, Authorization string
	Body                map[string]any
}

func newGraphAPI(t *testing.T, answers ...graphAnswer) *graphAPI {
	g := &graphAPI{answers: answers}
	g.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body map[string]any
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			t.Errorf("graph API: body %v", err)
		}
		g.mu.Lock()
		g.requests = append(g.requests, graphRequest{Path: r.URL.Path, Authorization: r.Header.Get("Authorization"), Body: body})
		a := g.answers[0]
		if len(g.answers) > 1 {
			g.answers = g.answers[1:]
		}
		hook := g.onSend
		g.mu.Unlock()
		if hook != nil {
			hook()
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(a.status)
		io.WriteString(w, a.body)
	}))
	t.Cleanup(g.Close)
	return g
}

func (g *graphAPI) got() []graphRequest {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]graphRequest(nil), g.requests...)
}

func sentAnswer(wamid string) graphAnswer {
	return graphAnswer{200, `{"messaging_product":"whatsapp","contacts":[{"input":"` + sheena + `","wa_id":"` + sheena + `"}],"messages":[{"id":"` + wamid + `"}]}`}
}

// registerNumber registers Acme's Cloud API number with its access token.
func registerNumber(t testing.TB, ws *chathooktest.Workspace) {
	t.Helper()
	status, body := ws.Do(t, "POST", "/api/v1/accounts/cloud-api", map[string]any{
		"phone_number_id": phoneNumberID, "display_phone_number": "+1 555 078 3881", "full_name": "Acme Support",
		"email": "ops@acme.example", "app_secret": metaSecret, "verify_token": "verify-me", "access_token": metaToken,
	})
	if status != http.StatusCreated {
		t.Fatalf("register the number: %d %s", status, body)
	}
}

// metaPosts POSTs a change of Meta's webhook (field "messages" or
// "smb_message_echoes") to the service, signed with the app secret.
func metaPosts(t testing.TB, svc *chathooktest.Service, ws *chathooktest.Workspace, field, list string, msg map[string]any) {
	t.Helper()
	value := map[string]any{
		"messaging_product": "whatsapp",
		"metadata":          map[string]any{"display_phone_number": "15550783881", "phone_number_id": phoneNumberID},
		list:                []any{msg},
	}
	if field == "messages" {
		value["contacts"] = []any{map[string]any{"profile": map[string]any{"name": "Sheena Nelson"}, "wa_id": sheena}}
	}
	body, _ := json.Marshal(map[string]any{"object": "whatsapp_business_account", "entry": []any{map[string]any{
		"id": "102290129340398", "changes": []any{map[string]any{"field": field, "value": value}},
	}}})
	mac := hmac.New(sha256.New, []byte(metaSecret))
	mac.Write(body)
	req, _ := http.NewRequest("POST", svc.URL+"/sources/cloud-api/"+ws.WorkspaceID, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(mac.Sum(nil)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("Meta's POST: %d %s", resp.StatusCode, b)
	}
}

func textFromSheena(id, text string) map[string]any {
	return map[string]any{"from": sheena, "id": id, "timestamp": fmt.Sprint(time.Now().Add(-time.Minute).Unix()),
		"type": "text", "text": map[string]any{"body": text}}
}

// sheenasChat is the chat Sheena's first message makes, once delivered.
func sheenasChat(t *testing.T, svc *chathooktest.Service, ws *chathooktest.Workspace, sink *chathooktest.Sink) int64 {
	t.Helper()
	metaPosts(t, svc, ws, "messages", "messages", textFromSheena("wamid.FROM-SHEENA", "Does it come in blue?"))
	sink.WaitFor(t, 1, 10*time.Second)
	chats, err := svc.Store.Chats(context.Background(), ws.WorkspaceID, store.ChatQuery{Limit: 10})
	if err != nil || len(chats) != 1 {
		t.Fatalf("chats %+v (%v)", chats, err)
	}
	return chats[0].ID
}

// TestReplyThroughCloudAPI: a teammate's reply goes to Meta's Graph API
// as Meta documents it, with the number's token; Meta's wamid becomes
// its message_id on the wire, where it arrives as Jane's; Meta's echo of
// it is the same message.
func TestReplyThroughCloudAPI(t *testing.T) { onEveryStore(t, testReplyThroughCloudAPI) }

func testReplyThroughCloudAPI(t *testing.T, db string) {
	graph := newGraphAPI(t, sentAnswer("wamid.REPLY-1"))
	cfg := fastReplies(app.Config{GraphAPIURL: graph.URL + "/v23.0"})
	svc := chathooktest.Start(t, chathooktest.Options{DB: db, Config: cfg})
	ws := svc.NewWorkspace(t, "acme")
	sink := chathooktest.NewSink(t)
	ws.PointAt(t, sink.URL+"/hook")
	registerNumber(t, ws)
	chat := sheenasChat(t, svc, ws, sink)

	id := reply(t, ws, chat, map[string]any{"text": "Yes: in blue and in green.", "sent_by": map[string]string{"full_name": "Jane Smith"}})
	if got := awaitReply(t, ws, chat, id); got != (replyState{MessageID: id, Status: "sent"}) {
		t.Errorf("reply %+v, want sent", got)
	}
	reqs := graph.got()
	if len(reqs) != 1 {
		t.Fatalf("%d requests to the Graph API, want 1", len(reqs))
	}
	r := reqs[0]
	wantBody := map[string]any{"messaging_product": "whatsapp", "recipient_type": "individual", "to": sheena, "type": "text",
		"text": map[string]any{"preview_url": false, "body": "Yes: in blue and in green."}, "biz_opaque_callback_data": id}
	if r.Path != "/v23.0/"+phoneNumberID+"/messages" || r.Authorization != "Bearer "+metaToken || fmt.Sprint(r.Body) != fmt.Sprint(wantBody) {
		t.Errorf("Graph API got %+v\nwant the body %v", r, wantBody)
	}
	d := chathooktest.Verified(t, ws, sink.WaitFor(t, 2, 10*time.Second)[1])
	if d.Message.Direction != "sent" || d.Message.ID != "wamid.REPLY-1" || d.Message.Text != "Yes: in blue and in green." ||
		d.Message.Sender != (person{FullName: "Jane Smith", Phone: "+15550783881"}) ||
		d.Message.Recipient != (person{FullName: "Sheena Nelson", Phone: "+16505551234"}) {
		t.Errorf("delivered %+v", d)
	}

	echo := textFromSheena("wamid.REPLY-1", "Yes: in blue and in green.")
	echo["from"], echo["to"] = "15550783881", "+"+sheena
	metaPosts(t, svc, ws, "smb_message_echoes", "message_echoes", echo)
	metaPosts(t, svc, ws, "messages", "messages", textFromSheena("wamid.THANKS", "Thanks!"))
	if last := chathooktest.Verified(t, ws, sink.WaitFor(t, 3, 10*time.Second)[2]); last.Message.ID != "wamid.THANKS" {
		t.Errorf("third POST is %q's, want Sheena's thanks: the echo was delivered", last.Message.ID)
	}
}

// TestCloudAPIReplyFailures: Meta's refusals fail a reply at once, in
// words; a 5xx is tried again, and the reply is sent once.
func TestCloudAPIReplyFailures(t *testing.T) {
	graph := newGraphAPI(t,
		graphAnswer{401, `{"error":{"message":"Error validating access token: Session has expired on Tuesday, 01-Jul-25 09:00:00 PDT.","type":"OAuthException","code":190,"error_subcode":463,"fbtrace_id":"AbCdEf"}}`},
		graphAnswer{400, `{"error":{"message":"(#131047) Re-engagement message","type":"OAuthException","code":131047,"error_data":{"messaging_product":"whatsapp","details":"Message failed to send because more than 24 hours have passed since the customer last replied to this number."},"fbtrace_id":"AbCdEf"}}`},
		graphAnswer{500, `{"error":{"message":"An unknown error has occurred.","type":"OAuthException","code":1,"fbtrace_id":"AbCdEf"}}`},
		sentAnswer("wamid.AFTER-500"),
	)
	svc := chathooktest.Start(t, chathooktest.Options{Config: fastReplies(app.Config{GraphAPIURL: graph.URL})})
	ws := svc.NewWorkspace(t, "acme")
	sink := chathooktest.NewSink(t)
	ws.PointAt(t, sink.URL+"/hook")
	registerNumber(t, ws)
	chat := sheenasChat(t, svc, ws, sink)

	for _, c := range []struct{ text, status, says string }{
		{"expired token", "failed", "access token"},
		{"closed window", "failed", "outside Meta's 24-hour window"},
		{"after a 500", "sent", ""},
	} {
		id := reply(t, ws, chat, map[string]any{"text": c.text})
		got := awaitReply(t, ws, chat, id)
		if got.Status != c.status || !strings.Contains(got.Error, c.says) {
			t.Errorf("%s: %+v, want %s saying %q", c.text, got, c.status, c.says)
		}
	}
	if n := len(graph.got()); n != 4 {
		t.Errorf("%d requests to the Graph API, want 4 (the 500's reply twice)", n)
	}
	d := chathooktest.Verified(t, ws, sink.WaitFor(t, 2, 10*time.Second)[1])
	svc.Stop(t)
	if n := sink.Attempts(); n != 2 || d.Message.ID != "wamid.AFTER-500" {
		t.Errorf("%d POSTs, the second %q's; want Sheena's and the one sent reply", n, d.Message.ID)
	}
}

// TestCloudAPIReplyInDoubtAfterCrash: the instance sending a Cloud API
// reply dies while Meta takes it. Meta cannot tell a second request from a
// second message, so the instance that takes over does not send it again:
// it gives it up as uncertain, saying it may have gone out (not failed: a
// teammate would send it again).
func TestCloudAPIReplyInDoubtAfterCrash(t *testing.T) {
	db := "sqlite:" + t.TempDir() + "/chathook.db"
	graph := newGraphAPI(t, sentAnswer("wamid.LOST"))
	cfg := fastReplies(app.Config{GraphAPIURL: graph.URL})
	a := chathooktest.Start(t, chathooktest.Options{DB: db, Config: cfg})
	ws := a.NewWorkspace(t, "acme")
	sink := chathooktest.NewSink(t)
	ws.PointAt(t, sink.URL+"/hook")
	registerNumber(t, ws)
	chat := sheenasChat(t, a, ws, sink)

	crashed := make(chan struct{})
	graph.mu.Lock()
	graph.onSend = func() { a.Crash(); close(crashed) }
	graph.mu.Unlock()
	id := reply(t, ws, chat, map[string]any{"text": "on its way"})
	<-crashed
	graph.mu.Lock()
	graph.onSend = nil
	graph.mu.Unlock()
	a.Kill(t)

	b := chathooktest.Start(t, chathooktest.Options{DB: db, Config: cfg})
	got := awaitReply(t, ws.On(b), chat, id)
	if got.Status != "uncertain" || !strings.HasPrefix(got.Error, "may have been sent: ") || !strings.Contains(got.Error, "may have gone out") {
		t.Errorf("reply %+v, want uncertain: it may have gone out", got)
	}
	if n := len(graph.got()); n != 1 {
		t.Errorf("%d requests to the Graph API, want 1", n)
	}
	b.Stop(t)
	if n := sink.Attempts(); n != 1 {
		t.Errorf("%d POSTs, want Sheena's only", n)
	}
}
