package live_test

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/live"
	"github.com/chathook/chathook/store/postgres"
	"github.com/chathook/chathook/store/postgres/pgtest"
	"github.com/chathook/chathook/store/storetest"
)

// instance is one chathook instance's store, hub and relay.
type instance struct {
	pg    *postgres.Store
	store *live.Store
	hub   *live.Hub
}

func startInstance(t *testing.T, url string) instance {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pg, err := postgres.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	hub := live.NewHub()
	relay := live.NewRelay(hub, pg, nil)
	done := make(chan struct{})
	go func() { relay.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done; pg.Close() })
	return instance{pg: pg, store: live.Wrap(pg, hub), hub: hub}
}

// A message ingested through one instance reaches a subscriber of another
// on the same database; the other instance's own subscribers are told
// once (its echo is ignored), and a lost LISTEN connection makes every
// subscriber refetch.
func TestPostgresInstancesHearEachOther(t *testing.T) {
	url := pgtest.URL(t)
	a, b := startInstance(t, url), startInstance(t, url)
	ws, other := newWorkspace(t, a.store), newWorkspace(t, a.store)
	onB, otherOnB := subscribe(t, b.hub, ws, "tab-b"), subscribe(t, b.hub, other, "tab-b2")
	onA := subscribe(t, a.hub, ws, "tab-a")
	db, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close(context.Background())
	waitListening(t, db, 2)

	res, err := a.store.Ingest(context.Background(), ws, t0, []chathook.Incoming{storetest.Message(1, 1)})
	if err != nil {
		t.Fatal(err)
	}
	if c := next(t, onB); c.Workspace != ws || !slices.Equal(c.Chats, []int64{res[0].ChatID}) {
		t.Fatalf("instance B heard %+v, want chat %d of %s", c, res[0].ChatID, ws)
	}
	if c := next(t, onA); !slices.Equal(c.Chats, []int64{res[0].ChatID}) {
		t.Fatalf("instance A's own tab: got %+v", c)
	}
	// Ingest through B too: by the time A's tab hears B's change, A's own
	// echo (sent before) has been ignored, or it would be merged in here.
	res2, err := b.store.Ingest(context.Background(), ws, t0, []chathook.Incoming{storetest.Message(2, 1)})
	if err != nil {
		t.Fatal(err)
	}
	if c := next(t, onA); !slices.Equal(c.Chats, []int64{res2[0].ChatID}) {
		t.Fatalf("instance A heard %+v, want only chat %d", c, res2[0].ChatID)
	}
	next(t, onB)
	none(t, otherOnB)

	// Cut both LISTEN connections: once each listens again, its tabs refetch.
	if _, err := db.Exec(context.Background(),
		`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE 'LISTEN %' AND pid <> pg_backend_pid()
		   AND query LIKE '%' || current_schema() || '%'`); err != nil {
		t.Fatal(err)
	}
	for _, sub := range []*live.Subscription{onB, otherOnB, onA} {
		if c := next(t, sub); !c.All {
			t.Fatalf("after reconnect: got %+v, want all", c)
		}
	}
}

// waitListening waits until n connections LISTEN on this test's schema.
func waitListening(t *testing.T, db *pgx.Conn, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		var got int
		if err := db.QueryRow(context.Background(),
			`SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'LISTEN %' AND query LIKE '%' || current_schema() || '%'`).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d connections listen, want %d", got, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A burst of changes costs a few NOTIFYs, not one each, and none is lost.
func TestPostgresNotifiesCoalesce(t *testing.T) {
	url := pgtest.URL(t)
	a := startInstance(t, url)
	ctx := context.Background()
	db, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close(ctx)
	var schema string
	if err := db.QueryRow(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(ctx, `LISTEN `+pgx.Identifier{"chathook_live_" + schema}.Sanitize()); err != nil {
		t.Fatal(err)
	}
	const burst = 40
	for i := 1; i <= burst; i++ {
		a.hub.Publish("ws", false, int64(i))
	}
	heard := map[int64]bool{}
	notifies := 0
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	for len(heard) < burst {
		n, err := db.WaitForNotification(wctx)
		if err != nil {
			t.Fatalf("heard %d of %d chats in %d notifications: %v", len(heard), burst, notifies, err)
		}
		notifies++
		var m struct {
			W string
			C []int64
		}
		if err := json.Unmarshal([]byte(n.Payload), &m); err != nil || m.W != "ws" {
			t.Fatalf("payload %s: %v", n.Payload, err)
		}
		for _, id := range m.C {
			heard[id] = true
		}
	}
	if notifies >= burst/2 {
		t.Errorf("%d changes took %d notifications", burst, notifies)
	}
}
