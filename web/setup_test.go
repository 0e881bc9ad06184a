package web_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chathook/chathook/store/sqlite"
	"github.com/chathook/chathook/web"
)

// emptyHarness is the web UI on a database without a workspace, with a
// setup code, which it returns.
func emptyHarness(t *testing.T) (*harness, string) {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "web.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	h := &harness{t: t, st: st, now: time.Now().UTC()}
	s, err := web.New(web.Config{Store: st, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: h.clock})
	if err != nil {
		t.Fatal(err)
	}
	h.web, h.srv = s, httptest.NewServer(s)
	t.Cleanup(h.srv.Close)
	h.base = h.srv.URL
	code, hash := web.NewSetupCode()
	if err := st.AddSetupCode(context.Background(), hash, h.now); err != nil {
		t.Fatal(err)
	}
	return h, code
}

func setupForm(code, workspace, email, pw string) url.Values {
	return url.Values{"code": {code}, "workspace": {workspace}, "owner_name": {"Olga Owner"}, "email": {email}, "password": {pw}}
}

func (h *harness) workspaceCount() int {
	h.t.Helper()
	list, err := h.st.Workspaces(context.Background())
	if err != nil {
		h.t.Fatal(err)
	}
	return len(list)
}

// The setup link's form refuses bad fields beside each, then creates the
// workspace and its owner, signs the owner in on the accounts page, and
// is closed from then on.
func TestSetupCreatesTheFirstWorkspace(t *testing.T) {
	t.Parallel()
	h, code := emptyHarness(t)
	v := h.visitor()
	if a := v.get("/signin"); !strings.Contains(a.body, `id="no-workspace"`) {
		t.Error("the sign-in page of a chathook without a workspace does not point to the setup link")
	}
	a := v.get("/setup?code=" + url.QueryEscape(code))
	if a.status != http.StatusOK || !strings.Contains(a.body, `id="setup-form"`) {
		t.Fatalf("setup page: %d\n%s", a.status, a.body)
	}
	for _, c := range []struct {
		name  string
		form  url.Values
		field string
	}{
		{"no workspace name", setupForm(code, "  ", "olga@acme.example", "correct horse battery"), "workspace"},
		{"bad email", setupForm(code, "Acme", "olga at acme", "correct horse battery"), "email"},
		{"short password", setupForm(code, "Acme", "olga@acme.example", "short"), "password"},
		{"common password", setupForm(code, "Acme", "olga@acme.example", "password123"), "password"},
	} {
		a := v.post("/setup", c.form)
		if a.status != http.StatusUnprocessableEntity || !strings.Contains(a.body, `id="`+c.field+`-error"`) {
			t.Errorf("%s: %d, want 422 with an error beside %s", c.name, a.status, c.field)
		}
	}
	if n := h.workspaceCount(); n != 0 {
		t.Fatalf("%d workspaces after refused forms", n)
	}
	a = v.post("/setup", setupForm(code, "Acme", " Olga@Acme.example ", "correct horse battery"))
	if a.status != http.StatusSeeOther || a.header.Get("Location") != "/accounts/" {
		t.Fatalf("setup: %d %s\n%s", a.status, a.header.Get("Location"), a.body)
	}
	if a := v.get("/accounts/"); a.status != http.StatusOK || !strings.Contains(a.body, "olga@acme.example") || !strings.Contains(a.body, "Acme") {
		t.Errorf("the owner is not signed in on the accounts page: %d\n%s", a.status, a.body)
	}
	list, err := h.st.Workspaces(context.Background())
	if err != nil || len(list) != 1 || list[0].Name != "Acme" || list[0].OwnerEmail != "olga@acme.example" || list[0].OwnerName != "Olga Owner" {
		t.Errorf("workspaces %+v, %v", list, err)
	}
	// The owner signs in again with the password chosen, and the sign-in
	// page no longer speaks of setup.
	w := h.visitor()
	if a := w.get("/signin"); strings.Contains(a.body, `id="no-workspace"`) {
		t.Error("the sign-in page speaks of setup with a workspace")
	}
	if a := w.signIn("olga@acme.example", "correct horse battery"); a.status != http.StatusSeeOther {
		t.Errorf("sign in as the owner: %d", a.status)
	}
	// Closed, for the used code and for any other.
	for _, path := range []string{"/setup?code=" + url.QueryEscape(code), "/setup?code=other"} {
		if a := h.visitor().get(path); a.status != http.StatusNotFound || !strings.Contains(a.body, "Setup is closed") {
			t.Errorf("GET %s after setup: %d, want 404 setup is closed", path, a.status)
		}
	}
	if a := h.visitor().post("/setup", setupForm(code, "Again", "ivan@acme.example", "correct horse battery")); a.status != http.StatusNotFound {
		t.Errorf("second setup: %d, want 404", a.status)
	}
	if n := h.workspaceCount(); n != 1 {
		t.Errorf("%d workspaces, want 1", n)
	}
}

// A wrong or missing code gets a page that says so, and creates nothing.
func TestSetupRefusesAWrongCode(t *testing.T) {
	t.Parallel()
	h, code := emptyHarness(t)
	v := h.visitor()
	for _, path := range []string{"/setup", "/setup?code=", "/setup?code=" + url.QueryEscape(code+"x")} {
		if a := v.get(path); a.status != http.StatusForbidden || !strings.Contains(a.body, "This setup link is not valid") {
			t.Errorf("GET %s: %d, want 403 saying the link is not valid", path, a.status)
		}
	}
	if a := v.post("/setup", setupForm("wrong", "Acme", "olga@acme.example", "correct horse battery")); a.status != http.StatusForbidden {
		t.Errorf("POST with a wrong code: %d, want 403", a.status)
	}
	if n := h.workspaceCount(); n != 0 {
		t.Errorf("%d workspaces after a wrong code", n)
	}
}

// Two forms posted at once with the code: one creates the workspace, the
// other is told setup is closed.
func TestConcurrentSetupsCreateOneWorkspace(t *testing.T) {
	t.Parallel()
	h, code := emptyHarness(t)
	statuses := make([]int, 2)
	var wg sync.WaitGroup
	for i := range statuses {
		v := h.visitor()
		wg.Go(func() {
			statuses[i] = v.post("/setup", setupForm(code, "Acme", "olga"+string(rune('a'+i))+"@acme.example", "correct horse battery")).status
		})
	}
	wg.Wait()
	won := 0
	for _, s := range statuses {
		if s == http.StatusSeeOther {
			won++
		} else if s != http.StatusNotFound {
			t.Errorf("status %d, want 303 or 404", s)
		}
	}
	if won != 1 || h.workspaceCount() != 1 {
		t.Errorf("statuses %v, %d workspaces: want exactly one setup", statuses, h.workspaceCount())
	}
}

// Once a workspace exists, /setup is closed.
func TestSetupIsClosedWithAWorkspace(t *testing.T) {
	t.Parallel()
	h := newHarness(t, false, "")
	if a := h.visitor().get("/setup?code=anything"); a.status != http.StatusNotFound || !strings.Contains(a.body, "Setup is closed") {
		t.Errorf("%d, want 404 setup is closed", a.status)
	}
}
