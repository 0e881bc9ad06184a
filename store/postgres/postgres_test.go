package postgres_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/store"
	"github.com/chathook/chathook/store/postgres"
	"github.com/chathook/chathook/store/postgres/pgtest"
	"github.com/chathook/chathook/store/storetest"
)

func open(t *testing.T, url string) *postgres.Store {
	t.Helper()
	st, err := postgres.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return open(t, pgtest.URL(t)) })
}

// Instances that start at the same moment on a fresh schema apply the
// migrations once between them, and every one of them opens.
func TestConcurrentOpenMigratesOnce(t *testing.T) {
	url := pgtest.URL(t)
	const instances = 8
	var wg sync.WaitGroup
	errs := make(chan error, instances)
	start := make(chan struct{})
	for range instances {
		wg.Go(func() {
			<-start
			st, err := postgres.Open(context.Background(), url)
			if err != nil {
				errs <- err
				return
			}
			st.Close()
		})
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("open: %v", err)
	}
	st := open(t, url)
	var applied, distinct int
	if err := st.QueryRowForTest(context.Background(),
		`SELECT count(*), count(DISTINCT version) FROM schema_migrations`).Scan(&applied, &distinct); err != nil {
		t.Fatal(err)
	}
	if applied != distinct || applied != postgres.MigrationsForTest() {
		t.Errorf("schema_migrations has %d rows, %d versions; want each of the %d migrations once",
			applied, distinct, postgres.MigrationsForTest())
	}
}

// Opening an existing database runs no migration twice and keeps the data.
func TestReopenKeepsData(t *testing.T) {
	url := pgtest.URL(t)
	ctx := context.Background()
	first := open(t, url)
	if _, err := first.ExecForTest(ctx, `CREATE TABLE marker (x int)`); err != nil {
		t.Fatal(err)
	}
	first.Close()
	second := open(t, url)
	var n int
	if err := second.QueryRowForTest(ctx, `SELECT count(*) FROM marker`).Scan(&n); err != nil {
		t.Errorf("data lost on reopen: %v", err)
	}
}

// Claims and outcomes commit with synchronous_commit off, but only their
// own transactions: the connection they ran on is back to on for the next
// ingest, even when the relaxed transaction failed. One connection in the
// pool, so every statement here runs on the one the claims used.
func TestRelaxedCommitsLeaveConnectionsDurable(t *testing.T) {
	st := open(t, pgtest.URL(t)+"&pool_max_conns=1")
	ctx := context.Background()
	durable := func(when string) {
		t.Helper()
		var mode string
		if err := st.QueryRowForTest(ctx, "SHOW synchronous_commit").Scan(&mode); err != nil || mode != "on" {
			t.Errorf("%s: synchronous_commit = %q (%v), want on", when, mode, err)
		}
	}
	durable("at open")
	if _, err := st.ClaimDue(ctx, "a", time.Now(), time.Minute, 10); err != nil {
		t.Fatal(err)
	}
	durable("after a claim")
	if err := st.Finish(ctx, []store.Finished{{Outcome: chathook.Outcome{DeliveryID: 12345, Status: 200}}}); err == nil {
		t.Fatal("finishing a delivery that does not exist succeeded")
	}
	durable("after a failed finish")
}

// whatsmeow's handle is on the store's pool, in the store's schema, and
// Close closes it.
func TestSessionDBSharesThePoolAndCloses(t *testing.T) {
	st := open(t, pgtest.URL(t))
	ctx := context.Background()
	db, dialect := st.SessionDB()
	if dialect != "postgres" {
		t.Errorf("dialect %q", dialect)
	}
	var n int
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM workspaces").Scan(&n); err != nil {
		t.Errorf("not chathook's schema: %v", err)
	}
	st.Close()
	if err := db.PingContext(ctx); err == nil {
		t.Error("SessionDB still open after Close")
	}
}
