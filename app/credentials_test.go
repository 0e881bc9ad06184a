package app_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/chathooktest"
	"github.com/chathook/chathook/chathooktest/brokertest"
	"github.com/chathook/chathook/store"
)

// The secrets of TestBrokerCredentialsNeverShown: none may appear in
// anything the service answers, sends or writes.
var brokerSecrets = []string{"S3cretPw", "tok3nSecret", "N3wPass", "Wr0ngPw", "RealPw"}

// closedPort is a loopback port nothing listens on: connecting to it is
// refused at once, as a broker that is down would be.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	ln.Close()
	return port
}

// webUser is a signed-in browser without a browser: a cookie jar, and
// the CSRF token of the latest page.
type webUser struct {
	t    *testing.T
	base string
	c    *http.Client
	csrf string
}

var csrfValue = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func (u *webUser) do(req *http.Request) (int, string) {
	u.t.Helper()
	resp, err := u.c.Do(req)
	if err != nil {
		u.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if m := csrfValue.FindSubmatch(body); m != nil {
		u.csrf = string(m[1])
	}
	return resp.StatusCode, string(body)
}

func (u *webUser) get(path string) (int, string) {
	req, _ := http.NewRequest(http.MethodGet, u.base+path, nil)
	return u.do(req)
}

func (u *webUser) post(path string, form url.Values) (int, string) {
	form.Set("csrf", u.csrf)
	req, _ := http.NewRequest(http.MethodPost, u.base+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return u.do(req)
}

func signIn(t *testing.T, svc *chathooktest.Service, ws *chathooktest.Workspace) *webUser {
	const email, password = "owner@acme.example", "correct horse battery"
	ws.AddUser(t, email, "Olga Owner", password)
	jar, _ := cookiejar.New(nil)
	u := &webUser{t: t, base: svc.URL, c: &http.Client{Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	u.get("/signin")
	if status, body := u.post("/signin", url.Values{"email": {email}, "password": {password}}); status != http.StatusSeeOther {
		t.Fatalf("sign in: %d %s", status, body)
	}
	return u
}

// TestBrokerCredentialsNeverShown is issue 30's "Credentials never appear
// in answers or logs": endpoints on a NATS token and an AMQP password,
// whose broker is down until they are disabled, and one on a real NATS
// server that refuses its password (itself a secret: a wrong password is
// often a near miss of the right one), and every answer of the
// API, every page, every email, every log line and every row of the
// delivery log, none of which may hold a secret. Saving the URL as shown
// keeps the password; saving it for another server is refused.
// Both stores: each writes the delivery log, and the discards, itself.
func TestBrokerCredentialsNeverShown(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { brokerCredentialsNeverShown(t, "") })
	t.Run("postgres", func(t *testing.T) { brokerCredentialsNeverShown(t, chathooktest.Postgres(t)) })
}

func brokerCredentialsNeverShown(t *testing.T, db string) {
	smtp := chathooktest.NewSMTPServer(t, nil)
	var logs chathooktest.SyncBuffer
	cfg := quick()
	cfg.SMTPURL, cfg.MailFrom = smtp.URL, "alerts@chathook.example.com"
	// A refused AMQP connect is tried again within its attempt, until the
	// attempt's time is up: keep that short, so ten attempts take seconds.
	cfg.DeliveryTimeout = 300 * time.Millisecond
	cfg.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	svc := chathooktest.Start(t, chathooktest.Options{Config: cfg, DB: db})
	ws := svc.NewWorkspace(t, "acme")
	ctx := context.Background()

	var seen []string // everything the service answered or sent
	do := func(method, path string, body any) (int, []byte) {
		t.Helper()
		status, answer := ws.Do(t, method, path, body)
		seen = append(seen, method+" "+path+": "+string(answer))
		return status, answer
	}
	endpointURL := func(body []byte) (id, shown string) {
		t.Helper()
		var e struct{ ID, URL string }
		if err := json.Unmarshal(body, &e); err != nil {
			t.Fatalf("endpoint answer %s: %v", body, err)
		}
		return e.ID, e.URL
	}

	amqpPort, natsPort := closedPort(t), closedPort(t)
	amqpURL := "amqp://user:S3cretPw@127.0.0.1:" + amqpPort + "/?exchange=x"
	natsURL := "nats://tok3nSecret@127.0.0.1:" + natsPort + "/acme"
	status, body := do(http.MethodPost, "/api/v1/webhooks", map[string]any{"url": amqpURL, "events": []string{"message:new"}})
	if status != http.StatusCreated {
		t.Fatalf("POST amqp endpoint: %d %s", status, body)
	}
	amqpID, shown := endpointURL(body)
	if want := "amqp://user:***@127.0.0.1:" + amqpPort + "/?exchange=x"; shown != want {
		t.Errorf("POST answers url %q, want %q", shown, want)
	}
	status, body = do(http.MethodPost, "/api/v1/webhooks", map[string]any{"url": natsURL, "events": []string{"*"}})
	if status != http.StatusCreated {
		t.Fatalf("POST nats endpoint: %d %s", status, body)
	}
	natsID, shownNATS := endpointURL(body)
	if want := "nats://***@127.0.0.1:" + natsPort + "/acme"; shownNATS != want {
		t.Errorf("POST answers url %q, want %q", shownNATS, want)
	}
	// A real NATS server with a user and password, given a wrong one: the
	// refused login's path, not only a closed port's.
	authNATS := brokertest.StartNATS(t, "--user", "u", "--pass", "RealPw")
	status, body = do(http.MethodPost, "/api/v1/webhooks", map[string]any{"url": "nats://u:Wr0ngPw@" + authNATS.Addr + "/acme",
		"events": []string{"*"}})
	if status != http.StatusCreated {
		t.Fatalf("POST nats endpoint with a wrong password: %d %s", status, body)
	}
	refusedID, _ := endpointURL(body)
	// Outbound too, through its own PUT.
	if status, body = do(http.MethodPut, "/api/v1/webhooks/outbound", map[string]any{"url": natsURL, "enabled": true}); status != http.StatusOK {
		t.Fatalf("PUT outbound: %d %s", status, body)
	}
	// *** on a new endpoint has nothing to keep: a 400 naming url.
	status, body = do(http.MethodPost, "/api/v1/webhooks", map[string]any{"url": shown, "events": []string{"*"}})
	wantField(t, "POST with ***", status, body, http.StatusBadRequest, "url")

	// Messages to deliver, each attempt refused, until every endpoint is
	// disabled and its owner told.
	postAll(t, ws, chatMessage(1, 1), chatMessage(2, 1), chatMessage(3, 1))
	mails := smtp.WaitFor(t, 4, time.Minute)
	for _, id := range []string{amqpID, natsID, refusedID, chathook.Outbound} {
		until(t, id+" disabled", func() bool {
			wh, err := svc.Store.Webhook(ctx, ws.WorkspaceID, id)
			return err == nil && !wh.Enabled && wh.DisabledReason != ""
		})
	}
	named := false
	for _, m := range mails {
		named = named || strings.Contains(m.Body, "127.0.0.1:"+amqpPort)
	}
	if !named {
		t.Errorf("no email names the AMQP endpoint by its URL:\n%v", mails)
	}
	if wh, err := svc.Store.Webhook(ctx, ws.WorkspaceID, refusedID); err != nil || !strings.Contains(wh.LastError, "refused the credentials") {
		t.Errorf("the endpoint with a wrong password: last error %q (%v), want the refusal", wh.LastError, err)
	}

	// Every answer of the API about them.
	for _, id := range []string{amqpID, natsID, refusedID, chathook.Outbound} {
		p := "/api/v1/webhooks/" + id
		for _, path := range []string{p, p + "/activity", p + "/log", p + "/log?format=jsonl"} {
			if status, body := do(http.MethodGet, path, nil); status != http.StatusOK {
				t.Errorf("GET %s: %d %s", path, status, body)
			}
		}
		do(http.MethodPost, p+"/test", nil)
	}
	do(http.MethodGet, "/api/v1/webhooks", nil)
	do(http.MethodGet, "/api/v1/webhooks/outbound", nil)
	rows := ws.Log(t)
	if len(rows) == 0 || !strings.Contains(rows[0].URL, "***") {
		t.Errorf("outbound's log: %+v, want rows with the URL as shown", rows)
	}

	// The URL as shown, sent back, keeps the password; another host does
	// not get it.
	status, body = do(http.MethodPatch, "/api/v1/webhooks/"+amqpID, map[string]any{"url": shown, "description": "orders"})
	if status != http.StatusOK {
		t.Fatalf("PATCH with the URL as shown: %d %s", status, body)
	}
	if wh, err := svc.Store.Webhook(ctx, ws.WorkspaceID, amqpID); err != nil || wh.URL != amqpURL {
		t.Errorf("after PATCH with ***: stored %q (%v), want %q", wh.URL, err, amqpURL)
	}
	status, body = do(http.MethodPatch, "/api/v1/webhooks/"+amqpID,
		map[string]any{"url": strings.Replace(shown, "127.0.0.1", "127.0.0.2", 1)})
	wantField(t, "PATCH *** to another host", status, body, http.StatusBadRequest, "url")
	status, body = do(http.MethodPut, "/api/v1/webhooks/outbound", map[string]any{"url": shownNATS})
	if wh, err := svc.Store.Webhook(ctx, ws.WorkspaceID, chathook.Outbound); status != http.StatusOK || err != nil || wh.URL != natsURL {
		t.Errorf("PUT outbound with ***: %d %s; stored %q", status, body, wh.URL)
	}
	// Switched back on with what waits discarded: the discards are logged.
	status, body = do(http.MethodPatch, "/api/v1/webhooks/"+natsID, map[string]any{"enabled": true, "discard_pending": true})
	if status != http.StatusOK {
		t.Errorf("PATCH enable and discard: %d %s", status, body)
	}
	do(http.MethodGet, "/api/v1/webhooks/"+natsID+"/log?format=jsonl", nil)

	// The web UI: the list, each endpoint's page, its activity and log,
	// and its forms shown again with an error.
	u := signIn(t, svc, ws)
	pages := map[string]string{}
	for _, path := range []string{"/settings/webhooks/", "/settings/webhooks/new", "/settings/webhooks/outbound",
		"/settings/webhooks/" + amqpID, "/settings/webhooks/" + natsID, "/settings/webhooks/" + refusedID,
		"/settings/webhooks/" + refusedID + "/activity", "/settings/webhooks/" + amqpID + "/activity",
		"/settings/webhooks/" + natsID + "/log", "/settings/webhooks/" + amqpID + "/log?format=jsonl"} {
		status, body := u.get(path)
		if status != http.StatusOK {
			t.Errorf("GET %s: %d", path, status)
		}
		pages[path] = body
	}
	if !strings.Contains(pages["/settings/webhooks/"+amqpID], `value="amqp://user:***@127.0.0.1:`+amqpPort) {
		t.Errorf("the endpoint's page does not show its URL as shown:\n%s", pages["/settings/webhooks/"+amqpID])
	}
	// Saving the page as shown keeps the password; to another port it is
	// refused, and the form shown again shows no password either.
	form := url.Values{"url": {shown}, "description": {"orders"}, "events": {"message:new"}}
	u.get("/settings/webhooks/" + amqpID)
	if status, body := u.post("/settings/webhooks/"+amqpID, form); status != http.StatusSeeOther {
		t.Errorf("save as shown: %d %s", status, body)
	}
	if wh, _ := svc.Store.Webhook(ctx, ws.WorkspaceID, amqpID); wh.URL != amqpURL {
		t.Errorf("after saving the page as shown: stored %q, want %q", wh.URL, amqpURL)
	}
	form.Set("url", strings.Replace(shown, ":"+amqpPort, ":5672", 1))
	u.get("/settings/webhooks/" + amqpID)
	status, page := u.post("/settings/webhooks/"+amqpID, form)
	if status != http.StatusUnprocessableEntity || !strings.Contains(page, `id="url-error"`) {
		t.Errorf("save *** for another port: %d, want 422 with an error beside url", status)
	}
	pages["save refused"] = page
	// A new endpoint typed with a password, refused for another field:
	// shown again without it.
	u.get("/settings/webhooks/new")
	status, page = u.post("/settings/webhooks/new", url.Values{"url": {"amqp://user:N3wPass@127.0.0.1:" + amqpPort + "/?exchange=x"}})
	if status != http.StatusUnprocessableEntity || !strings.Contains(page, `id="url-retype"`) {
		t.Errorf("add refused: %d, want 422 asking for the password again", status)
	}
	pages["add refused"] = page
	for path, body := range pages {
		seen = append(seen, "page "+path+": "+body)
	}

	// The delivery log as stored, and the emails, and every log line.
	for _, id := range []string{amqpID, natsID, refusedID, chathook.Outbound} {
		n := 0
		err := store.EachAttempt(ctx, svc.Store, ws.WorkspaceID, id, time.Time{}, func(a chathook.Attempt) error {
			n++
			seen = append(seen, "stored attempt of "+id+": "+a.URL+" "+a.Err)
			return nil
		})
		if err != nil || n == 0 {
			t.Errorf("stored attempts of %s: %d, %v", id, n, err)
		}
	}
	for _, m := range smtp.Mails() {
		seen = append(seen, "email "+m.Subject+": "+m.Body)
	}
	seen = append(seen, "log: "+logs.String())

	for _, s := range seen {
		for _, secret := range brokerSecrets {
			if strings.Contains(s, secret) {
				t.Errorf("%q shows up in %s", secret, s)
			}
		}
	}
}

// wantField checks an error answer: its status, and the field it names.
func wantField(t *testing.T, what string, status int, body []byte, want int, field string) {
	t.Helper()
	var e struct{ Error, Field string }
	if err := json.Unmarshal(body, &e); err != nil || status != want || e.Field != field || e.Error == "" {
		t.Errorf("%s: %d %s, want %d naming %q", what, status, body, want, field)
	}
}
