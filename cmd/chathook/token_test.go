package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chathook/chathook/app"
	"github.com/chathook/chathook/chathooktest"
	"github.com/chathook/chathook/store/postgres/pgtest"
)

// command runs chathook with args and returns its exit code and output.
func command(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), args, env(nil), &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func TestTokenCommands(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { testTokenCommands(t, "sqlite:"+filepath.Join(t.TempDir(), "c.db")) })
	t.Run("postgres", func(t *testing.T) { testTokenCommands(t, pgtest.URL(t)) })
}

// A token made by token create works on the API at once, token list shows
// it (with its last use, never the token), and token revoke stops it at
// once on a service running on the same database.
func testTokenCommands(t *testing.T, db string) {
	ws := newWorkspace(t, db, "acme")
	other := newWorkspace(t, db, "beta")
	svc := chathooktest.Start(t, chathooktest.Options{DB: db})

	code, out, errOut := command(t, "token", "create", "--db", db, "--workspace", ws, "--name", " CI ")
	if code != 0 {
		t.Fatalf("token create: exit %d: %s", code, errOut)
	}
	var created map[string]string
	dec := json.NewDecoder(strings.NewReader(out))
	if err := dec.Decode(&created); err != nil || len(created) != 2 || created["token_id"] == "" ||
		!strings.HasPrefix(created["api_token"], "chk_") || dec.More() {
		t.Fatalf("token create printed %q (%v), want one {token_id, api_token}", out, err)
	}
	get := func() int {
		status, _ := chathooktest.Do(t, http.MethodGet, svc.URL+"/api/v1/webhooks/outbound", created["api_token"], nil)
		return status
	}
	if status := get(); status != http.StatusOK {
		t.Fatalf("the new token: %d, want 200", status)
	}

	code, out, errOut = command(t, "token", "list", "--db", db, "--workspace", ws)
	if code != 0 {
		t.Fatalf("token list: exit %d: %s", code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || strings.Contains(out, created["api_token"]) {
		t.Fatalf("token list printed:\n%s\nwant two lines, default and CI, without the token", out)
	}
	var tokens []map[string]string
	for _, line := range lines {
		d := json.NewDecoder(strings.NewReader(line))
		var m map[string]string
		if err := d.Decode(&m); err != nil || len(m) != 4 {
			t.Fatalf("line %q (%v): want {token_id, name, created_at, last_used_at}", line, err)
		}
		if _, err := time.Parse(time.RFC3339, m["created_at"]); err != nil {
			t.Errorf("created_at %q: %v", m["created_at"], err)
		}
		tokens = append(tokens, m)
	}
	if tokens[0]["name"] != "default" || tokens[0]["last_used_at"] != "" {
		t.Errorf("first token %v, want default, never used", tokens[0])
	}
	if tokens[1]["name"] != "CI" || tokens[1]["token_id"] != created["token_id"] {
		t.Errorf("second token %v, want CI %s", tokens[1], created["token_id"])
	}
	if used, err := time.Parse(time.RFC3339, tokens[1]["last_used_at"]); err != nil || time.Since(used) > time.Minute {
		t.Errorf("CI's last_used_at %q (%v), want the request just made", tokens[1]["last_used_at"], err)
	}

	// Another workspace cannot revoke it, and it keeps working.
	code, _, errOut = command(t, "token", "revoke", "--db", db, "--workspace", other, "--token-id", created["token_id"])
	if code != 1 || !strings.Contains(errOut, "has no token") {
		t.Errorf("revoke from another workspace: exit %d, %q", code, errOut)
	}
	if status := get(); status != http.StatusOK {
		t.Fatalf("after the other workspace's revoke: %d, want 200", status)
	}
	for range 2 { // revoking again is no error
		if code, _, errOut := command(t, "token", "revoke", "--db", db, "--workspace", ws, "--token-id", created["token_id"]); code != 0 {
			t.Fatalf("token revoke: exit %d: %s", code, errOut)
		}
	}
	if status := get(); status != http.StatusUnauthorized {
		t.Errorf("revoked token: %d, want 401", status)
	}
	if _, out, _ := command(t, "token", "list", "--db", db, "--workspace", ws); strings.Contains(out, `"CI"`) {
		t.Errorf("token list after revoke:\n%s", out)
	}
}

func TestTokenUsage(t *testing.T) {
	db := "sqlite:" + filepath.Join(t.TempDir(), "c.db")
	ws := newWorkspace(t, db, "acme")
	for name, c := range map[string]struct {
		args []string
		code int
		want string
	}{
		"create without name":      {[]string{"token", "create", "--db", db, "--workspace", ws}, 2, "needs --workspace and --name"},
		"create, blank name":       {[]string{"token", "create", "--db", db, "--workspace", ws, "--name", "  "}, 1, "--name: a token needs a name"},
		"create, no workspace":     {[]string{"token", "create", "--db", db, "--workspace", "nope", "--name", "CI"}, 1, `no workspace "nope"`},
		"list without workspace":   {[]string{"token", "list", "--db", db}, 2, "needs --workspace"},
		"list, no workspace":       {[]string{"token", "list", "--db", db, "--workspace", "nope"}, 1, `no workspace "nope"`},
		"revoke without token id":  {[]string{"token", "revoke", "--db", db, "--workspace", ws}, 2, "needs --workspace and --token-id"},
		"revoke, token id not one": {[]string{"token", "revoke", "--db", db, "--workspace", ws, "--token-id", "x1"}, 2, `--token-id: "x1" is not a token id`},
		"revoke, no such token":    {[]string{"token", "revoke", "--db", db, "--workspace", ws, "--token-id", "999"}, 1, "has no token 999"},
	} {
		code, out, errOut := command(t, c.args...)
		if code != c.code || out != "" || !strings.Contains(errOut, c.want) {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want exit %d and %q", name, code, out, errOut, c.code, c.want)
		}
	}
}

func TestWorkspaceList(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { testWorkspaceList(t, "sqlite:"+filepath.Join(t.TempDir(), "c.db")) })
	t.Run("postgres", func(t *testing.T) { testWorkspaceList(t, pgtest.URL(t)) })
}

func testWorkspaceList(t *testing.T, db string) {
	// An empty database, as serve leaves it before the first workspace.
	st, err := app.OpenStore(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	if code, out, errOut := command(t, "workspace", "list", "--db", db); code != 0 || out != "" {
		t.Fatalf("empty database: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	acme := newWorkspace(t, db, "acme")
	beta := newWorkspace(t, db, "beta")
	code, out, errOut := command(t, "workspace", "list", "--db", db)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	// Oldest first; two created in the same millisecond in either order.
	lines := strings.SplitAfter(out, "\n")
	slices.Sort(lines)
	want := []string{"",
		`{"workspace_id":"` + acme + `","name":"acme","owner_email":"owner@acme.example"}` + "\n",
		`{"workspace_id":"` + beta + `","name":"beta","owner_email":"owner@beta.example"}` + "\n",
	}
	slices.Sort(want)
	if !slices.Equal(lines, want) {
		t.Errorf("stdout:\n%s\nwant one line for each of acme and beta", out)
	}
}

// serve on an empty database prints the setup link on its base URL, in
// the words a newcomer reads; on a database with a workspace it does not.
func TestServePrintsTheSetupLink(t *testing.T) {
	db := "sqlite:" + filepath.Join(t.TempDir(), "c.db")
	serveOnce := func() string {
		t.Helper()
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close() // serve listens on it again
		ctx, cancel := context.WithCancel(context.Background())
		var stderr chathooktest.SyncBuffer
		done := make(chan int, 1)
		go func() { done <- run(ctx, []string{"serve", "--addr", addr, "--db", db}, env(nil), io.Discard, &stderr) }()
		chathooktest.Eventually(t, "serve to start", func() bool { return strings.Contains(stderr.String(), "chathook serving") })
		cancel()
		if code := <-done; code != 0 {
			t.Fatalf("serve: exit %d: %s", code, stderr.String())
		}
		out := stderr.String()
		if strings.Contains(out, "Open ") {
			if !regexp.MustCompile(`(?m)^Open http://` + regexp.QuoteMeta(addr) + `/setup\?code=[A-Za-z0-9_-]{43} to create the first workspace$`).MatchString(out) {
				t.Errorf("the setup line is not the one of the docs:\n%s", out)
			}
		}
		return out
	}
	if out := serveOnce(); !strings.Contains(out, "/setup?code=") {
		t.Errorf("serve on an empty database printed no setup link:\n%s", out)
	}
	newWorkspace(t, db, "acme")
	if out := serveOnce(); strings.Contains(out, "/setup?code=") {
		t.Errorf("serve with a workspace printed a setup link:\n%s", out)
	}
}
