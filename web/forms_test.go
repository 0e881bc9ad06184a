package web_test

import (
	"bufio"
	"context"
	"html"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/source/whatsweb"
	"github.com/chathook/chathook/web"
)

// fieldErrorOf is the error shown beside field id, "" if none: the input
// must say it is invalid and point at the error.
func fieldErrorOf(t *testing.T, body, id string) string {
	t.Helper()
	in := regexp.MustCompile(`<(?:input|select|textarea)[^>]* id="` + regexp.QuoteMeta(id) + `"[^>]*>`).FindString(body)
	m := regexp.MustCompile(`<p class="field-error" id="` + regexp.QuoteMeta(id) + `-error">([^<]*)</p>`).FindStringSubmatch(body)
	if m == nil {
		return ""
	}
	if !strings.Contains(in, `aria-invalid="true"`) || !strings.Contains(in, `aria-describedby="`+id+`-error"`) {
		t.Errorf("%s has an error, but its input does not point at it: %s", id, in)
	}
	return html.UnescapeString(m[1])
}

// summaryLinks are the fields the error summary of id links to, in order.
func summaryLinks(t *testing.T, body, id string) []string {
	t.Helper()
	box := regexp.MustCompile(`(?s)<div class="alert error form-errors" role="alert" id="` + id + `"[^>]*>.*?</div>`).FindString(body)
	if box == "" {
		t.Fatalf("no error summary %q:\n%s", id, body)
	}
	var fields []string
	for _, m := range regexp.MustCompile(`<a href="#([a-z_]+)">`).FindAllStringSubmatch(box, -1) {
		fields = append(fields, m[1])
	}
	return fields
}

// An empty "Add a Cloud API number" form is answered once with every
// error, each beside its field and all in the summary at the top; "type
// the App secret again" is said only when one was typed.
func TestCloudAPIFormShowsEveryErrorAtOnce(t *testing.T) {
	t.Parallel()
	h := newHarness(t, true, "")
	v := h.signedIn("acme")
	v.get("/accounts/")

	a := v.post("/accounts/cloud-api", url.Values{})
	if a.status != http.StatusUnprocessableEntity {
		t.Fatalf("empty form: %d, want 422", a.status)
	}
	want := []string{"phone_number_id", "display_phone_number", "app_secret"}
	for _, f := range want {
		if fieldErrorOf(t, a.body, f) == "" {
			t.Errorf("empty form: no error beside %s", f)
		}
	}
	if n := strings.Count(a.body, `class="field-error"`); n != len(want) {
		t.Errorf("empty form: %d field errors, want %d", n, len(want))
	}
	if got := summaryLinks(t, a.body, "cloud-api-error"); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("the summary links to %v, want %v", got, want)
	}
	if s := words(a.body); strings.Contains(s, "App secret again") || !strings.Contains(s, "correct the 3 fields marked below") {
		t.Errorf("empty form's summary: %s", s)
	}

	// Every field wrong, the app secret typed: six errors, and only now
	// the reminder to type the secrets again.
	a = v.post("/accounts/cloud-api", url.Values{
		"phone_number_id": {"WA-1065"}, "display_phone_number": {"+972 50 abc"}, "full_name": {strings.Repeat("n", 257)},
		"email": {"ops"}, "app_secret": {"short"}, "verify_token": {"my token"}, "access_token": {"a token"},
	})
	all := []string{"phone_number_id", "display_phone_number", "full_name", "email", "app_secret", "verify_token", "access_token"}
	if got := summaryLinks(t, a.body, "cloud-api-error"); a.status != http.StatusUnprocessableEntity || strings.Join(got, " ") != strings.Join(all, " ") {
		t.Errorf("every field wrong: %d, the summary links to %v, want %v", a.status, got, all)
	}
	if got := fieldErrorOf(t, a.body, "display_phone_number"); !strings.Contains(got, "has letters") {
		t.Errorf("the phone's error: %q", got)
	}
	if !strings.Contains(words(a.body), "Type the App secret and the access token again") {
		t.Error("a typed app secret and token are not asked again")
	}
	if numbers, err := h.st.CloudAPINumbers(context.Background(), h.ws.WorkspaceID); err != nil || len(numbers) != 0 {
		t.Errorf("refused forms registered %+v, %v", numbers, err)
	}

	// No placeholder reads as a value already typed.
	a = v.get("/accounts/")
	for _, real := range []string{`placeholder="106540352242922"`, `placeholder="+1 555 078 3881"`, `placeholder="+972500000000"`} {
		if strings.Contains(a.body, real) {
			t.Errorf("the form still has %s", real)
		}
	}
}

