package web_test

import (
	"bytes"
	"context"
	"html"
	"image/png"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chathook/chathook"
)

// link records a paired account in workspace ws, as the connector does,
// and moves it to state.
func (h *harness) link(ws, phone, name, email string, state chathook.AccountState) chathook.Account {
	h.t.Helper()
	ctx := context.Background()
	a, err := h.st.LinkAccount(ctx, ws, chathook.Account{
		Phone: phone, FullName: name, Email: email, JID: strings.TrimPrefix(phone, "+") + ":7@s.whatsapp.net",
	}, "test-instance", h.clock().Add(time.Minute))
	if err != nil {
		h.t.Fatal(err)
	}
	if state != chathook.AccountConnected {
		if a, err = h.st.SetAccountState(ctx, a.ID, state, h.clock()); err != nil {
			h.t.Fatal(err)
		}
	}
	return a
}

// row is the accounts table's row of an account, tags stripped and
// spaces squeezed: what a person reads in it.
func row(t *testing.T, body string, id int64) string {
	t.Helper()
	m := regexp.MustCompile(`(?s)<tr id="account-` + strconv.FormatInt(id, 10) + `">(.*?)</tr>`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no row for account %d in:\n%s", id, body)
	}
	return m[1]
}

func words(s string) string {
	text := regexp.MustCompile(`<[^>]*>`).ReplaceAllString(s, " ")
	return strings.Join(strings.Fields(html.UnescapeString(text)), " ")
}

// The list shows each account's number, name, teammate, kind, state in
// words and last message, with Disconnect where chathook holds a
// connection and Reconnect where another client took it; another
// workspace's accounts are not there.
func TestAccountsList(t *testing.T) {
	t.Parallel()
	h := newHarness(t, true, "")
	ws := h.ws.WorkspaceID
	connected := h.link(ws, "+972500000001", "Amnon Haha", "amnon@acme.example", chathook.AccountConnected)
	loggedOut := h.link(ws, "+972500000002", "Bella", "bella@acme.example", chathook.AccountLoggedOut)
	replaced := h.link(ws, "+972500000003", "Carmi", "carmi@acme.example", chathook.AccountReplaced)
	connecting := h.link(ws, "+972500000004", "Dana", "dana@acme.example", chathook.AccountConnecting)
	disconnected := h.link(ws, "+972500000005", "Eli", "eli@acme.example", chathook.AccountDisconnected)
	beta := h.workspace("beta")
	h.link(beta.WorkspaceID, "+15550009999", "Their phone", "them@beta.example", chathook.AccountConnected)
	// A message makes the account's last message time now.
	_, err := h.st.Ingest(context.Background(), ws, h.clock(), []chathook.Incoming{{
		Account:   chathook.Account{Phone: connected.Phone, FullName: connected.FullName, Email: connected.Email},
		Chat:      chathook.Chat{ExternalID: "+15551000001", Phone: "+15551000001", FullName: "John"},
		MessageID: "m1", UUID: "6f1f7f40-54b5-4c36-9d2c-1c1f0e0e0e01", Direction: chathook.Received, Timestamp: h.clock(), Text: "hi",
	}})
	if err != nil {
		t.Fatal(err)
	}

	v := h.signedIn("acme")
	a := v.get("/accounts/")
	if a.status != http.StatusOK {
		t.Fatalf("GET /accounts/: %d %s", a.status, a.body)
	}
	if !strings.Contains(a.body, `<a href="/accounts/" id="nav-accounts" aria-current="page">`) {
		t.Error("the WhatsApp accounts tab is not the current one")
	}
	when := h.clock().UTC().Format("2006-01-02 15:04:05 UTC")
	for _, tc := range []struct {
		acc  chathook.Account
		want string
	}{
		{connected, "+972500000001 Amnon Haha amnon@acme.example QR code connected " + when + " Disconnect"},
		{loggedOut, "+972500000002 Bella bella@acme.example QR code logged out by the phone never"},
		{replaced, "+972500000003 Carmi carmi@acme.example QR code replaced by another client never Reconnect"},
		{connecting, "+972500000004 Dana dana@acme.example QR code connecting never Disconnect"},
		{disconnected, "+972500000005 Eli eli@acme.example QR code disconnected never"},
	} {
		r := row(t, a.body, tc.acc.ID)
		if got := words(r); got != tc.want {
			t.Errorf("account %s reads %q, want %q", tc.acc.Phone, got, tc.want)
		}
		if strings.Contains(r, "Disconnect") && !strings.Contains(r, `action="/accounts/`+strconv.FormatInt(tc.acc.ID, 10)+`/disconnect" data-confirm=`) {
			t.Errorf("account %s: Disconnect does not post to its address with a confirmation", tc.acc.Phone)
		}
		if strings.Contains(r, "Disconnect") && !strings.Contains(r, `name="csrf" value="`+v.csrf+`"`) {
			t.Errorf("account %s: Disconnect without the CSRF token", tc.acc.Phone)
		}
	}
	if strings.Contains(a.body, "Their phone") || strings.Contains(a.body, "+15550009999") {
		t.Error("another workspace's account is listed")
	}
	// The account the ingest API created by the message is not one chathook holds.
	if strings.Count(a.body, `<tr id="account-`) != 5 {
		t.Errorf("%d rows, want 5", strings.Count(a.body, `<tr id="account-`))
	}
}

