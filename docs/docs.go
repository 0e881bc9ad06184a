// Package docs holds the documents that chathook also serves or checks
// itself against, so that each exists once: the OpenAPI description of
// the HTTP API (openapi.json, served at GET /api/v1/openapi.json and
// checked against every API test's requests and answers), the JSON
// Schemas of the two seed-format payloads (schemas/, checked against the
// wire format's golden files) and one per event type of the event format
// (schemas/<type with : as _>.json, also under the document's webhooks). The rest of docs/ is prose for people.
package docs

import (
	"embed"
	"strings"
)

// OpenAPI is docs/openapi.json: the OpenAPI 3.1 document of /api/v1, with the event payloads under webhooks.
//
//go:embed openapi.json
var OpenAPI []byte

// MessageSchema and BundleSchema are the JSON Schemas (draft 2020-12) of
// the two webhook payloads: one message per POST, and a bundle.
var (
	//go:embed schemas/message.schema.json
	MessageSchema []byte
	//go:embed schemas/bundle.schema.json
	BundleSchema []byte
)

// eventSchemas are the JSON Schemas of the event format, one per type.
//
//go:embed schemas/*_*.json
var eventSchemas embed.FS

// EventSchema returns the JSON Schema of an event type (schemas/<type with
// : as _>.json), or false when there is none.
func EventSchema(typ string) ([]byte, bool) {
	b, err := eventSchemas.ReadFile("schemas/" + strings.ReplaceAll(typ, ":", "_") + ".json")
	return b, err == nil
}
