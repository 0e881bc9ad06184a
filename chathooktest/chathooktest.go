// Package chathooktest runs chathook in-process for tests and benchmarks:
// a real SQLite file (or a PostgreSQL schema of the test's own, see
// Postgres), a real HTTP listener on loopback, and a Sink that receives
// webhooks on a real socket. Several services started on one PostgreSQL
// URL are several instances sharing one database.
package chathooktest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chathook/chathook/app"
	"github.com/chathook/chathook/store"
	"github.com/chathook/chathook/store/postgres/pgtest"
)

// TB is what the helpers need of *testing.T and *testing.B.
type TB interface {
	testing.TB
}

// Service is a running chathook.
type Service struct {
	URL      string // http://127.0.0.1:port
	Store    store.Store
	DB       string // the --db value, to start another service on the same database
	Instance string // the name its delivery leases carry
	// MetricsURL is http://<Config.MetricsAddr>/metrics, "" unless set;
	// a MetricsAddr of 127.0.0.1:0 gets a free port.
	MetricsURL string

	svc    *app.Service
	cancel context.CancelFunc
	done   chan error
}

// Clock is a settable clock for Config.Now: real time shifted by an
// offset, so time still passes (retries fall due) after a jump.
type Clock struct {
	mu     sync.Mutex
	offset time.Duration
}

// NewClock returns a clock that reads t now.
func NewClock(t time.Time) *Clock {
	c := &Clock{}
	c.Set(t)
	return c
}

// Now reads the clock.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

// Set moves the clock to read t now.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset = time.Until(t)
}

// Postgres returns a --db URL for a PostgreSQL schema of this test's own,
// dropped when the test ends; see pgtest.URL for when it skips or fails.
func Postgres(t TB) string {
	t.Helper()
	return pgtest.URL(t)
}

// Options tune Start; the zero value is fine.
type Options struct {
	DB     string     // --db; default a fresh file in t.TempDir()
	Config app.Config // Addr, DB and Logger are filled in
	Clock  *Clock     // sets Config.Now when not nil
}