// The pairing form and the Cloud API form take a number as people type
// it, and both keep it as E.164.
func TestPhoneFormsTakeSpacedNumbers(t *testing.T) {
	t.Parallel()
	h, wa, _ := withWhatsApp(t)
	v := h.signedIn("acme")
	for typed, want := range map[string]string{
		"+972 50 000 0000":  "+972500000000",
		"00972-50-000-0001": "+972500000001",
		"+1 (650) 555-1234": "+16505551234",
	} {
		v.get("/accounts/")
		id := pairingID(t, v.post("/accounts/connect", url.Values{"phone": {typed}}))
		p, err := h.st.Pairing(context.Background(), h.ws.WorkspaceID, id)
		if err != nil || p.Phone != want {
			t.Errorf("%q: the pairing is for %q (%v), want %q", typed, p.Phone, err, want)
		}
	}
	if phones := strings.Join(wa.Phones(), " "); !strings.Contains(phones, "972500000000") || strings.Contains(phones, " 50 ") {
		t.Errorf("WhatsApp was asked codes for %q", phones)
	}

	v.get("/accounts/")
	a := v.post("/accounts/cloud-api", cloudForm("display_phone_number", "+972 50 000 0009"))
	if a.status != http.StatusSeeOther {
		t.Fatalf("Cloud API form with a spaced number: %d %s", a.status, words(a.body))
	}
	numbers, err := h.st.CloudAPINumbers(context.Background(), h.ws.WorkspaceID)
	if err != nil || len(numbers) != 1 || numbers[0].Phone != "+972500000009" {
		t.Errorf("registered %+v, %v", numbers, err)
	}
}

// withNetwork is a harness whose web UI links accounts through a real
// whatsweb.Manager over network.
func withNetwork(t *testing.T, network whatsweb.Network) *harness {
	t.Helper()
	return newHarnessWith(t, true, "", func(cfg *web.Config) {
		m, err := whatsweb.New(context.Background(), whatsweb.Config{
			Store: cfg.Store, Network: network, Owner: "web-test", Now: cfg.Now,
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = m.Close(context.Background()) })
		cfg.WhatsApp = m
	})
}

// closedPort is a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// notWhatsApp is a proxy that lets every CONNECT through to a TLS server
// of its own, as an intercepting firewall does: its certificate is not
// WhatsApp's, and the TLS handshake fails.
func notWhatsApp(t *testing.T) string {
	t.Helper()
	interceptor := httptest.NewTLSServer(http.NotFoundHandler())
	t.Cleanup(interceptor.Close)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				if _, err := http.ReadRequest(bufio.NewReader(c)); err != nil {
					return
				}
				up, err := net.Dial("tcp", interceptor.Listener.Addr().String())
				if err != nil {
					return
				}
				defer up.Close()
				_, _ = io.WriteString(c, "HTTP/1.1 200 Connection established\r\n\r\n")
				go func() { _, _ = io.Copy(up, c) }()
				_, _ = io.Copy(c, up)
			}()
		}
	}()
	return ln.Addr().String()
}

