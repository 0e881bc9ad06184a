package chathooktest

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/chathook/chathook/docs"
)

// The webhook payloads' schemas, docs/schemas/, compiled once.
var payloadSchemas struct {
	once            sync.Once
	message, bundle *jsonschema.Schema
	err             error
}

func compilePayloadSchemas() error {
	payloadSchemas.once.Do(func() {
		compile := func(data []byte) (*jsonschema.Schema, error) {
			doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
			if err != nil {
				return nil, err
			}
			id, _ := doc.(map[string]any)["$id"].(string)
			c := jsonschema.NewCompiler()
			c.DefaultDraft(jsonschema.Draft2020)
			if err := c.AddResource(id, doc); err != nil {
				return nil, err
			}
			return c.Compile(id)
		}
		var err error
		if payloadSchemas.message, err = compile(docs.MessageSchema); err != nil {
			payloadSchemas.err = fmt.Errorf("docs/schemas/message.schema.json: %w", err)
			return
		}
		if payloadSchemas.bundle, err = compile(docs.BundleSchema); err != nil {
			payloadSchemas.err = fmt.Errorf("docs/schemas/bundle.schema.json: %w", err)
		}
	})
	return payloadSchemas.err
}

// CheckPayload fails t unless body, POSTed with webhookID, passes the
// schema of its kind in docs/schemas/: a bundle's id starts "bnd_", a
// message's "msg_". Benchmarks are not checked.
func CheckPayload(t TB, webhookID string, body []byte) {
	t.Helper()
	if _, bench := t.(*testing.B); bench {
		return
	}
	if err := compilePayloadSchemas(); err != nil {
		t.Errorf("%v", err)
		return
	}
	sch, name := payloadSchemas.message, "message.schema.json"
	switch {
	case strings.HasPrefix(webhookID, "bnd_"):
		sch, name = payloadSchemas.bundle, "bundle.schema.json"
	case strings.HasPrefix(webhookID, "evt_"):
		return // an event: checked against its type's schema by the tests of docs/ (TODO: here too, once per type)
	case !strings.HasPrefix(webhookID, "msg_"):
		t.Errorf("webhook-id %q is neither a message's (msg_) nor a bundle's (bnd_)", webhookID)
		return
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err == nil {
		err = sch.Validate(v)
	}
	if err != nil {
		t.Errorf("webhook %s: the payload does not pass docs/schemas/%s: %v\n%.500s", webhookID, name, err, body)
	}
}
