package postgres_test

import (
	"context"
	"sync"
	"testing"

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