// When WhatsApp cannot be reached, Connect says why in a sentence for a
// person, the error itself folded away in a <details>, with a Retry that
// tries again; real whatsmeow dials fail: a proxy on a closed port, and a
// network that answers in plain HTTP where TLS was expected.
func TestConnectFailureIsSaidForAPerson(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name, proxy, says, detail string
	}{
		{"proxy not running", "http://" + closedPort(t), "chathook cannot reach its proxy (--whatsapp-proxy)", "connection refused"},
		{"not WhatsApp on the other end", "http://" + notWhatsApp(t), "chathook reached something other than WhatsApp", "certificate"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			h := withNetwork(t, whatsweb.Whatsmeow{Proxy: c.proxy})
			v := h.signedIn("acme")
			v.get("/accounts/")
			for _, form := range []url.Values{{}, {"phone": {"+972 50 000 0000"}}} {
				a := v.post("/accounts/connect", form)
				problem := regexp.MustCompile(`<p id="connect-problem">([^<]*)</p>`).FindStringSubmatch(a.body)
				detail := regexp.MustCompile(`(?s)<details class="detail" id="connect-detail"><summary>Technical detail</summary><pre>(.*?)</pre></details>`).FindStringSubmatch(a.body)
				if a.status != http.StatusBadGateway || problem == nil || detail == nil {
					t.Fatalf("%v: %d, no problem and folded detail: %s", form, a.status, a.body)
				}
				says := html.UnescapeString(problem[1])
				if !strings.HasPrefix(says, c.says) || strings.Contains(says, "127.0.0.1") || strings.Contains(says, "dial") {
					t.Errorf("%v: the page says %q, want %q and no addresses", form, says, c.says)
				}
				if !strings.Contains(strings.ToLower(detail[1]), c.detail) {
					t.Errorf("%v: the detail %q lacks %q", form, detail[1], c.detail)
				}
				retry := regexp.MustCompile(`(?s)<form method="post" action="/accounts/connect">(.*?)</form>`).FindAllStringSubmatch(html.UnescapeString(a.body), -1)
				var found bool
				for _, f := range retry {
					if strings.Contains(f[1], `id="retry">Retry</button>`) {
						found = true
						if hasPhone := strings.Contains(f[1], `name="phone" value="+972 50 000 0000"`); hasPhone != form.Has("phone") {
							t.Errorf("%v: Retry keeps the phone: %v", form, hasPhone)
						}
					}
				}
				if !found {
					t.Errorf("%v: no Retry button", form)
				}
			}
		})
	}
}

// WhatsApp's name not resolving is said as such (the fake network fails
// as the resolver does).
func TestConnectFailureNoDNS(t *testing.T) {
	t.Parallel()
	h, wa, _ := withWhatsApp(t)
	v := h.signedIn("acme")
	v.get("/accounts/")
	wa.SetUnreachable(true)
	a := v.post("/accounts/connect", url.Values{})
	if !strings.Contains(words(a.body), "chathook cannot reach WhatsApp: this server cannot look up WhatsApp's address. Check its internet access and DNS.") {
		t.Errorf("no DNS: %d %s", a.status, words(a.body))
	}
	wa.SetUnreachable(false)
	v.get("/accounts/")
	pairingID(t, v.post("/accounts/connect", url.Values{})) // Retry once it is back: a new pairing
}

// A pairing left waiting by an instance that stopped is shown failed,
// with Retry, once it is older than any code WhatsApp hands out.
func TestLostPairingIsShownFailed(t *testing.T) {
	t.Parallel()
	h := newHarness(t, true, "")
	v := h.signedIn("acme")
	h.savePairing(chathook.Pairing{ID: "lost", WorkspaceID: h.ws.WorkspaceID, Email: "owner@acme.example",
		Phone: "+972500000009", Code: "ABCD-1234", State: chathook.PairingWaiting})
	h.advance(4 * time.Minute)
	if a := v.get("/accounts/connect/lost/state"); !strings.Contains(a.body, `id="pairing-code"`) {
		t.Errorf("a pairing 4 minutes old: %s", a.body)
	}
	h.advance(2 * time.Minute)
	a := v.get("/accounts/connect/lost/state")
	a.body = html.UnescapeString(a.body)
	if !strings.Contains(a.body, `data-state="failed"`) || !strings.Contains(a.body, "may have restarted") ||
		!strings.Contains(a.body, `id="retry">Retry</button>`) || !strings.Contains(a.body, `name="phone" value="+972500000009"`) {
		t.Errorf("a pairing 6 minutes old: %s", a.body)
	}
	if a := v.get("/accounts/connect/lost"); strings.Contains(a.body, `http-equiv="refresh"`) {
		t.Error("a lost pairing's page still reloads itself")
	}
}

