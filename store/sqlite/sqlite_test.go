package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/chathook/chathook"

	"github.com/chathook/chathook/store"
	"github.com/chathook/chathook/store/sqlite"
	"github.com/chathook/chathook/store/storetest"
)

func open(t testing.TB, path string) *sqlite.Store {
	t.Helper()
	st, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		return open(t, filepath.Join(t.TempDir(), "chathook.db"))
	})
}

// Opening an existing database runs no migration twice and keeps the data.
func TestReopenKeepsData(t *testing.T) {
	path := filepath.Join(t.TempDir(), "chathook.db")
	ctx := context.Background()
	first := open(t, path)
	var mode string
	if err := first.QueryRowForTest(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
		t.Errorf("journal_mode = %q (%v), want wal", mode, err)
	}
	if _, err := first.ExecForTest(ctx, "CREATE TABLE marker (x)"); err != nil {
		t.Fatal(err)
	}
	first.Close()
	second := open(t, path)
	var n int
	if err := second.QueryRowForTest(ctx, "SELECT count(*) FROM schema_migrations").Scan(&n); err != nil || n < 1 {
		t.Errorf("schema_migrations has %d rows (%v)", n, err)
	}
	if err := second.QueryRowForTest(ctx, "SELECT count(*) FROM marker").Scan(&n); err != nil {
		t.Errorf("data lost on reopen: %v", err)
	}
}

// The dispatcher's bookkeeping commits without waiting for the disk, but
// the writer is back to synchronous=FULL for everything else, such as the
// next ingest, even when the relaxed transaction failed.
func TestRelaxedCommitsLeaveTheWriterDurable(t *testing.T) {
	st := open(t, filepath.Join(t.TempDir(), "chathook.db"))
	ctx := context.Background()
	full := func(when string) {
		t.Helper()
		var mode int
		if err := st.QueryRowForTest(ctx, "PRAGMA synchronous").Scan(&mode); err != nil || mode != 2 {
			t.Errorf("%s: synchronous = %d (%v), want 2 (FULL)", when, mode, err)
		}
	}
	full("at open")
	if _, err := st.ClaimDue(ctx, "a", time.Now(), time.Minute, 10); err != nil {
		t.Fatal(err)
	}
	full("after a claim")
	if err := st.Finish(ctx, []store.Finished{{Outcome: chathook.Outcome{DeliveryID: 12345, Status: 200}}}); err == nil {
		t.Fatal("finishing a delivery that does not exist succeeded")
	}
	full("after a failed finish")
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	st.ClaimDue(cancelled, "a", time.Now(), time.Minute, 10)
	full("after a cancelled claim")
}

// whatsmeow's handle is on the same file with the same settings (foreign
// keys, which its schema relies on; a busy timeout, so its writes wait for
// the writer), and Close closes it.
func TestSessionDBSharesSettingsAndCloses(t *testing.T) {
	st := open(t, filepath.Join(t.TempDir(), "chathook.db"))
	ctx := context.Background()
	db, dialect := st.SessionDB()
	if dialect != "sqlite3" {
		t.Errorf("dialect %q", dialect)
	}
	for pragma, want := range map[string]string{"foreign_keys": "1", "busy_timeout": "10000", "journal_mode": "wal"} {
		var got string
		if err := db.QueryRowContext(ctx, "PRAGMA "+pragma).Scan(&got); err != nil || got != want {
			t.Errorf("PRAGMA %s = %q (%v), want %q", pragma, got, err, want)
		}
	}
	var n int
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM workspaces").Scan(&n); err != nil {
		t.Errorf("not chathook's database: %v", err)
	}
	st.Close()
	if err := db.PingContext(ctx); err == nil {
		t.Error("SessionDB still open after Close")
	}
}
