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

// The dispatcher's bookkeeping commits without waiting for the disk, and
// the hot paths (ingest groups, claims, outcomes) keep statement journals
// in memory, but the writer is back to synchronous=FULL and temp_store
// DEFAULT for everything else, such as an operator's discard, even when
// the transaction failed.
func TestHotTransactionsLeaveTheWriterAsItWas(t *testing.T) {
	st, ws, _, t0 := newStore(t)
	ctx := context.Background()
	defaults := func(when string) {
		t.Helper()
		var sync, temp int
		if err := st.QueryRowForTest(ctx, "PRAGMA synchronous").Scan(&sync); err != nil || sync != 2 {
			t.Errorf("%s: synchronous = %d (%v), want 2 (FULL)", when, sync, err)
		}
		if err := st.QueryRowForTest(ctx, "PRAGMA temp_store").Scan(&temp); err != nil || temp != 0 {
			t.Errorf("%s: temp_store = %d (%v), want 0 (DEFAULT)", when, temp, err)
		}
	}
	defaults("at open")
	if _, err := st.Ingest(ctx, ws, t0, []chathook.Incoming{chatMessage(t0, 1, "m1")}); err != nil {
		t.Fatal(err)
	}
	defaults("after an ingest")
	if _, err := st.Ingest(ctx, "no-such-workspace", t0, []chathook.Incoming{chatMessage(t0, 1, "m2")}); err == nil {
		t.Fatal("ingesting into a workspace that does not exist succeeded")
	}
	defaults("after a failed ingest")
	if _, err := st.ClaimDue(ctx, "a", t0, time.Minute, 10); err != nil {
		t.Fatal(err)
	}
	defaults("after a claim")
	if err := st.Finish(ctx, []store.Finished{{Outcome: chathook.Outcome{DeliveryID: 12345, Status: 200}}}); err == nil {
		t.Fatal("finishing a delivery that does not exist succeeded")
	}
	defaults("after a failed finish")
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	st.ClaimDue(cancelled, "a", time.Now(), time.Minute, 10)
	defaults("after a cancelled claim")
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
