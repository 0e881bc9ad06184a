package app_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chathook/chathook/app"
)

// cappedService runs chathook with at most max connections open, on a
// real SQLite file and a loopback listener, and returns it, its address
// and a workspace's API token.
func cappedService(t *testing.T, max int) (*app.Service, string, string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	st, err := app.OpenStore(ctx, "sqlite:"+filepath.Join(t.TempDir(), "chathook.db"))
	if err != nil {
		t.Fatal(err)
	}
	ws, err := app.CreateWorkspace(ctx, st, "acme", "owner@acme.example", "Owner")
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	svc, err := app.New(app.Config{
		BaseURL: "http://" + ln.Addr().String(), MaxConnections: max,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}, st)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- svc.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
		st.Close()
	})
	return svc, ln.Addr().String(), ws.APIToken
}

// conn is a raw HTTP/1.1 client connection, so the test decides when each
// byte is sent and sees when the server closes it.
type conn struct {
	net.Conn
	r *bufio.Reader
}

func dial(t *testing.T, addr string) *conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	// A safety net only: every read below is answered long before.
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	return &conn{Conn: c, r: bufio.NewReader(c)}
}

func (c *conn) send(t *testing.T, s string) {
	t.Helper()
	if _, err := io.WriteString(c, s); err != nil {
		t.Fatal(err)
	}
}

// answer reads one response and returns its status.
func (c *conn) answer(t *testing.T) int {
	t.Helper()
	resp, err := http.ReadResponse(c.r, nil)
	if err != nil {
		t.Fatalf("read the answer: %v", err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

const healthz = "GET /healthz HTTP/1.1\r\nHost: chathook\r\n\r\n"

// At the cap, the connection idle the longest is closed to make room: a
// ninth client is answered, and the first idle connection finds itself
// closed (where an uncapped server keeps it open for the idle timeout).
func TestConnectionCapClosesTheLongestIdleFirst(t *testing.T) {
	t.Parallel()
	const max = 8
	svc, addr, _ := cappedService(t, max)
	var idle []*conn
	for i := range max {
		c := dial(t, addr)
		c.send(t, healthz)
		if status := c.answer(t); status != http.StatusOK {
			t.Fatalf("connection %d: %d", i+1, status)
		}
		idle = append(idle, c)
		if i < max-1 {
			// Each goes idle before the next, so the first is the oldest.
			until(t, "idle on the server", func() bool { _, n, _ := app.Conns(svc); return n == i+1 })
		}
	}
	ninth := dial(t, addr)
	ninth.send(t, healthz)
	if status := ninth.answer(t); status != http.StatusOK {
		t.Fatalf("the ninth connection: %d", status)
	}
	if _, err := idle[0].r.ReadByte(); !errors.Is(err, io.EOF) {
		t.Fatalf("the connection idle the longest: %v, want closed by the server (EOF)", err)
	}
	// The others are still open and serve.
	last := idle[max-1]
	last.send(t, healthz)
	if status := last.answer(t); status != http.StatusOK {
		t.Fatalf("the newest idle connection: %d", status)
	}
	if open, _, most := app.Conns(svc); open > max || most > max {
		t.Errorf("%d connections open, at most %d at once; the cap is %d", open, most, max)
	}
}

// With every connection busy mid-request, a new one is not accepted (it
// waits in the kernel's queue) until one frees, and is then answered.
func TestConnectionCapHoldsNewConnectionsWhileAllAreBusy(t *testing.T) {
	t.Parallel()
	const max = 8
	svc, addr, token := cappedService(t, max)
	var busy []*conn
	for range max {
		c := dial(t, addr)
		// Headers only: the API waits for the 100 bytes of body.
		c.send(t, "POST /api/v1/messages HTTP/1.1\r\nHost: chathook\r\nAuthorization: Bearer "+token+
			"\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n")
		busy = append(busy, c)
	}
	until(t, "8 connections accepted", func() bool { open, _, _ := app.Conns(svc); return open == max })
	ninth := dial(t, addr)
	ninth.send(t, healthz)

	// The first busy request completes (a 4xx for its junk body); its
	// connection, idle or closed, makes room for the ninth.
	busy[0].send(t, strings.Repeat("x", 100))
	if status := busy[0].answer(t); status < 400 || status >= 500 {
		t.Fatalf("the completed request: %d, want a 4xx", status)
	}
	if status := ninth.answer(t); status != http.StatusOK {
		t.Fatalf("the ninth connection: %d", status)
	}
	if open, _, most := app.Conns(svc); open > max || most > max {
		t.Errorf("%d connections open, at most %d at once; the cap is %d", open, most, max)
	}
}

// Connections that send nothing cannot hold every slot: at the cap, with
// none idle, the one silent the longest beyond two seconds is closed to
// make room, long before the 10 s the server gives a request's header,
// and the younger silent ones stay open.
func TestConnectionCapClosesSilentConnections(t *testing.T) {
	t.Parallel()
	const max = 8
	svc, addr, _ := cappedService(t, max)
	var silent []*conn
	for range max {
		silent = append(silent, dial(t, addr))
	}
	until(t, "8 connections accepted", func() bool { open, _, _ := app.Conns(svc); return open == max })
	ninth := dial(t, addr)
	ninth.send(t, healthz)
	if status := ninth.answer(t); status != http.StatusOK {
		t.Fatalf("the ninth connection: %d", status)
	}
	// An uncapped server, or one that only closes idle connections, would
	// answer only once the header timeout had closed every silent one.
	if open, _, most := app.Conns(svc); open != max || most > max {
		t.Errorf("%d connections open (the ninth and 7 silent ones expected), at most %d at once; the cap is %d", open, most, max)
	}
	if _, err := silent[0].r.ReadByte(); !errors.Is(err, io.EOF) {
		t.Fatalf("the connection silent the longest: %v, want closed by the server (EOF)", err)
	}
}
