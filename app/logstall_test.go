package app_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/app"
	"github.com/chathook/chathook/chathooktest"
	"github.com/chathook/chathook/store"
	"github.com/google/uuid"
)

// logRows is the size of the detailed log the stalled downloads ask for:
// far more than the sockets' buffers hold, so their writes block.
const logRows = 20000

// fillLog gives a new workspace of db a detailed log of n delivered
// attempts, written through the store before the service starts (so no
// dispatcher races it), and returns the workspace.
func fillLog(t *testing.T, db string, n int) app.Created {
	t.Helper()
	ctx := context.Background()
	st, err := app.OpenStore(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	created, err := app.CreateWorkspace(ctx, st, "busy", "owner@busy.example", "")
	if err != nil {
		t.Fatal(err)
	}
	// A receiver URL with a long token in it (Zapier's and Make's are
	// long too): about 600 bytes a row, 12 MB in all, three times what a
	// socket's buffers take.
	hook := "http://127.0.0.1:9/never-posted?token=" + strings.Repeat("0123456789abcdef", 32)
	if _, err := st.UpdateWebhook(ctx, created.WorkspaceID, chathook.Outbound, time.Now(), chathook.WebhookUpdate{URL: &hook}); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	for start := 0; start < n; start += 1000 {
		var ins []chathook.Incoming
		for i := start; i < min(start+1000, n); i++ {
			ins = append(ins, chathook.Incoming{
				Account: chathook.Account{Phone: "+15550000000"}, Chat: chathook.Chat{ExternalID: fmt.Sprintf("+1555100%04d", i%500)},
				MessageID: fmt.Sprintf("m%d", i), UUID: uuid.NewString(), Direction: chathook.Received, Timestamp: now,
				Text: "hello",
			})
		}
		if _, err := st.Ingest(ctx, created.WorkspaceID, now, ins); err != nil {
			t.Fatal(err)
		}
	}
	for done := 0; done < n; {
		got, err := st.ClaimDue(ctx, "fill", now, time.Hour, 1000)
		if err != nil || len(got) == 0 {
			t.Fatalf("claimed %d after %d (%v)", len(got), done, err)
		}
		outs := make([]store.Finished, len(got))
		for i, d := range got {
			outs[i] = store.Finished{Outcome: chathook.Outcome{DeliveryID: d.ID, URL: hook, At: now, Status: 204,
				Duration: time.Millisecond}}
		}
		if err := st.Finish(ctx, outs); err != nil {
			t.Fatal(err)
		}
		done += len(got)
	}
	return created
}

// stalledGet sends a GET of path on a raw TCP connection that never reads
// its answer, with a receive buffer of a few KB so that the server's
// writes soon block, as they do for a client that stopped reading.
func stalledGet(t *testing.T, baseURL, path, token string) net.Conn {
	t.Helper()
	d := net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) { serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
		if err == nil {
			err = serr
		}
		return err
	}}
	conn, err := d.Dial("tcp", strings.TrimPrefix(baseURL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if _, err := fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: chathook\r\nAuthorization: Bearer %s\r\n\r\n", path, token); err != nil {
		t.Fatal(err)
	}
	return conn
}

