package chathooktest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"

	"github.com/chathook/chathook/docs"
)

// The API's description, docs/openapi.json, loaded once per test binary.
var apiDoc struct {
	once sync.Once
	doc  *openapi3.T
	err  error
}

// API returns docs/openapi.json, loaded and validated.
func API() (*openapi3.T, error) {
	apiDoc.once.Do(func() {
		openapi3filter.RegisterBodyDecoder("application/x-ndjson", ndjsonDecoder)
		apiDoc.doc, apiDoc.err = openapi3.NewLoader().LoadFromData(docs.OpenAPI)
		if apiDoc.err == nil {
			apiDoc.err = apiDoc.doc.Validate(context.Background())
		}
		if apiDoc.err != nil {
			apiDoc.err = fmt.Errorf("docs/openapi.json: %w", apiDoc.err)
		}
	})
	return apiDoc.doc, apiDoc.err
}

// Why findRoute fails.
var (
	errNoPath   = errors.New("no such path in docs/openapi.json")
	errNoMethod = errors.New("docs/openapi.json has this path, not with this method")
)

// findRoute finds the operation of a request as net/http's ServeMux
// routes it (and as OpenAPI says paths match): a path without parameters
// before any with, a parameter matching one whole, non-empty segment,
// and a path that matches but lacks the method answered 405, whatever
// other path has the method. (kin-openapi's routers do otherwise in
// both cases.)
func findRoute(doc *openapi3.T, r *http.Request) (*routers.Route, map[string]string, error) {
	segs := strings.Split(r.URL.Path, "/")
	var best string
	var bestParams map[string]string
	for _, tmpl := range doc.Paths.InMatchingOrder() {
		params, ok := matchPath(tmpl, segs)
		if !ok {
			continue
		}
		if best == "" || len(params) < len(bestParams) {
			best, bestParams = tmpl, params
		}
	}
	if best == "" {
		return nil, nil, errNoPath
	}
	item := doc.Paths.Value(best)
	op := item.GetOperation(r.Method)
	if op == nil {
		return nil, nil, errNoMethod
	}
	return &routers.Route{Spec: doc, Path: best, PathItem: item, Method: r.Method, Operation: op}, bestParams, nil
}

// matchPath matches a path template such as /api/v1/chats/{chat_id}.
func matchPath(tmpl string, segs []string) (map[string]string, bool) {
	parts := strings.Split(tmpl, "/")
	if len(parts) != len(segs) {
		return nil, false
	}
	params := map[string]string{}
	for i, p := range parts {
		if name, ok := strings.CutPrefix(p, "{"); ok && strings.HasSuffix(name, "}") {
			if segs[i] == "" {
				return nil, false
			}
			params[strings.TrimSuffix(name, "}")] = segs[i]
		} else if p != segs[i] {
			return nil, false
		}
	}
	return params, true
}

// ndjsonDecoder reads JSON Lines (the log's ?format=jsonl) as the array
// of their values, which is how docs/openapi.json describes them.
func ndjsonDecoder(body io.Reader, _ http.Header, _ *openapi3.SchemaRef, _ openapi3filter.EncodingFn) (any, error) {
	lines := []any{}
	sc := bufio.NewScanner(body)
	sc.Buffer(nil, 16<<20)
	for n := 1; sc.Scan(); n++ {
		var v any
		if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		lines = append(lines, v)
	}
	return lines, sc.Err()
}

// exercised counts, per operationId, the exchanges of this test binary
// that reached a documented operation (see RunCheckingAPI).
var exercised = struct {
	sync.Mutex
	ops map[string]int
}{ops: map[string]int{}}

// CheckAPI holds one exchange with the service to docs/openapi.json,
// failing t with the operation and the mismatch:
//   - every answer must be documented: its status listed for the
//     operation, its body and required headers as described; a request
//     to a path the document lacks must get a 404 (401 without a valid
//     token), one with a method the path lacks a 405, both as the
//     document's error;
//   - a request answered 2xx must match the document too. One answered
//     4xx may be invalid by design (tests send bad input on purpose).
//
// Only /api/ and /healthz are checked; other paths (web pages, Meta's
// webhook) are not part of the document. Benchmarks are not checked: the
// validation would be timed with them.
func CheckAPI(t TB, req *http.Request, reqBody []byte, status int, header http.Header, respBody []byte) {
	t.Helper()
	if _, bench := t.(*testing.B); bench {
		return
	}
	path := req.URL.Path
	if !strings.HasPrefix(path, "/api/") && path != "/healthz" {
		return
	}
	doc, err := API()
	if err != nil {
		t.Errorf("%v", err)
		return
	}
	name := req.Method + " " + req.URL.RequestURI()
	// The service reads every body as JSON, whatever its Content-Type.
	r := req.Clone(context.Background())
	if r.Header.Get("Content-Type") == "" && len(reqBody) > 0 {
		r.Header.Set("Content-Type", "application/json")
	}
	r.Body = io.NopCloser(bytes.NewReader(reqBody))
	r.ContentLength = int64(len(reqBody))
	route, params, err := findRoute(doc, r)
	if err != nil {
		checkUnrouted(t, name, err, status, header, respBody)
		return
	}
	op := route.Operation.OperationID
	in := &openapi3filter.RequestValidationInput{
		Request: r, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, MultiError: true},
	}
	if status >= 200 && status < 300 {
		if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil {
			t.Errorf("%s (operation %s): answered %d, but the request does not match docs/openapi.json: %v", name, op, status, err)
		}
	}
	out := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in, Status: status, Header: header,
		Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	out.SetBodyBytes(respBody)
	if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
		t.Errorf("%s (operation %s): the answer %d does not match docs/openapi.json: %v\nbody: %.500s", name, op, status, err, respBody)
		return
	}
	exercised.Lock()
	exercised.ops[op]++
	exercised.Unlock()
}

