package main

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chathook/chathook/app"
	"github.com/chathook/chathook/web"
)

// checkSignIn reports whether email signs in with pw in db's store.
func checkSignIn(t *testing.T, db, email, pw string) bool {
	t.Helper()
	st, err := app.OpenStore(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	_, hash, err := st.UserByEmail(context.Background(), email)
	return err == nil && web.CheckPassword(hash, pw)
}

// --owner-password (or its env) lets the owner sign in, and stdout stays
// the one JSON object of the contract.
func TestWorkspaceCreateWithOwnerPassword(t *testing.T) {
	db := "sqlite:" + filepath.Join(t.TempDir(), "c.db")
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"workspace", "create", "--db", db, "--name", "Acme", "--owner-email", "owner@acme.example"},
		env(map[string]string{"CHATHOOK_OWNER_PASSWORD": "from the environment"}), &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	var created map[string]string
	dec := json.NewDecoder(&stdout)
	if err := dec.Decode(&created); err != nil || len(created) != 3 || dec.More() {
		t.Fatalf("stdout %q: %v", stdout.String(), err)
	}
	if !checkSignIn(t, db, "owner@acme.example", "from the environment") {
		t.Error("the owner cannot sign in with the password from CHATHOOK_OWNER_PASSWORD")
	}

	// A short password is refused before anything is created.
	stdout.Reset()
	stderr.Reset()
	code = run(context.Background(), []string{"workspace", "create", "--db", db, "--name", "B", "--owner-email", "b@b.example", "--owner-password", "short"},
		env(nil), &stdout, &stderr)
	if code != 1 || stdout.Len() != 0 || !strings.Contains(stderr.String(), "too short") {
		t.Errorf("short password: exit %d, stdout %q, stderr %q", code, stdout.String(), stderr.String())
	}
	// An owner email that signs in already is refused the same way.
	stdout.Reset()
	stderr.Reset()
	code = run(context.Background(), []string{"workspace", "create", "--db", db, "--name", "C", "--owner-email", "OWNER@acme.example", "--owner-password", "long enough"},
		env(nil), &stdout, &stderr)
	if code != 1 || stdout.Len() != 0 || !strings.Contains(stderr.String(), "can already sign in") {
		t.Errorf("taken email: exit %d, stdout %q, stderr %q", code, stdout.String(), stderr.String())
	}
}

func TestUserAddAndPassword(t *testing.T) {
	db := "sqlite:" + filepath.Join(t.TempDir(), "c.db")
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"workspace", "create", "--db", db, "--name", "Acme", "--owner-email", "owner@acme.example"},
		env(nil), &stdout, &stderr); code != 0 || !strings.Contains(stderr.String(), "chathook user add --workspace") {
		t.Fatalf("exit %d, stderr %q: no hint how to let the owner sign in", code, stderr.String())
	}
	var created struct {
		WorkspaceID string `json:"workspace_id"`
	}
	json.Unmarshal(stdout.Bytes(), &created)

	for name, tc := range map[string]struct {
		args []string
		code int
		says string
	}{
		"no password":      {[]string{"--workspace", created.WorkspaceID, "--email", "ivan@acme.example"}, 2, "--password"},
		"unknown ws":       {[]string{"--workspace", "nope", "--email", "ivan@acme.example", "--password", "long enough"}, 1, `no workspace "nope"`},
		"bad email":        {[]string{"--workspace", created.WorkspaceID, "--email", "ivan", "--password", "long enough"}, 1, "not an email"},
		"short password":   {[]string{"--workspace", created.WorkspaceID, "--email", "ivan@acme.example", "--password", "1234567"}, 1, "too short"},
		"added":            {[]string{"--workspace", created.WorkspaceID, "--email", "Ivan@Acme.example", "--name", "Ivan", "--password", "long enough"}, 0, ""},
		"the owner, later": {[]string{"--workspace", created.WorkspaceID, "--email", "owner@acme.example", "--password", "owner's own"}, 0, ""},
	} {
		t.Run(name, func(t *testing.T) {
			var out, errs bytes.Buffer
			code := run(context.Background(), append([]string{"user", "add", "--db", db}, tc.args...), env(nil), &out, &errs)
			if code != tc.code || !strings.Contains(errs.String(), tc.says) {
				t.Errorf("exit %d, stderr %q; want %d saying %q", code, errs.String(), tc.code, tc.says)
			}
			if code == 0 && !strings.Contains(out.String(), `"workspace_id":"`+created.WorkspaceID+`"`) {
				t.Errorf("stdout %q", out.String())
			}
		})
	}
	if !checkSignIn(t, db, "ivan@acme.example", "long enough") || !checkSignIn(t, db, "owner@acme.example", "owner's own") {
		t.Fatal("added users cannot sign in")
	}
	var out, errs bytes.Buffer
	if code := run(context.Background(), []string{"user", "add", "--db", db, "--workspace", created.WorkspaceID, "--email", "ivan@acme.example", "--password", "another one"},
		env(nil), &out, &errs); code != 1 || !strings.Contains(errs.String(), "can already sign in") {
		t.Errorf("adding twice: exit %d, %q", code, errs.String())
	}
	errs.Reset()
	if code := run(context.Background(), []string{"user", "password", "--db", db, "--email", "IVAN@acme.example"},
		env(map[string]string{"CHATHOOK_PASSWORD": "a brand new one"}), &out, &errs); code != 0 {
		t.Fatalf("user password: exit %d, %q", code, errs.String())
	}
	if checkSignIn(t, db, "ivan@acme.example", "long enough") || !checkSignIn(t, db, "ivan@acme.example", "a brand new one") {
		t.Error("the new password does not replace the old")
	}
	errs.Reset()
	if code := run(context.Background(), []string{"user", "password", "--db", db, "--email", "nobody@acme.example", "--password", "whatever it is"},
		env(nil), &out, &errs); code != 1 || !strings.Contains(errs.String(), "nobody signs in as") {
		t.Errorf("unknown user: exit %d, %q", code, errs.String())
	}
}

