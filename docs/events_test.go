package docs_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/docs"
	"github.com/chathook/chathook/event"
	"github.com/chathook/chathook/payload"
)

// schemaFile is the name of an event type's schema in docs/schemas.
func schemaFile(typ string) string { return strings.ReplaceAll(typ, ":", "_") + ".json" }

// Every event type of the catalogue has its JSON Schema in docs/schemas
// and its entry under the OpenAPI document's webhooks, and nothing else
// is there: a type added to event.Types comes with both.
func TestEveryEventTypeIsDocumented(t *testing.T) {
	doc, err := openapi3.NewLoader().LoadFromData(docs.OpenAPI)
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, typ := range event.Types {
		_, obj := schema(t, schemaFile(typ.Name))
		props, _ := obj["properties"].(map[string]any)
		if enum, _ := props["type"].(map[string]any)["enum"].([]any); len(enum) != 1 || enum[0] != typ.Name {
			t.Errorf("%s: its schema's type is %v", typ.Name, props["type"])
		}
		hook := doc.Webhooks[typ.Name]
		if hook == nil || hook.Post == nil || hook.Post.RequestBody == nil ||
			hook.Post.RequestBody.Value.Content.Get("application/json") == nil {
			t.Errorf("%s: no webhooks entry with a JSON body in docs/openapi.json", typ.Name)
		}
	}
	if len(doc.Webhooks) != len(event.Types) {
		t.Errorf("%d webhooks entries for %d event types", len(doc.Webhooks), len(event.Types))
	}
	files, _ := filepath.Glob("schemas/*_*.json")
	if len(files) != len(event.Types) {
		t.Errorf("docs/schemas has %d event schemas for %d types: %v", len(files), len(event.Types), files)
	}
}

// What payload.Event renders passes its type's schema, in the file and
// in the OpenAPI document's webhooks alike.
func TestEventPayloadsPassTheirSchemas(t *testing.T) {
	doc, err := openapi3.NewLoader().LoadFromData(docs.OpenAPI)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)
	acc := chathook.Account{ID: 3, WorkspaceID: "ws_1", Phone: "+972500000000", FullName: "Amnon Haha", Email: "amnon@acme.com"}
	c := chathook.Chat{ID: 10010001, FullName: "John Doe", Phone: "+97254000000"}
	group := chathook.Chat{ID: 10010002, FullName: "Team", IsGroup: true}
	m := chathook.Message{UUID: "0194f5b2-7c2e-7d3a-9b1e-2f4c6a8e0d13", MessageID: "3EB0C767D26A1D2D", Direction: chathook.Received,
		Timestamp: at, Sender: chathook.Person{FullName: "John Doe", Phone: "+97254000000"},
		Recipient: chathook.Person{FullName: "Amnon Haha", Phone: "+972500000000"}, Text: "Hi! 👋", IsNewChat: true}
	for _, c := range []struct {
		typ  string
		chat chathook.Chat
	}{
		{event.MessageNew, c}, {event.MessageReceivedNew, c}, {event.MessageNew, group},
		{event.ChatCreated, c}, {event.ChatReceivedNew, group},
	} {
		body := payload.Event("https://chathook.example", c.typ, event.NewID(at), at, at, acc, c.chat, m)
		sch, _ := schema(t, schemaFile(c.typ))
		if err := sch.Validate(instance(t, body)); err != nil {
			t.Errorf("%s does not pass docs/schemas/%s: %v\n%s", c.typ, schemaFile(c.typ), err, body)
		}
		var v any
		if err := json.Unmarshal(body, &v); err != nil {
			t.Fatal(err)
		}
		s := doc.Webhooks[c.typ].Post.RequestBody.Value.Content.Get("application/json").Schema.Value
		if err := s.VisitJSON(v); err != nil {
			t.Errorf("%s does not pass its webhooks entry in docs/openapi.json: %v", c.typ, err)
		}
		// Each type's payload passes no other type's schema.
		other := event.ChatCreated
		if c.typ != event.MessageNew {
			other = event.MessageNew
		}
		if o, _ := schema(t, schemaFile(other)); o.Validate(instance(t, body)) == nil {
			t.Errorf("%s passes the schema of %s too", c.typ, other)
		}
	}
	body := payload.Envelope(event.WebhookTest, event.NewID(at), at, "ws_1", struct{}{})
	if sch, _ := schema(t, schemaFile(event.WebhookTest)); sch.Validate(instance(t, body)) != nil {
		t.Errorf("webhook:test does not pass its schema: %s", body)
	}
	if _, err := os.Stat(filepath.Join("schemas", "message_status.json")); err != nil {
		t.Error(err)
	}
}