// checkUnrouted checks the answer to a request that no operation of the
// document takes: the document's 404 or 405 (or 401, which comes first).
func checkUnrouted(t TB, name string, routeErr error, status int, header http.Header, body []byte) {
	t.Helper()
	want := []int{http.StatusNotFound, http.StatusUnauthorized}
	if routeErr == errNoMethod {
		want = []int{http.StatusMethodNotAllowed, http.StatusUnauthorized}
		if status == http.StatusMethodNotAllowed && header.Get("Allow") == "" {
			t.Errorf("%s: 405 without the Allow header that docs/openapi.json promises", name)
		}
	}
	if !slices.Contains(want, status) {
		t.Errorf("%s: docs/openapi.json has no such operation (%v), so the answer must be %v, not %d: %.500s", name, routeErr, want, status, body)
		return
	}
	doc, _ := API()
	schema := doc.Components.Schemas["Error"].Value
	var v any
	if err := json.Unmarshal(body, &v); err != nil || !strings.HasPrefix(header.Get("Content-Type"), "application/json") {
		t.Errorf("%s: answer %d is not the JSON error of docs/openapi.json (%v): %.500s", name, status, err, body)
		return
	}
	if err := schema.VisitJSON(v); err != nil {
		t.Errorf("%s: answer %d is not the error of docs/openapi.json: %v", name, status, err)
	}
}

// Client returns an HTTP client whose every exchange with the service is
// held to docs/openapi.json (see CheckAPI). It reads each answer's body
// whole before returning it.
func Client(t TB) *http.Client {
	return &http.Client{Transport: checkingTransport{t: t, base: http.DefaultTransport}}
}

type checkingTransport struct {
	t    TB
	base http.RoundTripper
}

func (c checkingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	var reqBody []byte
	if req.Body != nil {
		var err error
		if reqBody, err = io.ReadAll(req.Body); err != nil {
			return nil, err
		}
		req.Body.Close()
		req = req.Clone(req.Context())
		req.Body = io.NopCloser(bytes.NewReader(reqBody))
	}
	resp, err := c.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	respBody, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		// A cut-off answer is the test's to judge, not the document's.
		resp.Body = io.NopCloser(io.MultiReader(bytes.NewReader(respBody), errReader{err}))
		return resp, nil
	}
	CheckAPI(c.t, req, reqBody, resp.StatusCode, resp.Header, respBody)
	resp.Body = io.NopCloser(bytes.NewReader(respBody))
	return resp, nil
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// CheckedHandler wraps a handler (the API's, served by httptest) so that
// every exchange with it is held to docs/openapi.json (see CheckAPI). The
// request's body is checked as far as the handler read it; an exchange
// that the handler aborted (http.ErrAbortHandler) is not checked.
func CheckedHandler(t TB, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in bytes.Buffer
		if r.Body != nil {
			r.Body = struct {
				io.Reader
				io.Closer
			}{io.TeeReader(r.Body, &in), r.Body}
		}
		rec := &recorder{ResponseWriter: w}
		h.ServeHTTP(rec, r)
		if rec.status == 0 {
			rec.status = http.StatusOK
		}
		CheckAPI(t, r, in.Bytes(), rec.status, w.Header(), rec.body.Bytes())
	})
}

// recorder keeps a copy of what a handler answers; Unwrap lets
// http.ResponseController reach the connection (flushes, deadlines).
type recorder struct {
	http.ResponseWriter
	status int
	body   bytes.Buffer
}

func (r *recorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
	r.ResponseWriter.WriteHeader(status)
}

func (r *recorder) Write(p []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	r.body.Write(p)
	return r.ResponseWriter.Write(p)
}

func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// RunCheckingAPI runs a test binary's tests (m.Run), then fails it unless
// they exercised every operation of docs/openapi.json through CheckAPI,
// so that an operation added to the document or the API comes with a
// test. A run narrowed with -run, -skip or -short checks nothing.
func RunCheckingAPI(m *testing.M) int {
	code := m.Run()
	if code != 0 || narrowed() {
		return code
	}
	doc, err := API()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	exercised.Lock()
	defer exercised.Unlock()
	var missing []string
	for _, item := range doc.Paths.Map() {
		for _, op := range item.Operations() {
			if exercised.ops[op.OperationID] == 0 {
				missing = append(missing, op.OperationID)
			}
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		fmt.Fprintf(os.Stderr, "FAIL: no test exercised these operations of docs/openapi.json: %s\n", strings.Join(missing, ", "))
		return 1
	}
	return code
}

// narrowed reports whether the run leaves tests out.
func narrowed() bool {
	if testing.Short() {
		return true
	}
	for _, name := range []string{"test.run", "test.skip"} {
		if f := flag.Lookup(name); f != nil && f.Value.String() != "" {
			return true
		}
	}
	return false
}