// savePairing stores a pairing of workspace ws as the connector would.
func (h *harness) savePairing(p chathook.Pairing) chathook.Pairing {
	h.t.Helper()
	if p.UpdatedAt.IsZero() {
		p.UpdatedAt = h.clock()
	}
	if err := h.st.SavePairing(context.Background(), p); err != nil {
		h.t.Fatal(err)
	}
	return p
}

// A pairing's page shows its QR code (a PNG that is never cached, whose
// address changes with the code), its pairing code as XXXX-XXXX, the
// connected account, or why it failed with a way to start again; its
// state alone is what the page's script fetches.
func TestPairingPageFollowsThePairing(t *testing.T) {
	t.Parallel()
	h := newHarness(t, true, "")
	ws := h.ws.WorkspaceID
	v := h.signedIn("acme")
	p := h.savePairing(chathook.Pairing{ID: "pair-qr-1", WorkspaceID: ws, Email: "owner@acme.example", State: chathook.PairingWaiting})

	a := v.get("/accounts/connect/pair-qr-1")
	if a.status != http.StatusOK || !strings.Contains(a.body, "Asking WhatsApp for a code") {
		t.Fatalf("before the first code: %d %s", a.status, a.body)
	}
	if !strings.Contains(a.body, `<noscript><meta http-equiv="refresh" content="5"></noscript>`) {
		t.Error("a waiting pairing does not reload itself without script")
	}
	if !strings.Contains(a.body, `id="pairing" data-src="/accounts/connect/pair-qr-1/state" data-every="2000"`) {
		t.Error("the page does not name its state's address and period for the script")
	}

	p.QR = "2@first-code,noise,identity,adv"
	h.savePairing(p)
	a = v.get("/accounts/connect/pair-qr-1/state")
	src := regexp.MustCompile(`<img class="qr" id="qr" src="(/accounts/connect/pair-qr-1/qr\.png\?v=[0-9a-f]+)"`).FindStringSubmatch(a.body)
	if a.status != http.StatusOK || src == nil {
		t.Fatalf("state with a QR code: %d %s", a.status, a.body)
	}
	for _, step := range []string{"Open WhatsApp on your phone", "Settings → Linked devices", "Link a device"} {
		if !strings.Contains(a.body, step) {
			t.Errorf("the instructions miss %q", step)
		}
	}
	img := v.get(src[1])
	if img.status != http.StatusOK || img.header.Get("Content-Type") != "image/png" || img.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("the QR image: %d %q %q", img.status, img.header.Get("Content-Type"), img.header.Get("Cache-Control"))
	}
	decoded, err := png.Decode(bytes.NewReader([]byte(img.body)))
	if err != nil || decoded.Bounds().Dx() != 320 {
		t.Fatalf("the QR image is not a 320 px PNG: %v", err)
	}

	// A rotated code gets another address, and another image.
	p.QR = "2@second-code,noise,identity,adv"
	h.savePairing(p)
	a = v.get("/accounts/connect/pair-qr-1/state")
	src2 := regexp.MustCompile(`src="(/accounts/connect/pair-qr-1/qr\.png\?v=[0-9a-f]+)"`).FindStringSubmatch(a.body)
	if src2 == nil || src2[1] == src[1] {
		t.Fatalf("the rotated code has the same address %v", src2)
	}
	if img2 := v.get(src2[1]); img2.body == img.body {
		t.Error("the rotated code's image is the first one")
	}

	// Paired: the account, connected, with a link back to the list.
	acc := h.link(ws, "+972500000001", "Amnon Haha", "owner@acme.example", chathook.AccountConnected)
	p.State, p.AccountID, p.QR = chathook.PairingPaired, acc.ID, ""
	h.savePairing(p)
	a = v.get("/accounts/connect/pair-qr-1")
	if !strings.Contains(a.body, `id="pairing-connected">Connected</h2>`) ||
		!strings.Contains(words(a.body), "+972500000001 (Amnon Haha) is linked to chathook") ||
		!strings.Contains(a.body, `href="/accounts/" id="back-to-accounts"`) {
		t.Errorf("paired: %s", a.body)
	}
	if strings.Contains(a.body, `http-equiv="refresh"`) {
		t.Error("a finished pairing still reloads itself")
	}
	if img := v.get(src2[1]); img.status != http.StatusNotFound {
		t.Errorf("the QR code of a finished pairing: %d", img.status)
	}

	// By code: XXXX-XXXX and the phone's instructions.
	h.savePairing(chathook.Pairing{ID: "pair-code-1", WorkspaceID: ws, Email: "owner@acme.example", Phone: "+972500000009",
		Code: "ABCD-1234", State: chathook.PairingWaiting})
	a = v.get("/accounts/connect/pair-code-1")
	a.body = html.UnescapeString(a.body)
	if !strings.Contains(a.body, `<p class="pairing-code" id="pairing-code" aria-label="Pairing code">ABCD-1234</p>`) ||
		!strings.Contains(a.body, "Link with phone number instead") || !strings.Contains(a.body, "+972500000009") {
		t.Errorf("by code: %s", a.body)
	}

	// Failed: why, and Start again with the same phone.
	h.savePairing(chathook.Pairing{ID: "pair-code-1", WorkspaceID: ws, Email: "owner@acme.example", Phone: "+972500000009",
		Code: "ABCD-1234", State: chathook.PairingFailed, Err: "the pairing code expired: start again"})
	a = v.get("/accounts/connect/pair-code-1/state")
	a.body = html.UnescapeString(a.body)
	if !strings.Contains(a.body, `id="pairing-error">the pairing code expired: start again</p>`) ||
		!strings.Contains(a.body, `<input type="hidden" name="phone" value="+972500000009">`) ||
		!strings.Contains(a.body, `id="retry">Retry</button>`) ||
		!strings.Contains(a.body, `name="csrf" value="`+v.csrf+`"`) {
		t.Errorf("failed: %s", a.body)
	}
}

