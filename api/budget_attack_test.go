package api

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// rawConn is a request written by hand on a TCP connection from local (a
// loopback address), so that a test controls when each part is sent and
// which client address the server sees.
type rawConn struct {
	conn net.Conn
	r    *bufio.Reader
}

func dialFrom(t *testing.T, local, url string) *rawConn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}}
	conn, err := d.Dial("tcp", strings.TrimPrefix(url, "http://"))
	if err != nil {
		t.Fatalf("dial from %s: %v", local, err)
	}
	t.Cleanup(func() { conn.Close() })
	// A safety net only: every answer awaited comes far sooner.
	_ = conn.SetDeadline(time.Now().Add(60 * time.Second))
	return &rawConn{conn: conn, r: bufio.NewReader(conn)}
}

// head sends a POST's head announcing length bytes with Expect:
// 100-continue, and reads the server's first line: 100 once the server
// read the body's first bytes (charging them to the budget first), or the
// status of a final answer.
func (c *rawConn) head(t *testing.T, path, token string, length int) int {
	t.Helper()
	h := "POST " + path + " HTTP/1.1\r\nHost: chathook\r\nContent-Length: " + strconv.Itoa(length) + "\r\nExpect: 100-continue\r\n"
	if token != "" {
		h += "Authorization: Bearer " + token + "\r\n"
	}
	if _, err := io.WriteString(c.conn, h+"\r\n"); err != nil {
		t.Fatal(err)
	}
	line, err := c.r.ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	status, _ := strconv.Atoi(strings.Fields(line)[1])
	if status == http.StatusContinue {
		_, _ = c.r.ReadString('\n') // the blank line that ends it
	}
	return status
}

