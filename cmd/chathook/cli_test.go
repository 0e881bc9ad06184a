package main

import (
	"bytes"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/store/postgres/pgtest"
)

// --db takes a plain file path as well as sqlite:<path> and postgres://
// (the CLI contract); what the plain path names is the file used.
func TestDBPlainPath(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	for name, c := range map[string]struct{ db, file string }{
		"relative":     {"./data.db", filepath.Join(dir, "data.db")},
		"bare name":    {"bare.db", filepath.Join(dir, "bare.db")},
		"absolute":     {filepath.Join(dir, "abs.db"), filepath.Join(dir, "abs.db")},
		"sqlite: form": {"sqlite:" + filepath.Join(dir, "prefixed.db"), filepath.Join(dir, "prefixed.db")},
		"postgres":     {"", ""}, // the test's database: only this case needs PostgreSQL
	} {
		t.Run(name, func(t *testing.T) {
			if name == "postgres" {
				c.db = pgtest.URL(t)
			}
			ws := newWorkspace(t, c.db, "acme")
			code, out, errOut := command(t, "workspace", "list", "--db", c.db)
			if code != 0 || !strings.Contains(out, ws) {
				t.Fatalf("workspace list --db %s: exit %d, stdout %q, stderr %q", c.db, code, out, errOut)
			}
			if c.file != "" {
				if _, err := os.Stat(c.file); err != nil {
					t.Errorf("--db %s did not use %s: %v", c.db, c.file, err)
				}
			}
		})
	}
	for _, bad := range []struct{ db, want string }{
		{"mysql://x", "--db: mysql:// is not a database chathook knows"},
		{"", "--db: empty"},
		{"./missing/x.db", "--db: the folder missing does not exist"},
		{"postgres:/u:secret@h/db", "--db: this is neither a file path nor a URL"},
		{"host=db user=c password=secret dbname=c", "--db: this is neither a file path nor a URL"},
	} {
		code, _, errOut := command(t, "workspace", "create", "--db", bad.db, "--name", "A", "--owner-email", "o@a.example")
		if code != 1 || !strings.HasPrefix(errOut, "chathook: "+bad.want) || strings.Contains(errOut, "secret") {
			t.Errorf("--db %q: exit %d, stderr %q; want 1 and %q, no password", bad.db, code, errOut, bad.want)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 4 {
		t.Errorf("files in the folder: %v; want the four databases and nothing for the bad --db values", entries)
	}
}

// Commands that only read, or act on what must already exist, never
// create a database: a missing SQLite file is an error, and stays missing.
func TestCommandsNeverCreateADatabase(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	for _, args := range [][]string{
		{"workspace", "list"},
		{"account", "list", "--workspace", "w"},
		{"token", "list", "--workspace", "w"},
		{"token", "create", "--workspace", "w", "--name", "CI"},
		{"token", "revoke", "--workspace", "w", "--token-id", "1"},
		{"user", "add", "--workspace", "w", "--email", "a@b.example", "--password", "long enough password"},
		{"user", "password", "--email", "a@b.example", "--password", "long enough password"},
		{"account", "connect", "--workspace", "w"},
	} {
		code, out, errOut := command(t, args...)
		want := "chathook: no database at ./chathook.db (run chathook serve or chathook workspace create first, or pass --db)\n"
		if code != 1 || out != "" || errOut != want {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want 1 and %q", strings.Join(args, " "), code, out, errOut, want)
		}
		named := filepath.Join(dir, "elsewhere", "x.db")
		code, _, errOut = command(t, append(args, "--db", named)...)
		if code != 1 || !strings.Contains(errOut, "no database at "+named) {
			t.Errorf("%s --db %s: exit %d, stderr %q", strings.Join(args, " "), named, code, errOut)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("left behind: %v", entries)
	}
}

// version and --version print the version the User-Agent carries.
func TestVersion(t *testing.T) {
	for _, arg := range []string{"version", "--version"} {
		code, out, errOut := command(t, arg)
		if want := "chathook " + chathook.Version + "\n"; code != 0 || out != want || errOut != "" {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want %q", arg, code, out, errOut, want)
		}
	}
	if chathook.Version != "dev" {
		t.Errorf("a build without a version says %q, want dev", chathook.Version)
	}
}

// A release build's -ldflags -X sets the version that --version prints.
func TestVersionFromLdflags(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(t.TempDir(), "chathook")
	if out, err := exec.Command("go", "build", "-ldflags", "-X github.com/chathook/chathook.Version=9.8.7", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "--version").Output()
	if err != nil || string(out) != "chathook 9.8.7\n" {
		t.Errorf("--version: %q, %v", out, err)
	}
}

// -h and --help on every command print what it does, its usage, an
// example and its flags to stdout, and exit 0; every flag that has an
// environment variable names it.
func TestHelpOnEveryCommand(t *testing.T) {
	// Flags without an environment variable: each names one thing a
	// single run acts on, which a shell would not set once for many.
	noEnv := map[string]bool{"name": true, "owner-email": true, "owner-name": true, "email": true, "token-id": true, "phone": true}
	flagLine := regexp.MustCompile(`(?m)^  --([a-z-]+).*\n      (.*)$`)
	for _, c := range commands {
		if c.name == "version" {
			continue
		}
		for _, args := range [][]string{
			append(strings.Fields(c.name), "-h"),
			append(strings.Fields(c.name), "--help"),
			append([]string{"help"}, strings.Fields(c.name)...),
		} {
			code, out, errOut := command(t, args...)
			if code != 0 || errOut != "" {
				t.Errorf("%s: exit %d, stderr %q", strings.Join(args, " "), code, errOut)
			}
			for _, want := range []string{"chathook " + c.name + ": " + c.summary, "usage:\n  " + c.usage, "example:\n  ", "flags:\n  --"} {
				if !strings.Contains(out, want) {
					t.Errorf("%s lacks %q:\n%s", strings.Join(args, " "), want, out)
				}
			}
			if _, ex, _ := strings.Cut(out, "example:\n  "); !strings.Contains(strings.SplitN(ex, "\n", 2)[0], "chathook "+c.name) {
				t.Errorf("%s: the example does not run chathook %s:\n%s", strings.Join(args, " "), c.name, out)
			}
			if strings.Contains(out, "Usage of") {
				t.Errorf("%s prints Go's bare usage:\n%s", strings.Join(args, " "), out)
			}
			for _, m := range flagLine.FindAllStringSubmatch(out, -1) {
				if !noEnv[m[1]] && !strings.Contains(m[2], "(env CHATHOOK_") {
					t.Errorf("%s: --%s does not name its environment variable: %s", c.name, m[1], m[2])
				}
			}
		}
	}
	_, out, _ := command(t, "--help")
	if strings.Contains(strings.ToLower(out), "every flag") {
		t.Errorf("the top-level help promises an environment variable for every flag:\n%s", out)
	}
}

// CHATHOOK_WORKSPACE, which the help names, is read; --workspace wins.
func TestWorkspaceFromEnv(t *testing.T) {
	db := filepath.Join(t.TempDir(), "c.db")
	acme, beta := newWorkspace(t, db, "acme"), newWorkspace(t, db, "beta")
	list := func(vars map[string]string, args ...string) string {
		t.Helper()
		var stdout, stderr bytes.Buffer
		if code := run(context.Background(), append([]string{"token", "list", "--db", db}, args...), env(vars), &stdout, &stderr); code != 0 {
			t.Fatalf("token list %v with %v: exit %d: %s", args, vars, code, stderr.String())
		}
		return stdout.String()
	}
	// Each workspace has its own "default" token, with its own id.
	acmeTokens, betaTokens := list(nil, "--workspace", acme), list(nil, "--workspace", beta)
	if acmeTokens == betaTokens {
		t.Fatalf("both workspaces list %s", acmeTokens)
	}
	fromEnv := map[string]string{"CHATHOOK_WORKSPACE": acme}
	if got := list(fromEnv); got != acmeTokens {
		t.Errorf("with CHATHOOK_WORKSPACE=acme: %s, want acme's %s", got, acmeTokens)
	}
	if got := list(fromEnv, "--workspace", beta); got != betaTokens {
		t.Errorf("with --workspace beta over CHATHOOK_WORKSPACE=acme: %s, want beta's %s", got, betaTokens)
	}
}

// serve's start-up errors are one line on stderr, not a log record, and
// exit 1; bad usage still exits 2.
func TestServeStartupErrors(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	dir := t.TempDir()
	for name, c := range map[string]struct {
		args []string
		code int
		want string
	}{
		"port in use":          {[]string{"--addr", busy.Addr().String(), "--db", filepath.Join(dir, "a.db")}, 1, "--addr: " + busy.Addr().String() + " is in use"},
		"bad --db":             {[]string{"--addr", "127.0.0.1:0", "--db", "mysql://u:s3cret@x/db"}, 1, "--db: mysql:// is not a database"},
		"postgres unreachable": {[]string{"--addr", "127.0.0.1:0", "--db", "postgres://u:s3cret@127.0.0.1:1/db"}, 1, "connect to PostgreSQL at 127.0.0.1:1"},
		"bad flag value":       {[]string{"--body-memory", "1"}, 2, "--body-memory: at least"},
		"unknown flag":         {[]string{"--colour", "red"}, 2, "serve: flag provided but not defined: -colour (see chathook serve -h)"},
		"bad env value":        {[]string{"--db", filepath.Join(dir, "b.db")}, 2, "CHATHOOK_MAX_CONNECTIONS"},
	} {
		t.Run(name, func(t *testing.T) {
			vars := map[string]string{}
			if name == "bad env value" {
				vars["CHATHOOK_MAX_CONNECTIONS"] = "many"
			}
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), append([]string{"serve"}, c.args...), env(vars), &stdout, &stderr)
			got := stderr.String()
			if code != c.code || !strings.HasPrefix(got, "chathook: ") || strings.Count(got, "\n") != 1 || !strings.Contains(got, c.want) {
				t.Errorf("exit %d, stderr %q; want exit %d and one line with %q", code, got, c.code, c.want)
			}
			if strings.Contains(got, "level=") || strings.Contains(got, "msg=") || strings.Contains(got, "s3cret") {
				t.Errorf("stderr %q is a log record or shows the password", got)
			}
		})
	}
}

// docs/configuration.md names every flag of every command, and every
// environment variable a flag's help names.
func TestConfigurationDocNamesEveryFlag(t *testing.T) {
	data, err := os.ReadFile("../../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(data)
	flagLine := regexp.MustCompile(`(?m)^  --([a-z-]+).*\n      (.*)$`)
	envName := regexp.MustCompile(`\(env (CHATHOOK_[A-Z_]+)`)
	seen := 0
	for _, c := range commands {
		_, out, _ := command(t, append(strings.Fields(c.name), "-h")...)
		for _, m := range flagLine.FindAllStringSubmatch(out, -1) {
			seen++
			if !strings.Contains(doc, "`--"+m[1]+"`") {
				t.Errorf("docs/configuration.md lacks %s's --%s", c.name, m[1])
			}
			if e := envName.FindStringSubmatch(m[2]); e != nil && !strings.Contains(doc, "`"+e[1]+"`") {
				t.Errorf("docs/configuration.md lacks %s's %s", c.name, e[1])
			}
		}
	}
	if seen < 40 {
		t.Errorf("only %d flags seen in the commands' help", seen)
	}
}
