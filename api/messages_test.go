package api_test

import (
	"encoding/json"
	"net/http"
	"reflect"
	"testing"
	"time"

	"github.com/chathook/chathook/chathooktest"
)

// An ingest API message with attachments is skipped for the seed format,
// reaches an event endpoint with its attachments as given, and reads the
// same from GET /api/v1/messages/{message_uuid}, in its workspace only.
func TestStoredMessageWithIngestAttachments(t *testing.T) {
	svc := chathooktest.Start(t, chathooktest.Options{})
	ws := svc.NewWorkspace(t, "acme")
	other := svc.NewWorkspace(t, "globex")
	sink := chathooktest.NewSink(t)
	if status, body := ws.Do(t, http.MethodPost, "/api/v1/webhooks", map[string]any{"url": sink.URL, "events": []string{"message:new"}}); status != http.StatusCreated {
		t.Fatalf("create endpoint: %d %s", status, body)
	}
	given := []any{
		map[string]any{"type": "image", "url": "https://files.example/1.jpg", "mime_type": "image/jpeg", "size": 48213},
		map[string]any{"type": "location", "latitude": 32.0853, "longitude": 34.7818, "name": "Office", "address": "1 Rothschild Blvd"},
	}
	if a := ingestOne(t, ws, msg("m1", "text", "Here", "attachments", given)); a.Status != "skipped" {
		t.Fatalf("answer %+v, want skipped (for the seed format)", a)
	}
	got := sink.WaitFor(t, 1, 10*time.Second)
	var ev struct {
		Data struct {
			Message json.RawMessage `json:"message"`
		} `json:"data"`
	}
	if err := json.Unmarshal(got[0].Body, &ev); err != nil {
		t.Fatal(err)
	}
	var sent struct {
		MessageUUID string           `json:"message_uuid"`
		Text        string           `json:"text"`
		Attachments []map[string]any `json:"attachments"`
	}
	if err := json.Unmarshal(ev.Data.Message, &sent); err != nil {
		t.Fatal(err)
	}
	want := []map[string]any{
		{"type": "image", "url": "https://files.example/1.jpg", "mime_type": "image/jpeg", "size": 48213.0, "file_name": "", "sha256": "",
			"width": 0.0, "height": 0.0, "duration_s": 0.0, "url_expires_at": "", "error": ""},
		{"type": "location", "url": "", "mime_type": "", "size": 0.0, "file_name": "", "sha256": "", "width": 0.0, "height": 0.0, "duration_s": 0.0,
			"url_expires_at": "", "error": "", "latitude": 32.0853, "longitude": 34.7818, "name": "Office", "address": "1 Rothschild Blvd"},
	}
	if sent.Text != "Here" || !reflect.DeepEqual(sent.Attachments, want) {
		t.Errorf("event message %s, want text Here and attachments %v as given", ev.Data.Message, want)
	}

	status, body := ws.Do(t, http.MethodGet, "/api/v1/messages/"+sent.MessageUUID, nil)
	if status != http.StatusOK {
		t.Fatalf("GET message: %d %s", status, body)
	}
	var read struct {
		MessageUUID string           `json:"message_uuid"`
		Attachments []map[string]any `json:"attachments"`
	}
	if err := json.Unmarshal(body, &read); err != nil || read.MessageUUID != sent.MessageUUID || !reflect.DeepEqual(read.Attachments, want) {
		t.Errorf("GET message: %s (%v), want what the event said", body, err)
	}
	if status, body := other.Do(t, http.MethodGet, "/api/v1/messages/"+sent.MessageUUID, nil); status != http.StatusNotFound {
		t.Errorf("another workspace's message: %d %s, want 404", status, body)
	}
	status, body = ws.Do(t, http.MethodGet, "/api/v1/messages/0190c2e1-0000-7000-8000-000000000000", nil)
	wantError(t, status, body, http.StatusNotFound, "message_uuid")
}
