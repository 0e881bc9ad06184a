package web_test

import (
	"context"
	"html"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/chathooktest"
	"github.com/chathook/chathook/source/cloudapi"
	"github.com/chathook/chathook/web"
)

// metaSecret is the Meta app secret the tests type: no page and no log
// line may ever show it.
const metaSecret = "0123456789abcdef-meta-app-secret"

// metaToken is the Graph API access token the tests type: write-only like
// the app secret.
const metaToken = "EAAGm0PX4ZCpsBAweb-test-access-token-42"

// cloudNumber registers Cloud API number n of workspace ws (+1555078388n,
// phone number id 10654035224292n) and moves it to state.
func (h *harness) cloudNumber(ws string, n int, state chathook.AccountState) chathook.Account {
	h.t.Helper()
	ctx := context.Background()
	d := strconv.Itoa(n)
	a, err := cloudapi.Register(ctx, h.st, ws, cloudapi.Registration{
		PhoneNumberID: "10654035224292" + d, DisplayPhoneNumber: "+1 555 078 388" + d, FullName: "Acme Support " + d,
		Email: "ops@acme.example", AppSecret: metaSecret, VerifyToken: "verify-token-" + d,
	}, h.clock())
	if err != nil {
		h.t.Fatal(err)
	}
	if state != chathook.AccountConnecting {
		if a, err = h.st.SetAccountState(ctx, a.ID, state, h.clock()); err != nil {
			h.t.Fatal(err)
		}
	}
	return a
}

// cloudForm is a valid "Add a Cloud API number" form, changed by
// name/value pairs.
func cloudForm(pairs ...string) url.Values {
	f := url.Values{
		"phone_number_id": {"106540352242922"}, "display_phone_number": {"+1 555 078 3881"}, "full_name": {"Acme Support"},
		"email": {"ops@acme.example"}, "app_secret": {metaSecret}, "verify_token": {"my-verify-token"},
	}
	for i := 0; i+1 < len(pairs); i += 2 {
		f.Set(pairs[i], pairs[i+1])
	}
	return f
}

// inputValue is the value of the page's input of that id.
func inputValue(t *testing.T, body, id string) string {
	t.Helper()
	m := regexp.MustCompile(`<input id="` + id + `"[^>]*? value="([^"]*)"`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no input %s in:\n%s", id, body)
	}
	return html.UnescapeString(m[1])
}

// Cloud API numbers are listed next to accounts linked by QR code, with
// their state in words, a Setup link and a Remove button while they are
// registered.
func TestCloudAPINumbersListed(t *testing.T) {
	t.Parallel()
	h := newHarness(t, true, "")
	ws := h.ws.WorkspaceID
	qr := h.link(ws, "+972500000001", "Amnon Haha", "amnon@acme.example", chathook.AccountConnected)
	waiting := h.cloudNumber(ws, 1, chathook.AccountConnecting)
	connected := h.cloudNumber(ws, 2, chathook.AccountConnected)
	removed := h.cloudNumber(ws, 3, chathook.AccountDisconnected)
	h.cloudNumber(h.workspace("beta").WorkspaceID, 4, chathook.AccountConnected)

	v := h.signedIn("acme")
	a := v.get("/accounts/")
	if a.status != http.StatusOK {
		t.Fatalf("GET /accounts/: %d %s", a.status, a.body)
	}
	for _, tc := range []struct {
		acc  chathook.Account
		want string
	}{
		{qr, "+972500000001 Amnon Haha amnon@acme.example QR code connected never Disconnect"},
		{waiting, "+15550783881 Acme Support 1 ops@acme.example Cloud API waiting for Meta Paste the callback URL and verify token into your Meta app. never Setup Remove"},
		{connected, "+15550783882 Acme Support 2 ops@acme.example Cloud API connected never Setup Remove"},
		{removed, "+15550783883 Acme Support 3 ops@acme.example Cloud API removed never"},
	} {
		r := row(t, a.body, tc.acc.ID)
		if got := words(r); got != tc.want {
			t.Errorf("account %s reads %q, want %q", tc.acc.Phone, got, tc.want)
		}
		id := strconv.FormatInt(tc.acc.ID, 10)
		if strings.Contains(r, "Remove") && (!strings.Contains(r, `action="/accounts/`+id+`/remove" data-confirm=`) ||
			!strings.Contains(r, `name="csrf" value="`+v.csrf+`"`) || !strings.Contains(r, `href="/accounts/cloud-api/`+id+`"`)) {
			t.Errorf("account %s: Remove does not post to its address with a confirmation and the CSRF token, or no Setup link:\n%s", tc.acc.Phone, r)
		}
	}
	if strings.Contains(a.body, "+15550783884") {
		t.Error("another workspace's number is listed")
	}
	if strings.Contains(a.body, metaSecret) {
		t.Error("the page shows an app secret")
	}
}