// answer reads a response whose status line may already have been read
// (status > 0), and returns its status.
func (c *rawConn) answer(status int) (int, error) {
	if status > 0 { // the rest of the head and the body
		resp, err := http.ReadResponse(bufio.NewReader(io.MultiReader(strings.NewReader("HTTP/1.1 "+strconv.Itoa(status)+" x\r\n"), c.r)), nil)
		if err != nil {
			return 0, err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		return status, nil
	}
	resp, err := http.ReadResponse(c.r, nil)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil
}

// TestTwoAddressesFastThenStall: from two client addresses, 11
// connections each to a route without a token (as Meta's webhook, 3 MiB
// bodies) send all but the last byte of a 3 MiB body at once, then stop.
// With the default budget they hold at most the pool of such routes, and
// each address its share of it: other workspaces' messages and batches,
// and a webhook POST from a third address, are taken meanwhile; and the
// stalled bodies are cut with 408 within the grace, not at the end of
// the read timeout.
func TestTwoAddressesFastThenStall(t *testing.T) {
	s, url, tokens := budgetServer(t, DefaultBodyBudget, "acme", "globex")
	// Long enough for the checks below to run while the stalled bodies
	// hold their shares, on a busy machine; they are logged if not.
	s.cfg.BodyGrace = 4 * time.Second
	const limit = 3 << 20
	webhook := httptest.NewServer(s.Bodies(limit, peerHost, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := readBody(w, r, limit); ok {
			writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
		}
	})))
	t.Cleanup(webhook.Close)

	type attack struct {
		c      *rawConn
		status chan int // the answer, once there is one
	}
	var attacks []attack
	part := strings.Repeat(" ", limit-1)
	for _, from := range []string{"127.0.0.1", "127.0.0.2"} {
		for range 11 {
			c := dialFrom(t, from, webhook.URL)
			a := attack{c, make(chan int, 1)}
			attacks = append(attacks, a)
			first := c.head(t, "/sources/cloud-api/acme", "", limit)
			go func() {
				if first == http.StatusContinue {
					_, _ = io.WriteString(c.conn, part)
					first = 0
				}
				status, err := c.answer(first)
				if err != nil {
					status = -1
				}
				a.status <- status
			}()
		}
	}
	// Wait until every attacking body was read whole or refused: until
	// the budget holds all those not answered yet.
	const size = DefaultBodyBudget // nothing else is held
	answered := map[int]int{}
	for deadline := time.Now().Add(60 * time.Second); ; {
		for i, a := range attacks {
			select {
			case status := <-a.status:
				answered[i] = status
			default:
			}
		}
		s.budget.mu.Lock()
		held := size - s.budget.free
		s.budget.mu.Unlock()
		if held >= int64(len(attacks)-len(answered))*(limit-1)*BodyCost {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the attack never settled: %d held, %d answered", held, len(answered))
		}
		time.Sleep(10 * time.Millisecond)
	}
	held := len(attacks) - len(answered)
	for i, status := range answered {
		if status != http.StatusServiceUnavailable {
			t.Errorf("attacking connection %d answered %d before it stalled, want 503 (past its share) or nothing yet", i, status)
		}
	}

	for i, name := range []string{"acme", "globex"} {
		if status, _, body := post(t, url+"/api/v1/messages", tokens[name],
			fmt.Sprintf(`{"account":{"phone":"+15550000000"},"chat":{"external_id":"+15551009999"},"message_id":"m%d","direction":"received","text":"hi"}`, i)); status != http.StatusAccepted {
			t.Errorf("%s's message during the attack: %d %s", name, status, body)
		}
		if status, _, body := post(t, url+"/api/v1/messages/batch", tokens[name], batchOf(name)); status != http.StatusAccepted {
			t.Errorf("%s's batch during the attack: %d %.200s", name, status, body)
		}
	}
	third := &http.Client{Transport: &http.Transport{DialContext: (&net.Dialer{
		LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.3")}}).DialContext}}
	defer third.CloseIdleConnections()
	resp, err := third.Post(webhook.URL+"/sources/cloud-api/acme", "application/json",
		strings.NewReader(`{"object":"whatsapp_business_account","entry":[]}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("a webhook POST from a third address during the attack: %d", resp.StatusCode)
	}
	stillHeld := 0
	for i, a := range attacks {
		if _, ok := answered[i]; !ok && len(a.status) == 0 {
			stillHeld++ // the checks above ran while it held its share
		}
	}
	for i, a := range attacks {
		if _, ok := answered[i]; ok {
			continue
		}
		if status := <-a.status; status != http.StatusRequestTimeout {
			t.Errorf("a stalled body: %d, want 408 within the grace", status)
		}
	}
	t.Logf("%d stalled bodies held, %d refused; %d still held during the checks", held, len(answered), stillHeld)
	s.budget.mu.Lock()
	defer s.budget.mu.Unlock()
	if s.budget.free != size {
		t.Errorf("after every answer %d free of %d", s.budget.free, size)
	}
}

// TestManySmallBodiesInFlight: 600 single messages of one workspace in
// flight at once (each has sent its head, and the server has begun
// reading its body) are all taken: a body of 200 bytes is charged its
// size, not a whole chunk.
func TestManySmallBodiesInFlight(t *testing.T) {
	_, url, tokens := budgetServer(t, DefaultBodyBudget, "acme")
	const n = 600
	conns := make([]*rawConn, n)
	bodies := make([]string, n)
	for i := range conns {
		bodies[i] = fmt.Sprintf(`{"account":{"phone":"+15550000000"},"chat":{"external_id":"+15551009999"},"message_id":"m%d","direction":"received","text":"hi"}`, i)
		conns[i] = dialFrom(t, "127.0.0.1", url)
		if status := conns[i].head(t, "/api/v1/messages", tokens["acme"], len(bodies[i])); status != http.StatusContinue {
			t.Fatalf("message %d of %d in flight: %d before its body was read, want 100 Continue", i+1, n, status)
		}
	}
	var wg sync.WaitGroup
	for i, c := range conns {
		wg.Go(func() {
			_, _ = io.WriteString(c.conn, bodies[i])
			if status, err := c.answer(0); err != nil || status != http.StatusAccepted {
				t.Errorf("message %d: %d %v, want 202", i, status, err)
			}
		})
	}
	wg.Wait()
}

// TestLargestBatchBesideAnother: a batch of the largest size is taken
// while another request of the same workspace holds a chunk: a share is
// a little more than one largest batch.
func TestLargestBatchBesideAnother(t *testing.T) {
	s, url, tokens := budgetServer(t, DefaultBodyBudget, "acme")
	other := s.budget.workspace("acme")
	if !s.budget.take(other, bodyChunk*BodyCost) {
		t.Fatal("the budget refused a chunk")
	}
	defer s.budget.give(other, bodyChunk*BodyCost)
	msg := `{"account":{"phone":"+15550000000"},"chat":{"external_id":"+15551009999"},"message_id":"big","direction":"received","text":"hi"}`
	batch := `{"messages":[` + msg + `]` + strings.Repeat(" ", MaxBatchBody-len(msg)-len(`{"messages":[]}`)) + `}`
	if len(batch) != MaxBatchBody {
		t.Fatalf("batch of %d bytes, want %d", len(batch), MaxBatchBody)
	}
	if status, _, body := post(t, url+"/api/v1/messages/batch", tokens["acme"], batch); status != http.StatusAccepted {
		t.Errorf("a batch of the largest size beside another request: %d %.200s; want 202", status, body)
	}
}

// peerHost is the client of a request as the web UI tells it without
// trusted proxies: its peer's IP (IPv4 only here).
func peerHost(r *http.Request) string {
	host, _, _ := net.SplitHostPort(r.RemoteAddr)
	return host
}
