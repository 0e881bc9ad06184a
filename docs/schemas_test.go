package docs_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// schema compiles docs/schemas/<name>, which must be a valid draft
// 2020-12 schema (the compiler checks it against the meta-schema).
func schema(t *testing.T, name string) (*jsonschema.Schema, map[string]any) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("schemas", name))
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	obj := doc.(map[string]any)
	if obj["$schema"] != "https://json-schema.org/draft/2020-12/schema" {
		t.Errorf("%s: $schema %v, want draft 2020-12", name, obj["$schema"])
	}
	id, _ := obj["$id"].(string)
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	if err := c.AddResource(id, doc); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	sch, err := c.Compile(id)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return sch, obj
}

func instance(t *testing.T, data []byte) any {
	t.Helper()
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("not JSON: %v: %s", err, data)
	}
	return v
}

// goldens are the wire format's golden files: payload's, rendered from
// SPEC 4's examples, and app's, received by a webhook end to end. app's
// stand DAY and UUID for what changes from run to run.
func goldens(t *testing.T) map[string][]byte {
	t.Helper()
	var paths []string
	for _, pattern := range []string{"../payload/testdata/*.golden", "../app/testdata/*.golden"} {
		m, err := filepath.Glob(pattern)
		if err != nil {
			t.Fatal(err)
		}
		paths = append(paths, m...)
	}
	if len(paths) < 6 {
		t.Fatalf("%d golden payloads found, want the 6 of payload/testdata and app/testdata: %v", len(paths), paths)
	}
	out := map[string][]byte{}
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		data = bytes.ReplaceAll(data, []byte("DAY"), []byte("2026-03-01"))
		data = bytes.ReplaceAll(data, []byte("/permalink/UUID/"), []byte("/permalink/0194f5b2-7c2e-7d3a-9b1e-2f4c6a8e0d13/"))
		out[p] = data
	}
	return out
}

// Every golden payload passes the schema of its kind: a bundle has
// "messages", a single message "message".
func TestSchemasAcceptGoldenPayloads(t *testing.T) {
	message, _ := schema(t, "message.schema.json")
	bundle, _ := schema(t, "bundle.schema.json")
	kinds := map[string]int{}
	for path, data := range goldens(t) {
		v := instance(t, data)
		sch, kind := message, "message"
		if _, ok := v.(map[string]any)["messages"]; ok {
			sch, kind = bundle, "bundle"
		}
		kinds[kind]++
		if err := sch.Validate(v); err != nil {
			t.Errorf("%s does not pass %s.schema.json: %v", path, kind, err)
		}
		// And not the other's: the two are told apart.
		other := bundle
		if kind == "bundle" {
			other = message
		}
		if other.Validate(v) == nil {
			t.Errorf("%s passes the other payload's schema too", path)
		}
	}
	if kinds["message"] == 0 || kinds["bundle"] == 0 {
		t.Errorf("goldens of each kind: %v", kinds)
	}
}

// A payload that breaks the wire format is refused: each change below
// breaks one rule of docs/wire-format.md.
func TestSchemasRefuseBrokenPayloads(t *testing.T) {
	message, _ := schema(t, "message.schema.json")
	bundle, _ := schema(t, "bundle.schema.json")
	single, err := os.ReadFile("../payload/testdata/single_spec.golden")
	if err != nil {
		t.Fatal(err)
	}
	bnd, err := os.ReadFile("../payload/testdata/bundle_spec.golden")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name     string
		golden   []byte
		sch      *jsonschema.Schema
		old, new string
	}{
		{"a number for a chat id", single, message, `"chat_id":"10010001"`, `"chat_id":10010001`},
		{"a timestamp in Z form", single, message, `"2021-02-24T06:25:29+0000"`, `"2021-02-24T06:25:29Z"`},
		{"a timestamp with another offset", single, message, `"2021-02-24T06:25:29+0000"`, `"2021-02-24T08:25:29+0200"`},
		{"null for an empty value", single, message, `"responsible_name":"Amnon"`, `"responsible_name":null`},
		{"a missing field", single, message, `"is_new_chat":true,`, ``},
		{"an unknown field", single, message, `"text":"lorem ipsum"`, `"text":"lorem ipsum","html":"x"`},
		{"an unknown direction", single, message, `"direction":"sent"`, `"direction":"outgoing"`},
		{"a group with a phone", single, message, `"is_group":false`, `"is_group":true`},
		{"a phone with spaces", single, message, `"phone":"+97254000000"}`, `"phone":"+972 54 000 000"}`},
		{"a bundle's field in a single message", single, message, `"text":"lorem ipsum"}`, `"text":"lorem ipsum"},"aggregation":"x"`},
		{"a bundle without messages", bnd, bundle, string(bnd)[strings.Index(string(bnd), `"messages":[`) : strings.Index(string(bnd), `],"first_message_timestamp"`)+1], `"messages":[]`},
		{"a bundle without aggregation", bnd, bundle, `,"aggregation":`, `,"aggregations":`},
	} {
		t.Run(c.name, func(t *testing.T) {
			broken := strings.Replace(string(c.golden), c.old, c.new, 1)
			if broken == string(c.golden) {
				t.Fatalf("%q is not in the golden payload", c.old)
			}
			if err := c.sch.Validate(instance(t, []byte(broken))); err == nil {
				t.Errorf("accepted: %s", broken)
			}
		})
	}
}

// The two schemas describe the parts they share alike: a receiver may
// use either's $defs.
func TestSchemasShareTheirDefinitions(t *testing.T) {
	_, m := schema(t, "message.schema.json")
	_, b := schema(t, "bundle.schema.json")
	if !reflect.DeepEqual(m["$defs"], b["$defs"]) {
		mj, _ := json.MarshalIndent(m["$defs"], "", " ")
		bj, _ := json.MarshalIndent(b["$defs"], "", " ")
		t.Errorf("$defs differ:\n%s\n%s", mj, bj)
	}
}
