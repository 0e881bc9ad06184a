package deliver_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/app"
	"github.com/chathook/chathook/chathooktest"
	"github.com/chathook/chathook/deliver"
	"github.com/chathook/chathook/store"
	"github.com/google/uuid"
)

// onEveryStore runs test on a fresh SQLite file and a PostgreSQL schema.
func onEveryStore(t *testing.T, test func(t *testing.T, st store.Store)) {
	for name, db := range map[string]func(t *testing.T) string{
		"sqlite":   func(t *testing.T) string { return "sqlite:" + filepath.Join(t.TempDir(), "chathook.db") },
		"postgres": func(t *testing.T) string { return chathooktest.Postgres(t) },
	} {
		t.Run(name, func(t *testing.T) { test(t, openStore(t, db(t))) })
	}
}

func openStore(t *testing.T, db string) store.Store {
	t.Helper()
	st, err := app.OpenStore(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// addWorkspace creates a workspace whose webhook posts to url.
func addWorkspace(t *testing.T, st store.Store, url string) string {
	t.Helper()
	ctx := context.Background()
	created, err := app.CreateWorkspace(ctx, st, "acme", "o@acme.example", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.UpdateWebhook(ctx, created.WorkspaceID, time.Now(), chathook.WebhookUpdate{URL: &url}); err != nil {
		t.Fatal(err)
	}
	return created.WorkspaceID
}

// ingestChats stores one message in each of chats chats of ws, straight
// into the store, as a source would.
func ingestChats(t *testing.T, st store.Store, ws string, chats int) {
	t.Helper()
	var in []chathook.Incoming
	for c := range chats {
		id := fmt.Sprintf("m%d", c)
		in = append(in, chathook.Incoming{Account: chathook.Account{Phone: "+15550000000"},
			Chat:      chathook.Chat{ExternalID: fmt.Sprintf("+1555200%04d", c)},
			MessageID: id, UUID: uuid.NewString(), Direction: chathook.Received, Timestamp: time.Now(), Text: id})
	}
	if _, err := st.Ingest(context.Background(), ws, time.Now(), in); err != nil {
		t.Fatal(err)
	}
}

// eventually polls cond until it holds; the deadline is only a safety net.
func eventually(t *testing.T, what string, deadline time.Duration, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(deadline); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("%s: not after %s", what, deadline)
		}
	}
}

// TestFailingReceiverIsDisabledAfterTen: a receiver that answers 500 from
// the start, with 200 chats waiting. The workspace backs off to one POST
// at a time from the first failure, so the webhook is disabled after
// exactly chathook.DisableAfter failures, each a POST. Before, a lane
// sent PerWorkspace (64) at once, and all of them counted.
func TestFailingReceiverIsDisabledAfterTen(t *testing.T) {
	onEveryStore(t, func(t *testing.T, st store.Store) {
		var posts atomic.Int64
		rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			posts.Add(1)
			w.WriteHeader(http.StatusInternalServerError)
		}))
		t.Cleanup(rcv.Close)
		ws := addWorkspace(t, st, rcv.URL)
		ingestChats(t, st, ws, 200)
		var schedule []time.Duration // the real one, a thousand times quicker
		for _, wait := range deliver.Schedule {
			schedule = append(schedule, wait/1000)
		}
		d := deliver.New(deliver.Config{Store: st, AllowPrivateTargets: true, Schedule: schedule})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		go func() { done <- d.Run(ctx) }()
		eventually(t, "the disable", 60*time.Second, func() bool {
			wh, err := st.Webhook(context.Background(), ws)
			return err == nil && !wh.Enabled
		})
		cancel()
		<-done // every POST made has ended and been recorded
		wh, err := st.Webhook(context.Background(), ws)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%d POSTs, %d consecutive failures", posts.Load(), wh.ConsecutiveFailures)
		if wh.ConsecutiveFailures != chathook.DisableAfter || posts.Load() != chathook.DisableAfter {
			t.Errorf("disabled after %d failures and %d POSTs, want %d of each", wh.ConsecutiveFailures, posts.Load(), chathook.DisableAfter)
		}
	})
}