// Adding a number: the form is prefilled with the teammate's email and a
// random verify token; once sent, the number's setup page shows the
// callback URL and the verify token to paste, and the steps in the Meta
// app. The app secret is stored, and shown nowhere, logged nowhere.
func TestAddCloudAPINumber(t *testing.T) {
	t.Parallel()
	logs := &chathooktest.SyncBuffer{}
	h := newHarnessWith(t, true, "https://chathook.example.com", func(cfg *web.Config) {
		cfg.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	v := h.signedIn("acme")
	a := v.get("/accounts/")
	if got := inputValue(t, a.body, "email"); got != "owner@acme.example" {
		t.Errorf("the teammate is prefilled with %q, want the signed-in owner", got)
	}
	token := inputValue(t, a.body, "verify_token")
	if len(token) != 32 {
		t.Errorf("the verify token suggested is %q", token)
	}
	if again := inputValue(t, v.get("/accounts/").body, "verify_token"); again == token {
		t.Error("the same verify token is suggested twice")
	}
	if !strings.Contains(a.body, `<input id="app_secret" name="app_secret" type="password"`) {
		t.Error("the app secret is not a password field")
	}
	if strings.Contains(a.body, `id="cloud-api" open`) {
		t.Error("the form is unfolded before it is used")
	}

	if !strings.Contains(a.body, `<input id="access_token" name="access_token" type="password"`) {
		t.Error("the access token is not a password field")
	}
	added := v.post("/accounts/cloud-api", cloudForm("app_secret", "  "+metaSecret+"\n", "verify_token", token, "access_token", " "+metaToken+"\n"))
	loc := added.header.Get("Location")
	m := regexp.MustCompile(`^/accounts/cloud-api/([0-9]+)\?added=1$`).FindStringSubmatch(loc)
	if added.status != http.StatusSeeOther || m == nil {
		t.Fatalf("add: %d to %q: %s", added.status, loc, added.body)
	}
	numbers, err := h.st.CloudAPINumbers(context.Background(), h.ws.WorkspaceID)
	if err != nil || len(numbers) != 1 {
		t.Fatalf("numbers %+v, %v", numbers, err)
	}
	n := numbers[0]
	if strconv.FormatInt(n.ID, 10) != m[1] || n.Phone != "+15550783881" || n.PhoneNumberID != "106540352242922" || n.FullName != "Acme Support" ||
		n.Email != "ops@acme.example" || n.AppSecret != metaSecret || n.VerifyToken != token || n.State != chathook.AccountConnecting ||
		n.AccessToken != metaToken {
		t.Errorf("registered %+v", n)
	}

	setup := v.get(loc)
	if setup.status != http.StatusOK {
		t.Fatalf("the setup page: %d %s", setup.status, setup.body)
	}
	if got := inputValue(t, setup.body, "callback-url"); got != "https://chathook.example.com/sources/cloud-api/"+h.ws.WorkspaceID {
		t.Errorf("the callback URL shown is %q", got)
	}
	if got := inputValue(t, setup.body, "verify-token"); got != token {
		t.Errorf("the verify token shown is %q, want %q", got, token)
	}
	text := words(setup.body)
	for _, want := range []string{
		"+15550783881 is registered", "106540352242922", "Acme Support", "ops@acme.example", "waiting for Meta",
		"WhatsApp → Configuration", "press Edit", "paste the Callback URL and the Verify token above", "Verify and save",
		"Webhook fields", "subscribe to messages", "smb_message_echoes", "Access token set", "Replace the token",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("the setup page does not say %q:\n%s", want, text)
		}
	}
	if strings.Contains(setup.body, `id="not-https"`) {
		t.Error("an https:// callback URL is said not to be one")
	}
	if row := words(row(t, v.get("/accounts/").body, n.ID)); !strings.HasPrefix(row, "+15550783881 Acme Support ops@acme.example Cloud API waiting for Meta") {
		t.Errorf("the list shows the new number as %q", row)
	}
	for _, page := range []string{added.body, setup.body, v.get("/accounts/").body, logs.String()} {
		if strings.Contains(page, metaSecret) || strings.Contains(page, metaToken) {
			t.Fatalf("the app secret or access token is shown or logged:\n%s", page)
		}
	}
	if !strings.Contains(logs.String(), "Cloud API number registered") {
		t.Errorf("no registration in the log:\n%s", logs.String())
	}

	// Without an https:// base URL, Meta cannot call chathook: the page
	// says so.
	plain := newHarness(t, true, "http://127.0.0.1:8080")
	plain.cloudNumber(plain.ws.WorkspaceID, 1, chathook.AccountConnecting)
	page := plain.signedIn("acme").get("/accounts/")
	id := regexp.MustCompile(`href="(/accounts/cloud-api/[0-9]+)"`).FindStringSubmatch(page.body)
	if id == nil {
		t.Fatalf("no setup link: %s", page.body)
	}
	if body := plain.signedIn("acme").get(id[1]).body; !strings.Contains(body, `id="not-https"`) ||
		inputValue(t, body, "callback-url") != "http://127.0.0.1:8080/sources/cloud-api/"+plain.ws.WorkspaceID {
		t.Errorf("an http:// callback URL without a warning:\n%s", body)
	}
}

// A refused form comes back with the error beside its field and what was
// typed, but never the app secret; nothing is registered.
func TestAddCloudAPINumberErrors(t *testing.T) {
	t.Parallel()
	h := newHarness(t, true, "")
	ws := h.ws.WorkspaceID
	h.link(ws, "+972500000009", "Their phone", "dana@acme.example", chathook.AccountConnected)
	taken := h.cloudNumber(ws, 5, chathook.AccountConnected)
	v := h.signedIn("acme")
	v.get("/accounts/")
	for _, c := range []struct {
		name, field string
		form        url.Values
	}{
		{"no phone number id", "phone_number_id", cloudForm("phone_number_id", "")},
		{"phone number id not digits", "phone_number_id", cloudForm("phone_number_id", "WA-1065")},
		{"no phone number", "display_phone_number", cloudForm("display_phone_number", " ")},
		{"phone number not a number", "display_phone_number", cloudForm("display_phone_number", "Acme line")},
		{"name too long", "full_name", cloudForm("full_name", strings.Repeat("n", 257))},
		{"email not an email", "email", cloudForm("email", "ops")},
		{"no app secret", "app_secret", cloudForm("app_secret", "")},
		{"app secret too short", "app_secret", cloudForm("app_secret", "short")},
		{"verify token with a space", "verify_token", cloudForm("verify_token", "my token")},
		{"access token with a space", "access_token", cloudForm("access_token", metaToken+" x")},
		{"a phone number id registered", "phone_number_id", cloudForm("phone_number_id", taken.PhoneNumberID)},
		{"a number registered", "display_phone_number", cloudForm("display_phone_number", taken.Phone)},
		{"a number linked by QR code", "display_phone_number", cloudForm("display_phone_number", "+972500000009")},
	} {
		t.Run(c.name, func(t *testing.T) {
			a := v.post("/accounts/cloud-api", c.form)
			if a.status != http.StatusUnprocessableEntity {
				t.Fatalf("%d, want 422: %s", a.status, a.body)
			}
			want := `<input id="` + c.field + `" name="` + c.field + `"`
			m := regexp.MustCompile(`(?s)<div class="field invalid">\s*<label for="` + c.field + `">.*?</div>`).FindString(a.body)
			if m == "" || !strings.Contains(m, want) || !strings.Contains(m, `aria-invalid="true" aria-describedby="`+c.field+`-error"`) ||
				!strings.Contains(m, `<p class="field-error" id="`+c.field+`-error">`) {
				t.Errorf("the error is not beside %s:\n%s", c.field, a.body)
			}
			if n := strings.Count(a.body, `class="field-error"`); n != 1 {
				t.Errorf("%d field errors, want 1", n)
			}
			if !strings.Contains(a.body, `id="cloud-api" open`) || !strings.Contains(a.body, `id="cloud-api-error"`) {
				t.Error("the form with its error is not unfolded")
			}
			for _, f := range []string{"phone_number_id", "display_phone_number", "full_name", "email", "verify_token"} {
				if got := inputValue(t, a.body, f); got != strings.TrimSpace(c.form.Get(f)) {
					t.Errorf("%s comes back as %q, want %q as typed", f, got, c.form.Get(f))
				}
			}
			if inputValue(t, a.body, "app_secret") != "" || strings.Contains(a.body, metaSecret) {
				t.Error("the app secret is sent back")
			}
			if inputValue(t, a.body, "access_token") != "" || strings.Contains(a.body, metaToken) {
				t.Error("the access token is sent back")
			}
		})
	}
	numbers, err := h.st.CloudAPINumbers(context.Background(), ws)
	if err != nil || len(numbers) != 1 || numbers[0].ID != taken.ID || numbers[0].AppSecret != metaSecret {
		t.Errorf("after refused forms: %+v, %v", numbers, err)
	}
	if a := v.post("/accounts/cloud-api", cloudForm("csrf", "forged")); a.status != http.StatusForbidden {
		t.Errorf("without the CSRF token: %d", a.status)
	}
	if numbers, _ := h.st.CloudAPINumbers(context.Background(), ws); len(numbers) != 1 {
		t.Errorf("a forged form registered a number: %+v", numbers)
	}
}

// Remove makes a number removed (its secrets gone, its row kept), once
// and again; it needs the CSRF token, and acts only on the workspace's
// own Cloud API numbers.
func TestRemoveCloudAPINumber(t *testing.T) {
	t.Parallel()
	h := newHarness(t, true, "")
	ws := h.ws.WorkspaceID
	n := h.cloudNumber(ws, 1, chathook.AccountConnected)
	qr := h.link(ws, "+972500000001", "Amnon Haha", "amnon@acme.example", chathook.AccountConnected)
	theirs := h.cloudNumber(h.workspace("beta").WorkspaceID, 2, chathook.AccountConnected)
	v := h.signedIn("acme")
	remove := "/accounts/" + strconv.FormatInt(n.ID, 10) + "/remove"

	v.get("/accounts/")
	if a := v.post(remove, url.Values{"csrf": {"forged"}}); a.status != http.StatusForbidden {
		t.Errorf("without the CSRF token: %d", a.status)
	}
	for _, path := range []string{
		"/accounts/" + strconv.FormatInt(theirs.ID, 10) + "/remove", "/accounts/" + strconv.FormatInt(qr.ID, 10) + "/remove",
		"/accounts/999999/remove", "/accounts/x/remove",
	} {
		if a := v.post(path, url.Values{}); a.status != http.StatusNotFound {
			t.Errorf("POST %s: %d, want 404", path, a.status)
		}
	}
	for _, path := range []string{"/accounts/cloud-api/" + strconv.FormatInt(theirs.ID, 10), "/accounts/cloud-api/" + strconv.FormatInt(qr.ID, 10)} {
		if a := v.get(path); a.status != http.StatusNotFound || strings.Contains(a.body, "verify-token") {
			t.Errorf("GET %s: %d, want 404", path, a.status)
		}
	}
	if a, _ := h.st.Account(context.Background(), ws, qr.ID); a.State != chathook.AccountConnected {
		t.Errorf("a QR account's Remove changed it: %+v", a)
	}
	for _, w := range []string{ws, theirs.WorkspaceID} {
		if numbers, _ := h.st.CloudAPINumbers(context.Background(), w); len(numbers) != 1 {
			t.Fatalf("refused removals removed: %+v", numbers)
		}
	}

	for range 2 {
		v.get("/accounts/")
		a := v.post(remove, url.Values{})
		if a.status != http.StatusSeeOther || a.header.Get("Location") != "/accounts/?done=remove" {
			t.Fatalf("remove: %d %q", a.status, a.header.Get("Location"))
		}
	}
	if numbers, _ := h.st.CloudAPINumbers(context.Background(), ws); len(numbers) != 0 {
		t.Errorf("still checked against after its removal: %+v", numbers)
	}
	list := v.get("/accounts/?done=remove")
	if !strings.Contains(list.body, `id="done">The Cloud API number was removed`) {
		t.Error("no notice of the removal")
	}
	if got := words(row(t, list.body, n.ID)); got != "+15550783881 Acme Support 1 ops@acme.example Cloud API removed never" {
		t.Errorf("removed, it reads %q", got)
	}
	setup := v.get("/accounts/cloud-api/" + strconv.FormatInt(n.ID, 10))
	if setup.status != http.StatusOK || !strings.Contains(setup.body, `id="removed"`) || strings.Contains(setup.body, `id="verify-token"`) {
		t.Errorf("the setup page of a removed number: %d %s", setup.status, setup.body)
	}
}

// A number's page says whether it has an access token, and its form sets
// or replaces one: with the CSRF token, for the workspace's own numbers
// not removed, and never showing the token again.
func TestCloudAPIAccessTokenForm(t *testing.T) {
	t.Parallel()
	logs := &chathooktest.SyncBuffer{}
	h := newHarnessWith(t, true, "https://chathook.example.com", func(cfg *web.Config) {
		cfg.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	ctx := context.Background()
	ws := h.ws.WorkspaceID
	n := h.cloudNumber(ws, 1, chathook.AccountConnected)
	qr := h.link(ws, "+972500000001", "Amnon Haha", "amnon@acme.example", chathook.AccountConnected)
	removed := h.cloudNumber(ws, 2, chathook.AccountDisconnected)
	theirs := h.cloudNumber(h.workspace("beta").WorkspaceID, 3, chathook.AccountConnected)
	v := h.signedIn("acme")
	page := "/accounts/cloud-api/" + strconv.FormatInt(n.ID, 10)
	set := "/accounts/" + strconv.FormatInt(n.ID, 10) + "/access-token"
	stored := func(ws string, id int64) string {
		t.Helper()
		numbers, err := h.st.CloudAPINumbers(ctx, ws)
		if err != nil {
			t.Fatal(err)
		}
		for _, x := range numbers {
			if x.ID == id {
				return x.AccessToken
			}
		}
		return ""
	}

	before := v.get(page)
	if text := words(before.body); !strings.Contains(text, "Access token not set — this number can receive but cannot send replies") ||
		!strings.Contains(text, "Set an access token") || !strings.Contains(text, "whatsapp_business_messaging") {
		t.Errorf("without a token the page reads:\n%s", text)
	}
	if !strings.Contains(before.body, `action="`+set+`"`) || !strings.Contains(before.body, `<input id="access_token" name="access_token" type="password"`) ||
		!strings.Contains(before.body, `name="csrf" value="`+v.csrf+`"`) {
		t.Errorf("no access token form posting to %s with the CSRF token:\n%s", set, before.body)
	}

	if a := v.post(set, url.Values{"csrf": {"forged"}, "access_token": {metaToken}}); a.status != http.StatusForbidden {
		t.Errorf("without the CSRF token: %d", a.status)
	}
	for _, c := range []struct{ name, token, says string }{
		{"empty", "  ", "Required"},
		{"a space inside", "EAAG " + metaToken, "no spaces"},
		{"too long", strings.Repeat("t", 4097), "4096"},
	} {
		v.get(page)
		a := v.post(set, url.Values{"access_token": {c.token}})
		if a.status != http.StatusUnprocessableEntity || !strings.Contains(a.body, `<p class="field-error" id="access_token-error">`) ||
			!strings.Contains(words(a.body), c.says) || inputValue(t, a.body, "access_token") != "" || strings.Contains(a.body, metaToken) {
			t.Errorf("%s: %d, want 422 with the error beside the field and nothing typed sent back:\n%s", c.name, a.status, a.body)
		}
	}
	if got := stored(ws, n.ID); got != "" {
		t.Fatalf("refused forms set %q", got)
	}

	for _, tok := range []string{metaToken, metaToken + "-replaced"} {
		v.get(page)
		a := v.post(set, url.Values{"access_token": {"  " + tok + "\n"}})
		if a.status != http.StatusSeeOther || a.header.Get("Location") != page+"?token=saved" {
			t.Fatalf("set: %d to %q: %s", a.status, a.header.Get("Location"), a.body)
		}
		if got := stored(ws, n.ID); got != tok {
			t.Errorf("the store has %q, want %q", got, tok)
		}
	}
	after := v.get(page + "?token=saved")
	if text := words(after.body); !strings.Contains(text, "Access token set") || !strings.Contains(text, "The access token is saved") ||
		!strings.Contains(text, "Replace the access token") || strings.Contains(text, "not set") {
		t.Errorf("with a token the page reads:\n%s", text)
	}

	// Only the workspace's own Cloud API numbers, not removed.
	for _, id := range []int64{theirs.ID, qr.ID, removed.ID, 999999} {
		v.get(page)
		if a := v.post("/accounts/"+strconv.FormatInt(id, 10)+"/access-token", url.Values{"access_token": {metaToken + "-x"}}); a.status != http.StatusNotFound {
			t.Errorf("account %d: %d, want 404", id, a.status)
		}
	}
	if a := v.post("/accounts/x/access-token", url.Values{"access_token": {metaToken}}); a.status != http.StatusNotFound {
		t.Errorf("a non-numeric id: %d", a.status)
	}
	if got := stored(theirs.WorkspaceID, theirs.ID); got != "" {
		t.Errorf("another workspace's number got %q", got)
	}
	if a, _ := h.st.Account(ctx, ws, qr.ID); a.Kind != chathook.KindWeb || a.State != chathook.AccountConnected {
		t.Errorf("the QR account became %+v", a)
	}
	if setup := v.get("/accounts/cloud-api/" + strconv.FormatInt(removed.ID, 10)); strings.Contains(setup.body, `id="access_token"`) {
		t.Error("a removed number's page offers an access token form")
	}

	for _, page := range []string{before.body, after.body, logs.String()} {
		if strings.Contains(page, metaToken) {
			t.Fatalf("the access token is shown or logged:\n%s", page)
		}
	}
	if !strings.Contains(logs.String(), "Cloud API access token set") {
		t.Errorf("no token change in the log:\n%s", logs.String())
	}
}
