package web_test

import (
	"context"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/app"
	"github.com/chathook/chathook/deliver"
	"github.com/chathook/chathook/store/sqlite"
	"github.com/chathook/chathook/web"
	"github.com/google/uuid"
)

// harness is the web UI on a real loopback socket over a real SQLite
// file, with a clock the test moves.
type harness struct {
	t    *testing.T
	st   *sqlite.Store
	db   string
	srv  *httptest.Server
	web  *web.Server
	mu   sync.Mutex
	now  time.Time
	ws   app.Created // workspace "acme", whose owner is owner@acme.example
	base string
}

const password = "correct horse battery"

func newHarness(t *testing.T, allowPrivate bool, baseURL string) *harness {
	t.Helper()
	return newHarnessWith(t, allowPrivate, baseURL, nil)
}

// newHarnessWith is newHarness with edit's changes to the web UI's
// Config and Server (nil: none).
func newHarnessWith(t *testing.T, allowPrivate bool, baseURL string, edit func(*web.Config)) *harness {
	t.Helper()
	db := filepath.Join(t.TempDir(), "web.db")
	st, err := sqlite.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	h := &harness{t: t, st: st, db: db, now: time.Now().UTC()}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg := web.Config{
		Store: st, BaseURL: baseURL, AllowPrivateTargets: allowPrivate, Logger: logger, Now: h.clock,
		Tester: deliver.New(deliver.Config{Store: st, AllowPrivateTargets: true, BaseURL: "http://chathook.test"}),
	}
	if edit != nil {
		edit(&cfg)
	}
	s, err := web.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	h.web = s
	h.srv = httptest.NewServer(s)
	t.Cleanup(h.srv.Close)
	h.base = h.srv.URL
	h.ws = h.workspace("acme")
	return h
}

func (h *harness) clock() time.Time {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.now
}

func (h *harness) advance(d time.Duration) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.now = h.now.Add(d)
}

// workspace creates a workspace whose owner, owner@<name>.example, can
// sign in with password.
func (h *harness) workspace(name string) app.Created {
	h.t.Helper()
	ctx := context.Background()
	c, err := app.CreateWorkspace(ctx, h.st, name, "owner@"+name+".example", "Owner of "+name)
	if err != nil {
		h.t.Fatal(err)
	}
	if _, err := app.AddUser(ctx, h.st, c.WorkspaceID, "owner@"+name+".example", "Owner", password); err != nil {
		h.t.Fatal(err)
	}
	return c
}

// chatPhone is the WhatsApp id of the chat named name: a number of its
// own, as a QR account's direct chats are keyed (replies go only to a
// person or a group).
func chatPhone(name string) string {
	h := fnv.New32a()
	h.Write([]byte(name))
	return fmt.Sprintf("+1555%07d", h.Sum32()%10_000_000)
}

// ingest stores messages in the chat named chatName (created on first
// sight), with the given texts one minute apart, and returns the chat id.
func (h *harness) ingest(ws string, chatName string, texts ...string) int64 {
	h.t.Helper()
	var in []chathook.Incoming
	t0 := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	for i, text := range texts {
		in = append(in, chathook.Incoming{
			Account:   chathook.Account{Phone: "+15550000000", FullName: "Agent"},
			Chat:      chathook.Chat{ExternalID: chatPhone(chatName), Phone: "+15551000001", FullName: chatName},
			MessageID: uuid.NewString(), UUID: uuid.NewString(), Direction: chathook.Received,
			Timestamp: t0.Add(time.Duration(i) * time.Minute), Text: text,
		})
	}
	res, err := h.st.Ingest(context.Background(), ws, h.clock(), in)
	if err != nil {
		h.t.Fatal(err)
	}
	return res[0].ChatID
}

// visitor is a browser without script: a cookie jar that does not follow
// redirects, so the test sees each one.
type visitor struct {
	t    *testing.T
	h    *harness
	c    *http.Client
	csrf string // the latest page's CSRF token
}

func (h *harness) visitor() *visitor {
	jar, _ := cookiejar.New(nil)
	return &visitor{t: h.t, h: h, c: &http.Client{
		Jar:           jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// visitorFrom is a visitor whose connections come from ip, an address of
// the loopback network other than 127.0.0.1 (Linux answers on all of
// 127.0.0.0/8), so the server sees another client address.
func (h *harness) visitorFrom(ip string) *visitor {
	v := h.visitor()
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	v.c.Transport = &http.Transport{DialContext: d.DialContext}
	return v
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

type answer struct {
	status int
	body   string
	header http.Header
}

func (v *visitor) do(req *http.Request) answer {
	v.t.Helper()
	resp, err := v.c.Do(req)
	if err != nil {
		v.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if m := csrfField.FindSubmatch(body); m != nil {
		v.csrf = string(m[1])
	}
	return answer{resp.StatusCode, string(body), resp.Header}
}

func (v *visitor) get(path string) answer {
	v.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, v.h.base+path, nil)
	return v.do(req)
}

// post sends a form with the CSRF token of the latest page, unless the
// form has a csrf field of its own.
func (v *visitor) post(path string, form url.Values, header ...string) answer {
	v.t.Helper()
	if _, ok := form["csrf"]; !ok {
		form.Set("csrf", v.csrf)
	}
	req, _ := http.NewRequest(http.MethodPost, v.h.base+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return v.do(req)
}

func (v *visitor) signIn(email, pw string) answer {
	v.t.Helper()
	v.get("/signin")
	return v.post("/signin", url.Values{"email": {email}, "password": {pw}})
}

// signedIn is a visitor signed in as the owner of workspace name.
func (h *harness) signedIn(name string) *visitor {
	h.t.Helper()
	v := h.visitor()
	if a := v.signIn("owner@"+name+".example", password); a.status != http.StatusSeeOther {
		h.t.Fatalf("sign in: %d %s", a.status, a.body)
	}
	return v
}
