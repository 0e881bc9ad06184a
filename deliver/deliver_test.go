package deliver_test

import (
	"context"
	"fmt"
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

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/app"
	"github.com/chathook/chathook/chathooktest"
	"github.com/chathook/chathook/payload"
)

// fast retries, so a test sees several attempts without waiting.
var fast = app.Config{RetrySchedule: []time.Duration{10 * time.Millisecond, 10 * time.Millisecond, 10 * time.Millisecond}}

func message(chat, n int) string {
	return fmt.Sprintf(`{"account": {"phone": "+15550000000"}, "chat": {"external_id": "+1555100%04d"},
		"message_id": "c%d-m%d", "direction": "received", "text": "message %d"}`, chat, chat, n, n)
}

func post(t *testing.T, ws *chathooktest.Workspace, msgs ...string) {
	t.Helper()
	status, body := ws.Do(t, http.MethodPost, "/api/v1/messages/batch", `{"messages": [`+strings.Join(msgs, ",")+`]}`)
	if status != http.StatusAccepted {
		t.Fatalf("ingest: %d %s", status, body)
	}
}

// attempt is one request a recorder saw.
type attempt struct {
	id, ts, sig string
	body        []byte
}

// recorder is a receiver that records every request and answers with
// handle; it signals each request on seen.
type recorder struct {
	*httptest.Server
	mu       sync.Mutex
	attempts []attempt
	seen     chan struct{}
}

func newRecorder(t *testing.T, handle func(n int, w http.ResponseWriter, r *http.Request)) *recorder {
	rec := &recorder{seen: make(chan struct{}, 1000)}
	rec.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rec.mu.Lock()
		rec.attempts = append(rec.attempts, attempt{r.Header.Get("webhook-id"), r.Header.Get("webhook-timestamp"), r.Header.Get("webhook-signature"), body})
		n := len(rec.attempts)
		rec.mu.Unlock()
		handle(n, w, r)
		rec.seen <- struct{}{}
	}))
	t.Cleanup(rec.Close)
	return rec
}

// wait blocks until the recorder has answered n requests.
func (rec *recorder) wait(t *testing.T, n int) []attempt {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		rec.mu.Lock()
		got := append([]attempt(nil), rec.attempts...)
		rec.mu.Unlock()
		if len(got) >= n {
			return got
		}
		select {
		case <-rec.seen:
		case <-timeout:
			t.Fatalf("%d of %d requests arrived", len(got), n)
		}
	}
}

func TestAny2xxIsSuccess(t *testing.T) {
	statuses := []int{200, 201, 202, 204, 299}
	rec := newRecorder(t, func(n int, w http.ResponseWriter, _ *http.Request) { w.WriteHeader(statuses[(n-1)%len(statuses)]) })
	svc := chathooktest.Start(t, chathooktest.Options{Config: fast})
	ws := svc.NewWorkspace(t, "acme")
	ws.PointAt(t, rec.URL)
	var msgs []string
	for n := range statuses {
		msgs = append(msgs, message(1, n))
	}
	post(t, ws, msgs...)
	rec.wait(t, len(statuses))
	post(t, ws, message(1, 99)) // once this arrives, no retry of the others is pending
	got := rec.wait(t, len(statuses)+1)
	svc.Stop(t)
	if len(rec.attempts) != len(statuses)+1 {
		t.Errorf("%d requests, want %d: a 2xx was retried", len(rec.attempts), len(statuses)+1)
	}
	for i, a := range got[:len(statuses)] {
		if want := fmt.Sprintf(`"message_id":"c1-m%d"`, i); !strings.Contains(string(a.body), want) {
			t.Errorf("request %d is not message %d in order: %s", i, i, a.body)
		}
	}
}

// A receiver failing twice gets the same delivery three times, with the
// same webhook-id, each attempt freshly timestamped and validly signed;
// the chat's next message waits until the first is through.
func TestRetryKeepsWebhookIDAndChatOrder(t *testing.T) {
	rec := newRecorder(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		if n <= 2 {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	})
	svc := chathooktest.Start(t, chathooktest.Options{Config: fast})
	ws := svc.NewWorkspace(t, "acme")
	ws.PointAt(t, rec.URL)
	post(t, ws, message(1, 1), message(1, 2))
	got := rec.wait(t, 4)
	key, _ := payload.ParseSecret(ws.WebhookSecret)
	for i, a := range got[:3] {
		if a.id != got[0].id || !strings.Contains(string(a.body), `"c1-m1"`) {
			t.Errorf("attempt %d: id %s body %s; want a retry of the first message with id %s", i+1, a.id, a.body, got[0].id)
		}
		var ts int64
		fmt.Sscan(a.ts, &ts)
		if !payload.Verify(key, a.id, ts, a.body, a.sig) {
			t.Errorf("attempt %d: signature does not verify", i+1)
		}
	}
	if !strings.Contains(string(got[3].body), `"c1-m2"`) || got[3].id == got[0].id {
		t.Errorf("fourth request: %s %s; want the second message, with its own id", got[3].id, got[3].body)
	}
}

