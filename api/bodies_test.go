package api_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chathook/chathook/api"
	"github.com/chathook/chathook/app"
	"github.com/chathook/chathook/chathooktest"
)

// bigBatch is a valid batch of 1000 messages of about 7 KB each, ids
// prefixed by prefix: 6.7 MiB, so that 4 fit the smallest body budget
// (at api.BodyCost a byte) and a fifth does not.
func bigBatch(prefix string) string {
	text := strings.Repeat("x", 7000)
	msgs := make([]string, 1000)
	for i := range msgs {
		msgs[i] = fmt.Sprintf(`{"account":{"phone":"+15550000000"},"chat":{"external_id":"+1555100%04d"},`+
			`"message_id":"%s-%d","direction":"received","text":%q}`, i%10, prefix, i, text)
	}
	return `{"messages":[` + strings.Join(msgs, ",") + `]}`
}

// rawRequest is a request on a TCP connection of its own, written by hand
// so that a test controls when each part of it is sent.
type rawRequest struct {
	conn net.Conn
	r    *bufio.Reader
	req  *http.Request // what was sent, to check the exchange with docs/openapi.json
	sent strings.Builder
}

func sendHead(t *testing.T, baseURL, method, path, token string, header ...string) *rawRequest {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(baseURL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	head := method + " " + path + " HTTP/1.1\r\nHost: chathook\r\nAuthorization: Bearer " + token + "\r\n"
	for _, h := range header {
		head += h + "\r\n"
	}
	if _, err := io.WriteString(conn, head+"\r\n"); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(60 * time.Second))
	req, err := http.ReadRequest(bufio.NewReader(strings.NewReader(head + "\r\n")))
	if err != nil {
		t.Fatal(err)
	}
	return &rawRequest{conn: conn, r: bufio.NewReader(conn), req: req}
}

func (q *rawRequest) send(t *testing.T, s string) {
	t.Helper()
	if _, err := io.WriteString(q.conn, s); err != nil {
		t.Fatal(err)
	}
	q.sent.WriteString(s)
}

// answer reads the response (after any 100 Continue) and its body.
func (q *rawRequest) answer(t *testing.T) (*http.Response, string) {
	t.Helper()
	for {
		resp, err := http.ReadResponse(q.r, nil)
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusContinue {
			chathooktest.CheckAPI(t, q.req, rawBody(q.req, q.sent.String()), resp.StatusCode, resp.Header, body)
			return resp, string(body)
		}
	}
}

// rawBody is the body of a request whose head is req, out of what was
// sent after the head: decoded when it was sent chunked.
func rawBody(req *http.Request, sent string) []byte {
	if !slices.Contains(req.TransferEncoding, "chunked") {
		return []byte(sent)
	}
	body, _ := io.ReadAll(httputil.NewChunkedReader(strings.NewReader(sent)))
	return body
}

// TestBodyBudget: request bodies share a memory budget. Four big batches
// whose bodies the server has started to read (it sent 100 Continue)
// hold most of it; a fifth big one, and a chunked one (which holds the
// limit until its size is known), are answered 503 with Retry-After and a
// JSON error at once, while a small message still fits and is accepted.
// Then the four complete with 202, and nothing is lost: every message of
// a 202 is stored (posting it again is a duplicate), none of a 503 (the
// refused batch, posted again, is accepted whole).
func TestBodyBudget(t *testing.T) {
	svc := chathooktest.Start(t, chathooktest.Options{Config: app.Config{BodyBudget: api.MinBodyBudget}})
	ws := svc.NewWorkspace(t, "acme")

	var held []*rawRequest
	var bodies []string
	for i := range 4 {
		body := bigBatch(fmt.Sprintf("held%d", i))
		q := sendHead(t, svc.URL, "POST", "/api/v1/messages/batch", ws.APIToken,
			fmt.Sprintf("Content-Length: %d", len(body)), "Expect: 100-continue")
		// The server asks for the body only once the request holds its share.
		if line, err := q.r.ReadString('\n'); err != nil || !strings.HasPrefix(line, "HTTP/1.1 100") {
			t.Fatalf("batch %d: %q %v, want 100 Continue", i, line, err)
		}
		if _, err := q.r.ReadString('\n'); err != nil {
			t.Fatal(err)
		}
		q.send(t, body[:1000])
		held, bodies = append(held, q), append(bodies, body)
	}

	wantBusy := func(what string, resp *http.Response, body string) {
		t.Helper()
		var e struct{ Error, Field string }
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" ||
			json.Unmarshal([]byte(body), &e) != nil || e.Error == "" {
			t.Errorf("%s past the budget: %d, Retry-After %q, %s; want 503 with Retry-After and a JSON error",
				what, resp.StatusCode, resp.Header.Get("Retry-After"), body)
		}
	}
	refused := bigBatch("refused")
	// Answered on its headers: the body is never read, so the client's
	// sending it or not makes no difference.
	q := sendHead(t, svc.URL, "POST", "/api/v1/messages/batch", ws.APIToken, fmt.Sprintf("Content-Length: %d", len(refused)))
	resp, body := q.answer(t)
	wantBusy("a fifth big batch", resp, body)

	q = sendHead(t, svc.URL, "POST", "/api/v1/messages/batch", ws.APIToken, "Transfer-Encoding: chunked")
	q.send(t, fmt.Sprintf("%x\r\n%s", 1000, refused[:1000]))
	resp, body = q.answer(t)
	wantBusy("a chunked batch", resp, body)

	small := `{"account":{"phone":"+15550000000"},"chat":{"external_id":"+15551009999"},"message_id":"small","direction":"received","text":"hi"}`
	if status, body := ws.Do(t, http.MethodPost, "/api/v1/messages", small); status != http.StatusAccepted {
		t.Errorf("a small message within the budget: %d %s", status, body)
	}

	for i, q := range held {
		q.send(t, bodies[i][1000:])
		if resp, body := q.answer(t); resp.StatusCode != http.StatusAccepted || strings.Count(body, `"accepted"`) != 1000 {
			t.Errorf("held batch %d: %d %.200s", i, resp.StatusCode, body)
		}
	}
	if status, body := ws.Do(t, http.MethodPost, "/api/v1/messages/batch", bodies[0]); status != http.StatusAccepted ||
		strings.Count(string(body), `"duplicate"`) != 1000 {
		t.Errorf("an accepted batch again: %d %.200s; want every message a duplicate", status, body)
	}
	if status, body := ws.Do(t, http.MethodPost, "/api/v1/messages/batch", refused); status != http.StatusAccepted ||
		strings.Count(string(body), `"accepted"`) != 1000 {
		t.Errorf("the refused batch again, with the budget free: %d %.200s; want every message accepted", status, body)
	}
}

