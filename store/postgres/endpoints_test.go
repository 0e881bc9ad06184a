package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/event"
	"github.com/chathook/chathook/store"
	"github.com/chathook/chathook/store/postgres"
	"github.com/chathook/chathook/store/postgres/pgtest"
	"github.com/chathook/chathook/store/storetest"
	"github.com/chathook/chathook/store/tables"
	"github.com/jackc/pgx/v5"
)

// addEndpoint creates an endpoint of ws with a URL, in the format and
// granularity given, subscribed to events.
func addEndpoint(t *testing.T, st *postgres.Store, ws, id string, f event.Format, g chathook.Granularity, events ...string) chathook.Webhook {
	t.Helper()
	wh, err := st.CreateWebhook(context.Background(), ws, chathook.Webhook{ID: id, URL: "https://" + id + ".example.com",
		Description: "the " + id, Events: events, Format: f, Granularity: g, Enabled: true, Secret: "whsec_" + id}, t0)
	if err != nil {
		t.Fatal(err)
	}
	return wh
}

func claimAll(t *testing.T, st *postgres.Store, at time.Time, skip ...int64) []chathook.Delivery {
	t.Helper()
	got, err := st.ClaimDue(context.Background(), "a", at, time.Minute, 100, skip...)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// byEndpoint lists, per endpoint id, its deliveries' kinds and types in
// claim order.
func byEndpoint(ds []chathook.Delivery) map[string][]string {
	out := map[string][]string{}
	for _, d := range ds {
		out[d.Webhook.ID] = append(out[d.Webhook.ID], strings.TrimSuffix(d.Kind+":"+d.Type, ":"))
	}
	return out
}

// A message goes to every endpoint it matches, each in a lane of its
// own: the outbound webhook gets it in the seed format, an envelope
// endpoint the chat's creation and then the message, one event id per
// event whatever the endpoint. An endpoint's lane does not wait for
// another's.
func TestEndpointsFanOutInLanes(t *testing.T) {
	st := open(t, pgtest.URL(t))
	ctx := context.Background()
	ws := newWorkspace(t, st)
	ep := addEndpoint(t, st, ws, "ep_00000000000000a1", event.Envelope, chathook.NoAggregation, event.ChatCreated, event.MessageNew)
	also := addEndpoint(t, st, ws, "ep_00000000000000a2", event.Envelope, chathook.NoAggregation, event.MessageNew)
	if ep.Key == 0 || ep.ID != "ep_00000000000000a1" || ep.Format != event.Envelope || len(ep.Events) != 2 {
		t.Fatalf("created %+v", ep)
	}
	if _, err := st.Ingest(ctx, ws, t0, []chathook.Incoming{storetest.Message(1, 1), storetest.Message(1, 2)}); err != nil {
		t.Fatal(err)
	}
	got := claimAll(t, st, t0)
	kinds := byEndpoint(got)
	want := map[string][]string{
		chathook.Outbound: {"message", "message"},
		ep.ID:             {"event:chat:created", "event:message:new", "event:message:new"},
		also.ID:           {"event:message:new", "event:message:new"},
	}
	for id, w := range want {
		if !slices.Equal(kinds[id], w) {
			t.Errorf("%s got %v, want %v", id, kinds[id], w)
		}
	}
	lanes := map[string]int64{}
	events := map[string][]string{} // message uuid -> event ids of message:new
	for _, d := range got {
		if l, ok := lanes[d.Webhook.ID]; ok && l != d.Lane {
			t.Errorf("%s's deliveries in lanes %d and %d", d.Webhook.ID, l, d.Lane)
		}
		lanes[d.Webhook.ID] = d.Lane
		if tables.LaneChat(d.Lane) != d.Chat.ID {
			t.Errorf("lane %d is not of chat %d", d.Lane, d.Chat.ID)
		}
		if d.Type == event.MessageNew {
			events[d.Message.UUID] = append(events[d.Message.UUID], d.EventID)
		}
	}
	if lanes[chathook.Outbound] == lanes[ep.ID] || lanes[ep.ID] == lanes[also.ID] {
		t.Errorf("shared lanes: %v", lanes)
	}
	for u, ids := range events {
		if len(ids) != 2 || ids[0] != ids[1] {
			t.Errorf("message %s: event ids %v, want one for both endpoints", u, ids)
		}
	}
	// ep's lane is in flight; another message in the chat waits behind
	// it, but not behind outbound's, which is done.
	for _, d := range got {
		if d.Webhook.ID == chathook.Outbound {
			if err := st.Finish(ctx, []store.Finished{{Outcome: chathook.Outcome{DeliveryID: d.ID, At: t0, Status: 200}}}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := st.Ingest(ctx, ws, t0, []chathook.Incoming{storetest.Message(1, 3)}); err != nil {
		t.Fatal(err)
	}
	if got := byEndpoint(claimAll(t, st, t0)); len(got) != 1 || len(got[chathook.Outbound]) != 1 {
		t.Errorf("with the endpoints' lanes in flight, claimed %v; want outbound's message only", got)
	}
	// What waits is counted per endpoint: ep has its 3 in flight and the
	// new message; outbound the new message, claimed.
	if n, err := st.Pending(ctx, ws, ep.ID); err != nil || n != 4 {
		t.Errorf("ep pending %d (%v), want 4", n, err)
	}
	if n, err := st.Pending(ctx, ws, chathook.Outbound); err != nil || n != 1 {
		t.Errorf("outbound pending %d (%v), want 1", n, err)
	}
}

// Deleting an endpoint discards what waits for it, logged with why, and
// drops its messages waiting for a bundle; outbound cannot be deleted.
func TestDeleteEndpoint(t *testing.T) {
	st := open(t, pgtest.URL(t))
	ctx := context.Background()
	ws := newWorkspace(t, st)
	ev := addEndpoint(t, st, ws, "ep_00000000000000b1", event.Envelope, chathook.NoAggregation, event.All)
	bundling := addEndpoint(t, st, ws, "ep_00000000000000b2", event.Seed, chathook.Hourly, event.MessageNew)
	if _, err := st.Ingest(ctx, ws, t0, []chathook.Incoming{storetest.Message(1, 1), storetest.Message(2, 1)}); err != nil {
		t.Fatal(err)
	}
	if chats, err := st.PendingChats(ctx, bundling.Key, t0.Add(time.Hour), 0, 10); err != nil || len(chats) != 2 {
		t.Fatalf("chats waiting for a bundle %v (%v), want 2", chats, err)
	}
	whs, err := st.BundleWebhooks(ctx)
	if err != nil || len(whs) != 1 || whs[0].Key != bundling.Key {
		t.Errorf("bundle webhooks %+v (%v), want %s only", whs, err, bundling.ID)
	}
	for _, id := range []string{ev.ID, bundling.ID} {
		if err := st.DeleteWebhook(ctx, ws, id, t0.Add(time.Minute)); err != nil {
			t.Fatalf("delete %s: %v", id, err)
		}
	}
	if _, err := st.Webhook(ctx, ws, ev.ID); !errors.Is(err, chathook.ErrNotFound) {
		t.Errorf("a deleted endpoint reads back: %v", err)
	}
	if gone, err := st.Endpoint(ctx, ev.Key); err != nil || gone.ID != ev.ID {
		t.Errorf("by key, a deleted endpoint is %+v (%v)", gone, err)
	}
	if err := st.DeleteWebhook(ctx, ws, ev.ID, t0); !errors.Is(err, chathook.ErrNotFound) {
		t.Errorf("deleting twice: %v", err)
	}
	var conflict *chathook.ConflictError
	if err := st.DeleteWebhook(ctx, ws, chathook.Outbound, t0); !errors.As(err, &conflict) {
		t.Errorf("deleting outbound: %v", err)
	}
	if got := byEndpoint(claimAll(t, st, t0.Add(time.Minute))); len(got) != 1 || len(got[chathook.Outbound]) != 2 {
		t.Errorf("after the deletes, claimed %v; want outbound's 2", got)
	}
	var discarded int
	if err := st.QueryRowForTest(ctx, `SELECT count(*) FROM attempts
		WHERE endpoint_id = $1 AND outcome = 'discarded' AND error = 'discarded: the endpoint was deleted'`, ev.Key).Scan(&discarded); err != nil ||
		discarded != 4 {
		t.Errorf("%d discards logged (%v), want 4 (2 chats created, 2 messages)", discarded, err)
	}
	if chats, err := st.PendingChats(ctx, bundling.Key, t0.Add(time.Hour), 0, 10); err != nil || len(chats) != 0 {
		t.Errorf("a deleted endpoint's chats still wait: %v (%v)", chats, err)
	}
	if b, m, err := st.FlushChats(ctx, bundling.Key, []int64{1}, t0.Add(time.Hour), t0.Add(time.Hour), store.Splitter{}); err != nil || b+m != 0 {
		t.Errorf("flushing a deleted endpoint: %d, %d, %v", b, m, err)
	}
	whs, err = st.Webhooks(ctx, ws)
	if err != nil || len(whs) != 1 || whs[0].ID != chathook.Outbound {
		t.Errorf("endpoints left %+v (%v)", whs, err)
	}
}

// A workspace has at most chathook.MaxEndpoints, also when they are
// created at once; a deleted endpoint's slot is free again.
func TestEndpointLimit(t *testing.T) {
	st := open(t, pgtest.URL(t))
	ctx := context.Background()
	ws := newWorkspace(t, st)
	var wg sync.WaitGroup
	errs := make(chan error, chathook.MaxEndpoints)
	for i := range chathook.MaxEndpoints {
		wg.Go(func() {
			_, err := st.CreateWebhook(ctx, ws, chathook.Webhook{ID: fmt.Sprintf("ep_%016x", i), URL: "https://x.example.com",
				Events: []string{event.MessageNew}, Format: event.Seed, Granularity: chathook.NoAggregation, Secret: "s"}, t0)
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	var created, limited int
	for err := range errs {
		switch {
		case err == nil:
			created++
		case errors.Is(err, chathook.ErrLimit):
			limited++
		default:
			t.Errorf("create: %v", err)
		}
	}
	if created != chathook.MaxEndpoints-1 || limited != 1 {
		t.Errorf("created %d, limited %d; want %d and 1", created, limited, chathook.MaxEndpoints-1)
	}
	var slots []int32
	if err := st.QueryRowForTest(ctx, `SELECT array_agg(slot ORDER BY slot) FROM endpoints WHERE workspace_id = $1`, ws).Scan(&slots); err != nil {
		t.Fatal(err)
	}
	if len(slots) != chathook.MaxEndpoints || slots[0] != 0 || slots[len(slots)-1] != chathook.MaxEndpoints-1 {
		t.Errorf("slots %v, want 0 to %d", slots, chathook.MaxEndpoints-1)
	}
	whs, _ := st.Webhooks(ctx, ws)
	victim := whs[5]
	if err := st.DeleteWebhook(ctx, ws, victim.ID, t0); err != nil {
		t.Fatal(err)
	}
	again, err := st.CreateWebhook(ctx, ws, chathook.Webhook{ID: "ep_00000000000000ff", URL: "https://y.example.com",
		Events: []string{event.MessageNew}, Format: event.Seed, Granularity: chathook.NoAggregation, Secret: "s"}, t0)
	if err != nil {
		t.Fatalf("create after a delete: %v", err)
	}
	var slot, victimSlot int
	st.QueryRowForTest(ctx, `SELECT slot FROM endpoints WHERE id = $1`, again.Key).Scan(&slot)
	st.QueryRowForTest(ctx, `SELECT slot FROM endpoints WHERE id = $1`, victim.Key).Scan(&victimSlot)
	if slot != victimSlot {
		t.Errorf("new endpoint in slot %d, want the deleted one's %d", slot, victimSlot)
	}
	if _, err := st.CreateWebhook(ctx, "no-such-workspace", chathook.Webhook{ID: "ep_00000000000000fe", Secret: "s"}, t0); !errors.Is(err, chathook.ErrNotFound) {
		t.Errorf("create in a missing workspace: %v", err)
	}
}

// Failures are counted per endpoint: the one that fails is disabled,
// with one email naming it, and the outbound webhook goes on.
func TestFailuresDisableOneEndpoint(t *testing.T) {
	st := open(t, pgtest.URL(t))
	ctx := context.Background()
	ws := newWorkspace(t, st)
	ep := addEndpoint(t, st, ws, "ep_00000000000000c1", event.Envelope, chathook.NoAggregation, event.MessageNew)
	if _, err := st.Ingest(ctx, ws, t0, []chathook.Incoming{storetest.Message(1, 1)}); err != nil {
		t.Fatal(err)
	}
	outbound, err := st.Webhook(ctx, ws, chathook.Outbound)
	if err != nil {
		t.Fatal(err)
	}
	at := t0
	for range chathook.DisableAfter {
		got := claimAll(t, st, at, outbound.Key)
		if len(got) != 1 || got[0].Webhook.Key != ep.Key {
			t.Fatalf("claimed %v", byEndpoint(got))
		}
		if err := st.Finish(ctx, []store.Finished{{Outcome: chathook.Outcome{DeliveryID: got[0].ID, URL: ep.URL, At: at, Status: 500, Err: "HTTP 500"},
			RetryAt: at}}); err != nil {
			t.Fatal(err)
		}
		at = at.Add(time.Second)
	}
	if off, _ := st.Webhook(ctx, ws, ep.ID); off.Enabled || off.ConsecutiveFailures != chathook.DisableAfter {
		t.Errorf("endpoint after %d failures: enabled %v, %d failures", chathook.DisableAfter, off.Enabled, off.ConsecutiveFailures)
	}
	if on, _ := st.Webhook(ctx, ws, chathook.Outbound); !on.Enabled || on.ConsecutiveFailures != 0 {
		t.Errorf("outbound: enabled %v, %d failures", on.Enabled, on.ConsecutiveFailures)
	}
	emails, err := st.DueEmails(ctx, at, 10)
	if err != nil || len(emails) != 1 || emails[0].Endpoint != ep.ID || emails[0].EndpointName != ep.Description {
		t.Errorf("emails %+v (%v), want one naming %s", emails, err, ep.ID)
	}
	var logged int
	st.QueryRowForTest(ctx, `SELECT count(*) FROM attempts WHERE endpoint_id = $1`, ep.Key).Scan(&logged)
	if logged != chathook.DisableAfter {
		t.Errorf("%d attempts logged for the endpoint, want %d", logged, chathook.DisableAfter)
	}
	if page, err := st.Attempts(ctx, ws, chathook.Outbound, time.Time{}, store.Position{}, 100); err != nil || len(page) != 0 {
		t.Errorf("outbound's log has %d rows (%v), want none", len(page), err)
	}
	if page, err := st.Attempts(ctx, ws, ep.ID, time.Time{}, store.Position{}, 100); err != nil || len(page) != chathook.DisableAfter {
		t.Errorf("the endpoint's log has %d rows (%v), want %d", len(page), err, chathook.DisableAfter)
	}
	if acts, err := st.Activity(ctx, ws, ep.ID, 10); err != nil || len(acts) != 1 {
		t.Errorf("the endpoint's activity %+v (%v)", acts, err)
	}
}

// A database at migration 0013 keeps its webhook, queue, bundles and
// log: the webhook becomes the outbound endpoint, its deliveries its
// lanes (the chats' ids), its waiting messages wait for it.
func TestMigrationToEndpoints(t *testing.T) {
	url := pgtest.URL(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	files, _ := filepath.Glob("migrations/*.sql")
	sort.Strings(files)
	if _, err := conn.Exec(ctx, `CREATE TABLE schema_migrations (version text PRIMARY KEY, applied_at bigint NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		version := strings.TrimSuffix(filepath.Base(f), ".sql")
		if version >= "0014" {
			break
		}
		body, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := conn.Exec(ctx, string(body), pgx.QueryExecModeSimpleProtocol); err != nil {
			t.Fatalf("%s: %v", version, err)
		}
		if _, err := conn.Exec(ctx, `INSERT INTO schema_migrations VALUES ($1, 0)`, version); err != nil {
			t.Fatal(err)
		}
	}
	at := t0.UnixMilli()
	if _, err := conn.Exec(ctx, `
		INSERT INTO workspaces (id, name, owner_email, token_hash, created_at) VALUES ('w1', 'acme', 'a@example.com', 'w1', $1);
		INSERT INTO webhooks (workspace_id, url, granularity, secret, updated_at, consecutive_failures)
			VALUES ('w1', 'https://old.example.com', '1h', 'whsec_old', $1, 3);
		INSERT INTO accounts (id, workspace_id, phone) VALUES (1, 'w1', '+15550000000');
		INSERT INTO chats (id, workspace_id, account_id, external_id, created_at) VALUES (10000001, 'w1', 1, '+15551000001', $1);
		INSERT INTO messages (id, workspace_id, account_id, chat_id, message_id, uuid, direction, sent_at, received_at,
				sender_name, sender_phone, recipient_name, recipient_phone, text, is_new_chat, pending, bundle_id)
			VALUES (1, 'w1', 1, 10000001, 'm1', 'u1', 'received', $1, $1, '', '', '', '', 'one', true, false, 7),
				(2, 'w1', 1, 10000001, 'm2', 'u2', 'received', $1, $1, '', '', '', '', 'two', false, true, NULL),
				(3, 'w1', 1, 10000001, 'm3', 'u3', 'received', $1, $1, '', '', '', '', 'three', false, false, NULL);
		INSERT INTO deliveries (id, workspace_id, chat_id, message_id, event_id, kind, state, due_at, created_at, messages)
			VALUES (7, 'w1', 10000001, NULL, 'bnd_u1', 'bundle', 'delivered', $1, $1, 1),
				(8, 'w1', 10000001, 3, 'msg_u3', 'message', 'pending', $1, $1, 1);
		INSERT INTO attempts (workspace_id, delivery_id, event_id, kind, chat_id, messages, attempt, at, url, outcome, status, duration_ms, error)
			VALUES ('w1', 7, 'bnd_u1', 'bundle', 10000001, 1, 1, $1, 'https://old.example.com', 'delivered', 200, 5, '');
		INSERT INTO emails (workspace_id, kind, reason, last_error, created_at, due_at)
			VALUES ('w1', 'webhook_disabled', 'r', 'e', $1, $1)`, pgx.QueryExecModeSimpleProtocol, at); err != nil {
		t.Fatal(err)
	}
	conn.Close(ctx)
	st := open(t, url)
	wh, err := st.Webhook(ctx, "w1", chathook.Outbound)
	if err != nil || wh.URL != "https://old.example.com" || wh.Granularity != chathook.Hourly || wh.Secret != "whsec_old" ||
		wh.ConsecutiveFailures != 3 || wh.Format != event.Seed || !slices.Equal(wh.Events, []string{event.MessageNew}) ||
		!wh.CreatedAt.Equal(t0) {
		t.Fatalf("outbound after the migration: %+v (%v)", wh, err)
	}
	if chats, err := st.PendingChats(ctx, wh.Key, t0.Add(time.Hour), 0, 10); err != nil || !slices.Equal(chats, []int64{10000001}) {
		t.Errorf("chats waiting %v (%v)", chats, err)
	}
	if msgs, err := st.BundleMessages(ctx, 7); err != nil || len(msgs) != 1 || msgs[0].UUID != "u1" {
		t.Errorf("bundle's messages %+v (%v)", msgs, err)
	}
	if page, err := st.Attempts(ctx, "w1", chathook.Outbound, time.Time{}, store.Position{}, 10); err != nil || len(page) != 1 {
		t.Errorf("log %+v (%v)", page, err)
	}
	got := claimAll(t, st, t0)
	if len(got) != 1 || got[0].ID != 8 || got[0].Lane != 10000001 || got[0].Webhook.Key != wh.Key {
		t.Errorf("claimed %+v", got)
	}
	if emails, err := st.DueEmails(ctx, t0, 10); err != nil || len(emails) != 1 || emails[0].Endpoint != "" {
		t.Errorf("emails %+v (%v)", emails, err)
	}
	// The next delivery id follows the old ones, and a flush bundles the
	// waiting message into a new bundle.
	b, m, err := st.FlushChats(ctx, wh.Key, []int64{10000001}, t0.Add(time.Hour), t0.Add(time.Hour),
		store.Splitter{Max: 100, Size: func(chathook.Message) int { return 1 }, Fits: func(int, int) bool { return true }})
	if err != nil || b != 1 || m != 1 {
		t.Errorf("flush: %d bundles, %d messages (%v)", b, m, err)
	}
}