func TestRedirectIsAnErrorNotFollowed(t *testing.T) {
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("redirect followed to %s", r.URL)
	}))
	defer target.Close()
	rec := newRecorder(t, func(n int, w http.ResponseWriter, r *http.Request) {
		if n <= 2 {
			http.Redirect(w, r, target.URL+"/moved", http.StatusFound)
		}
	})
	svc := chathooktest.Start(t, chathooktest.Options{Config: fast})
	ws := svc.NewWorkspace(t, "acme")
	ws.PointAt(t, rec.URL)
	post(t, ws, message(1, 1))
	got := rec.wait(t, 3) // two 302s, each an error, then the retry that succeeds
	if got[2].id != got[0].id {
		t.Errorf("the third request is not a retry of the first")
	}
}

func TestHangingReceiverIsCutOff(t *testing.T) {
	rec := newRecorder(t, func(n int, w http.ResponseWriter, r *http.Request) {
		if n == 1 {
			<-r.Context().Done() // hangs until chathook gives up
		}
	})
	cfg := fast
	cfg.DeliveryTimeout = 200 * time.Millisecond
	svc := chathooktest.Start(t, chathooktest.Options{Config: cfg})
	ws := svc.NewWorkspace(t, "acme")
	ws.PointAt(t, rec.URL)
	post(t, ws, message(1, 1))
	got := rec.wait(t, 2)
	if got[1].id != got[0].id {
		t.Errorf("after the timeout the same delivery must be retried")
	}
}

// A receiver that answers 200 and then streams without end must not hold
// the dispatcher: only a small part of the answer is read.
func TestEndlessResponseIsNotRead(t *testing.T) {
	chunk := []byte(strings.Repeat("x", 32<<10))
	rec := newRecorder(t, func(n int, w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
		for r.Context().Err() == nil {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	})
	cfg := fast
	cfg.DeliveryTimeout = 5 * time.Second
	svc := chathooktest.Start(t, chathooktest.Options{Config: cfg})
	ws := svc.NewWorkspace(t, "acme")
	ws.PointAt(t, rec.URL)
	post(t, ws, message(1, 1), message(1, 2))
	got := rec.wait(t, 2)
	if got[0].id == got[1].id {
		t.Errorf("the first delivery was retried: its endless answer was read until the timeout")
	}
}

func TestConnectionsAreKeptAlive(t *testing.T) {
	var mu sync.Mutex
	conns := 0
	rec := newRecorder(t, func(int, http.ResponseWriter, *http.Request) {})
	rec.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			mu.Lock()
			conns++
			mu.Unlock()
		}
	}
	svc := chathooktest.Start(t, chathooktest.Options{})
	ws := svc.NewWorkspace(t, "acme")
	ws.PointAt(t, rec.URL)
	var msgs []string
	for n := range 50 {
		msgs = append(msgs, message(1, n))
	}
	post(t, ws, msgs...)
	rec.wait(t, 50)
	mu.Lock()
	defer mu.Unlock()
	if conns > 2 {
		t.Errorf("%d connections for 50 requests to one chat: keep-alive is not working", conns)
	}
}

// logWatch is a slog handler that hands log records to a test.
type logWatch struct{ records chan slog.Record }

func (l logWatch) Enabled(context.Context, slog.Level) bool { return true }
func (l logWatch) Handle(_ context.Context, r slog.Record) error {
	select {
	case l.records <- r:
	default:
	}
	return nil
}
func (l logWatch) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l logWatch) WithGroup(string) slog.Handler      { return l }

// Without --allow-private-targets the dialer refuses loopback even when
// the URL got into the database some other way (or a name resolves there).
func TestPrivateTargetRefusedAtConnect(t *testing.T) {
	rec := newRecorder(t, func(int, http.ResponseWriter, *http.Request) {
		t.Error("a request reached a loopback receiver")
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	st, err := app.OpenStore(ctx, "sqlite:"+filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	created, err := app.CreateWorkspace(ctx, st, "acme", "o@acme.example", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.UpdateWebhook(ctx, created.WorkspaceID, chathook.Outbound, time.Now(), chathook.WebhookUpdate{URL: &rec.URL}); err != nil {
		t.Fatal(err)
	}
	watch := logWatch{records: make(chan slog.Record, 100)}
	svc, err := app.New(app.Config{Logger: slog.New(watch), RetrySchedule: fast.RetrySchedule}, st)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- svc.Serve(ctx, ln) }()
	defer func() { cancel(); <-done }()

	status, body := chathooktest.Do(t, http.MethodPost, "http://"+ln.Addr().String()+"/api/v1/messages", created.APIToken, message(1, 1))
	if status != http.StatusAccepted {
		t.Fatalf("ingest: %d %s", status, body)
	}
	timeout := time.After(10 * time.Second)
	for {
		select {
		case r := <-watch.records:
			var errText string
			r.Attrs(func(a slog.Attr) bool {
				if a.Key == "err" {
					errText = a.Value.String()
				}
				return true
			})
			if r.Message == "delivery failed" {
				if !strings.Contains(errText, "private") {
					t.Errorf("failed with %q, want a refusal of the private address", errText)
				}
				return
			}
		case <-timeout:
			t.Fatal("no delivery attempt was logged")
		}
	}
}
