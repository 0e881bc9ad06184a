package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/chathook/chathook/store"
	"github.com/chathook/chathook/store/sqlite"
	"github.com/chathook/chathook/store/storetest"
)

func open(t *testing.T, path string) *sqlite.Store {
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
