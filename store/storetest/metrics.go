package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/store"
)

// metrics are the tests of the metrics endpoint's reads.
var metrics = map[string]func(*testing.T, store.Store){
	"BacklogCountsWhatWaits": testBacklogCountsWhatWaits,
	"PoolsAreNamed":          testPoolsAreNamed,
}

func backlog(t *testing.T, st store.Store) store.Backlog {
	t.Helper()
	b, err := st.Backlog(context.Background())
	if err != nil {
		t.Fatalf("backlog: %v", err)
	}
	return b
}

func testBacklogCountsWhatWaits(t *testing.T, st store.Store) {
	if b := backlog(t, st); b != (store.Backlog{}) {
		t.Fatalf("empty database: %+v", b)
	}
	// broken: disabled by its failures, its delivery waiting, one email out.
	broken := workspace(t, st, "broken", "https://broken.example.com")
	ingest(t, st, broken, msg(1, 1))
	for i := 0; i < chathook.DisableAfter; i++ {
		fail(t, st, t0.Add(time.Duration(i)*time.Second), "HTTP 500")
	}
	// off: turned off by its user, nothing waiting.
	off := workspace(t, st, "off", "https://off.example.com")
	no := false
	if _, err := st.UpdateWebhook(context.Background(), off, chathook.Outbound, t0, chathook.WebhookUpdate{Enabled: &no}); err != nil {
		t.Fatal(err)
	}
	// busy: three queued an hour later, one of them then delivered.
	busy := workspace(t, st, "busy", "https://busy.example.com")
	if _, err := st.Ingest(context.Background(), busy, t0.Add(time.Hour), []chathook.Incoming{msg(2, 1), msg(3, 1), msg(4, 1)}); err != nil {
		t.Fatal(err)
	}
	want := store.Backlog{Deliveries: 4, OldestDelivery: t0, Emails: 1, DisabledByFailures: 1, DisabledByUser: 1}
	if b := backlog(t, st); b != want {
		t.Fatalf("backlog %+v, want %+v", b, want)
	}
	got := claim(t, st, "a", t0.Add(2*time.Hour), 1)
	if len(got) != 1 {
		t.Fatalf("claimed %d, want 1 of busy's", len(got))
	}
	finish(t, st, got[0], 200, time.Time{})
	want.Deliveries = 3
	if b := backlog(t, st); b != want {
		t.Fatalf("after one delivered: backlog %+v, want %+v", b, want)
	}
	// Enabled again: no longer disabled, its delivery still waits (now due).
	yes := true
	if _, err := st.UpdateWebhook(context.Background(), broken, chathook.Outbound, t0.Add(3*time.Hour), chathook.WebhookUpdate{Enabled: &yes}); err != nil {
		t.Fatal(err)
	}
	want.DisabledByFailures = 0
	if b := backlog(t, st); b != want {
		t.Fatalf("after enabling: backlog %+v, want %+v", b, want)
	}
}

func testPoolsAreNamed(t *testing.T, st store.Store) {
	if err := st.Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
	pools := st.Pools()
	if len(pools) == 0 {
		t.Fatal("no pools")
	}
	open := 0
	for name, p := range pools {
		if name == "" || p.InUse > p.OpenConnections || p.Idle > p.OpenConnections {
			t.Errorf("pool %q: %+v", name, p)
		}
		open += p.OpenConnections
	}
	if open == 0 {
		t.Errorf("no connection open after a ping: %+v", pools)
	}
	// The same names from call to call: they are the metrics' labels.
	for name := range st.Pools() {
		if _, ok := pools[name]; !ok {
			t.Errorf("pool %q is new on the second call", name)
		}
	}
}