// A webhook URL refused as private names the flag and its environment
// variable, and when to use them; the form lists every error at once.
func TestPrivateTargetHint(t *testing.T) {
	t.Parallel()
	h := newHarness(t, false, "")
	v := h.signedIn("acme")
	for _, target := range []string{"http://127.0.0.1:9000/hook", "http://localhost:9000/hook", "http://10.0.0.5/hook"} {
		v.get("/settings/webhooks/new")
		a := v.post("/settings/webhooks/new", url.Values{"url": {target}, "format": {"event"}, "granularity": {"weekly"}})
		got := fieldErrorOf(t, a.body, "url")
		for _, want := range []string{"Refused:", "--allow-private-targets", "CHATHOOK_ALLOW_PRIVATE_TARGETS=true",
			"only for a receiver on this machine or your private network, e.g. for testing"} {
			if !strings.Contains(got, want) {
				t.Errorf("%s: %q lacks %q", target, got, want)
			}
		}
		if fieldErrorOf(t, a.body, "granularity") == "" {
			t.Errorf("%s: the granularity's error is not shown with the URL's", target)
		}
		if links := summaryLinks(t, a.body, "add-error"); len(links) < 2 || links[0] != "url" || links[1] != "granularity" {
			t.Errorf("%s: the summary links to %v", target, links)
		}
	}
}

// The setup form lists every refused field atop it, in the form's
// order, each linking to its field, which says it again.
func TestSetupFormSummary(t *testing.T) {
	t.Parallel()
	h, code := emptyHarness(t)
	v := h.visitor()
	a := v.post("/setup", setupForm(code, "", "not an email", "short"))
	if a.status != http.StatusUnprocessableEntity {
		t.Fatalf("%d, want 422", a.status)
	}
	want := []string{"workspace", "email", "password"}
	if got := summaryLinks(t, a.body, "setup-error"); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("the summary links to %v, want %v", got, want)
	}
	for _, f := range want {
		if fieldErrorOf(t, a.body, f) == "" {
			t.Errorf("no error beside %s", f)
		}
	}
	if !strings.Contains(words(a.body), "Nothing was created: correct the 3 fields marked below.") {
		t.Errorf("the summary's lead: %s", words(a.body))
	}
}

// A sign-in with an empty field says so beside each, and is not counted
// as a failed sign-in: many of them lock nobody out.
func TestSignInEmptyFields(t *testing.T) {
	t.Parallel()
	h := newHarness(t, true, "")
	v := h.visitor()
	for i := 0; i < 12; i++ {
		v.get("/signin")
		a := v.post("/signin", url.Values{"email": {" "}, "password": {""}})
		if a.status != http.StatusUnprocessableEntity {
			t.Fatalf("empty sign-in %d: %d, want 422", i, a.status)
		}
		if got := summaryLinks(t, a.body, "signin-errors"); strings.Join(got, " ") != "email password" {
			t.Fatalf("the summary links to %v", got)
		}
		if fieldErrorOf(t, a.body, "email") == "" || fieldErrorOf(t, a.body, "password") == "" {
			t.Fatalf("no error beside each empty field: %s", a.body)
		}
	}
	v.get("/signin")
	a := v.post("/signin", url.Values{"email": {"owner@acme.example"}, "password": {""}})
	if fieldErrorOf(t, a.body, "email") != "" || fieldErrorOf(t, a.body, "password") != "Enter your password." {
		t.Errorf("only the password empty: %s", words(a.body))
	}
	if a := v.signIn("owner@acme.example", password); a.status != http.StatusSeeOther {
		t.Errorf("after empty tries, signing in: %d %s", a.status, words(a.body))
	}
}
