package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chathook/chathook/app"
	"github.com/chathook/chathook/reply"
	"github.com/chathook/chathook/store/postgres/pgtest"
)

func env(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

func TestWorkspaceCreatePrintsOneJSONObject(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { testWorkspaceCreate(t, "sqlite:"+filepath.Join(t.TempDir(), "c.db")) })
	t.Run("postgres", func(t *testing.T) { testWorkspaceCreate(t, pgtest.URL(t)) })
}

func testWorkspaceCreate(t *testing.T, db string) {
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"workspace", "create", "--db", db, "--name", "Acme", "--owner-email", "owner@acme.example", "--owner-name", "Olga"},
		env(nil), &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	dec := json.NewDecoder(&stdout)
	dec.DisallowUnknownFields()
	var got struct {
		WorkspaceID   string `json:"workspace_id"`
		APIToken      string `json:"api_token"`
		WebhookSecret string `json:"webhook_secret"`
	}
	if err := dec.Decode(&got); err != nil {
		t.Fatalf("stdout is not the JSON object of the contract: %v", err)
	}
	if rest, _ := bufio.NewReader(dec.Buffered()).ReadString(0); strings.TrimSpace(rest) != "" || stdout.Len() != 0 {
		t.Errorf("more than one JSON object on stdout: %q", rest)
	}
	if got.WorkspaceID == "" || len(got.APIToken) < 32 || !strings.HasPrefix(got.WebhookSecret, "whsec_") {
		t.Errorf("created %+v", got)
	}
}

func TestWorkspaceCreateUsage(t *testing.T) {
	db := "sqlite:" + filepath.Join(t.TempDir(), "c.db")
	for name, args := range map[string][]string{
		"no name":       {"--db", db, "--owner-email", "o@acme.example"},
		"no email":      {"--db", db, "--name", "Acme"},
		"unknown flag":  {"--db", db, "--name", "Acme", "--owner-email", "o@acme.example", "--colour", "red"},
		"stray operand": {"--db", db, "--name", "Acme", "--owner-email", "o@acme.example", "extra"},
	} {
		t.Run(name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := run(context.Background(), append([]string{"workspace", "create"}, args...), env(nil), &stdout, &stderr); code != 2 {
				t.Errorf("exit %d, want 2", code)
			}
			if stdout.Len() != 0 || stderr.Len() == 0 {
				t.Errorf("stdout %q, stderr %q: the error belongs on stderr alone", stdout.String(), stderr.String())
			}
		})
	}
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"workspace", "create", "--db", db, "--name", "Acme", "--owner-email", "not-an-email"},
		env(nil), &stdout, &stderr); code != 1 || !strings.Contains(stderr.String(), "owner-email") {
		t.Errorf("a bad email: exit %d, stderr %q", code, stderr.String())
	}
}

// A database that cannot be opened is an error that says which and why,
// and never shows a password.
func TestBadDB(t *testing.T) {
	for _, c := range []struct{ db, want string }{
		{"postgres://chathook:s3cret@127.0.0.1:1/chathook", "connect to PostgreSQL at 127.0.0.1:1"},
		{"postgresql://chathook:s3cret@127.0.0.1:1/chathook", "connect to PostgreSQL at 127.0.0.1:1"},
		{"postgres://chathook:s3cret@127.0.0.1:notaport/chathook", "--db"},
		{"mysql://chathook:s3cret@db/chathook", "use sqlite:<path> or postgres://"},
		{"sqlite:", "needs a file path"},
	} {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), []string{"workspace", "create", "--db", c.db, "--name", "Acme", "--owner-email", "o@acme.example"},
			env(nil), &stdout, &stderr)
		if code != 1 || !strings.Contains(stderr.String(), c.want) || strings.Contains(stderr.String(), "s3cret") {
			t.Errorf("--db %s: exit %d, stderr %q; want 1 and %q, without the password", c.db, code, stderr.String(), c.want)
		}
	}
}

// CHATHOOK_DB is used when --db is absent, and --db wins over it.
func TestDBFromEnvAndFlag(t *testing.T) {
	dir := t.TempDir()
	fromEnv, fromFlag := filepath.Join(dir, "env.db"), filepath.Join(dir, "flag.db")
	vars := env(map[string]string{"CHATHOOK_DB": "sqlite:" + fromEnv})
	var out, errs bytes.Buffer
	if code := run(context.Background(), []string{"workspace", "create", "--name", "A", "--owner-email", "o@a.example"}, vars, &out, &errs); code != 0 {
		t.Fatal(errs.String())
	}
	if code := run(context.Background(), []string{"workspace", "create", "--db", "sqlite:" + fromFlag, "--name", "B", "--owner-email", "o@b.example"}, vars, &out, &errs); code != 0 {
		t.Fatal(errs.String())
	}
	for _, p := range []string{fromEnv, fromFlag} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("%s not created: %v", p, err)
		}
	}
}

