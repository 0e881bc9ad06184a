package api_test

import (
	"bufio"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chathook/chathook/api"
	"github.com/chathook/chathook/app"
	"github.com/chathook/chathook/chathooktest"
	"github.com/chathook/chathook/source/cloudapi"
)

// bigBatch is a valid batch of 1000 messages of about 7 KB each, ids
// prefixed by prefix: 6.7 MiB, so that 4 fit the smallest body budget
// (at api.BodyCost a byte) and a fifth does not.
var bigBatch = api.BatchOf

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

// holdBody starts a request whose body the server has begun to read (it
// answered 100 Continue, which it does on its first read of the body),
// and sends the first bytes of it: what a client trickling its body does.
func holdBody(t *testing.T, baseURL, path, token, length string, first string, header ...string) *rawRequest {
	t.Helper()
	q := sendHead(t, baseURL, "POST", path, token, append([]string{"Content-Length: " + length, "Expect: 100-continue"}, header...)...)
	if line, err := q.r.ReadString('\n'); err != nil || !strings.HasPrefix(line, "HTTP/1.1 100") {
		t.Fatalf("%s: %q %v, want 100 Continue", path, line, err)
	}
	if _, err := q.r.ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	q.send(t, first)
	return q
}

const smallMessage = `{"account":{"phone":"+15550000000"},"chat":{"external_id":"+15551009999"},"message_id":"%s","direction":"received","text":"hi"}`

// signedMetaPost POSTs an empty notification of Meta's webhook to ws,
// signed with secret, and returns the status.
func signedMetaPost(t *testing.T, svc *chathooktest.Service, ws *chathooktest.Workspace, secret string) (int, string) {
	t.Helper()
	body := `{"object":"whatsapp_business_account","entry":[]}`
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(body))
	req, _ := http.NewRequest(http.MethodPost, svc.URL+"/sources/cloud-api/"+ws.WorkspaceID, strings.NewReader(body))
	req.Header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(mac.Sum(nil)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(got)
}

// TestTricklingWebhookBodiesHoldLittle: 16 connections to Meta's webhook,
// which needs no token, each declaring the largest body and sending a few
// bytes of it, hold only what they sent of the body budget: every
// workspace's messages and batches, and Meta's signed POSTs, are still
// taken, even with the smallest budget.
func TestTricklingWebhookBodiesHoldLittle(t *testing.T) {
	svc := chathooktest.Start(t, chathooktest.Options{Config: app.Config{BodyBudget: api.MinBodyBudget}})
	victim, other := svc.NewWorkspace(t, "acme"), svc.NewWorkspace(t, "globex")
	const secret = "meta-app-secret"
	if status, body := victim.Do(t, "POST", "/api/v1/accounts/cloud-api", map[string]any{
		"phone_number_id": "106540352242922", "display_phone_number": "+1 555 078 3881", "full_name": "Acme Support",
		"email": "ops@acme.example", "app_secret": secret, "verify_token": "verify-me", "access_token": "EAAG" + strings.Repeat("x", 40),
	}); status != http.StatusCreated {
		t.Fatalf("register a number: %d %s", status, body)
	}
	for range 16 {
		holdBody(t, svc.URL, "/sources/cloud-api/"+victim.WorkspaceID, "", strconv.Itoa(cloudapi.MaxBody), `{"object":`,
			"X-Hub-Signature-256: sha256="+strings.Repeat("0", 64))
	}
	for i, ws := range []*chathooktest.Workspace{victim, other} {
		if status, body := ws.Do(t, http.MethodPost, "/api/v1/messages", fmt.Sprintf(smallMessage, fmt.Sprint("m", i))); status != http.StatusAccepted {
			t.Errorf("workspace %d's message while the webhook trickles: %d %s", i, status, body)
		}
		if status, body := ws.Do(t, http.MethodPost, "/api/v1/messages/batch", bigBatch(fmt.Sprint("b", i))); status != http.StatusAccepted {
			t.Errorf("workspace %d's batch while the webhook trickles: %d %.200s", i, status, body)
		}
	}
	if status, body := signedMetaPost(t, svc, victim, secret); status != http.StatusOK {
		t.Errorf("Meta's signed POST while the webhook trickles: %d %s", status, body)
	}
}

// TestTricklingBatchesHoldLittle: one tenant's two batches declaring 32
// MiB each, trickling, hold what they sent, not what they declared:
// another tenant's messages and batches are taken meanwhile.
func TestTricklingBatchesHoldLittle(t *testing.T) {
	svc := chathooktest.Start(t, chathooktest.Options{})
	hog, other := svc.NewWorkspace(t, "hog"), svc.NewWorkspace(t, "acme")
	for range 2 {
		holdBody(t, svc.URL, "/api/v1/messages/batch", hog.APIToken, strconv.Itoa(api.MaxBatchBody), `{"messages":[`)
	}
	if status, body := other.Do(t, http.MethodPost, "/api/v1/messages", fmt.Sprintf(smallMessage, "one")); status != http.StatusAccepted {
		t.Errorf("another tenant's message: %d %s", status, body)
	}
	if status, body := other.Do(t, http.MethodPost, "/api/v1/messages/batch", bigBatch("b")); status != http.StatusAccepted {
		t.Errorf("another tenant's batch: %d %.200s", status, body)
	}
}

