package chathooktest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/chathook/chathook/docs"
	"github.com/chathook/chathook/event"
)

// The webhook payloads' schemas, docs/schemas/, compiled once.
var payloadSchemas struct {
	once            sync.Once
	message, bundle *jsonschema.Schema
	events          map[string]*jsonschema.Schema // by type
	err             error
}

func compileSchema(data []byte) (*jsonschema.Schema, error) {
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

func compilePayloadSchemas() error {
	payloadSchemas.once.Do(func() {
		compile := compileSchema
		payloadSchemas.events = map[string]*jsonschema.Schema{}
		for _, typ := range event.Names() {
			data, ok := docs.EventSchema(typ)
			if !ok {
				payloadSchemas.err = fmt.Errorf("docs/schemas has no schema of %s", typ)
				return
			}
			sch, err := compile(data)
			if err != nil {
				payloadSchemas.err = fmt.Errorf("docs/schemas, %s: %w", typ, err)
				return
			}
			payloadSchemas.events[typ] = sch
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
// message's "msg_", an event's "evt_" (the schema of its type, and the id
// is its event_id). Benchmarks are not checked.
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
		var e struct {
			Type    string `json:"type"`
			EventID string `json:"event_id"`
		}
		if err := json.Unmarshal(body, &e); err != nil || e.EventID != webhookID || payloadSchemas.events[e.Type] == nil {
			t.Errorf("webhook %s: not an event of a known type with that event_id (%v): %.300s", webhookID, err, body)
			return
		}
		sch, name = payloadSchemas.events[e.Type], strings.ReplaceAll(e.Type, ":", "_")+".json"
	case !strings.HasPrefix(webhookID, "msg_"):
		t.Errorf("webhook-id %q is neither a message's (msg_), a bundle's (bnd_) nor an event's (evt_)", webhookID)
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
