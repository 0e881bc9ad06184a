package cloudapi_test

// The test's world: a real chathook (chathooktest.Start) on SQLite or
// PostgreSQL, a workspace with three Cloud API numbers of two Meta apps,
// its webhook pointed at a Sink, and Meta played by signed POSTs of
// the fixtures in testdata, written from Meta's documented payloads.

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/app"
	"github.com/chathook/chathook/chathooktest"
	"github.com/chathook/chathook/source/cloudapi"
	"github.com/chathook/chathook/store"
)

// The app secrets of two Meta apps: shops one and two are numbers of the
// first, the other shop is the second's.
const (
	appOne = "5d2c1e0f9b4a3b4ad13e8e9f1b2b7b3a"
	appTwo = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
)

var (
	shopOne = cloudapi.Registration{PhoneNumberID: "106540352242922", DisplayPhoneNumber: "+1 555-078-3881",
		FullName: "Shop One", Email: "ops@acme.example", AppSecret: appOne, VerifyToken: "verify-one"}
	shopTwo = cloudapi.Registration{PhoneNumberID: "106540352242923", DisplayPhoneNumber: "+1 555-078-3882",
		FullName: "Shop Two", Email: "ops@acme.example", AppSecret: appOne, VerifyToken: "verify-two"}
	otherShop = cloudapi.Registration{PhoneNumberID: "209876543210987", DisplayPhoneNumber: "+1 555-078-3883",
		FullName: "Other Shop", Email: "other@acme.example", AppSecret: appTwo, VerifyToken: "verify-other"}
)

// onEveryStore runs test on a fresh SQLite file and on a fresh PostgreSQL
// schema (skipped, or failed under CI=true, when PostgreSQL is not there).
func onEveryStore(t *testing.T, test func(t *testing.T, db string)) {
	t.Run("sqlite", func(t *testing.T) { test(t, "sqlite:"+filepath.Join(t.TempDir(), "chathook.db")) })
	t.Run("postgres", func(t *testing.T) { test(t, chathooktest.Postgres(t)) })
}

type env struct {
	svc      *chathooktest.Service
	ws       *chathooktest.Workspace
	sink     *chathooktest.Sink
	log      *chathooktest.SyncBuffer
	accounts map[string]chathook.Account // by phone number id
}

// start runs chathook on db with the workspace's three numbers
// registered, and checks when the test ends that no app secret was ever
// logged.
func start(t *testing.T, db string) *env { return startWith(t, db, app.Config{}, "") }

// startWith is start with cfg, and token as Shop One's access token.
func startWith(t *testing.T, db string, cfg app.Config, token string) *env {
	t.Helper()
	e := &env{log: &chathooktest.SyncBuffer{}, accounts: map[string]chathook.Account{}}
	cfg.Logger = slog.New(slog.NewTextHandler(e.log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e.svc = chathooktest.Start(t, chathooktest.Options{DB: db, Config: cfg})
	e.ws = e.svc.NewWorkspace(t, "acme")
	e.sink = chathooktest.NewSink(t)
	e.ws.PointAt(t, e.sink.URL+"/hook")
	one := shopOne
	one.AccessToken = token
	for _, r := range []cloudapi.Registration{one, shopTwo, otherShop} {
		a, err := cloudapi.Register(context.Background(), e.svc.Store, e.ws.WorkspaceID, r, time.Now())
		if err != nil {
			t.Fatalf("register %s: %v", r.FullName, err)
		}
		e.accounts[r.PhoneNumberID] = a
	}
	t.Cleanup(func() {
		for _, secret := range []string{appOne, appTwo} {
			if strings.Contains(e.log.String(), secret) {
				t.Errorf("an app secret is in the log:\n%s", e.log)
			}
		}
	})
	return e
}

func (e *env) url() string { return e.svc.URL + "/sources/cloud-api/" + e.ws.WorkspaceID }

// fixture reads a payload of testdata.
func fixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// metaSignature is what Meta sends in X-Hub-Signature-256.
func metaSignature(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// post sends body as Meta does, signed with secret.
func (e *env) post(t *testing.T, body []byte, secret string) (int, string) {
	t.Helper()
	return send(t, http.MethodPost, e.url(), bytes.NewReader(body), metaSignature(secret, body))
}

// send makes a request with the X-Hub-Signature-256 header sig (none
// when ""), and returns the status and the body of the answer.
func send(t *testing.T, method, url string, body io.Reader, sig string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "facebookexternalua")
	if sig != "" {
		req.Header.Set("X-Hub-Signature-256", sig)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(answer)
}

// answer is the 200 answer to a POST that stored a, d and s messages.
func answer(a, d, s int) string {
	return `{"accepted":` + strconv.Itoa(a) + `,"duplicate":` + strconv.Itoa(d) + `,"skipped":` + strconv.Itoa(s) + "}\n"
}

// errorField returns the field an error answer names.
func errorField(t *testing.T, body string) string {
	t.Helper()
	var e struct{ Error, Field string }
	if err := json.Unmarshal([]byte(body), &e); err != nil || e.Error == "" {
		t.Errorf("not a JSON error: %s", body)
	}
	return e.Field
}

// messages returns every message the workspace stored, by message id.
func (e *env) messages(t *testing.T) map[string]chathook.Message {
	t.Helper()
	ctx := context.Background()
	chats, err := e.svc.Store.Chats(ctx, e.ws.WorkspaceID, store.ChatQuery{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	all := map[string]chathook.Message{}
	for _, c := range chats {
		msgs, err := e.svc.Store.Messages(ctx, e.ws.WorkspaceID, c.ID, store.Page{Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range msgs {
			all[m.MessageID] = m
		}
	}
	return all
}

// state is a number's state as stored.
func (e *env) state(t *testing.T, r cloudapi.Registration) chathook.AccountState {
	t.Helper()
	a, err := e.svc.Store.Account(context.Background(), e.ws.WorkspaceID, e.accounts[r.PhoneNumberID].ID)
	if err != nil {
		t.Fatal(err)
	}
	return a.State
}

type (
	wire   = chathooktest.Wire
	person = chathooktest.Person
)