// TestTricklingBodyIs408: a body that arrives slower than the minimum
// rate after the grace (here 300 ms and 1 KiB/s), or stops arriving, is
// cut with 408 naming the body, and the connection closed, on the API and
// on Meta's webhook, long before the read timeout; a body sent at once is
// taken with the same settings.
func TestTricklingBodyIs408(t *testing.T) {
	svc := chathooktest.Start(t, chathooktest.Options{Config: app.Config{BodyGrace: 300 * time.Millisecond, BodyMinRate: 1 << 10}})
	ws := svc.NewWorkspace(t, "acme")
	if status, body := ws.Do(t, http.MethodPost, "/api/v1/messages", fmt.Sprintf(smallMessage, "fast")); status != http.StatusAccepted {
		t.Fatalf("a message sent at once: %d %s", status, body)
	}
	for _, path := range []string{"/api/v1/messages/batch", "/sources/cloud-api/" + ws.WorkspaceID} {
		for _, trickle := range []bool{true, false} {
			q := holdBody(t, svc.URL, path, ws.APIToken, "100000", `{"`, "X-Hub-Signature-256: sha256="+strings.Repeat("0", 64))
			stop := make(chan struct{})
			done := make(chan struct{})
			go func() { // 10 bytes a second, until the server closes
				defer close(done)
				for trickle {
					select {
					case <-stop:
						return
					case <-time.After(100 * time.Millisecond):
					}
					if _, err := q.conn.Write([]byte(" ")); err != nil {
						return
					}
				}
			}()
			resp, body := readAnswer(t, q)
			close(stop)
			<-done
			var e struct{ Error, Field string }
			if resp.StatusCode != http.StatusRequestTimeout || json.Unmarshal([]byte(body), &e) != nil || e.Field != "body" ||
				!resp.Close {
				t.Errorf("%s, trickling %v: %d %v close %v; want 408 naming the body, connection closed", path, trickle, resp.StatusCode, body, resp.Close)
			}
		}
	}
}

// TestFastThenTricklingBodyIs408: a body that sends most of itself at
// once banks at most the grace of credit, not what its bytes would earn
// at the minimum rate since the start (here 88 s, beyond the read
// timeout): a byte every half grace after that is cut within a few
// writes, where it would have held its share until the read timeout.
func TestFastThenTricklingBodyIs408(t *testing.T) {
	const grace = time.Second
	svc := chathooktest.Start(t, chathooktest.Options{Config: app.Config{BodyGrace: grace, BodyMinRate: 1 << 10}})
	ws := svc.NewWorkspace(t, "acme")
	for _, path := range []string{"/api/v1/messages/batch", "/sources/cloud-api/" + ws.WorkspaceID} {
		q := holdBody(t, svc.URL, path, ws.APIToken, "100000", `{"`+strings.Repeat(" ", 90000),
			"X-Hub-Signature-256: sha256="+strings.Repeat("0", 64))
		var writes atomic.Int64
		stop, done := make(chan struct{}), make(chan struct{})
		go func() { // a byte every half grace, until the answer
			defer close(done)
			for {
				select {
				case <-stop:
					return
				case <-time.After(grace / 2):
				}
				if _, err := q.conn.Write([]byte(" ")); err != nil {
					return
				}
				writes.Add(1)
			}
		}()
		resp, body := readAnswer(t, q)
		n := writes.Load() // sent before the answer came
		close(stop)
		<-done
		var e struct{ Error, Field string }
		if resp.StatusCode != http.StatusRequestTimeout || json.Unmarshal([]byte(body), &e) != nil || e.Field != "body" {
			t.Errorf("%s: %d %v; want 408 naming the body", path, resp.StatusCode, body)
		}
		if n >= 20 { // 10 s: the read timeout (60 s) would have let it go on to 120
			t.Errorf("%s: answered after %d bytes sent %v apart, after a fast start", path, n, grace/2)
		}
	}
}

// readAnswer reads the answer to a request whose body was not sent whole
// (so it is not checked against docs/openapi.json as answer does).
func readAnswer(t *testing.T, q *rawRequest) (*http.Response, string) {
	t.Helper()
	resp, err := http.ReadResponse(q.r, nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

// TestMetaWebhookCap: Meta's webhook takes bodies of up to 3 MiB (Meta's
// are at most 3 MB), a tenth of a batch's limit: a larger one is answered
// 413 naming the body, by its Content-Length or, chunked, once past it.
func TestMetaWebhookCap(t *testing.T) {
	svc := chathooktest.Start(t, chathooktest.Options{})
	ws := svc.NewWorkspace(t, "acme")
	big := `{"object":"whatsapp_business_account","entry":[]}` + strings.Repeat(" ", 3<<20)
	for _, chunked := range []bool{false, true} {
		var r io.Reader = strings.NewReader(big)
		if chunked {
			r = io.MultiReader(r) // no length known: sent chunked
		}
		req, _ := http.NewRequest(http.MethodPost, svc.URL+"/sources/cloud-api/"+ws.WorkspaceID, r)
		req.Header.Set("X-Hub-Signature-256", "sha256="+strings.Repeat("0", 64))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var e struct{ Error, Field string }
		if resp.StatusCode != http.StatusRequestEntityTooLarge || json.Unmarshal(body, &e) != nil || e.Field != "body" {
			t.Errorf("a webhook body over 3 MiB, chunked %v: %d %s; want 413 naming the body", chunked, resp.StatusCode, body)
		}
	}
}