func TestServeSettings(t *testing.T) {
	cases := []struct {
		name string
		args []string
		env  map[string]string
		want func(t *testing.T, addr, db, base, smtp, from string, private bool)
	}{
		{"defaults", nil, nil, func(t *testing.T, addr, db, base, smtp, from string, private bool) {
			if addr != "127.0.0.1:8080" || db != "sqlite:chathook.db" || base != "http://127.0.0.1:8080" ||
				smtp != "" || from != "chathook@localhost" || private {
				t.Errorf("defaults: %s %s %s %q %s %v", addr, db, base, smtp, from, private)
			}
		}},
		{"env", nil, map[string]string{
			"CHATHOOK_ADDR": "0.0.0.0:9000", "CHATHOOK_DB": "sqlite:/tmp/x.db", "CHATHOOK_BASE_URL": "https://hook.example",
			"CHATHOOK_SMTP_URL": "smtp://mail:25", "CHATHOOK_MAIL_FROM": "a@b.example", "CHATHOOK_ALLOW_PRIVATE_TARGETS": "true",
		}, func(t *testing.T, addr, db, base, smtp, from string, private bool) {
			if addr != "0.0.0.0:9000" || db != "sqlite:/tmp/x.db" || base != "https://hook.example" ||
				smtp != "smtp://mail:25" || from != "a@b.example" || !private {
				t.Errorf("from env: %s %s %s %s %s %v", addr, db, base, smtp, from, private)
			}
		}},
		{"flags win", []string{"--addr", "127.0.0.1:7000", "--allow-private-targets=false"},
			map[string]string{"CHATHOOK_ADDR": "0.0.0.0:9000", "CHATHOOK_ALLOW_PRIVATE_TARGETS": "1"},
			func(t *testing.T, addr, db, base, smtp, from string, private bool) {
				if addr != "127.0.0.1:7000" || base != "http://127.0.0.1:7000" || private {
					t.Errorf("flags: %s %s %v", addr, base, private)
				}
			}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := parseServe(c.args, env(c.env), &bytes.Buffer{}, &bytes.Buffer{})
			if err != nil {
				t.Fatal(err)
			}
			c.want(t, cfg.Addr, cfg.DB, cfg.BaseURL, cfg.SMTPURL, cfg.MailFrom, cfg.AllowPrivateTargets)
		})
	}
	for _, bad := range []string{"chathook.example.com", "ftp://x.example", "https://x.example/?a=1", "http://"} {
		if _, err := parseServe([]string{"--base-url", bad}, env(nil), &bytes.Buffer{}, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "--base-url") {
			t.Errorf("--base-url %q: err = %v", bad, err)
		}
	}
	if _, err := parseServe(nil, env(map[string]string{"CHATHOOK_ALLOW_PRIVATE_TARGETS": "maybe"}), &bytes.Buffer{}, &bytes.Buffer{}); err == nil ||
		!strings.Contains(err.Error(), "CHATHOOK_ALLOW_PRIVATE_TARGETS") {
		t.Errorf("a bad boolean in the environment: err = %v", err)
	}
}

// TestBinaryServesAndStopsOnSIGTERM builds the real binary, runs serve,
// checks /healthz, and stops it with SIGTERM: it must exit 0, promptly.
func TestBinaryServesAndStopsOnSIGTERM(t *testing.T) {
	bin := chathookBinary(t)
	dir := t.TempDir()
	cmd := exec.Command(bin, "serve", "--addr", "127.0.0.1:0", "--db", "sqlite:"+filepath.Join(dir, "s.db"))
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	lines := bufio.NewScanner(stderr)
	addr := ""
	for addr == "" && lines.Scan() {
		if m := regexp.MustCompile(`msg="chathook serving" addr=(\S+)`).FindStringSubmatch(lines.Text()); m != nil {
			addr = m[1]
		}
	}
	if addr == "" {
		t.Fatal("the service never said where it listens")
	}
	go func() {
		for lines.Scan() { // keep reading so the service never blocks on a full pipe
		}
	}()
	resp, err := http.Get("http://" + addr + "/healthz")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("healthz: %v %v", resp, err)
	}
	resp.Body.Close()

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("exit after SIGTERM: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("still running 20s after SIGTERM")
	}
}