// TestSlowBodyIs408: a body that has not arrived within the server's read
// timeout is answered 408, not 400, on every route that reads one (the
// API's and the web UI's forms), and the answer never carries the socket
// addresses of the read error ("read tcp 127.0.0.1:8080->...: i/o
// timeout").
func TestSlowBodyIs408(t *testing.T) {
	svc := chathooktest.Start(t, chathooktest.Options{Config: app.Config{ReadTimeout: 500 * time.Millisecond}})
	ws := svc.NewWorkspace(t, "acme")
	cases := []struct {
		method, path string
		header       []string
		part         string
	}{
		{"POST", "/api/v1/messages", []string{"Content-Length: 1000"}, `{"account":{"phone":"+1555`},
		{"POST", "/api/v1/messages/batch", []string{"Content-Length: 100000"}, `{"messages":[{"account":`},
		{"POST", "/api/v1/messages/batch", []string{"Transfer-Encoding: chunked"}, "10\r\n{\"messages\":[{\"a"},
		{"PUT", "/api/v1/webhooks/outbound", []string{"Content-Length: 500"}, `{"url":"https://`},
		{"POST", "/signin", []string{"Content-Length: 500", "Content-Type: application/x-www-form-urlencoded"}, "email=a%40b.example&pass"},
	}
	for _, c := range cases {
		q := sendHead(t, svc.URL, c.method, c.path, ws.APIToken, c.header...)
		q.send(t, c.part)
		resp, body := q.answer(t) // the client sends nothing more
		if resp.StatusCode != http.StatusRequestTimeout {
			t.Errorf("%s %s %v: %d %.300s, want 408", c.method, c.path, c.header, resp.StatusCode, body)
		}
		for _, leak := range []string{"127.0.0.1", "tcp", "i/o timeout"} {
			if strings.Contains(body, leak) {
				t.Errorf("%s %s: the answer carries %q: %.300s", c.method, c.path, leak, body)
			}
		}
	}
}

// TestBodyBudgetHoldsMetasWebhook: the bodies of Meta's webhook
// (/sources/cloud-api/, up to 4 MiB each, no token needed to send one)
// share the API's budget. With four big batches and one webhook body
// held, a second webhook body is answered 503 with Retry-After on its
// headers, rather than read into memory; once the held requests are done,
// the same POST is read (and, unsigned, refused 401).
func TestBodyBudgetHoldsMetasWebhook(t *testing.T) {
	svc := chathooktest.Start(t, chathooktest.Options{Config: app.Config{BodyBudget: api.MinBodyBudget}})
	ws := svc.NewWorkspace(t, "acme")
	hold := func(path, body string) *rawRequest {
		t.Helper()
		q := sendHead(t, svc.URL, "POST", path, ws.APIToken,
			fmt.Sprintf("Content-Length: %d", len(body)), "Expect: 100-continue", "X-Hub-Signature-256: sha256="+strings.Repeat("0", 64))
		if line, err := q.r.ReadString('\n'); err != nil || !strings.HasPrefix(line, "HTTP/1.1 100") {
			t.Fatalf("%s: %q %v, want 100 Continue", path, line, err)
		}
		if _, err := q.r.ReadString('\n'); err != nil {
			t.Fatal(err)
		}
		q.send(t, body[:1000])
		return q
	}
	hook := "/sources/cloud-api/" + ws.WorkspaceID
	meta := `{"object":"whatsapp_business_account","entry":[]}` + strings.Repeat(" ", 4<<20-60)
	var held []*rawRequest
	var bodies []string
	for i := range 4 {
		b := bigBatch(fmt.Sprintf("held%d", i))
		held, bodies = append(held, hold("/api/v1/messages/batch", b)), append(bodies, b)
	}
	held, bodies = append(held, hold(hook, meta)), append(bodies, meta)

	post := func() (int, http.Header, string) {
		req, err := http.NewRequest(http.MethodPost, svc.URL+hook, strings.NewReader(meta))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("X-Hub-Signature-256", "sha256="+strings.Repeat("0", 64))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header, string(body)
	}
	if status, h, body := post(); status != http.StatusServiceUnavailable || h.Get("Retry-After") == "" {
		t.Errorf("a webhook body past the budget: %d, Retry-After %q, %s; want 503 with Retry-After", status, h.Get("Retry-After"), body)
	}
	for i, q := range held {
		q.send(t, bodies[i][1000:])
		if resp, body := q.answer(t); resp.StatusCode != http.StatusAccepted && resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("held request %d: %d %.200s", i, resp.StatusCode, body)
		}
	}
	if status, _, body := post(); status != http.StatusUnauthorized {
		t.Errorf("the webhook body with the budget free: %d %s; want it read, and refused for its signature", status, body)
	}
}
