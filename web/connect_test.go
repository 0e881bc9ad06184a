package web_test

import (
	"context"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/chathooktest"
	"github.com/chathook/chathook/source/whatsweb/whatswebtest"
	"go.mau.fi/whatsmeow/types/events"
)

var qrSrc = regexp.MustCompile(`<img class="qr" id="qr" src="([^"]+)"`)

// pairingID is the pairing a Connect redirected to.
func pairingID(t *testing.T, a answer) string {
	t.Helper()
	loc := a.header.Get("Location")
	if a.status != http.StatusSeeOther || !strings.HasPrefix(loc, "/accounts/connect/") {
		t.Fatalf("connect: %d to %q, want a redirect to the pairing: %s", a.status, loc, a.body)
	}
	return strings.TrimPrefix(loc, "/accounts/connect/")
}

// Connect shows a QR code for the signed-in teammate; a rotated code
// replaces it; when the phone accepts, the page says Connected with the
// number and name, and the list shows the account as the teammate's.
func TestConnectByQRCode(t *testing.T) {
	t.Parallel()
	h, wa, _ := withWhatsApp(t)
	v := h.signedIn("acme")
	v.get("/accounts/")
	id := pairingID(t, v.post("/accounts/connect", url.Values{}))
	p, err := h.st.Pairing(context.Background(), h.ws.WorkspaceID, id)
	if err != nil || p.Email != "owner@acme.example" || p.Phone != "" {
		t.Fatalf("the pairing saved: %+v, %v", p, err)
	}

	a := v.get("/accounts/connect/" + id)
	first := qrSrc.FindStringSubmatch(a.body)
	if a.status != http.StatusOK || first == nil {
		t.Fatalf("the pairing page shows no QR code: %d %s", a.status, a.body)
	}
	if img := v.get(html.UnescapeString(first[1])); img.status != http.StatusOK || img.header.Get("Content-Type") != "image/png" {
		t.Fatalf("the QR image: %d %q", img.status, img.header.Get("Content-Type"))
	}

	// WhatsApp's first code lasts a minute; then the next one is shown.
	h.advance(61 * time.Second)
	var second []string
	chathooktest.Eventually(t, "the next QR code", func() bool {
		second = qrSrc.FindStringSubmatch(v.get("/accounts/connect/" + id + "/state").body)
		return second != nil && second[1] != first[1]
	})

	wa.Unpaired(t).Pair(t, "972500000001:12@s.whatsapp.net", "Amnon Haha")
	var state string
	chathooktest.Eventually(t, "the connected state", func() bool {
		state = v.get("/accounts/connect/" + id + "/state").body
		return strings.Contains(state, `id="pairing-connected"`)
	})
	if !strings.Contains(words(state), "Connected +972500000001 (Amnon Haha) is linked to chathook") {
		t.Errorf("connected state: %s", words(state))
	}
	accs, err := h.st.Accounts(context.Background(), h.ws.WorkspaceID)
	if err != nil || len(accs) != 1 {
		t.Fatalf("accounts %+v, %v", accs, err)
	}
	if got := words(row(t, v.get("/accounts/").body, accs[0].ID)); !strings.HasPrefix(got, "+972500000001 Amnon Haha owner@acme.example QR code connected never Disconnect") {
		t.Errorf("the new account reads %q", got)
	}
}

// "Link with phone number instead" shows the 8-character code for the
// number typed; a number that is not one, or none, is a form error beside
// the field that keeps what was typed; WhatsApp out of reach is said so.
func TestConnectByPairingCode(t *testing.T) {
	t.Parallel()
	h, wa, _ := withWhatsApp(t)
	v := h.signedIn("acme")
	v.get("/accounts/")
	for _, tc := range []struct{ phone, says string }{
		{"call me", "has letters"},
		{"  ", "Enter the number of the phone to link"},
		{"972500000009", "has no country code"},
	} {
		a := v.post("/accounts/connect", url.Values{"phone": {tc.phone}})
		if a.status != http.StatusUnprocessableEntity {
			t.Errorf("phone %q: %d, want 422", tc.phone, a.status)
			continue
		}
		i := strings.Index(a.body, `<p class="field-error" id="phone-error">`)
		if i < 0 || !strings.Contains(html.UnescapeString(a.body[i:]), tc.says) {
			t.Errorf("phone %q: no error beside the field saying %q", tc.phone, tc.says)
		}
		if !strings.Contains(a.body, `<details class="by-code" open>`) ||
			!strings.Contains(a.body, `value="`+html.EscapeString(strings.TrimSpace(tc.phone))+`" aria-invalid="true"`) {
			t.Errorf("phone %q: the form is not open with what was typed", tc.phone)
		}
	}

	id := pairingID(t, v.post("/accounts/connect", url.Values{"phone": {"+972500000009"}}))
	a := v.get("/accounts/connect/" + id)
	if !strings.Contains(a.body, `id="pairing-code" aria-label="Pairing code">ABCD-EFGH</p>`) ||
		!strings.Contains(html.UnescapeString(a.body), "Open WhatsApp on the phone of <strong>+972500000009</strong>") {
		t.Errorf("the pairing code page: %s", a.body)
	}
	if phones := wa.Phones(); len(phones) != 1 || strings.TrimPrefix(phones[0], "+") != "972500000009" {
		t.Errorf("codes were asked for %v", phones)
	}

	wa.SetUnreachable(true)
	a = v.post("/accounts/connect", url.Values{})
	if a.status != http.StatusBadGateway || !strings.Contains(a.body, `id="connect-error"`) || !strings.Contains(a.body, "cannot reach WhatsApp") {
		t.Errorf("WhatsApp out of reach: %d %s", a.status, a.body)
	}
}

