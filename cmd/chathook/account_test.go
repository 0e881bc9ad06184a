package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/app"
	"github.com/chathook/chathook/chathooktest"
	"github.com/chathook/chathook/source/cloudapi"
	"github.com/chathook/chathook/source/whatsweb"
	"github.com/chathook/chathook/source/whatsweb/whatswebtest"
	"github.com/chathook/chathook/store/postgres/pgtest"
)

// newWorkspace creates a workspace in db as workspace create does and
// returns its id.
func newWorkspace(t *testing.T, db, name string) string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"workspace", "create", "--db", db, "--name", name, "--owner-email", "owner@" + name + ".example"},
		env(nil), &stdout, &stderr); code != 0 {
		t.Fatalf("workspace create: exit %d: %s", code, stderr.String())
	}
	var created struct {
		WorkspaceID string `json:"workspace_id"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &created); err != nil {
		t.Fatal(err)
	}
	return created.WorkspaceID
}

func TestAccountListPrintsJSONLines(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { testAccountList(t, "sqlite:"+filepath.Join(t.TempDir(), "c.db")) })
	t.Run("postgres", func(t *testing.T) { testAccountList(t, pgtest.URL(t)) })
}

func testAccountList(t *testing.T, db string) {
	ctx := context.Background()
	ws := newWorkspace(t, db, "acme")
	other := newWorkspace(t, db, "beta")
	st, err := app.OpenStore(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	linked, err := st.LinkAccount(ctx, ws, chathook.Account{Phone: "+972500000001", FullName: "Amnon Haha", Email: "amnon@acme.example",
		JID: "972500000001:12@s.whatsapp.net"}, "test", now.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	second, err := st.LinkAccount(ctx, ws, chathook.Account{Phone: "+972500000002", FullName: "Bella", Email: "bella@acme.example",
		JID: "972500000002:3@s.whatsapp.net"}, "test", now.Add(time.Minute))
	if err == nil {
		_, err = st.SetAccountState(ctx, second.ID, chathook.AccountLoggedOut, now)
	}
	if err == nil {
		_, err = st.LinkAccount(ctx, other, chathook.Account{Phone: "+15550009999", FullName: "Theirs", Email: "them@beta.example",
			JID: "15550009999:1@s.whatsapp.net"}, "test", now.Add(time.Minute))
	}
	var cloud chathook.Account
	if err == nil {
		cloud, err = cloudapi.Register(ctx, st, ws, cloudapi.Registration{PhoneNumberID: "106540352242922", DisplayPhoneNumber: "+1 555-078-3881",
			FullName: "Acme Support", Email: "ops@acme.example", AppSecret: "app-secret-never-shown", VerifyToken: "verify-me",
			AccessToken: "EAAG-access-token-never-shown"}, now)
	}
	st.Close()
	if err != nil {
		t.Fatal(err)
	}

	web := `{"id":"` + itoa(linked.ID) + `","kind":"web","phone":"+972500000001","full_name":"Amnon Haha","email":"amnon@acme.example","state":"connected"}` + "\n" +
		`{"id":"` + itoa(second.ID) + `","kind":"web","phone":"+972500000002","full_name":"Bella","email":"bella@acme.example","state":"logged_out"}` + "\n"
	cloudLine := `{"id":"` + itoa(cloud.ID) + `","kind":"cloud_api","phone":"+15550783881","full_name":"Acme Support","email":"ops@acme.example","state":"connecting",` +
		`"phone_number_id":"106540352242922","verify_token":"verify-me"`
	for _, c := range []struct {
		name, baseURL, want string
	}{
		// Without a base URL it cannot know the callback URL, and says none.
		{"without base URL", "", web + cloudLine + `,"has_access_token":true}` + "\n"},
		{"with base URL", "https://chathook.example.com/", web + cloudLine + `,"callback_url":"https://chathook.example.com/sources/cloud-api/` + ws +
			`","has_access_token":true}` + "\n"},
	} {
		var stdout, stderr bytes.Buffer
		if code := run(ctx, []string{"account", "list", "--workspace", ws}, env(map[string]string{"CHATHOOK_DB": db, "CHATHOOK_BASE_URL": c.baseURL}),
			&stdout, &stderr); code != 0 {
			t.Fatalf("%s: exit %d: %s", c.name, code, stderr.String())
		}
		if stdout.String() != c.want {
			t.Errorf("%s: stdout:\n%s\nwant:\n%s", c.name, stdout.String(), c.want)
		}
	}

	// A workspace that is not there is said so, in words.
	var stdout, stderr bytes.Buffer
	if code := run(ctx, []string{"account", "list", "--db", db, "--workspace", "no-such-workspace"}, env(nil), &stdout, &stderr); code != 1 ||
		stdout.Len() != 0 || !strings.Contains(stderr.String(), `there is no workspace "no-such-workspace"`) {
		t.Errorf("unknown workspace: exit %d, stdout %q, stderr %q", code, stdout.String(), stderr.String())
	}
}

func itoa(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}