// -h never shows a password taken from the environment.
func TestHelpHidesPasswords(t *testing.T) {
	var out, errs bytes.Buffer
	run(context.Background(), []string{"user", "add", "-h"}, env(map[string]string{"CHATHOOK_PASSWORD": "hunter2hunter2"}), &out, &errs)
	if strings.Contains(errs.String()+out.String(), "hunter2") || !strings.Contains(out.String(), "CHATHOOK_PASSWORD") {
		t.Errorf("help: %s", out.String())
	}
}

// A password of white space only, or one of the best-known, is refused
// wherever a password is set: a plain message, exit 1, nothing written.
func TestWeakPasswordsAreRefusedEverywhere(t *testing.T) {
	db := "sqlite:" + filepath.Join(t.TempDir(), "c.db")
	runs := func(args []string, environ map[string]string) (int, string, string) {
		var out, errs bytes.Buffer
		code := run(context.Background(), args, env(environ), &out, &errs)
		return code, out.String(), errs.String()
	}
	code, out, errs := runs([]string{"workspace", "create", "--db", db, "--name", "Acme", "--owner-email", "owner@acme.example",
		"--owner-password", "owner's own"}, nil)
	if code != 0 {
		t.Fatalf("workspace create: exit %d: %s", code, errs)
	}
	var created struct {
		WorkspaceID string `json:"workspace_id"`
	}
	json.Unmarshal([]byte(out), &created)

	for pw, says := range map[string]string{
		"          ": "only white space",
		"\u00a0\u2003\t\u3000\u2003\u00a0 \u2009": "only white space",
		"password1":  "most common",
		"QwertyUIOP": "most common",
		"iloveyou":   "most common",
	} {
		t.Run(says+" "+pw, func(t *testing.T) {
			for name, args := range map[string][]string{
				"workspace create": {"workspace", "create", "--db", db, "--name", "B", "--owner-email", "b@b.example", "--owner-password", pw},
				"user add":         {"user", "add", "--db", db, "--workspace", created.WorkspaceID, "--email", "ivan@acme.example", "--password", pw},
				"user password":    {"user", "password", "--db", db, "--email", "owner@acme.example", "--password", pw},
			} {
				code, out, errs := runs(args, nil)
				if code != 1 || !strings.Contains(errs, says) || !strings.HasPrefix(errs, "chathook: ") || strings.Count(errs, "\n") != 1 || out != "" {
					t.Errorf("%s: exit %d, stdout %q, stderr %q; want exit 1 and one line saying %q", name, code, out, errs, says)
				}
			}
			// From the environment too.
			if code, _, errs := runs([]string{"user", "password", "--db", db, "--email", "owner@acme.example"},
				map[string]string{"CHATHOOK_PASSWORD": pw}); code != 1 || !strings.Contains(errs, says) {
				t.Errorf("CHATHOOK_PASSWORD: exit %d, %q", code, errs)
			}
		})
	}
	if checkSignIn(t, db, "ivan@acme.example", "password1") || checkSignIn(t, db, "b@b.example", "password1") {
		t.Error("a refused password was stored")
	}
	if !checkSignIn(t, db, "owner@acme.example", "owner's own") {
		t.Error("a refused new password replaced the owner's")
	}
	st, err := app.OpenStore(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, _, err := st.UserByEmail(context.Background(), "b@b.example"); err == nil {
		t.Error("workspace create with a refused password created its owner")
	}
}
