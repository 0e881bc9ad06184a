package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/app"
	"github.com/chathook/chathook/chathooktest"
	"github.com/chathook/chathook/source/whatsweb/whatswebtest"
	"github.com/chathook/chathook/store"
)

// linked makes the account of msg()'s phone a QR-linked one, its device
// connected to a WhatsApp of the test's own.
func linked(t *testing.T, svc *chathooktest.Service, ws *chathooktest.Workspace) {
	t.Helper()
	db, dialect := svc.Store.SessionDB()
	whatswebtest.SaveDevice(t, db, dialect, "972500000000:3@s.whatsapp.net", "Amnon Haha")
	if _, err := svc.Store.LinkAccount(context.Background(), ws.WorkspaceID, chathook.Account{
		Phone: "+972500000000", JID: "972500000000:3@s.whatsapp.net", Email: "amnon@acme.com",
	}, "elsewhere", time.Now().Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
}

// TestReplyAnswers: POST /api/v1/chats/{chat_id}/messages answers 202
// with the message's id, which GET follows; bad input is a 400 naming
// its field; a chat of another workspace is a 404 both ways; a chat
// whose account only the ingest API knows is a 409.
func TestReplyAnswers(t *testing.T) {
	wa := whatswebtest.New()
	svc := chathooktest.Start(t, chathooktest.Options{Config: app.Config{WhatsApp: wa}})
	ws, other := svc.NewWorkspace(t, "acme"), svc.NewWorkspace(t, "globex")
	chat := ingestOne(t, ws, msg("first"))
	path := "/api/v1/chats/" + chat.ChatID + "/messages"

	status, body := ws.Do(t, http.MethodPost, path, map[string]any{"text": "hello"})
	if status != http.StatusConflict || !strings.Contains(string(body), "ingest API") {
		t.Errorf("reply through an account only the ingest API knows: %d %s, want 409 saying why", status, body)
	}
	wantError(t, status, body, http.StatusConflict, "")

	linked(t, svc, ws)
	status, body = ws.Do(t, http.MethodPost, path, map[string]any{"text": strings.Repeat("é", 65536),
		"sent_by": map[string]any{"full_name": "Jane Smith", "email": "jane@acme.com"}})
	var queued struct {
		MessageID string `json:"message_id"`
		Status    string `json:"status"`
	}
	if err := json.Unmarshal(body, &queued); status != http.StatusAccepted || err != nil || queued.Status != "queued" || queued.MessageID == "" {
		t.Fatalf("reply: %d %s", status, body)
	}
	status, body = ws.Do(t, http.MethodGet, path+"/"+queued.MessageID, nil)
	var state struct {
		MessageID string `json:"message_id"`
		Status    string `json:"status"`
		Error     string `json:"error"`
	}
	if err := json.Unmarshal(body, &state); status != http.StatusOK || err != nil || state.MessageID != queued.MessageID ||
		(state.Status != "queued" && state.Status != "sent") {
		t.Errorf("GET reply: %d %s", status, body)
	}

	for _, c := range []struct {
		name  string
		path  string
		body  any
		code  int
		field string
	}{
		{"no text", path, map[string]any{}, 400, "text"},
		{"empty text", path, map[string]any{"text": ""}, 400, "text"},
		{"blank text", path, map[string]any{"text": " \n\t"}, 400, "text"},
		{"invisible text", path, map[string]any{"text": "\u200b\u200d\u2060\ufe0f"}, 400, "text"},
		{"text in capitals", path, map[string]any{"TEXT": "x"}, 400, "TEXT"},
		{"text of 65,537 characters", path, map[string]any{"text": strings.Repeat("x", 65537)}, 400, "text"},
		{"text with NUL", path, map[string]any{"text": "a\u0000b"}, 400, "text"},
		{"text not a string", path, map[string]any{"text": 42}, 400, "text"},
		{"unknown field", path, map[string]any{"text": "x", "attachments": []any{}}, 400, "attachments"},
		{"sent_by email", path, map[string]any{"text": "x", "sent_by": map[string]any{"email": "not an address"}}, 400, "sent_by.email"},
		{"sent_by name", path, map[string]any{"text": "x", "sent_by": map[string]any{"full_name": strings.Repeat("n", 257)}}, 400, "sent_by.full_name"},
		{"not JSON", path, "text=hello", 400, "body"},
		{"chat id not a number", "/api/v1/chats/abc/messages", map[string]any{"text": "x"}, 400, "chat_id"},
		{"no such chat", "/api/v1/chats/99999999/messages", map[string]any{"text": "x"}, 404, "chat_id"},
	} {
		t.Run(c.name, func(t *testing.T) {
			status, body := ws.Do(t, http.MethodPost, c.path, c.body)
			wantError(t, status, body, c.code, c.field)
		})
	}

	// A chat the ingest API made with WhatsApp's Status as its id: a
	// reply would post a Status for every contact to see.
	status, body = ws.Do(t, http.MethodPost, "/api/v1/chats/"+ingestOne(t, ws, msg("status", "chat.external_id", "status@broadcast")).ChatID+"/messages",
		map[string]any{"text": "to everyone?"})
	if status != http.StatusConflict || !strings.Contains(string(body), "only to a person or a group") {
		t.Errorf("reply to status@broadcast: %d %s, want 409 saying why", status, body)
	}
	wantError(t, status, body, http.StatusConflict, "")

	status, body = ws.Do(t, http.MethodGet, path+"/01234567-89ab-cdef-0123-456789abcdef", nil)
	wantError(t, status, body, http.StatusNotFound, "message_id")
	status, body = other.Do(t, http.MethodPost, path, map[string]any{"text": "from another workspace"})
	wantError(t, status, body, http.StatusNotFound, "chat_id")
	status, body = other.Do(t, http.MethodGet, path+"/"+queued.MessageID, nil)
	wantError(t, status, body, http.StatusNotFound, "message_id")
}

// TestReplyUncertainAnswered: a reply given up while it may have been
// sent is "uncertain" on GET, with the reason.
func TestReplyUncertainAnswered(t *testing.T) {
	svc := chathooktest.Start(t, chathooktest.Options{Config: app.Config{WhatsApp: whatswebtest.New()}})
	ws := svc.NewWorkspace(t, "acme")
	chat := ingestOne(t, ws, msg("first"))
	ctx := context.Background()
	// Held by an instance that is not this one, which claims the reply and
	// gives it up in doubt.
	acc, err := svc.Store.LinkAccount(ctx, ws.WorkspaceID, chathook.Account{Phone: "+972500000000", JID: "972500000000:3@s.whatsapp.net"},
		"elsewhere", time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	path := "/api/v1/chats/" + chat.ChatID + "/messages"
	status, body := ws.Do(t, http.MethodPost, path, map[string]any{"text": "on its way"})
	var queued struct {
		MessageID string `json:"message_id"`
	}
	if err := json.Unmarshal(body, &queued); status != http.StatusAccepted || err != nil {
		t.Fatalf("reply: %d %s", status, body)
	}
	now := time.Now()
	out, err := svc.Store.ClaimReplies(ctx, "elsewhere", store.ReplyClaim{Now: now, Until: now.Add(time.Minute), Web: []int64{acc.ID},
		Stale: now.Add(-time.Hour), Limit: 1})
	if err != nil || len(out) != 1 {
		t.Fatalf("claimed %+v (%v)", out, err)
	}
	reason := "may have been sent: WhatsApp did not answer in time"
	if err := svc.Store.ReplyUncertain(ctx, "elsewhere", queued.MessageID, reason, now); err != nil {
		t.Fatal(err)
	}
	status, body = ws.Do(t, http.MethodGet, path+"/"+queued.MessageID, nil)
	var got struct {
		MessageID string `json:"message_id"`
		Status    string `json:"status"`
		Error     string `json:"error"`
	}
	if err := json.Unmarshal(body, &got); status != http.StatusOK || err != nil || got.Status != "uncertain" || got.Error != reason {
		t.Errorf("GET reply: %d %s, want uncertain with its reason", status, body)
	}
}