func TestAccountUsage(t *testing.T) {
	db := "sqlite:" + filepath.Join(t.TempDir(), "c.db")
	for name, args := range map[string][]string{
		"list without workspace":    {"account", "list", "--db", db},
		"list unknown flag":         {"account", "list", "--db", db, "--workspace", "w", "--all"},
		"connect without workspace": {"account", "connect", "--db", db},
		"connect unknown flag":      {"account", "connect", "--db", db, "--workspace", "w", "--qr"},
		"connect stray operand":     {"account", "connect", "--db", db, "--workspace", "w", "+972500000001"},
		"no subcommand":             {"account"},
		"unknown subcommand":        {"account", "delete", "--workspace", "w"},
	} {
		t.Run(name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := run(context.Background(), args, env(nil), &stdout, &stderr); code != 2 {
				t.Errorf("exit %d, want 2 (stderr %q)", code, stderr.String())
			}
			if stdout.Len() != 0 || stderr.Len() == 0 {
				t.Errorf("stdout %q, stderr %q: the error belongs on stderr alone", stdout.String(), stderr.String())
			}
		})
	}
	var stdout, stderr bytes.Buffer
	run(context.Background(), []string{"help"}, env(nil), &stdout, &stderr)
	for _, line := range []string{
		"chathook account connect --workspace ID [--phone +N] [--email E] [--db URL]",
		"chathook account list --workspace ID [--base-url URL] [--db URL]",
	} {
		if !strings.Contains(stdout.String(), line) {
			t.Errorf("the usage text lacks %q", line)
		}
	}
}

// WhatsApp cannot be reached from here, so account connect, on the real
// network, fails: non-zero, with the reason in words, and soon (the
// deadline only keeps a hang from stalling the suite).
func TestAccountConnectWithoutWhatsApp(t *testing.T) {
	db := "sqlite:" + filepath.Join(t.TempDir(), "c.db")
	ws := newWorkspace(t, db, "acme")
	for name, extra := range map[string][]string{"qr": nil, "phone": {"--phone", "+972500000001"}} {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			var stdout, stderr bytes.Buffer
			code := run(ctx, append([]string{"account", "connect", "--db", db, "--workspace", ws}, extra...), env(nil), &stdout, &stderr)
			if ctx.Err() != nil {
				t.Fatalf("account connect still ran after %v", 2*time.Minute)
			}
			if code != 1 {
				t.Errorf("exit %d, want 1", code)
			}
			if !strings.Contains(stderr.String(), "chathook: WhatsApp cannot be reached: ") ||
				strings.Contains(stdout.String(), "connected") {
				t.Errorf("stdout %q, stderr %q: want the reason on stderr", stdout.String(), stderr.String())
			}
		})
	}

	// A number that is not one is bad usage, named.
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"account", "connect", "--db", db, "--workspace", ws, "--phone", "call me"}, env(nil), &stdout, &stderr); code != 2 ||
		!strings.Contains(stderr.String(), "--phone") {
		t.Errorf("bad phone: exit %d, stderr %q", code, stderr.String())
	}
	// So is a workspace that is not there, in words.
	stdout.Reset()
	stderr.Reset()
	if code := run(context.Background(), []string{"account", "connect", "--db", db, "--workspace", "nope"}, env(nil), &stdout, &stderr); code != 1 ||
		!strings.Contains(stderr.String(), `there is no workspace "nope"`) {
		t.Errorf("unknown workspace: exit %d, stderr %q", code, stderr.String())
	}
}

// waitOutput waits for out to hold want.
func waitOutput(t *testing.T, out *chathooktest.SyncBuffer, want string) {
	t.Helper()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("stdout:\n%s", out.String())
		}
	})
	chathooktest.Eventually(t, fmt.Sprintf("stdout to hold %q", want), func() bool { return strings.Contains(out.String(), want) })
}

// With WhatsApp answering (faked), account connect prints the QR code
// for the terminal and its instructions (or the pairing code), and once
// the phone accepts says which account is connected and exits 0, having
// given the account back for a serving instance to hold.
func TestAccountConnectPairs(t *testing.T) {
	for _, tc := range []struct {
		name  string
		args  []string
		shows func(c *whatswebtest.Client) []string // what stdout shows, the device's connection c open
	}{
		{"qr", nil, func(c *whatswebtest.Client) []string {
			return []string{whatsweb.QRTerminal(c.QRCodes()[0]), "Scan it with WhatsApp on the phone: Settings → Linked devices → Link a device."}
		}},
		{"phone", []string{"--phone", "+972500000001"}, func(*whatswebtest.Client) []string {
			return []string{"Pairing code for +972500000001: " + whatswebtest.PairingCode + "\n", "Link with phone number instead"}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wa := whatswebtest.New()
			network = wa
			t.Cleanup(func() { network = nil })
			db := "sqlite:" + filepath.Join(t.TempDir(), "c.db")
			ws := newWorkspace(t, db, "acme")
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			var stdout, stderr chathooktest.SyncBuffer
			code := make(chan int, 1)
			go func() {
				code <- run(ctx, append([]string{"account", "connect", "--db", db, "--workspace", ws}, tc.args...), env(nil), &stdout, &stderr)
			}()
			c := wa.Unpaired(t)
			for _, want := range tc.shows(c) {
				waitOutput(t, &stdout, want)
			}
			c.Pair(t, "972500000001:12@s.whatsapp.net", "Amnon Haha")
			select {
			case got := <-code:
				if got != 0 {
					t.Fatalf("exit %d: %s", got, stderr.String())
				}
			case <-ctx.Done():
				t.Fatal("account connect did not exit once paired")
			}
			if !strings.HasSuffix(stdout.String(), "\nconnected +972500000001 (Amnon Haha)\n") {
				t.Errorf("stdout does not end with the account connected:\n%s", stdout.String())
			}
			if c.Connected() {
				t.Error("account connect exited with its connection open")
			}

			// The account is the owner's (no --email), and a serving
			// instance can take it at once: its lease was given back.
			st, err := app.OpenStore(context.Background(), db)
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			held, err := st.ClaimAccounts(context.Background(), "serve", time.Now(), time.Now().Add(time.Minute), 10)
			if err != nil || len(held) != 1 || held[0].Phone != "+972500000001" || held[0].Email != "owner@acme.example" || held[0].Kind != chathook.KindWeb {
				t.Errorf("a serving instance claims %+v, %v", held, err)
			}
		})
	}
}
