// Package api serves chathook's JSON HTTP API (SPEC section 6): ingest,
// webhook settings, chats, accounts and the health check.
//
// Every /api/v1 call is authenticated by one of a workspace's API tokens
// (a bearer token, looked up on every request, so a revoked one is
// refused at once by every instance) and only ever reaches that
// workspace's rows: the workspace id comes from the token, never from the
// request.
package api

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/docs"
	"github.com/chathook/chathook/store"
)

// Body limits. A batch holds up to 1000 messages; 32 MiB leaves room for
// long texts while keeping one request's memory bounded.
const (
	MaxMessageBody = 1 << 20
	MaxBatchBody   = 32 << 20
	maxSettingBody = 64 << 10
)

// Config is what the API needs from the rest of the service.
type Config struct {
	Store               store.Store
	Logger              *slog.Logger
	AllowPrivateTargets bool
	// Queued is called after deliveries became due (settings saved,
	// deliveries recovered), so the dispatcher can start at once instead
	// of at its next poll. Ingested is called after ingested messages
	// were queued for delivery; nil: Queued.
	Queued, Ingested func()
	// Bundles flushes bundles on demand, and is told of a change of
	// granularity; nil answers the flush route 503.
	Bundles Bundler
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// StreamWriteTimeout bounds each write of a log download (see
	// StreamLog); zero means DefaultStreamWriteTimeout.
	StreamWriteTimeout time.Duration
	// BodyBudget is the memory, in bytes, that request bodies may take at
	// once (see budget); zero means DefaultBodyBudget.
	BodyBudget int64
	// BodyGrace and BodyMinRate (bytes a second) cut a body that trickles:
	// after BodyGrace it must have arrived at BodyMinRate, or is answered
	// 408 (see meteredBody). Zero values take DefaultBodyGrace and
	// DefaultBodyMinRate; a negative rate turns the cut off. ReadTimeout is
	// the server's, which no body outlasts.
	BodyGrace   time.Duration
	BodyMinRate int64
	ReadTimeout time.Duration
	// BaseURL is chathook's public URL, which the callback URL of Cloud
	// API numbers is built on.
	BaseURL string
	// WhatsApp logs out accounts linked by QR code; nil answers their
	// DELETE 503.
	WhatsApp WhatsApp
	// Replies queues messages sent to chats; nil answers their POST 503.
	Replies Replier
	// Tester sends an endpoint's test POST; nil answers POST .../test 503.
	Tester Tester
}

// Tester sends a test POST to an endpoint; deliver.Dispatcher is one.
type Tester interface {
	Test(ctx context.Context, wh chathook.Webhook) chathook.Outcome
}

// Bundler is what the API needs of the bundle flusher.
type Bundler interface {
	// FlushAll flushes the bundles of the endpoint whose Key is endpoint.
	FlushAll(ctx context.Context, endpoint int64) (bundles, messages int, err error)
	Kick()
}

// Server is the API's http.Handler.
type Server struct {
	cfg    Config
	mux    *http.ServeMux
	budget *budget
}

