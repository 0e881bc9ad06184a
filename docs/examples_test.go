package docs_test

import (
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/chathook/chathook/docs"
)

var jsonBlock = regexp.MustCompile("(?s)```json\n(.*?)```")

// jsonExamples returns the ```json blocks of a document of docs/.
func jsonExamples(t *testing.T, name string) []string {
	t.Helper()
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range jsonBlock.FindAllStringSubmatch(string(data), -1) {
		out = append(out, m[1])
	}
	return out
}

// The payloads shown in wire-format.md pass the schemas, so the prose
// and the schemas say the same.
func TestWireFormatExamples(t *testing.T) {
	message, _ := schema(t, "message.schema.json")
	bundle, _ := schema(t, "bundle.schema.json")
	checked := 0
	for _, ex := range jsonExamples(t, "wire-format.md") {
		if !strings.Contains(ex, `"whatsapp_account"`) {
			continue
		}
		sch := message
		if strings.Contains(ex, `"messages"`) {
			sch = bundle
		}
		if err := sch.Validate(instance(t, []byte(ex))); err != nil {
			t.Errorf("an example does not pass its schema: %v\n%s", err, ex)
		}
		checked++
	}
	if checked != 2 {
		t.Errorf("%d payload examples in wire-format.md, want 2", checked)
	}
}

// The bodies and answers shown in api.md match openapi.json's schemas.
func TestAPIExamples(t *testing.T) {
	doc, err := openapi3.NewLoader().LoadFromData(docs.OpenAPI)
	if err != nil {
		t.Fatal(err)
	}
	which := []struct{ marker, schema string }{
		{`"event_id"`, "event"}, // an event: its type's webhooks entry
		{`"created_at"`, "Endpoint"},
		{`"message_id"`, "Message"},
		{`"phone_number_id"`, "CloudAPIRegistration"},
		{`"since"`, "RecoverRequest"},
		{`"consecutive_failures"`, "Webhook"},
	}
	checked := map[string]int{}
	for _, ex := range jsonExamples(t, "api.md") {
		var v any
		if err := json.Unmarshal([]byte(ex), &v); err != nil {
			continue // a sketch such as {"messages": [ {message}, ... ]}
		}
		for _, w := range which {
			if !strings.Contains(ex, w.marker) {
				continue
			}
			sch := doc.Components.Schemas[w.schema]
			if w.schema == "event" {
				typ, _ := v.(map[string]any)["type"].(string)
				hook := doc.Webhooks[typ]
				if hook == nil {
					t.Errorf("an example of an event of no type: %s", ex)
					continue
				}
				sch = hook.Post.RequestBody.Value.Content.Get("application/json").Schema
			}
			if err := sch.Value.VisitJSON(v); err != nil {
				t.Errorf("an example is not a %s: %v\n%s", w.schema, err, ex)
			}
			checked[w.schema]++
			break
		}
	}
	for _, w := range which {
		if checked[w.schema] == 0 {
			t.Errorf("no example of %s found in api.md", w.schema)
		}
	}
}
