package api_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/chathook/chathook/api"
	"github.com/chathook/chathook/chathooktest"
	"github.com/chathook/chathook/docs"
)

// GET /api/v1/openapi.json answers docs/openapi.json byte for byte, with
// no token (it is public documentation); the other methods are 405, and
// every other /api/v1 call still needs its token.
func TestOpenAPIServed(t *testing.T) {
	svc := chathooktest.Start(t, chathooktest.Options{})
	status, body := chathooktest.Do(t, http.MethodGet, svc.URL+"/api/v1/openapi.json", "", nil)
	if status != http.StatusOK || !bytes.Equal(body, docs.OpenAPI) {
		t.Fatalf("GET without a token: %d, %d bytes; want 200 and the %d bytes of docs/openapi.json", status, len(body), len(docs.OpenAPI))
	}
	var doc struct {
		OpenAPI string `json:"openapi"`
	}
	if err := json.Unmarshal(body, &doc); err != nil || doc.OpenAPI < "3.1" || doc.OpenAPI >= "3.2" {
		t.Errorf("not an OpenAPI 3.1 document: %q %v", doc.OpenAPI, err)
	}
	status, body = chathooktest.Do(t, http.MethodPost, svc.URL+"/api/v1/openapi.json", "", nil)
	wantError(t, status, body, http.StatusMethodNotAllowed, "")
	status, body = chathooktest.Do(t, http.MethodGet, svc.URL+"/api/v1/openapi.yaml", "", nil)
	wantError(t, status, body, http.StatusUnauthorized, "")
}

// POST /api/v1/webhooks/outbound/flush bundles what waits for its window
// and sends it now; a server without a bundler answers 503.
func TestFlush(t *testing.T) {
	svc := chathooktest.Start(t, chathooktest.Options{})
	ws := svc.NewWorkspace(t, "acme")
	sink := chathooktest.NewSink(t)
	ws.PointAt(t, sink.URL)
	if status, body := ws.Do(t, http.MethodPut, "/api/v1/webhooks/outbound", map[string]any{"granularity": "24h"}); status != http.StatusOK {
		t.Fatalf("granularity: %d %s", status, body)
	}
	ingestBatch(t, ws, msg("m1"), msg("m2"))
	status, body := ws.Do(t, http.MethodPost, "/api/v1/webhooks/outbound/flush", nil)
	if status != http.StatusOK || string(body) != `{"bundles":1,"messages":2}`+"\n" {
		t.Fatalf("flush: %d %s", status, body)
	}
	got := sink.WaitFor(t, 1, 10*time.Second)
	if id := got[0].Header.Get("webhook-id"); len(id) < 4 || id[:4] != "bnd_" {
		t.Errorf("flushed a delivery %q, want a bundle", id)
	}

	st, created := storeWithWorkspace(t)
	srv := httptest.NewServer(chathooktest.CheckedHandler(t, api.New(api.Config{Store: st})))
	t.Cleanup(srv.Close)
	status, body = chathooktest.Do(t, http.MethodPost, srv.URL+"/api/v1/webhooks/outbound/flush", created.APIToken, nil)
	wantError(t, status, body, http.StatusServiceUnavailable, "")
}