// queued is how many bytes wait unread in conn's receive buffer.
func queued(t *testing.T, conn net.Conn) int {
	raw, err := conn.(*net.TCPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var n int32
	_ = raw.Control(func(fd uintptr) {
		_, _, _ = syscall.Syscall(syscall.SYS_IOCTL, fd, syscall.TIOCINQ, uintptr(unsafe.Pointer(&n)))
	})
	return int(n)
}

// TestStalledLogDownloadsHurtNoOne: a token holder opens 16 downloads of
// a 20,000-row log (CSV and JSON lines) and never reads them. /healthz,
// another workspace's ingest and its own log download still answer, and
// the busy workspace's log still downloads whole for a client that
// reads. Before, each stalled download held a read connection (and an
// SQLite snapshot) while blocked on its client: the pool ran dry,
// /healthz answered 503 and ingest hung on the token check.
func TestStalledLogDownloadsHurtNoOne(t *testing.T) {
	onEveryStore(t, func(t *testing.T, db string) {
		busy := fillLog(t, db, logRows)
		svc := chathooktest.Start(t, chathooktest.Options{DB: db})
		other := svc.NewWorkspace(t, "other")

		var conns []net.Conn
		for i := range 16 {
			path := "/api/v1/webhooks/outbound/log"
			if i%2 == 1 {
				path += "?format=jsonl"
			}
			conns = append(conns, stalledGet(t, svc.URL, path, busy.APIToken))
		}
		// Wait until every download has started writing (or 20 s: the
		// downloads that never start are the ones queued for a connection).
		for end := time.Now().Add(20 * time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
			started := 0
			for _, c := range conns {
				if queued(t, c) > 0 {
					started++
				}
			}
			if started == len(conns) {
				break
			}
		}

		// Generous bounds: they stand for "answers at all" against a hang
		// that lasts as long as the stalled clients do.
		client := chathooktest.Client(t) // held to docs/openapi.json
		client.Timeout = 15 * time.Second
		do := func(method, path, token, body string) (int, []byte, error) {
			req, _ := http.NewRequest(method, svc.URL+path, strings.NewReader(body))
			if token != "" {
				req.Header.Set("Authorization", "Bearer "+token)
			}
			resp, err := client.Do(req)
			if err != nil {
				return 0, nil, err
			}
			defer resp.Body.Close()
			data, err := io.ReadAll(resp.Body)
			return resp.StatusCode, data, err
		}
		if status, body, err := do(http.MethodGet, "/healthz", "", ""); err != nil || status != http.StatusOK {
			t.Errorf("/healthz with 16 stalled downloads: %d %s %v", status, body, err)
		}
		msg := `{"account":{"phone":"+15550000001"},"chat":{"external_id":"+15551000001"},"message_id":"x1","direction":"received","text":"hi"}`
		if status, body, err := do(http.MethodPost, "/api/v1/messages", other.APIToken, msg); err != nil || status != http.StatusAccepted {
			t.Errorf("another workspace's ingest with 16 stalled downloads: %d %s %v", status, body, err)
		}
		if status, body, err := do(http.MethodGet, "/api/v1/webhooks/outbound/log", other.APIToken, ""); err != nil || status != http.StatusOK {
			t.Errorf("another workspace's log with 16 stalled downloads: %d %s %v", status, body, err)
		}
		status, body, err := do(http.MethodGet, "/api/v1/webhooks/outbound/log?format=jsonl", busy.APIToken, "")
		if lines := bytes.Count(body, []byte("\n")); err != nil || status != http.StatusOK || lines != logRows {
			t.Errorf("the busy workspace's log, read: %d, %d lines (%v), want %d", status, lines, err, logRows)
		}
	})
}

// TestStalledLogDownloadIsCutOff: a download whose client stops reading
// is ended once a write has waited StreamWriteTimeout, so it holds
// nothing of the server's for longer; the client sees a truncated
// answer (no last chunk), never a complete-looking one.
func TestStalledLogDownloadIsCutOff(t *testing.T) {
	onEveryStore(t, func(t *testing.T, db string) {
		busy := fillLog(t, db, logRows)
		logs := &chathooktest.SyncBuffer{}
		svc := chathooktest.Start(t, chathooktest.Options{DB: db, Config: app.Config{
			StreamWriteTimeout: 300 * time.Millisecond,
			Logger:             slog.New(slog.NewTextHandler(logs, nil)),
		}})
		conn := stalledGet(t, svc.URL, "/api/v1/webhooks/outbound/log", busy.APIToken)
		for end := time.Now().Add(30 * time.Second); !strings.Contains(logs.String(), "log download cut short"); time.Sleep(50 * time.Millisecond) {
			if time.Now().After(end) {
				t.Fatal("a download whose client reads nothing was not cut off within 30 s")
			}
		}
		_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(resp.Body)
		if err == nil || bytes.Count(data, []byte("\n")) >= logRows {
			t.Errorf("the cut download read as complete: %d lines, %v", bytes.Count(data, []byte("\n")), err)
		}
	})
}
