// Package pgtest gives each test a PostgreSQL schema of its own.
//
// The server is the one CHATHOOK_TEST_POSTGRES_URL names, by default the
// local postgres://postgres@127.0.0.1:5432/test. When it cannot be
// reached the test is skipped, saying why; with CI=true it fails instead,
// so that CI never passes by skipping PostgreSQL.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Env names the variable that points the tests at a PostgreSQL server.
const Env = "CHATHOOK_TEST_POSTGRES_URL"

// DefaultURL is the server tests use when Env is unset.
const DefaultURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// ServerURL returns the URL of the test server, from Env or DefaultURL.
func ServerURL() string {
	if u := os.Getenv(Env); u != "" {
		return u
	}
	return DefaultURL
}

var reach struct {
	once sync.Once
	err  error
}

// reachable connects once per test binary; later calls answer at once.
func reachable() error {
	reach.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, ServerURL())
		if err != nil {
			reach.err = err
			return
		}
		reach.err = conn.Ping(ctx)
		conn.Close(ctx)
	})
	return reach.err
}

// URL creates a fresh, empty schema for this test and returns the server
// URL with search_path set to it, so that every connection made with it
// (by the store, or by a service in chathooktest) sees only this test's
// tables. The schema is dropped when the test ends.
func URL(t testing.TB) string {
	t.Helper()
	if err := reachable(); err != nil {
		msg := fmt.Sprintf("PostgreSQL is not reachable at %s (set %s to another server, or start this one: "+
			"pg_ctlcluster --skip-systemctl-redirect <version> main start): %v", redacted(ServerURL()), Env, err)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg + "; CI=true, so this is a failure, not a skip")
		}
		t.Skip(msg)
	}
	suffix := make([]byte, 6)
	_, _ = rand.Read(suffix)
	schema := "chathook_test_" + hex.EncodeToString(suffix)
	exec(t, `CREATE SCHEMA `+schema)
	t.Cleanup(func() { exec(t, `DROP SCHEMA `+schema+` CASCADE`) })

	return withSearchPath(t, ServerURL(), schema)
}

// withSearchPath adds search_path to a postgres:// URL or to a
// "key=value ..." connection string, the two forms pgx takes.
func withSearchPath(t testing.TB, raw, schema string) string {
	if !strings.Contains(raw, "://") {
		return raw + " search_path=" + schema
	}
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatalf("%s: %v", Env, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// exec runs one statement on a connection of its own.
func exec(t testing.TB, sql string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, ServerURL())
	if err != nil {
		t.Fatalf("connect to PostgreSQL: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// redacted hides a password in a URL, for messages.
func redacted(raw string) string {
	if !strings.Contains(raw, "://") {
		return "(a key=value connection string)"
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}
