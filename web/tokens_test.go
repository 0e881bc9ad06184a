package web_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/chathook/chathook"
)

var shownToken = regexp.MustCompile(`id="new-token"[^>]*value="(chk_[A-Za-z0-9_-]+)"`)

// useToken reports whether token reaches workspace ws, as the API checks.
func (h *harness) useToken(token, ws string) bool {
	h.t.Helper()
	sum := sha256.Sum256([]byte(token))
	got, err := h.st.UseToken(context.Background(), sum[:], h.clock())
	if err != nil && !errors.Is(err, chathook.ErrUnauthorized) {
		h.t.Fatal(err)
	}
	return err == nil && got.ID == ws
}

// A token is shown once, on the answer to the form that created it, and
// works at once; the list shows names and last use, never a token.
func TestTokensPageCreatesAndShowsOnce(t *testing.T) {
	t.Parallel()
	h := newHarness(t, false, "")
	v := h.signedIn("acme")
	a := v.get("/settings/api-tokens")
	if a.status != http.StatusOK || !strings.Contains(a.body, `<td class="token-name">default</td>`) ||
		!strings.Contains(a.body, "never") || !strings.Contains(a.body, `id="nav-tokens" aria-current="page"`) {
		t.Fatalf("tokens page: %d\n%s", a.status, a.body)
	}
	for _, name := range []string{"", "   ", strings.Repeat("x", 101)} {
		a = v.post("/settings/api-tokens", url.Values{"name": {name}})
		if a.status != http.StatusUnprocessableEntity || !strings.Contains(a.body, `id="token-name-error"`) || shownToken.MatchString(a.body) {
			t.Errorf("name %q: %d, want 422 with the error beside the name and no token", name, a.status)
		}
	}
	a = v.post("/settings/api-tokens", url.Values{"name": {"Zapier"}})
	m := shownToken.FindStringSubmatch(a.body)
	if a.status != http.StatusOK || m == nil || !strings.Contains(a.body, "shown this once") {
		t.Fatalf("create: %d, token shown: %v\n%s", a.status, m != nil, a.body)
	}
	token := m[1]
	if !h.useToken(token, h.ws.WorkspaceID) {
		t.Fatal("the token shown does not reach the workspace")
	}
	a = v.get("/settings/api-tokens")
	if strings.Contains(a.body, token) || shownToken.MatchString(a.body) || !strings.Contains(a.body, `<td class="token-name">Zapier</td>`) {
		t.Errorf("the list shows a token, or not Zapier:\n%s", a.body)
	}
	if strings.Count(a.body, "never") != 1 {
		t.Errorf("Zapier was used, default not: want one \"never\"\n%s", a.body)
	}
}

var revokeForm = regexp.MustCompile(`action="/settings/api-tokens/(\d+)/revoke"`)

// Revoking takes the CSRF token, reaches only the workspace's own
// tokens, and stops the token at once.
func TestTokensPageRevokes(t *testing.T) {
	t.Parallel()
	h := newHarness(t, false, "")
	other := h.workspace("globex")
	v := h.signedIn("acme")
	v.get("/settings/api-tokens")
	m := shownToken.FindStringSubmatch(v.post("/settings/api-tokens", url.Values{"name": {"CI"}}).body)
	if m == nil {
		t.Fatal("no token shown")
	}
	forms := revokeForm.FindAllStringSubmatch(v.get("/settings/api-tokens").body, -1)
	if len(forms) != 2 {
		t.Fatalf("%d revoke buttons, want 2 (default and CI)", len(forms))
	}
	ci := forms[1][1]
	if a := v.post("/settings/api-tokens/"+ci+"/revoke", url.Values{"csrf": {"wrong"}}); a.status != http.StatusForbidden || !h.useToken(m[1], h.ws.WorkspaceID) {
		t.Errorf("revoke with a wrong CSRF token: %d, want 403 and the token still valid", a.status)
	}
	// globex's default token, by id: not acme's to revoke.
	list, err := h.st.Tokens(context.Background(), other.WorkspaceID)
	if err != nil || len(list) != 1 {
		t.Fatal(list, err)
	}
	for _, id := range []string{strconv.FormatInt(list[0].ID, 10), "999999", "x"} {
		if a := v.post("/settings/api-tokens/"+id+"/revoke", url.Values{}); a.status != http.StatusNotFound {
			t.Errorf("revoke %s: %d, want 404", id, a.status)
		}
	}
	if !h.useToken(other.APIToken, other.WorkspaceID) {
		t.Error("globex's token stopped working")
	}
	a := v.post("/settings/api-tokens/"+ci+"/revoke", url.Values{})
	if a.status != http.StatusSeeOther || a.header.Get("Location") != "/settings/api-tokens?revoked=1" {
		t.Fatalf("revoke: %d %s", a.status, a.header.Get("Location"))
	}
	if h.useToken(m[1], h.ws.WorkspaceID) {
		t.Error("the revoked token still works")
	}
	if a := v.get("/settings/api-tokens?revoked=1"); !strings.Contains(a.body, `id="revoked"`) || strings.Contains(a.body, ">CI<") {
		t.Errorf("after revoke:\n%s", a.body)
	}
	// Signed out, the page and its forms go to sign-in.
	if a := h.visitor().get("/settings/api-tokens"); a.status != http.StatusSeeOther || !strings.HasPrefix(a.header.Get("Location"), "/signin") {
		t.Errorf("signed out: %d %s", a.status, a.header.Get("Location"))
	}
}