// New returns the API handler.
func New(cfg Config) *Server {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Queued == nil {
		cfg.Queued = func() {}
	}
	if cfg.Ingested == nil {
		cfg.Ingested = cfg.Queued
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.BodyGrace <= 0 {
		cfg.BodyGrace = DefaultBodyGrace
	}
	if cfg.BodyMinRate == 0 {
		cfg.BodyMinRate = DefaultBodyMinRate
	}
	s := &Server{cfg: cfg, mux: http.NewServeMux(), budget: newBudget(cfg.BodyBudget)}
	s.mux.HandleFunc("/healthz", s.healthz)
	s.mux.Handle("/api/v1/messages", s.auth(methods{http.MethodPost: s.bodies(MaxMessageBody, s.postMessage)}))
	s.mux.Handle("/api/v1/messages/batch", s.auth(methods{http.MethodPost: s.bodies(MaxBatchBody, s.postBatch)}))
	s.mux.Handle("/api/v1/messages/{message_uuid}", s.auth(methods{http.MethodGet: s.getMessage}))
	s.mux.Handle("/api/v1/webhooks", s.auth(methods{http.MethodGet: s.listWebhooks,
		http.MethodPost: s.bodies(maxSettingBody, s.postWebhook)}))
	// outbound keeps its GET and PUT of before endpoints; PATCH and
	// DELETE are those of any endpoint.
	s.mux.Handle("/api/v1/webhooks/outbound", s.auth(methods{http.MethodGet: s.getWebhook,
		http.MethodPut:    s.bodies(maxSettingBody, s.putWebhook),
		http.MethodPatch:  outboundPath(s.bodies(maxSettingBody, s.patchEndpoint)),
		http.MethodDelete: outboundPath(s.deleteEndpoint)}))
	s.mux.Handle("/api/v1/webhooks/{id}", s.auth(methods{http.MethodGet: s.getEndpoint,
		http.MethodPatch: s.bodies(maxSettingBody, s.patchEndpoint), http.MethodDelete: s.deleteEndpoint}))
	s.mux.Handle("/api/v1/webhooks/{id}/activity", s.auth(methods{http.MethodGet: s.getActivity}))
	s.mux.Handle("/api/v1/webhooks/{id}/log", s.auth(methods{http.MethodGet: s.getLog}))
	s.mux.Handle("/api/v1/webhooks/{id}/flush", s.auth(methods{http.MethodPost: s.postFlush}))
	s.mux.Handle("/api/v1/webhooks/{id}/recover", s.auth(methods{http.MethodPost: s.bodies(maxSettingBody, s.postRecover)}))
	s.mux.Handle("/api/v1/webhooks/{id}/secret/rotate", s.auth(methods{http.MethodPost: s.bodies(maxSettingBody, s.postRotate)}))
	s.mux.Handle("/api/v1/webhooks/{id}/test", s.auth(methods{http.MethodPost: s.bodies(maxSettingBody, s.postTest)}))
	s.mux.Handle("/api/v1/chats/{chat_id}", s.auth(methods{http.MethodPut: s.bodies(maxSettingBody, s.putChat)}))
	s.mux.Handle("/api/v1/chats/{chat_id}/messages", s.auth(methods{http.MethodPost: s.bodies(MaxMessageBody, s.postReply)}))
	s.mux.Handle("/api/v1/chats/{chat_id}/messages/{message_id}", s.auth(methods{http.MethodGet: s.getReply}))
	s.mux.Handle("/api/v1/accounts", s.auth(methods{http.MethodGet: s.getAccounts}))
	s.mux.Handle("/api/v1/accounts/cloud-api", s.auth(methods{http.MethodPost: s.bodies(maxSettingBody, s.postCloudAPI)}))
	s.mux.Handle("/api/v1/accounts/{id}", s.auth(methods{http.MethodDelete: s.deleteAccount,
		http.MethodPut: s.bodies(maxSettingBody, s.putAccount)}))
	// Public documentation: no token, so that tools can fetch it as is.
	s.mux.Handle("/api/v1/openapi.json", methods{http.MethodGet: serveOpenAPI})
	s.mux.Handle("/api/", s.auth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "no such API route: "+r.Method+" "+r.URL.Path)
	})))
	return s
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// methods routes by HTTP method and answers others with a JSON 405.
type methods map[string]http.HandlerFunc

func (m methods) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h, ok := m[r.Method]; ok {
		h(w, r)
		return
	}
	allowed := make([]string, 0, len(m))
	for k := range m {
		allowed = append(allowed, k)
	}
	slices.Sort(allowed) // the same Allow header every time
	w.Header().Set("Allow", strings.Join(allowed, ", "))
	writeError(w, http.StatusMethodNotAllowed, r.Method+" is not allowed here; use "+strings.Join(allowed, " or "))
}

type ctxKey struct{}

// auth resolves the bearer token to a workspace, or answers 401.
func (s *Server) auth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, ok := bearerToken(r.Header.Get("Authorization"))
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="chathook"`)
			writeError(w, http.StatusUnauthorized, "missing API token: send Authorization: Bearer <api_token>")
			return
		}
		// Read on every request, never cached: a revoked token is refused
		// at once, on every instance.
		ws, err := s.cfg.Store.UseToken(r.Context(), HashToken(token), s.cfg.Now())
		if errors.Is(err, chathook.ErrUnauthorized) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="chathook", error="invalid_token"`)
			writeError(w, http.StatusUnauthorized, "invalid API token")
			return
		}
		if err != nil {
			s.internal(w, r, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, ws)))
	})
}

// NewToken returns a new API token and the SHA-256 that is stored of it:
// 32 random bytes, URL-safe, after "chk_" so that secret scanners and
// people can tell what it is.
func NewToken() (token string, hash []byte) {
	raw := make([]byte, 32)
	_, _ = rand.Read(raw)
	token = "chk_" + base64.RawURLEncoding.EncodeToString(raw)
	return token, HashToken(token)
}

