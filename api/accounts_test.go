package api_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/api"
	"github.com/chathook/chathook/app"
	"github.com/chathook/chathook/chathooktest"
)

// onEveryStore runs test on a fresh SQLite file and on a fresh PostgreSQL
// schema (skipped, or failed under CI=true, when PostgreSQL is not there).
func onEveryStore(t *testing.T, test func(t *testing.T, db string)) {
	t.Run("sqlite", func(t *testing.T) { test(t, "sqlite:"+filepath.Join(t.TempDir(), "chathook.db")) })
	t.Run("postgres", func(t *testing.T) { test(t, chathooktest.Postgres(t)) })
}

// appSecret is the Meta app secret of the tests' registrations: it must
// never come back, in an answer or a log line.
const appSecret = "0123456789abcdef-app-secret"

// accessToken is the Graph API access token of the tests: write-only like
// the app secret.
const accessToken = "EAAGm0PX4ZCpsBAtest-access-token-0123456789"

// registration is a valid POST /api/v1/accounts/cloud-api body, changed
// by field/value pairs (absent deletes the field).
func registration(pairs ...any) map[string]any {
	r := map[string]any{
		"phone_number_id":      "106540352242922",
		"display_phone_number": "+1 555-078-3881",
		"full_name":            "Acme Support",
		"email":                "ops@acme.example",
		"app_secret":           appSecret,
		"verify_token":         "my-verify-token",
	}
	for i := 0; i < len(pairs); i += 2 {
		if pairs[i+1] == absent {
			delete(r, pairs[i].(string))
		} else {
			r[pairs[i].(string)] = pairs[i+1]
		}
	}
	return r
}

// accountAnswer is an account as the API answers it, every field.
type accountAnswer struct {
	ID            string `json:"id"`
	Kind          string `json:"kind"`
	Phone         string `json:"phone"`
	FullName      string `json:"full_name"`
	Email         string `json:"email"`
	State         string `json:"state"`
	PhoneNumberID string `json:"phone_number_id"`
	VerifyToken   string `json:"verify_token"`
	CallbackURL   string `json:"callback_url"`
	BannedUntil   string `json:"banned_until"`
	// HasAccessToken: a Cloud API number's only; its presence is checked
	// on the raw answer.
	HasAccessToken bool `json:"has_access_token"`
}

// register posts a registration and returns the account, failing unless
// 201 with no trace of the app secret.
func register(t *testing.T, ws *chathooktest.Workspace, body any) accountAnswer {
	t.Helper()
	status, answer := ws.Do(t, http.MethodPost, "/api/v1/accounts/cloud-api", body)
	var a accountAnswer
	if err := strictJSON(answer, &a); status != http.StatusCreated || err != nil {
		t.Fatalf("POST cloud-api: %d %s (%v)", status, answer, err)
	}
	if strings.Contains(string(answer), "app_secret") || strings.Contains(string(answer), appSecret) {
		t.Errorf("the answer shows the app secret: %s", answer)
	}
	if strings.Contains(string(answer), `"access_token"`) || strings.Contains(string(answer), accessToken) ||
		!strings.Contains(string(answer), `"has_access_token":`) {
		t.Errorf("the answer shows the access token, or not whether there is one: %s", answer)
	}
	return a
}

// listAccounts returns GET /api/v1/accounts raw, and decoded.
func listAccounts(t *testing.T, ws *chathooktest.Workspace) (string, []accountAnswer) {
	t.Helper()
	status, body := ws.Do(t, http.MethodGet, "/api/v1/accounts", nil)
	var got struct {
		Accounts []accountAnswer `json:"accounts"`
	}
	if err := strictJSON(body, &got); status != http.StatusOK || err != nil || got.Accounts == nil {
		t.Fatalf("GET accounts: %d %s (%v)", status, body, err)
	}
	return string(body), got.Accounts
}