// pairAccount links an account through the page, as a teammate would.
func pairAccount(t *testing.T, h *harness, wa *whatswebtest.Network, v *visitor, jid, name string) chathook.Account {
	t.Helper()
	v.get("/accounts/")
	id := pairingID(t, v.post("/accounts/connect", url.Values{}))
	wa.Unpaired(t).Pair(t, jid, name)
	var p chathook.Pairing
	chathooktest.Eventually(t, "the pairing to end", func() bool {
		p, _ = h.st.Pairing(context.Background(), h.ws.WorkspaceID, id)
		return p.State == chathook.PairingPaired
	})
	acc, err := h.st.Account(context.Background(), h.ws.WorkspaceID, p.AccountID)
	if err != nil {
		t.Fatal(err)
	}
	return acc
}

func (h *harness) accountState(id int64) chathook.AccountState {
	h.t.Helper()
	a, err := h.st.Account(context.Background(), h.ws.WorkspaceID, id)
	if err != nil {
		h.t.Fatal(err)
	}
	return a.State
}

// Disconnect logs the QR code out; Reconnect brings back a
// replaced account; neither reaches another workspace's account, and
// neither works without the form's CSRF token.
func TestDisconnectAndReconnect(t *testing.T) {
	t.Parallel()
	h, wa, _ := withWhatsApp(t)
	v := h.signedIn("acme")
	acc := pairAccount(t, h, wa, v, "972500000001:12@s.whatsapp.net", "Amnon Haha")
	client := wa.Online(t, acc.JID)
	path := "/accounts/" + strconv.FormatInt(acc.ID, 10)

	v.get("/accounts/")
	if a := v.post(path+"/disconnect", url.Values{"csrf": {"forged"}}); a.status != http.StatusForbidden || h.accountState(acc.ID) != chathook.AccountConnected {
		t.Fatalf("disconnect without the token: %d, state %s", a.status, h.accountState(acc.ID))
	}
	h.workspace("beta")
	if a := h.signedIn("beta").postAfter("/accounts/", path+"/disconnect"); a.status != http.StatusNotFound {
		t.Errorf("another workspace's disconnect: %d, want 404", a.status)
	}
	if a := v.post("/accounts/999999/disconnect", url.Values{}); a.status != http.StatusNotFound {
		t.Errorf("disconnect of no account: %d", a.status)
	}
	if h.accountState(acc.ID) != chathook.AccountConnected || client.Logouts() > 0 {
		t.Fatal("a refused disconnect changed the account")
	}

	a := v.post(path+"/disconnect", url.Values{})
	if a.status != http.StatusSeeOther || a.header.Get("Location") != "/accounts/?done=disconnect" {
		t.Fatalf("disconnect: %d %q", a.status, a.header.Get("Location"))
	}
	chathooktest.Eventually(t, "the device logged out", func() bool {
		return client.Logouts() > 0 && h.accountState(acc.ID) == chathook.AccountDisconnected
	})
	list := v.get("/accounts/?done=disconnect")
	if !strings.Contains(list.body, `id="done"`) || strings.Contains(row(t, list.body, acc.ID), "Disconnect") {
		t.Errorf("after disconnecting: %s", words(row(t, list.body, acc.ID)))
	}

	// Another client took a second account's session over: Reconnect.
	other := pairAccount(t, h, wa, v, "972500000002:3@s.whatsapp.net", "Bella")
	wa.Online(t, other.JID).Emit(&events.StreamReplaced{})
	chathooktest.Eventually(t, "the replaced state", func() bool { return h.accountState(other.ID) == chathook.AccountReplaced })
	list = v.get("/accounts/")
	if !strings.Contains(row(t, list.body, other.ID), `action="/accounts/`+strconv.FormatInt(other.ID, 10)+`/reconnect"`) {
		t.Fatalf("no Reconnect for a replaced account: %s", row(t, list.body, other.ID))
	}
	a = v.post("/accounts/"+strconv.FormatInt(other.ID, 10)+"/reconnect", url.Values{})
	if a.status != http.StatusSeeOther || a.header.Get("Location") != "/accounts/?done=reconnect" {
		t.Fatalf("reconnect: %d %q", a.status, a.header.Get("Location"))
	}
	chathooktest.Eventually(t, "the account connected again", func() bool { return h.accountState(other.ID) == chathook.AccountConnected })
}

// postAfter opens page, for its CSRF token, and posts an empty form to
// path.
func (v *visitor) postAfter(page, path string) answer {
	v.t.Helper()
	v.get(page)
	return v.post(path, url.Values{})
}
