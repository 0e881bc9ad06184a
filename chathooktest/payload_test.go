package chathooktest_test

import (
	"os"
	"strings"
	"testing"

	"github.com/chathook/chathook/chathooktest"
)

// testEvent is a webhook:test event of id with data.
func testEvent(id, data string) string {
	return `{"type":"webhook:test","event_id":"` + id + `","timestamp":"2026-12-05T10:00:00Z","workspace_id":"w1","data":` + data + `}`
}

// CheckPayload passes the wire format's golden payloads under ids of
// their kind, and an event under its event_id, and reports a broken
// payload, a payload of another kind, an id of none, and an event that is
// not as its type's schema says.
func TestCheckPayload(t *testing.T) {
	single, err := os.ReadFile("../payload/testdata/single_spec.golden")
	if err != nil {
		t.Fatal(err)
	}
	bundle, err := os.ReadFile("../payload/testdata/bundle_spec.golden")
	if err != nil {
		t.Fatal(err)
	}
	broken := strings.Replace(string(single), `"chat_id":"10010001"`, `"chat_id":10010001`, 1)
	for _, c := range []struct {
		name, id, body string
		want           string
	}{
		{"a message", "msg_0194f5b27c2e7d3a9b1e2f4c6a8e0d13", string(single), ""},
		{"the test message", "msg_test_0123456789abcdef01234567", string(single), ""},
		{"a bundle", "bnd_0194f5b27c2e7d3a9b1e2f4c6a8e0d13", string(bundle), ""},
		{"a broken message", "msg_1", broken, "message.schema.json"},
		{"a bundle as a message", "msg_1", string(bundle), "message.schema.json"},
		{"a message as a bundle", "bnd_1", string(single), "bundle.schema.json"},
		{"an id of none", "wh_1", string(single), "neither"},
		{"a message as an event", "evt_1", string(single), "not an event"},
		{"an event", "evt_01M92TB3D0XJ8K2E4TQ9ZC6W1N", testEvent("evt_01M92TB3D0XJ8K2E4TQ9ZC6W1N", `{}`), ""},
		{"an event of another id", "evt_01M92TB3D0XJ8K2E4TQ9ZC6W1N", testEvent("evt_01M92TB3D0XJ8K2E4TQ9ZC6W1P", `{}`), "not an event"},
		{"an event not as its schema says", "evt_01M92TB3D0XJ8K2E4TQ9ZC6W1N", testEvent("evt_01M92TB3D0XJ8K2E4TQ9ZC6W1N", `{"x": 1}`), "webhook_test.json"},
	} {
		t.Run(c.name, func(t *testing.T) {
			rec := &errorsOf{}
			chathooktest.CheckPayload(rec, c.id, []byte(c.body))
			report := strings.Join(rec.got, "\n")
			switch {
			case c.want == "" && report != "":
				t.Errorf("reported:\n%s", report)
			case c.want != "" && !strings.Contains(report, c.want):
				t.Errorf("reported %q, want a report naming %q", report, c.want)
			}
		})
	}
}