// --max-connections defaults to what the file limit allows, is read from
// its variable, loses to the flag, and must be at least 1.
func TestMaxConnectionsSetting(t *testing.T) {
	for _, c := range []struct {
		args []string
		env  map[string]string
		want int
	}{
		{nil, nil, app.DefaultMaxConnections()},
		{nil, map[string]string{"CHATHOOK_MAX_CONNECTIONS": "500"}, 500},
		{[]string{"--max-connections", "64"}, map[string]string{"CHATHOOK_MAX_CONNECTIONS": "500"}, 64},
	} {
		cfg, err := parseServe(c.args, env(c.env), &bytes.Buffer{}, &bytes.Buffer{})
		if err != nil || cfg.MaxConnections != c.want {
			t.Errorf("%v %v: %d, %v; want %d", c.args, c.env, cfg.MaxConnections, err, c.want)
		}
	}
	for _, bad := range []string{"0", "-5"} {
		if _, err := parseServe([]string{"--max-connections", bad}, env(nil), &bytes.Buffer{}, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "--max-connections") {
			t.Errorf("--max-connections %s: err = %v", bad, err)
		}
	}
	if _, err := parseServe(nil, env(map[string]string{"CHATHOOK_MAX_CONNECTIONS": "many"}), &bytes.Buffer{}, &bytes.Buffer{}); err == nil ||
		!strings.Contains(err.Error(), "CHATHOOK_MAX_CONNECTIONS") {
		t.Errorf("a bad number in the environment: err = %v", err)
	}
}

// --whatsapp-proxy is read from its variable, loses to the flag, and a
// proxy whatsmeow cannot dial through stops the start with its name.
func TestWhatsAppProxySetting(t *testing.T) {
	for _, c := range []struct {
		args []string
		env  map[string]string
		want string
	}{
		{nil, nil, ""},
		{nil, map[string]string{"CHATHOOK_WHATSAPP_PROXY": "socks5://127.0.0.1:1080"}, "socks5://127.0.0.1:1080"},
		{[]string{"--whatsapp-proxy", "http://proxy.example:3128"}, map[string]string{"CHATHOOK_WHATSAPP_PROXY": "socks5://127.0.0.1:1080"},
			"http://proxy.example:3128"},
	} {
		cfg, err := parseServe(c.args, env(c.env), &bytes.Buffer{}, &bytes.Buffer{})
		if err != nil || cfg.WhatsAppProxy != c.want {
			t.Errorf("%v %v: %q, %v; want %q", c.args, c.env, cfg.WhatsAppProxy, err, c.want)
		}
	}
	for _, bad := range []string{"proxy.example:3128", "ftp://proxy.example:21", "http://proxy.example"} {
		if _, err := parseServe([]string{"--whatsapp-proxy", bad}, env(nil), &bytes.Buffer{}, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "--whatsapp-proxy") {
			t.Errorf("--whatsapp-proxy %s: err = %v", bad, err)
		}
	}
}

// --whatsapp-send-rate defaults to reply.DefaultSendRate, is read from
// its variable, loses to the flag, 0 turns it off, and is never negative.
func TestWhatsAppSendRateSetting(t *testing.T) {
	for _, c := range []struct {
		args []string
		env  map[string]string
		want int
	}{
		{nil, nil, reply.DefaultSendRate},
		{nil, map[string]string{"CHATHOOK_WHATSAPP_SEND_RATE": "6"}, 6},
		{[]string{"--whatsapp-send-rate", "0"}, map[string]string{"CHATHOOK_WHATSAPP_SEND_RATE": "6"}, 0},
	} {
		cfg, err := parseServe(c.args, env(c.env), &bytes.Buffer{}, &bytes.Buffer{})
		if err != nil || cfg.WhatsAppSendRate != c.want {
			t.Errorf("%v %v: %d, %v; want %d", c.args, c.env, cfg.WhatsAppSendRate, err, c.want)
		}
	}
	if _, err := parseServe([]string{"--whatsapp-send-rate", "-1"}, env(nil), &bytes.Buffer{}, &bytes.Buffer{}); err == nil ||
		!strings.Contains(err.Error(), "--whatsapp-send-rate") {
		t.Errorf("a negative rate: err = %v", err)
	}
}