// Start runs a service until the test ends (or Stop). It allows private
// targets, since test sinks listen on loopback.
func Start(t TB, opt Options) *Service {
	t.Helper()
	if opt.DB == "" {
		opt.DB = "sqlite:" + filepath.Join(t.TempDir(), "chathook.db")
	}
	cfg := opt.Config
	cfg.DB = opt.DB
	cfg.AllowPrivateTargets = true
	if opt.Clock != nil {
		cfg.Now = opt.Clock.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	ctx, cancel := context.WithCancel(context.Background())
	st, err := app.OpenStore(ctx, cfg.DB)
	if err != nil {
		cancel()
		t.Fatalf("open store: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		cancel()
		t.Fatalf("listen: %v", err)
	}
	url := "http://" + ln.Addr().String()
	if cfg.BaseURL == "" {
		cfg.BaseURL = url
	}
	svc, err := app.New(cfg, st)
	if err != nil {
		cancel()
		t.Fatalf("new service: %v", err)
	}
	s := &Service{URL: url, Store: st, DB: cfg.DB, Instance: svc.Instance(), svc: svc, cancel: cancel, done: make(chan error, 1)}
	if addr := svc.MetricsAddr(); addr != "" {
		s.MetricsURL = "http://" + addr + "/metrics"
	}
	go func() {
		err := svc.Serve(ctx, ln)
		st.Close()
		s.done <- err
	}()
	t.Cleanup(func() { s.Stop(t) })
	return s
}

// Tick makes the service act on its clock now (see app.Service.Tick):
// call it after moving a Clock.
func (s *Service) Tick() { s.svc.Tick() }

// Stop shuts the service down as SIGTERM would and waits for it. It may be
// called more than once.
func (s *Service) Stop(t TB) {
	t.Helper()
	s.cancel()
	s.wait(t)
}

// Kill stops the service as a crash would (app.Service.Kill) and waits
// for it: its claims stay leased in the database until they expire.
func (s *Service) Kill(t TB) {
	t.Helper()
	s.svc.Kill()
	s.wait(t)
	s.cancel()
}

// Crash stops the service as Kill does, without waiting for it: for a
// test that stops an instance from inside one of its own calls (a fake
// network's hook). Kill or Stop then waits for it.
func (s *Service) Crash() { s.svc.Kill() }

func (s *Service) wait(t TB) {
	t.Helper()
	if err, ok := <-s.done; ok {
		close(s.done)
		if err != nil {
			t.Errorf("serve: %v", err)
		}
	}
}

// Workspace is a workspace created in a service's store.
type Workspace struct {
	app.Created
	svc *Service
}

// On returns the workspace as seen through another service on the same
// database: its requests go to that instance.
func (w *Workspace) On(s *Service) *Workspace {
	return &Workspace{Created: w.Created, svc: s}
}

// NewWorkspace creates a workspace as `chathook workspace create` does.
func (s *Service) NewWorkspace(t TB, name string) *Workspace {
	t.Helper()
	c, err := app.CreateWorkspace(context.Background(), s.Store, name, "owner@"+name+".example", "Owner of "+name)
	if err != nil {
		t.Fatalf("create workspace: %v", err)
	}
	return &Workspace{Created: c, svc: s}
}

// Do sends an API request with the workspace's token and returns the
// status and body.
func (w *Workspace) Do(t TB, method, path string, body any) (int, []byte) {
	t.Helper()
	return Do(t, method, w.svc.URL+path, w.APIToken, body)
}

// Do sends a request; body is sent as is when it is []byte or a string,
// and as JSON otherwise. token "" sends no Authorization header. The
// exchange is held to docs/openapi.json (see CheckAPI).
func Do(t TB, method, url, token string, body any) (int, []byte) {
	t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		r = bytes.NewReader(b)
	case string:
		r = bytes.NewReader([]byte(b))
	default:
		data, err := json.Marshal(b)
		if err != nil {
			t.Fatalf("marshal: %v", err)
		}
		r = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, url, r)
	if err != nil {
		t.Fatalf("request: %v", err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := Client(t).Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read answer: %v", err)
	}
	return resp.StatusCode, data
}

// PointAt sets the workspace's webhook URL and enables it.
func (w *Workspace) PointAt(t TB, url string) {
	t.Helper()
	status, body := w.Do(t, http.MethodPut, "/api/v1/webhooks/outbound", map[string]any{"url": url, "enabled": true})
	if status != http.StatusOK {
		t.Fatalf("point webhook at %s: %d %s", url, status, body)
	}
}

// Received is one request a Sink got.
type Received struct {
	Header http.Header
	Body   []byte
	At     time.Time
}

// Sink is a webhook receiver on a real loopback socket. It answers 204
// unless Respond says otherwise. Every payload it gets is held to the
// schemas of docs/schemas/ (CheckPayload).
type Sink struct {
	*httptest.Server
	t        TB
	mu       sync.Mutex
	got      []Received
	attempts int
	more     chan struct{}
	// Respond, when set, picks the status of each request (n counts from
	// 1); it may read r.Body.
	Respond func(n int, r *http.Request) int
}

// NewSink starts a sink that is closed when the test ends.
func NewSink(t TB) *Sink {
	s := &Sink{t: t, more: make(chan struct{}, 1)}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

func (s *Sink) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	// Close waits for this handler, and runs in the test's cleanup: the
	// test is still running when this reports.
	CheckPayload(s.t, r.Header.Get("webhook-id"), body)
	s.mu.Lock()
	s.attempts++
	n := s.attempts
	respond := s.Respond
	s.mu.Unlock()
	status := http.StatusNoContent
	if respond != nil {
		r.Body = io.NopCloser(bytes.NewReader(body))
		status = respond(n, r)
	}
	if status >= 200 && status < 300 {
		s.mu.Lock()
		s.got = append(s.got, Received{Header: r.Header.Clone(), Body: body, At: time.Now()})
		s.mu.Unlock()
		select {
		case s.more <- struct{}{}:
		default:
		}
	}
	w.WriteHeader(status)
}

// Attempts counts every request, whatever it was answered.
func (s *Sink) Attempts() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.attempts
}

// Got returns the requests accepted with a 2xx so far.
func (s *Sink) Got() []Received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Received(nil), s.got...)
}

// WaitFor waits until the sink has accepted n requests, failing the test
// after timeout. It returns what was accepted.
func (s *Sink) WaitFor(t TB, n int, timeout time.Duration) []Received {
	t.Helper()
	deadline := time.After(timeout)
	for {
		s.mu.Lock()
		have := len(s.got)
		s.mu.Unlock()
		if have >= n {
			return s.Got()
		}
		select {
		case <-s.more:
		case <-deadline:
			t.Fatalf("sink: %d of %d requests after %s", have, n, timeout)
		}
	}
}

// AddUser lets email sign in to the workspace's web UI with password.
func (w *Workspace) AddUser(t TB, email, name, password string) {
	t.Helper()
	if _, err := app.AddUser(context.Background(), w.svc.Store, w.WorkspaceID, email, name, password); err != nil {
		t.Fatalf("add user %s: %v", email, err)
	}
}

// Post ingests messages (each a JSON object as the API takes it) in one
// batch, failing the test unless it is accepted.
func (w *Workspace) Post(t TB, msgs ...string) {
	t.Helper()
	body := `{"messages": [` + strings.Join(msgs, ",") + `]}`
	if status, answer := w.Do(t, http.MethodPost, "/api/v1/messages/batch", body); status != http.StatusAccepted {
		t.Fatalf("ingest: %d %s", status, answer)
	}
}