// HashToken is what the store keeps of an API token.
func HashToken(token string) []byte {
	sum := sha256.Sum256([]byte(token))
	return sum[:]
}

// bearerToken returns the token of an Authorization header of the Bearer
// scheme. The scheme is matched in any case ("bearer", "BEARER"), as HTTP
// says of every auth-scheme (RFC 9110, section 11.1); the token is not.
func bearerToken(header string) (string, bool) {
	scheme, token, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimLeft(token, " ") // 1*SP separates them
	return token, token != ""
}

func workspace(r *http.Request) chathook.Workspace {
	return r.Context().Value(ctxKey{}).(chathook.Workspace)
}

// serveOpenAPI answers docs/openapi.json, the very bytes in the source.
func serveOpenAPI(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-cache")
	_, _ = w.Write(docs.OpenAPI)
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.cfg.Store.Ping(ctx); err != nil {
		s.cfg.Logger.Error("health check: database unreachable", "err", err)
		writeError(w, http.StatusServiceUnavailable, "database unreachable")
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readBody reads at most limit bytes, answering 413 when there are more,
// 408 when the body did not arrive in time (the server's read timeout,
// or the minimum rate of meteredBody) and 503 when the memory budget for
// bodies, or the workspace's share of it, is spent (see budget). A read
// error's text is never echoed: it names the server's and the client's
// socket addresses.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, bool) {
	if r.ContentLength > limit {
		writeFieldError(w, http.StatusRequestEntityTooLarge, "body", "larger than the limit of "+sizeText(limit))
		return nil, false
	}
	body, err := readAll(http.MaxBytesReader(w, r.Body, limit), r.ContentLength)
	var tooBig *http.MaxBytesError
	var netErr net.Error
	switch {
	case err == nil:
		return body, true
	case errors.Is(err, chathook.ErrBodyBudget):
		writeBusy(w)
	case errors.As(err, &tooBig):
		writeFieldError(w, http.StatusRequestEntityTooLarge, "body", "larger than the limit of "+sizeText(limit))
	case errors.As(err, &netErr) && netErr.Timeout():
		w.Header().Set("Connection", "close")
		writeFieldError(w, http.StatusRequestTimeout, "body", "did not arrive in time: send it faster, or in smaller batches")
	case errors.Is(err, io.ErrUnexpectedEOF):
		writeFieldError(w, http.StatusBadRequest, "body", "ended before all of it arrived")
	default:
		writeFieldError(w, http.StatusBadRequest, "body", "could not be read")
	}
	return nil, false
}

// readAll reads r to its end into a buffer that grows as bytes arrive,
// doubling, never past size, the declared length (-1: unknown): a
// Content-Length is a claim, and memory is taken for what was sent. As
// io.ReadFull did, a body of known length ends at it. A body whose length
// was unknown is copied to its exact size at the end when the buffer has
// more than an eighth to spare, so that what the request holds while it is
// decoded is the body, not twice it.
func readAll(r io.Reader, size int64) ([]byte, error) {
	if size < 0 {
		body, err := io.ReadAll(r)
		if err == nil && cap(body)-len(body) > len(body)/8 {
			body = append(make([]byte, 0, len(body)), body...)
		}
		return body, err
	}
	buf := make([]byte, 0, min(bodyChunk, size))
	for int64(len(buf)) < size {
		if len(buf) == cap(buf) {
			buf = append(make([]byte, 0, min(2*int64(cap(buf)), size)), buf...)
		}
		k, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+k]
		switch {
		case err == io.EOF && int64(len(buf)) < size:
			return nil, io.ErrUnexpectedEOF
		case err != nil && err != io.EOF:
			return nil, err
		}
	}
	return buf, nil
}

func sizeText(n int64) string {
	if n >= 1<<20 {
		return itoa(n>>20) + " MiB"
	}
	return itoa(n>>10) + " KiB"
}

// internal logs an unexpected error and answers 500 without details.
func (s *Server) internal(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, context.Canceled) {
		return // the client went away
	}
	s.cfg.Logger.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	writeError(w, http.StatusInternalServerError, "internal error; it has been logged")
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

type errorBody struct {
	Error string `json:"error"`
	Field string `json:"field,omitempty"`
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, errorBody{Error: msg})
}

// writeFieldError answers with the problem and, separately, the field it
// concerns, for clients that want to point at it.
func writeFieldError(w http.ResponseWriter, status int, field, problem string) {
	msg := problem
	if field != "" {
		msg = field + ": " + problem
	}
	writeJSON(w, status, errorBody{Error: msg, Field: field})
}