// linkQR records an account linked by QR code, as `account connect` on
// another machine does, leased to that machine for an hour: the service
// under test leaves its connection alone.
func linkQR(t *testing.T, svc *chathooktest.Service, ws *chathooktest.Workspace, phone string) chathook.Account {
	t.Helper()
	a, err := svc.Store.LinkAccount(context.Background(), ws.WorkspaceID, chathook.Account{
		Phone: phone, FullName: "Dana Owner", Email: "dana@acme.example", JID: strings.TrimPrefix(phone, "+") + ":7@s.whatsapp.net",
	}, "another machine", time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func deleteAccount(t *testing.T, ws *chathooktest.Workspace, id string) (int, []byte) {
	t.Helper()
	return ws.Do(t, http.MethodDelete, "/api/v1/accounts/"+id, nil)
}

// The accounts API lists accounts linked by QR code and Cloud API
// numbers as `account list` does, registers numbers (201 with what the
// Meta app needs, never the secret) and removes both kinds.
func TestAccounts(t *testing.T) { onEveryStore(t, testAccounts) }

func testAccounts(t *testing.T, db string) {
	logs := &chathooktest.SyncBuffer{}
	svc := chathooktest.Start(t, chathooktest.Options{DB: db, Config: app.Config{
		BaseURL: "https://chathook.example.com/", Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}})
	ws := svc.NewWorkspace(t, "acme")

	if body, _ := listAccounts(t, ws); body != `{"accounts":[]}`+"\n" {
		t.Errorf("no accounts: %s", body)
	}

	cloud := register(t, ws, registration())
	want := accountAnswer{
		ID: cloud.ID, Kind: "cloud_api", Phone: "+15550783881", FullName: "Acme Support", Email: "ops@acme.example",
		State: "connecting", PhoneNumberID: "106540352242922", VerifyToken: "my-verify-token",
		CallbackURL: "https://chathook.example.com/sources/cloud-api/" + ws.WorkspaceID,
	}
	if !digits.MatchString(cloud.ID) || cloud != want {
		t.Errorf("registered:\n got %+v\nwant %+v", cloud, want)
	}
	// Without a verify token chathook chooses one, hard to guess.
	chosen := register(t, ws, registration("phone_number_id", "106540352242923", "display_phone_number", "15550783882", "verify_token", absent))
	if len(chosen.VerifyToken) != 32 || chosen.Phone != "+15550783882" {
		t.Errorf("registered without a verify token: %+v", chosen)
	}
	qr := linkQR(t, svc, ws, "+972500000001")

	body, got := listAccounts(t, ws)
	wantQR := `{"id":"` + strconv.FormatInt(qr.ID, 10) + `","kind":"web","phone":"+972500000001","full_name":"Dana Owner","email":"dana@acme.example","state":"connected"}`
	if len(got) != 3 || got[0] != cloud || got[1] != chosen || !strings.Contains(body, wantQR) {
		t.Errorf("GET accounts:\n%s\nwant %+v, %+v and %s", body, cloud, chosen, wantQR)
	}
	numbers, err := svc.Store.CloudAPINumbers(context.Background(), ws.WorkspaceID)
	if err != nil || len(numbers) != 2 || numbers[0].AppSecret != appSecret {
		t.Fatalf("the store has %+v, %v", numbers, err)
	}

	t.Run("a banned account says until when", func(t *testing.T) {
		other := linkQR(t, svc, ws, "+972500000009")
		until := time.Date(2031, 1, 2, 3, 4, 5, 0, time.UTC)
		if _, err := svc.Store.BanAccount(context.Background(), other.ID, until, time.Now()); err != nil {
			t.Fatal(err)
		}
		body, _ := listAccounts(t, ws)
		if !strings.Contains(body, `"state":"banned","banned_until":"2031-01-02T03:04:05Z"`) {
			t.Errorf("GET accounts of a banned account: %s", body)
		}
	})

	t.Run("remove a Cloud API number", func(t *testing.T) {
		for range 2 { // idempotent
			if status, body := deleteAccount(t, ws, cloud.ID); status != http.StatusNoContent || len(body) != 0 {
				t.Fatalf("DELETE: %d %s", status, body)
			}
		}
		_, got := listAccounts(t, ws)
		want := accountAnswer{ID: cloud.ID, Kind: "cloud_api", Phone: "+15550783881", FullName: "Acme Support", Email: "ops@acme.example",
			State: "disconnected", PhoneNumberID: "106540352242922"}
		if got[0] != want {
			t.Errorf("removed, it lists as %+v, want %+v (no verify token, no callback URL)", got[0], want)
		}
		numbers, _ := svc.Store.CloudAPINumbers(context.Background(), ws.WorkspaceID)
		if len(numbers) != 1 || numbers[0].PhoneNumberID != chosen.PhoneNumberID {
			t.Errorf("numbers whose signatures count after the removal: %+v", numbers)
		}
		// Removed, its phone number id may be registered again.
		again := register(t, ws, registration("verify_token", "another-token"))
		if again.ID != cloud.ID || again.State != "connecting" || again.VerifyToken != "another-token" {
			t.Errorf("registered again: %+v, want account %s connecting", again, cloud.ID)
		}
	})

	t.Run("log out an account linked by QR code", func(t *testing.T) {
		for range 2 {
			if status, body := deleteAccount(t, ws, strconv.FormatInt(qr.ID, 10)); status != http.StatusNoContent {
				t.Fatalf("DELETE: %d %s", status, body)
			}
		}
		// The instance holding it (here, another machine) logs it out.
		a, err := svc.Store.Account(context.Background(), ws.WorkspaceID, qr.ID)
		if err != nil || a.State != chathook.AccountDisconnecting {
			t.Errorf("after DELETE: %+v, %v; want disconnecting", a, err)
		}
	})

	t.Run("conflicts", func(t *testing.T) {
		other := linkQR(t, svc, ws, "+972500000002")
		before, _ := listAccounts(t, ws)
		for _, c := range []struct {
			name  string
			body  map[string]any
			field string
		}{
			{"the same phone number id", registration("display_phone_number", "+15550000001"), "phone_number_id"},
			{"the same display number", registration("phone_number_id", "999"), "display_phone_number"},
			{"a number linked by QR code", registration("phone_number_id", "998", "display_phone_number", other.Phone), "display_phone_number"},
		} {
			status, body := ws.Do(t, http.MethodPost, "/api/v1/accounts/cloud-api", c.body)
			wantError(t, status, body, http.StatusConflict, c.field)
		}
		if after, _ := listAccounts(t, ws); after != before {
			t.Errorf("a refused registration changed the accounts:\n%s\n%s", before, after)
		}
	})

	t.Run("another workspace", func(t *testing.T) {
		beta := svc.NewWorkspace(t, "beta")
		if body, _ := listAccounts(t, beta); body != `{"accounts":[]}`+"\n" {
			t.Errorf("beta lists acme's accounts: %s", body)
		}
		before, _ := listAccounts(t, ws)
		for _, id := range []string{cloud.ID, chosen.ID, strconv.FormatInt(qr.ID, 10)} {
			status, body := deleteAccount(t, beta, id)
			wantError(t, status, body, http.StatusNotFound, "id")
		}
		if after, _ := listAccounts(t, ws); after != before {
			t.Errorf("beta's DELETEs changed acme's accounts:\n%s\n%s", before, after)
		}
		// Phone number ids are acme's own: beta may register the same.
		register(t, beta, registration())
	})

	t.Run("not an account to remove", func(t *testing.T) {
		// The ingest API's accounts are not linked: nothing to remove.
		chatID, _ := strconv.ParseInt(ingestOne(t, ws, msg("m1")).ChatID, 10, 64)
		chat, err := svc.Store.Chat(context.Background(), ws.WorkspaceID, chatID)
		if err != nil {
			t.Fatal(err)
		}
		byAPI := strconv.FormatInt(chat.AccountID, 10)
		for _, id := range []string{byAPI, "99999999", "0", "-1", "abc", "99999999999999999999"} {
			status, body := deleteAccount(t, ws, id)
			wantError(t, status, body, http.StatusNotFound, "id")
		}
		if a, err := svc.Store.Account(context.Background(), ws.WorkspaceID, chat.AccountID); err != nil || a.Kind != chathook.KindAPI {
			t.Errorf("the ingest API's account became %+v, %v", a, err)
		}
	})

	if strings.Contains(logs.String(), appSecret) {
		t.Errorf("the app secret is in the log:\n%s", logs.String())
	}
	if !strings.Contains(logs.String(), "Cloud API number registered") {
		t.Errorf("no registration in the log:\n%s", logs.String())
	}
}

// Every field of a registration is checked: a 400 names it, nothing is
// registered, and the app secret is not echoed.
func TestCloudAPIRegistrationErrors(t *testing.T) {
	svc := chathooktest.Start(t, chathooktest.Options{})
	ws := svc.NewWorkspace(t, "acme")
	for _, c := range []struct {
		name  string
		body  any
		field string
	}{
		{"no phone_number_id", registration("phone_number_id", absent), "phone_number_id"},
		{"phone_number_id not digits", registration("phone_number_id", "10654-0352"), "phone_number_id"},
		{"phone_number_id a number", registration("phone_number_id", 106540352242922), "phone_number_id"},
		{"phone_number_id too long", registration("phone_number_id", strings.Repeat("1", 33)), "phone_number_id"},
		{"no display_phone_number", registration("display_phone_number", ""), "display_phone_number"},
		{"display_phone_number not a number", registration("display_phone_number", "Acme"), "display_phone_number"},
		{"display_phone_number too short", registration("display_phone_number", "+1 23"), "display_phone_number"},
		{"full_name too long", registration("full_name", strings.Repeat("名", 257)), "full_name"},
		{"full_name with NUL", registration("full_name", "a\x00b"), "full_name"},
		{"email not an email", registration("email", "ops"), "email"},
		{"no app_secret", registration("app_secret", absent), "app_secret"},
		{"app_secret too short", registration("app_secret", "short"), "app_secret"},
		{"app_secret with a space", registration("app_secret", appSecret+" x"), "app_secret"},
		{"app_secret not a string", registration("app_secret", true), "app_secret"},
		{"verify_token with a space", registration("verify_token", "my token"), "verify_token"},
		{"verify_token too long", registration("verify_token", strings.Repeat("t", 257)), "verify_token"},
		{"access_token with a space", registration("access_token", accessToken+" x"), "access_token"},
		{"access_token too long", registration("access_token", strings.Repeat("t", 4097)), "access_token"},
		{"access_token not a string", registration("access_token", 42), "access_token"},
		{"unknown field", registration("secret", appSecret), "secret"},
		{"misspelt field", registration("phone_number", "1"), "phone_number"},
		{"not an object", []any{registration()}, "body"},
		{"malformed", `{"phone_number_id": "1", "app_secret": "` + appSecret, "body"},
		{"empty", "", "body"},
		{"two objects", `{} {}`, "body"},
	} {
		t.Run(c.name, func(t *testing.T) {
			status, body := ws.Do(t, http.MethodPost, "/api/v1/accounts/cloud-api", c.body)
			wantError(t, status, body, http.StatusBadRequest, c.field)
			if strings.Contains(string(body), appSecret) {
				t.Errorf("the error shows the app secret: %s", body)
			}
		})
	}
	status, body := ws.Do(t, http.MethodPost, "/api/v1/accounts/cloud-api", strings.Repeat(" ", 64<<10+1))
	wantError(t, status, body, http.StatusRequestEntityTooLarge, "body")
	if body, _ := listAccounts(t, ws); body != `{"accounts":[]}`+"\n" {
		t.Errorf("refused registrations registered: %s", body)
	}
}

// The accounts routes need a valid token and answer other methods 405.
func TestAccountRoutes(t *testing.T) {
	svc := chathooktest.Start(t, chathooktest.Options{})
	ws := svc.NewWorkspace(t, "acme")
	cloud := register(t, ws, registration())
	before, _ := listAccounts(t, ws)

	for _, r := range []struct {
		method, path string
		body         any
	}{
		{"GET", "/api/v1/accounts", nil},
		{"POST", "/api/v1/accounts/cloud-api", registration("phone_number_id", "1", "display_phone_number", "+15550000001")},
		{"DELETE", "/api/v1/accounts/" + cloud.ID, nil},
		{"PUT", "/api/v1/accounts/" + cloud.ID, map[string]any{"access_token": accessToken}},
	} {
		for _, token := range []string{"", "chk_wrong", ws.WebhookSecret} {
			status, body := chathooktest.Do(t, r.method, svc.URL+r.path, token, r.body)
			wantError(t, status, body, http.StatusUnauthorized, "")
			if strings.Contains(string(body), "Acme Support") {
				t.Errorf("%s %s without a valid token shows an account: %s", r.method, r.path, body)
			}
		}
	}
	if after, _ := listAccounts(t, ws); after != before {
		t.Errorf("requests without a valid token changed the accounts:\n%s\n%s", before, after)
	}

	if status, body := ws.Do(t, http.MethodDelete, "/api/v1/accounts/"+cloud.ID+"/more", nil); status != http.StatusNotFound {
		t.Errorf("DELETE under an account: %d %s", status, body)
	}
}

// fakeWhatsApp records the accounts it was asked to log out, and answers
// err.
type fakeWhatsApp struct {
	mu    sync.Mutex
	calls []string
	err   error
}

func (f *fakeWhatsApp) Disconnect(_ context.Context, workspaceID string, id int64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, workspaceID+"/"+strconv.FormatInt(id, 10))
	return f.err
}

// DELETE of an account linked by QR code goes to the WhatsApp connector
// (503 without one), and what it answers decides the status; a Cloud API
// number needs no connector.
func TestDeleteGoesToTheConnector(t *testing.T) {
	ctx := context.Background()
	st, created := storeWithWorkspace(t)
	qr, err := st.LinkAccount(ctx, created.WorkspaceID, chathook.Account{Phone: "+972500000001", JID: "972500000001:7@s.whatsapp.net"},
		"elsewhere", time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	qrPath := "/api/v1/accounts/" + strconv.FormatInt(qr.ID, 10)
	serve := func(wa api.WhatsApp) string {
		srv := httptest.NewServer(chathooktest.CheckedHandler(t, api.New(api.Config{Store: st, WhatsApp: wa})))
		t.Cleanup(srv.Close)
		return srv.URL
	}

	status, body := chathooktest.Do(t, http.MethodDelete, serve(nil)+qrPath, created.APIToken, nil)
	wantError(t, status, body, http.StatusServiceUnavailable, "")

	fake := &fakeWhatsApp{}
	url := serve(fake)
	if status, body := chathooktest.Do(t, http.MethodDelete, url+qrPath, created.APIToken, nil); status != http.StatusNoContent {
		t.Errorf("DELETE: %d %s", status, body)
	}
	fake.err = chathook.ErrNotFound // it stopped being linked by QR code meanwhile
	status, body = chathooktest.Do(t, http.MethodDelete, url+qrPath, created.APIToken, nil)
	wantError(t, status, body, http.StatusNotFound, "id")
	fake.err = errors.New("the database went away")
	status, body = chathooktest.Do(t, http.MethodDelete, url+qrPath, created.APIToken, nil)
	wantError(t, status, body, http.StatusInternalServerError, "")
	if want := created.WorkspaceID + "/" + strconv.FormatInt(qr.ID, 10); len(fake.calls) != 3 || fake.calls[0] != want {
		t.Errorf("the connector was asked %v, want %s three times", fake.calls, want)
	}

	// Without a connector, a Cloud API number is still removed; without
	// a base URL its callback URL is not shown.
	status, body = chathooktest.Do(t, http.MethodPost, serve(nil)+"/api/v1/accounts/cloud-api", created.APIToken, registration())
	var a accountAnswer
	if err := strictJSON(body, &a); status != http.StatusCreated || err != nil || a.CallbackURL != "" || strings.Contains(string(body), "callback_url") {
		t.Fatalf("register: %d %s (%v)", status, body, err)
	}
	if status, body := chathooktest.Do(t, http.MethodDelete, serve(nil)+"/api/v1/accounts/"+a.ID, created.APIToken, nil); status != http.StatusNoContent {
		t.Errorf("DELETE a Cloud API number without a connector: %d %s", status, body)
	}
	if len(fake.calls) != 3 {
		t.Errorf("a Cloud API number's DELETE went to the connector: %v", fake.calls)
	}
}

// putToken sends PUT /api/v1/accounts/{id} with body.
func putToken(t *testing.T, ws *chathooktest.Workspace, id string, body any) (int, []byte) {
	t.Helper()
	return ws.Do(t, http.MethodPut, "/api/v1/accounts/"+id, body)
}

// A Cloud API number's access token is given at registration or by PUT,
// set or replaced, and only ever shown as has_access_token.
func TestAccessToken(t *testing.T) { onEveryStore(t, testAccessToken) }

func testAccessToken(t *testing.T, db string) {
	ctx := context.Background()
	logs := &chathooktest.SyncBuffer{}
	svc := chathooktest.Start(t, chathooktest.Options{DB: db, Config: app.Config{
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}})
	ws := svc.NewWorkspace(t, "acme")
	storeToken := func(id string) string {
		t.Helper()
		numbers, err := svc.Store.CloudAPINumbers(ctx, ws.WorkspaceID)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range numbers {
			if strconv.FormatInt(n.ID, 10) == id {
				return n.AccessToken
			}
		}
		t.Fatalf("number %s is not listed", id)
		return ""
	}

	with := register(t, ws, registration("access_token", accessToken))
	without := register(t, ws, registration("phone_number_id", "106540352242923", "display_phone_number", "+15550783882"))
	if !with.HasAccessToken || without.HasAccessToken {
		t.Errorf("registered: has_access_token %v with one, %v without", with.HasAccessToken, without.HasAccessToken)
	}
	if got := storeToken(with.ID); got != accessToken {
		t.Errorf("the store has %q", got)
	}
	if body, got := listAccounts(t, ws); len(got) != 2 || !got[0].HasAccessToken || got[1].HasAccessToken ||
		strings.Count(body, `"has_access_token":`) != 2 || strings.Contains(body, accessToken) {
		t.Errorf("GET accounts: %s", body)
	}

	// Set, then replaced: the answer is the account, without the token.
	for _, tok := range []string{accessToken + "-set", accessToken + "-replaced"} {
		status, body := putToken(t, ws, without.ID, map[string]any{"access_token": tok})
		var a accountAnswer
		if err := strictJSON(body, &a); status != http.StatusOK || err != nil {
			t.Fatalf("PUT: %d %s (%v)", status, body, err)
		}
		want := without
		want.HasAccessToken = true
		if a != want || strings.Contains(string(body), accessToken) {
			t.Errorf("PUT answered %s\nwant %+v", body, want)
		}
		if got := storeToken(without.ID); got != tok {
			t.Errorf("after PUT the store has %q, want %q", got, tok)
		}
	}
	if _, got := listAccounts(t, ws); !got[1].HasAccessToken {
		t.Errorf("after PUT, listed %+v", got[1])
	}

	t.Run("bad input", func(t *testing.T) {
		for _, c := range []struct {
			name  string
			body  any
			field string
		}{
			{"no access_token", map[string]any{}, "access_token"},
			{"empty", map[string]any{"access_token": ""}, "access_token"},
			{"a space", map[string]any{"access_token": "EAAG abc"}, "access_token"},
			{"a line break", map[string]any{"access_token": "EAAG\nabc"}, "access_token"},
			{"not ASCII", map[string]any{"access_token": "EAAGé"}, "access_token"},
			{"too long", map[string]any{"access_token": strings.Repeat("t", 4097)}, "access_token"},
			{"not a string", map[string]any{"access_token": 42}, "access_token"},
			{"null", map[string]any{"access_token": nil}, "access_token"},
			{"unknown field", map[string]any{"access_token": accessToken, "app_secret": appSecret}, "app_secret"},
			{"not an object", []any{accessToken}, "body"},
			{"malformed", `{"access_token": "` + accessToken, "body"},
			{"empty body", "", "body"},
		} {
			t.Run(c.name, func(t *testing.T) {
				status, body := putToken(t, ws, with.ID, c.body)
				wantError(t, status, body, http.StatusBadRequest, c.field)
				if strings.Contains(string(body), accessToken) || strings.Contains(string(body), appSecret) {
					t.Errorf("the error shows a secret: %s", body)
				}
			})
		}
		if got := storeToken(with.ID); got != accessToken {
			t.Errorf("refused PUTs changed the token to %q", got)
		}
		// The longest token taken.
		long := strings.Repeat("t", 4096)
		if status, body := putToken(t, ws, with.ID, map[string]any{"access_token": long}); status != http.StatusOK {
			t.Errorf("a 4096-character token: %d %s", status, body)
		}
		if status, _ := putToken(t, ws, with.ID, map[string]any{"access_token": accessToken}); status != http.StatusOK {
			t.Errorf("PUT back: %d", status)
		}
	})

	t.Run("not a number of this workspace", func(t *testing.T) {
		beta := svc.NewWorkspace(t, "beta")
		qr := linkQR(t, svc, ws, "+972500000001")
		chatID, _ := strconv.ParseInt(ingestOne(t, ws, msg("m1")).ChatID, 10, 64)
		chat, err := svc.Store.Chat(ctx, ws.WorkspaceID, chatID)
		if err != nil {
			t.Fatal(err)
		}
		removed := register(t, ws, registration("phone_number_id", "106540352242924", "display_phone_number", "+15550783884",
			"access_token", accessToken))
		if status, body := deleteAccount(t, ws, removed.ID); status != http.StatusNoContent {
			t.Fatalf("DELETE: %d %s", status, body)
		}
		before, _ := listAccounts(t, ws)
		for _, c := range []struct {
			name string
			ws   *chathooktest.Workspace
			id   string
		}{
			{"another workspace's number", beta, with.ID},
			{"an account linked by QR code", ws, strconv.FormatInt(qr.ID, 10)},
			{"an account of the ingest API", ws, strconv.FormatInt(chat.AccountID, 10)},
			{"a removed number", ws, removed.ID},
			{"no such account", ws, "99999999"},
			{"zero", ws, "0"},
			{"not a number", ws, "abc"},
			{"too large", ws, "99999999999999999999"},
		} {
			status, body := putToken(t, c.ws, c.id, map[string]any{"access_token": accessToken + "-other"})
			wantError(t, status, body, http.StatusNotFound, "id")
		}
		if after, _ := listAccounts(t, ws); after != before {
			t.Errorf("refused PUTs changed the accounts:\n%s\n%s", before, after)
		}
		if got := storeToken(with.ID); got != accessToken {
			t.Errorf("beta's PUT changed acme's token to %q", got)
		}
	})

	if strings.Contains(logs.String(), accessToken) || strings.Contains(logs.String(), strings.Repeat("t", 100)) {
		t.Errorf("an access token is in the log:\n%s", logs.String())
	}
	if !strings.Contains(logs.String(), "Cloud API access token set") {
		t.Errorf("no token change in the log:\n%s", logs.String())
	}
}