// Another workspace's pairing, its state and its QR code are 404, like
// one that does not exist; signed out, the state and image are a bare 401.
func TestOtherWorkspacesPairingsAreNotFound(t *testing.T) {
	t.Parallel()
	h := newHarness(t, true, "")
	beta := h.workspace("beta")
	h.savePairing(chathook.Pairing{ID: "theirs", WorkspaceID: beta.WorkspaceID, Email: "owner@beta.example",
		QR: "2@their-code,a,b,c", State: chathook.PairingWaiting})
	v := h.signedIn("acme")
	for _, path := range []string{"/accounts/connect/theirs", "/accounts/connect/theirs/state", "/accounts/connect/theirs/qr.png",
		"/accounts/connect/nothing", "/accounts/connect/nothing/qr.png"} {
		if a := v.get(path); a.status != http.StatusNotFound || strings.Contains(a.body, "their-code") {
			t.Errorf("%s: %d", path, a.status)
		}
	}
	if a := h.signedIn("beta").get("/accounts/connect/theirs/qr.png"); a.status != http.StatusOK {
		t.Errorf("their own QR code: %d", a.status)
	}
	out := h.visitor()
	for _, path := range []string{"/accounts/connect/theirs/state", "/accounts/connect/theirs/qr.png"} {
		if a := out.get(path); a.status != http.StatusUnauthorized {
			t.Errorf("%s signed out: %d, want 401", path, a.status)
		}
	}
	if a := out.get("/accounts/"); a.status != http.StatusSeeOther || !strings.HasPrefix(a.header.Get("Location"), "/signin?next=") {
		t.Errorf("/accounts/ signed out: %d %q", a.status, a.header.Get("Location"))
	}
}
