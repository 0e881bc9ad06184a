package docs_test

import (
	"context"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/chathook/chathook/docs"
)

// docs/openapi.json is a valid OpenAPI 3.1 document, and holds to what
// every operation of the API shares (README, API): each has an id and a
// summary; each but the public ones needs the bearer token and lists
// 401; each lists 500; each that reads a body lists what reading one can
// answer (400, 408, 413, and 503 with Retry-After); and every 4xx and
// 5xx is the error object.
func TestOpenAPIDocument(t *testing.T) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(docs.OpenAPI)
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("not a valid OpenAPI document: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.1.") {
		t.Errorf("openapi %q, want 3.1.x", doc.OpenAPI)
	}
	public := map[string]bool{"getOpenAPI": true, "healthz": true}
	ids := map[string]string{}
	for path, item := range doc.Paths.Map() {
		if !strings.HasPrefix(path, "/api/v1/") && path != "/healthz" {
			t.Errorf("path %s is outside /api/v1", path)
		}
		for method, op := range item.Operations() {
			name := method + " " + path
			if op.OperationID == "" || op.Summary == "" {
				t.Errorf("%s: no operationId or summary", name)
			}
			if other, dup := ids[op.OperationID]; dup {
				t.Errorf("%s and %s share the operationId %s", name, other, op.OperationID)
			}
			ids[op.OperationID] = name
			secured := op.Security == nil || len(*op.Security) > 0
			if secured == public[op.OperationID] {
				t.Errorf("%s: needs a token: %v, want %v", name, secured, !public[op.OperationID])
			}
			want := []string{"500"}
			if secured {
				want = append(want, "401")
			}
			if op.RequestBody != nil {
				want = append(want, "400", "408", "413", "503")
				if busy := op.Responses.Value("503"); busy != nil && busy.Value.Headers["Retry-After"] == nil {
					t.Errorf("%s: its 503 has no Retry-After", name)
				}
			}
			for _, code := range want {
				if op.Responses.Value(code) == nil {
					t.Errorf("%s: does not list %s", name, code)
				}
			}
			for code, r := range op.Responses.Map() {
				if code < "400" {
					continue
				}
				mt := r.Value.Content.Get("application/json")
				if mt == nil || mt.Schema == nil || mt.Schema.Ref != "#/components/schemas/Error" {
					t.Errorf("%s: its %s is not the error object", name, code)
				}
			}
		}
	}
	if len(ids) < 15 {
		t.Errorf("%d operations, fewer than the API has", len(ids))
	}
}
