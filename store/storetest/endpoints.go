package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/event"
	"github.com/chathook/chathook/store"
	"github.com/google/uuid"
)

var endpoints = map[string]func(*testing.T, store.Store){
	"EndpointsCRUD":                  testEndpointsCRUD,
	"EndpointLimit":                  testEndpointLimit,
	"OneEventReachesEveryEndpoint":   testOneEventReachesEveryEndpoint,
	"SubscriptionsMatch":             testSubscriptionsMatch,
	"StalledEndpointHoldsBackItself": testStalledEndpointHoldsBackItself,
	"EndpointFailuresAreItsOwn":      testEndpointFailuresAreItsOwn,
	"DeletingDiscardsAndLogs":        testDeletingDiscardsAndLogs,
	"EndpointBundlesAreItsOwn":       testEndpointBundlesAreItsOwn,
	"EndpointGetsEventsFromItsBirth": testEndpointGetsEventsFromItsBirth,
	"EndpointAccountsFilter":         testEndpointAccountsFilter,
	"AccountEvents":                  testAccountEvents,
	"ReplyStatusEvents":              testReplyStatusEvents,
	"SwitchingToEventsUnbundles":     testSwitchingToEventsUnbundles,
	"DeletingDiscardsAccountEvents":  testDeletingDiscardsAccountEvents,
	"UpdateIsCheckedAsStored":        testUpdateIsCheckedAsStored,
}

// addEndpoint adds an enabled endpoint with url to ws.
func addEndpoint(t *testing.T, st store.Store, ws, url string, f event.Format, g chathook.Granularity, events ...string) chathook.Webhook {
	t.Helper()
	wh, err := st.CreateWebhook(context.Background(), ws, chathook.Webhook{
		ID: "ep_" + strings.ReplaceAll(uuid.NewString(), "-", "")[:16], URL: url, Events: events, Format: f, Granularity: g, Enabled: true,
		Secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
	}, t0)
	if err != nil {
		t.Fatalf("create endpoint: %v", err)
	}
	return wh
}

// byEndpoint groups claimed deliveries by endpoint id, each as
// "kind/type/message id" in claim order.
func byEndpoint(ds []chathook.Delivery) map[string][]string {
	out := map[string][]string{}
	for _, d := range ds {
		out[d.Webhook.ID] = append(out[d.Webhook.ID], d.Kind+"/"+d.Type+"/"+d.Message.MessageID)
	}
	return out
}

func testEndpointsCRUD(t *testing.T, st store.Store) {
	ctx := context.Background()
	ws := workspace(t, st, "acme", "https://hook.example.com/outbound")
	ep := addEndpoint(t, st, ws, "https://crm.example.com/in", event.Envelope, chathook.NoAggregation, event.MessageReceivedNew, event.ChatCreated)
	if ep.Key == 0 || ep.ID == "" || ep.Format != event.Envelope || !slices.Equal(ep.Events, []string{event.MessageReceivedNew, event.ChatCreated}) ||
		!ep.Enabled || ep.WorkspaceID != ws || !ep.CreatedAt.Equal(t0) {
		t.Fatalf("created %+v", ep)
	}
	all, err := st.Webhooks(ctx, ws)
	if err != nil || len(all) != 2 || all[0].ID != chathook.Outbound || all[1].ID != ep.ID {
		t.Fatalf("listed %+v, %v: want outbound then %s", all, err, ep.ID)
	}
	if all[0].Format != event.Seed || !slices.Equal(all[0].Events, []string{event.MessageNew}) {
		t.Errorf("outbound reads as %s %v, want seed [message:new]", all[0].Format, all[0].Events)
	}
	desc, events, accounts := "the CRM", []string{event.MessageNew}, []int64{42}
	got, err := st.UpdateWebhook(ctx, ws, ep.ID, t0, chathook.WebhookUpdate{Description: &desc, Events: &events, Accounts: &accounts})
	if err != nil || got.Description != desc || !slices.Equal(got.Events, events) || !slices.Equal(got.Accounts, accounts) || got.URL != ep.URL {
		t.Fatalf("updated %+v, %v", got, err)
	}
	if byKey, err := st.Endpoint(ctx, ep.Key); err != nil || byKey.ID != ep.ID {
		t.Errorf("by key: %+v, %v", byKey, err)
	}
	other := workspace(t, st, "other", "")
	if _, err := st.Webhook(ctx, other, ep.ID); !errors.Is(err, chathook.ErrNotFound) {
		t.Errorf("another workspace reads it: %v", err)
	}
	if err := st.DeleteWebhook(ctx, other, ep.ID, t0); !errors.Is(err, chathook.ErrNotFound) {
		t.Errorf("another workspace deletes it: %v", err)
	}
	var conflict *chathook.ConflictError
	if err := st.DeleteWebhook(ctx, ws, chathook.Outbound, t0); !errors.As(err, &conflict) {
		t.Errorf("deleting outbound: %v, want a conflict", err)
	}
	if err := st.DeleteWebhook(ctx, ws, ep.ID, t0); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Webhook(ctx, ws, ep.ID); !errors.Is(err, chathook.ErrNotFound) {
		t.Errorf("deleted, read: %v", err)
	}
	if all, _ := st.Webhooks(ctx, ws); len(all) != 1 {
		t.Errorf("after delete %d endpoints, want 1", len(all))
	}
}

func testEndpointLimit(t *testing.T, st store.Store) {
	ws := workspace(t, st, "acme", "")
	var last chathook.Webhook
	for range chathook.MaxEndpoints - 1 {
		last = addEndpoint(t, st, ws, "https://crm.example.com/in", event.Envelope, chathook.NoAggregation, event.All)
	}
	_, err := st.CreateWebhook(context.Background(), ws, chathook.Webhook{ID: "ep_over", URL: "https://x.example.com", Events: []string{event.All},
		Format: event.Envelope, Granularity: chathook.NoAggregation, Secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}, t0)
	if !errors.Is(err, chathook.ErrLimit) {
		t.Fatalf("endpoint %d: %v, want ErrLimit", chathook.MaxEndpoints+1, err)
	}
	// A deleted endpoint gives its place back.
	if err := st.DeleteWebhook(context.Background(), ws, last.ID, t0); err != nil {
		t.Fatal(err)
	}
	addEndpoint(t, st, ws, "https://crm.example.com/again", event.Envelope, chathook.NoAggregation, event.All)
}

// testOneEventReachesEveryEndpoint: one message, three endpoints: one
// delivery each, in its own lane; the event endpoints share one event id.
func testOneEventReachesEveryEndpoint(t *testing.T, st store.Store) {
	ws := workspace(t, st, "acme", "https://hook.example.com/outbound")
	a := addEndpoint(t, st, ws, "https://a.example.com", event.Envelope, chathook.NoAggregation, event.MessageNew)
	b := addEndpoint(t, st, ws, "https://b.example.com", event.Envelope, chathook.NoAggregation, event.All)
	ingest(t, st, ws, msg(1, 1))
	got := claim(t, st, "x", t0, 100)
	m := byEndpoint(got)
	want := map[string][]string{
		chathook.Outbound: {"message//c1-m1"},
		a.ID:              {"event/message:new/c1-m1"},
		b.ID:              {"event/chat:created/c1-m1", "event/message:new/c1-m1"},
	}
	for id, w := range want {
		if !slices.Equal(m[id], w) {
			t.Errorf("endpoint %s got %v, want %v", id, m[id], w)
		}
	}
	events := map[string]string{}
	lanes := map[int64]bool{}
	for _, d := range got {
		if d.Kind == chathook.KindEvent {
			if prev, ok := events[d.Type]; ok && prev != d.EventID {
				t.Errorf("%s has event ids %s and %s: want one for every endpoint", d.Type, prev, d.EventID)
			}
			events[d.Type] = d.EventID
			if len(d.EventID) != 30 || d.EventID[:4] != "evt_" {
				t.Errorf("event id %q", d.EventID)
			}
			if !d.CreatedAt.Equal(t0) || d.Webhook.Format != event.Envelope {
				t.Errorf("event delivery %+v", d)
			}
		} else if d.EventID != "msg_"+stripDashes(d.Message.UUID) {
			t.Errorf("outbound's webhook-id %q", d.EventID)
		}
		lanes[d.Lane] = true
	}
	if len(lanes) != 3 {
		t.Errorf("%d lanes, want one per endpoint", len(lanes))
	}
}

func stripDashes(s string) string {
	out := make([]byte, 0, len(s))
	for i := range len(s) {
		if s[i] != '-' {
			out = append(out, s[i])
		}
	}
	return string(out)
}

// testSubscriptionsMatch: direction, the accounts filter, disabled and
// URL-less endpoints, history and skipped messages.
func testSubscriptionsMatch(t *testing.T, st store.Store) {
	ctx := context.Background()
	ws := workspace(t, st, "acme", "")
	received := addEndpoint(t, st, ws, "https://r.example.com", event.Envelope, chathook.NoAggregation, event.MessageReceivedNew, event.ChatSentNew)
	sent := addEndpoint(t, st, ws, "https://s.example.com", event.Seed, chathook.NoAggregation, event.MessageSentNew)
	off := addEndpoint(t, st, ws, "https://off.example.com", event.Envelope, chathook.NoAggregation, event.All)
	no := false
	if _, err := st.UpdateWebhook(ctx, ws, off.ID, t0, chathook.WebhookUpdate{Enabled: &no}); err != nil {
		t.Fatal(err)
	}
	in, out := msg(1, 1), msg(2, 1)
	out.Direction = chathook.Sent
	hist := msg(3, 1)
	hist.History = true
	skipped := msg(4, 1)
	skipped.SkipReason = "attachments are not supported"
	other := msg(5, 1)
	other.Account.Phone = "+15550000009"
	ingest(t, st, ws, in, out, hist, skipped, other)
	m := byEndpoint(claim(t, st, "x", t0, 100))
	// A skipped message (attachments) goes to event endpoints only.
	if want := []string{"event/message:received:new/c1-m1", "event/chat:sent:created/c2-m1", "event/message:received:new/c4-m1",
		"event/message:received:new/c5-m1"}; !slices.Equal(m[received.ID], want) {
		t.Errorf("received endpoint got %v, want %v", m[received.ID], want)
	}
	if want := []string{"message//c2-m1"}; !slices.Equal(m[sent.ID], want) {
		t.Errorf("sent endpoint got %v, want %v", m[sent.ID], want)
	}
	if len(m[off.ID]) != 0 || len(m[chathook.Outbound]) != 0 {
		t.Errorf("disabled or URL-less endpoints claimed %v %v", m[off.ID], m[chathook.Outbound])
	}
	if n, err := st.Pending(ctx, ws, off.ID); err != nil || n != 8 {
		// chat created and message of c1, c2, c4 and c5: the disabled
		// endpoint's wait.
		t.Errorf("disabled endpoint has %d waiting (%v)", n, err)
	}
}

// testStalledEndpointHoldsBackItself: a delivery in flight or waiting for
// a retry holds back its own lane only, not the same chat's lane of
// another endpoint.
func testStalledEndpointHoldsBackItself(t *testing.T, st store.Store) {
	ws := workspace(t, st, "acme", "https://stalled.example.com")
	ep := addEndpoint(t, st, ws, "https://fine.example.com", event.Seed, chathook.NoAggregation, event.MessageNew)
	ingest(t, st, ws, msg(1, 1))
	first := claim(t, st, "x", t0, 100)
	var stalled chathook.Delivery
	for _, d := range first {
		if d.Webhook.ID == chathook.Outbound {
			stalled = d
		} else {
			finish(t, st, d, 200, time.Time{})
		}
	}
	finish(t, st, stalled, 500, t0.Add(time.Hour))
	ingest(t, st, ws, msg(1, 2), msg(1, 3))
	m := byEndpoint(claim(t, st, "y", t0, 100))
	if want := []string{"message//c1-m2", "message//c1-m3"}; !slices.Equal(m[ep.ID], want) || len(m[chathook.Outbound]) != 0 {
		t.Fatalf("claimed %v: want %s's %v and nothing of outbound, whose retry waits", m, ep.ID, want)
	}
	// The claim skips an endpoint it is told to.
	ingest(t, st, ws, msg(2, 1))
	got, err := st.ClaimDue(context.Background(), "z", t0, lease, 100, ep.Key)
	if err != nil || len(got) != 1 || got[0].Webhook.ID != chathook.Outbound {
		t.Errorf("skipping %s claimed %v (%v)", ep.ID, byEndpoint(got), err)
	}
}

func testEndpointFailuresAreItsOwn(t *testing.T, st store.Store) {
	ctx := context.Background()
	ws := workspace(t, st, "acme", "https://hook.example.com")
	ep := addEndpoint(t, st, ws, "https://down.example.com", event.Envelope, chathook.NoAggregation, event.MessageNew)
	desc := "Ops channel"
	if _, err := st.UpdateWebhook(ctx, ws, ep.ID, t0, chathook.WebhookUpdate{Description: &desc}); err != nil {
		t.Fatal(err)
	}
	for i := range chathook.DisableAfter {
		ingest(t, st, ws, msg(i, 1))
	}
	for _, d := range claim(t, st, "x", t0, 100) {
		if d.Webhook.ID == ep.ID {
			finish(t, st, d, 503, t0.Add(time.Hour))
		} else {
			finish(t, st, d, 200, time.Time{})
		}
	}
	out, err := st.Webhook(ctx, ws, chathook.Outbound)
	if err != nil || !out.Enabled || out.ConsecutiveFailures != 0 {
		t.Errorf("outbound after the other's failures: %+v %v", out, err)
	}
	down, err := st.Webhook(ctx, ws, ep.ID)
	if err != nil || down.Enabled || down.ConsecutiveFailures != chathook.DisableAfter || down.DisabledReason == "" {
		t.Errorf("failing endpoint: %+v %v", down, err)
	}
	e := mustOneEmail(t, st, t0.Add(time.Minute))
	if e.Kind != "webhook_disabled" || e.Endpoint != ep.ID || e.EndpointName != desc {
		t.Errorf("email %+v: want one naming %s (%s)", e, ep.ID, desc)
	}
	// Its log and activity are its own.
	act, err := st.Activity(ctx, ws, ep.ID, 100)
	if err != nil || len(act) != chathook.DisableAfter {
		t.Errorf("endpoint activity: %d entries (%v)", len(act), err)
	}
	outAct, err := st.Activity(ctx, ws, chathook.Outbound, 100)
	if err != nil || len(outAct) != chathook.DisableAfter || outAct[0].State != chathook.StateDelivered {
		t.Errorf("outbound activity: %+v (%v)", outAct, err)
	}
	var logged int
	err = store.EachAttempt(ctx, st, ws, ep.ID, time.Time{}, func(a chathook.Attempt) error {
		if a.Status != 503 {
			t.Errorf("endpoint log row %+v: want its 503s only", a)
		}
		logged++
		return nil
	})
	if err != nil || logged != chathook.DisableAfter {
		t.Errorf("endpoint log: %d rows (%v)", logged, err)
	}
	// Recovery is per endpoint too: outbound has nothing to recover.
	if n, err := st.Recover(ctx, ws, chathook.Outbound, t0.Add(-time.Hour), t0.Add(time.Hour), t0); err != nil || n != 0 {
		t.Errorf("outbound recovered %d (%v)", n, err)
	}
	if _, err := st.RotateSecret(ctx, ws, ep.ID, "whsec_cm90YXRlZHJvdGF0ZWRyb3RhdGVkcm90YXRlZA==", t0, t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if again, _ := st.Webhook(ctx, ws, chathook.Outbound); again.Secret != out.Secret {
		t.Errorf("rotating %s changed outbound's secret", ep.ID)
	}
}

func testDeletingDiscardsAndLogs(t *testing.T, st store.Store) {
	ctx := context.Background()
	ws := workspace(t, st, "acme", "https://hook.example.com")
	ep := addEndpoint(t, st, ws, "https://gone.example.com", event.Envelope, chathook.NoAggregation, event.MessageNew)
	ingest(t, st, ws, msg(1, 1), msg(1, 2))
	if n, _ := st.Pending(ctx, ws, ep.ID); n != 2 {
		t.Fatalf("%d pending, want 2", n)
	}
	if err := st.DeleteWebhook(ctx, ws, ep.ID, t0); err != nil {
		t.Fatal(err)
	}
	m := byEndpoint(claim(t, st, "x", t0, 100))
	if len(m[ep.ID]) != 0 || len(m[chathook.Outbound]) != 2 {
		t.Errorf("after deleting %s claimed %v", ep.ID, m)
	}
	// A new endpoint takes the slot, and nothing of the old one.
	again := addEndpoint(t, st, ws, "https://new.example.com", event.Envelope, chathook.NoAggregation, event.MessageNew)
	ingest(t, st, ws, msg(1, 3))
	m = byEndpoint(claim(t, st, "y", t0, 100))
	if want := []string{"event/message:new/c1-m3"}; !slices.Equal(m[again.ID], want) {
		t.Errorf("the new endpoint claimed %v, want %v", m[again.ID], want)
	}
}

func testEndpointBundlesAreItsOwn(t *testing.T, st store.Store) {
	ctx := context.Background()
	ws := workspace(t, st, "acme", "https://hook.example.com")
	ep := addEndpoint(t, st, ws, "https://zapier.example.com", event.Seed, chathook.Hourly, event.MessageReceivedNew)
	out := msg(1, 2)
	out.Direction = chathook.Sent
	ingest(t, st, ws, msg(1, 1), out)
	first := claim(t, st, "x", t0, 100)
	if m := byEndpoint(first); len(m[chathook.Outbound]) != 2 || len(m[ep.ID]) != 0 {
		t.Fatalf("claimed %v: want outbound's two at once and no bundle yet", m)
	}
	for _, d := range first {
		finish(t, st, d, 200, time.Time{})
	}
	before := t0.Add(time.Hour)
	chats, err := st.PendingChats(ctx, ep.Key, before, 0, 10)
	if err != nil || len(chats) != 1 {
		t.Fatalf("pending chats %v %v", chats, err)
	}
	if none, _ := st.PendingChats(ctx, outboundKey(t, st, ws), before, 0, 10); len(none) != 0 {
		t.Errorf("outbound (no granularity) has chats waiting: %v", none)
	}
	b, n, err := st.FlushChats(ctx, ep.Key, chats, before, before, store.Splitter{Size: func(chathook.Message) int { return 1 },
		Fits: func(int, int) bool { return true }, Max: 100})
	if err != nil || b != 1 || n != 1 {
		t.Fatalf("flushed %d bundles of %d messages (%v): want the received one", b, n, err)
	}
	got := claim(t, st, "y", before, 100)
	if len(got) != 1 || got[0].Kind != chathook.KindBundle || got[0].Webhook.ID != ep.ID {
		t.Fatalf("claimed %v", byEndpoint(got))
	}
	msgs, err := st.BundleMessages(ctx, got[0].ID)
	if err != nil || len(msgs) != 1 || msgs[0].MessageID != "c1-m1" {
		t.Errorf("bundle holds %+v (%v)", msgs, err)
	}
}

func testEndpointGetsEventsFromItsBirth(t *testing.T, st store.Store) {
	ws := workspace(t, st, "acme", "")
	ingest(t, st, ws, msg(1, 1))
	ep := addEndpoint(t, st, ws, "https://late.example.com", event.Envelope, chathook.NoAggregation, event.All)
	ingest(t, st, ws, msg(1, 2))
	m := byEndpoint(claim(t, st, "x", t0, 100))
	if want := []string{"event/message:new/c1-m2"}; !slices.Equal(m[ep.ID], want) {
		t.Errorf("claimed %v, want only what came after it: %v", m[ep.ID], want)
	}
}

func testEndpointAccountsFilter(t *testing.T, st store.Store) {
	ctx := context.Background()
	ws := workspace(t, st, "acme", "https://hook.example.com")
	other := msg(1, 1)
	other.Account.Phone = "+15550000009"
	ingest(t, st, ws, other)
	first := claim(t, st, "x", t0, 100)
	if len(first) != 1 {
		t.Fatalf("claimed %d", len(first))
	}
	finish(t, st, first[0], 200, time.Time{})
	ep := addEndpoint(t, st, ws, "https://one.example.com", event.Envelope, chathook.NoAggregation, event.MessageNew)
	only := []int64{first[0].Account.ID}
	if _, err := st.UpdateWebhook(ctx, ws, ep.ID, t0, chathook.WebhookUpdate{Accounts: &only}); err != nil {
		t.Fatal(err)
	}
	again := msg(1, 2)
	again.Account.Phone = other.Account.Phone
	ingest(t, st, ws, msg(2, 1), again)
	m := byEndpoint(claim(t, st, "y", t0, 100))
	if want := []string{"event/message:new/c1-m2"}; !slices.Equal(m[ep.ID], want) || len(m[chathook.Outbound]) != 2 {
		t.Errorf("claimed %v: want %s to get %v of its account only, outbound both", m, ep.ID, want)
	}
}

// testAccountEvents: connected once, disconnected at once for a state a
// person must act on, and after tables.Unreachable for a reconnect that
// does not come back; each in the account's own lane, with its data
// fixed when it happened.
func testAccountEvents(t *testing.T, st store.Store) {
	ctx := context.Background()
	ws := workspace(t, st, "acme", "https://hook.example.com")
	ops := addEndpoint(t, st, ws, "https://ops.example.com", event.Envelope, chathook.NoAggregation, event.AccountConnected, event.AccountLost)
	a, err := st.LinkAccount(ctx, ws, chathook.Account{Phone: "+15550000000", FullName: "Agent", JID: "15550000000:1@s.whatsapp.net", CreatedAt: t0}, "i1", t0.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	type seen struct{ typ, state, reason string }
	took := func(at time.Time) []seen {
		t.Helper()
		var out []seen
		for _, d := range claim(t, st, "x", at, 100) {
			if d.Webhook.ID != ops.ID || d.Kind != chathook.KindEvent || d.Lane != d.Lane|1<<43 {
				t.Errorf("claimed %+v", d)
				continue
			}
			var data struct {
				WhatsAppAccount struct{ ID, Kind, State, Reason, Phone string } `json:"whatsapp_account"`
			}
			if err := json.Unmarshal(d.Data, &data); err != nil || data.WhatsAppAccount.Phone != a.Phone || data.WhatsAppAccount.Kind != "web" {
				t.Errorf("data %s (%v)", d.Data, err)
			}
			out = append(out, seen{d.Type, data.WhatsAppAccount.State, data.WhatsAppAccount.Reason})
			finish(t, st, d, 200, time.Time{})
		}
		return out
	}
	if got := took(t0); !slices.Equal(got, []seen{{event.AccountConnected, "connected", ""}}) {
		t.Errorf("after linking: %v", got)
	}
	// A reconnect within minutes tells nothing.
	for _, s := range []chathook.AccountState{chathook.AccountConnecting, chathook.AccountConnected} {
		if _, err := st.SetAccountState(ctx, a.ID, s, t0.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := st.AnnounceUnreachable(ctx, t0.Add(time.Hour)); err != nil || n != 0 {
		t.Errorf("announced %d (%v) of a connected account", n, err)
	}
	if got := took(t0.Add(time.Hour)); len(got) != 0 {
		t.Errorf("after a quick reconnect: %v", got)
	}
	// Unreachable: told after 5 minutes, once.
	at := t0.Add(2 * time.Hour)
	if _, err := st.SetAccountState(ctx, a.ID, chathook.AccountConnecting, at); err != nil {
		t.Fatal(err)
	}
	if n, _ := st.AnnounceUnreachable(ctx, at.Add(4*time.Minute)); n != 0 {
		t.Errorf("announced after 4 minutes")
	}
	for range 2 {
		if _, err := st.AnnounceUnreachable(ctx, at.Add(5*time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	if got := took(at.Add(5 * time.Minute)); !slices.Equal(got, []seen{{event.AccountLost, "connecting", "unreachable for 5 minutes"}}) {
		t.Errorf("after 5 minutes unreachable: %v", got)
	}
	// Back, then logged out on the phone: told at once.
	for _, s := range []chathook.AccountState{chathook.AccountConnected, chathook.AccountLoggedOut} {
		if _, err := st.SetAccountState(ctx, a.ID, s, at.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	want := []seen{{event.AccountConnected, "connected", ""}, {event.AccountLost, "logged_out", "the linked device was removed on the phone"}}
	if got := took(at.Add(time.Hour)); !slices.Equal(got, want) {
		t.Errorf("back, then logged out: %v, want %v", got, want)
	}
}

// testReplyStatusEvents: a reply sent from chathook makes message:status
// "sent" after its message:sent:new, in its chat's lane; one given up
// makes "failed" with the reason.
func testReplyStatusEvents(t *testing.T, st store.Store) {
	ctx := context.Background()
	ws := workspace(t, st, "acme", "")
	ep := addEndpoint(t, st, ws, "https://crm.example.com", event.Envelope, chathook.NoAggregation, event.MessageSentNew, event.MessageStatus)
	acc := link(t, st, ws, 1, "a", t0.Add(time.Hour))
	chat := chatOf(t, st, ws, acc.Phone, 1, 1)
	if got := claim(t, st, "d", t0, 10); len(got) != 0 {
		t.Fatalf("a received message reached an endpoint of sent ones: %v", byEndpoint(got))
	}
	r := queueReply(t, st, ws, chat, "3EB0AAAA", "on its way", t0)
	claimReplies(t, st, "a", t0, acc.ID)
	if !sent(t, st, "a", r.ID, "3EB0AAAA", t0.Add(time.Second)) {
		t.Error("ReplySent says nothing was queued")
	}
	got := claim(t, st, "d", t0.Add(time.Second), 10)
	if m := byEndpoint(got); !slices.Equal(m[ep.ID], []string{"event/message:sent:new/3EB0AAAA", "event/message:status/"}) {
		t.Fatalf("claimed %v", m)
	}
	if got[0].Lane != got[1].Lane || got[1].Chat.ID != chat {
		t.Errorf("the status is not in its chat's lane: %+v", got[1])
	}
	var data struct {
		MessageID   string `json:"message_id"`
		MessageUUID string `json:"message_uuid"`
		Status      string `json:"status"`
		Error       string `json:"error"`
		At          string `json:"at"`
	}
	if err := json.Unmarshal(got[1].Data, &data); err != nil || data.MessageID != "3EB0AAAA" || data.MessageUUID != r.ID || data.Status != "sent" ||
		data.At != "2026-03-01T12:00:01Z" {
		t.Errorf("status data %s (%v)", got[1].Data, err)
	}
	for _, d := range got {
		finish(t, st, d, 200, time.Time{})
	}
	failed := queueReply(t, st, ws, chat, "3EB0BBBB", "never", t0.Add(time.Minute))
	claimReplies(t, st, "a", t0.Add(time.Minute), acc.ID)
	if err := st.ReplyFailed(ctx, "a", failed.ID, "not on WhatsApp", time.Time{}, t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	got = claim(t, st, "d", t0.Add(time.Minute), 10)
	if len(got) != 1 || got[0].Type != event.MessageStatus {
		t.Fatalf("after a failure claimed %v", byEndpoint(got))
	}
	if err := json.Unmarshal(got[0].Data, &data); err != nil || data.Status != "failed" || data.Error != "not on WhatsApp" || data.MessageID != "3EB0BBBB" {
		t.Errorf("failed status data %s (%v)", got[0].Data, err)
	}
}

// testSwitchingToEventsUnbundles: a bundling seed endpoint switched to the
// event format sends what waited for its bundle as events, at once.
func testSwitchingToEventsUnbundles(t *testing.T, st store.Store) {
	ctx := context.Background()
	ws := workspace(t, st, "acme", "")
	ep := addEndpoint(t, st, ws, "https://zap.example.com", event.Seed, chathook.Daily, event.MessageReceivedNew)
	out := msg(1, 2)
	out.Direction = chathook.Sent
	ingest(t, st, ws, msg(1, 1), out, msg(2, 1))
	if got := claim(t, st, "x", t0, 10); len(got) != 0 {
		t.Fatalf("claimed %v before the window ended", byEndpoint(got))
	}
	f, none := event.Envelope, chathook.NoAggregation
	if _, err := st.UpdateWebhook(ctx, ws, ep.ID, t0, chathook.WebhookUpdate{Format: &f, Granularity: &none}); err != nil {
		t.Fatal(err)
	}
	m := byEndpoint(claim(t, st, "x", t0, 10))
	if want := []string{"event/message:received:new/c1-m1", "event/message:received:new/c2-m1"}; !slices.Equal(m[ep.ID], want) {
		t.Errorf("after the switch claimed %v, want %v", m[ep.ID], want)
	}
	if chats, _ := st.PendingChats(ctx, ep.Key, t0.Add(48*time.Hour), 0, 10); len(chats) != 0 {
		t.Errorf("still waiting for a bundle: %v", chats)
	}
}

// testDeletingDiscardsAccountEvents: an endpoint deleted with account
// events waiting discards them too, and the endpoint that takes its slot
// gets the account's events, with nothing of the old one in the way.
func testDeletingDiscardsAccountEvents(t *testing.T, st store.Store) {
	ctx := context.Background()
	ws := workspace(t, st, "acme", "")
	old := addEndpoint(t, st, ws, "https://old.example.com", event.Envelope, chathook.NoAggregation, event.AccountConnected)
	no := false
	if _, err := st.UpdateWebhook(ctx, ws, old.ID, t0, chathook.WebhookUpdate{Enabled: &no}); err != nil {
		t.Fatal(err)
	}
	a, err := st.LinkAccount(ctx, ws, chathook.Account{Phone: "+15550000000", JID: "15550000000:1@s.whatsapp.net", CreatedAt: t0}, "i1", t0)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := st.Pending(ctx, ws, old.ID); err != nil || n != 1 {
		t.Fatalf("the disabled endpoint has %d waiting (%v), want its account event", n, err)
	}
	if err := st.DeleteWebhook(ctx, ws, old.ID, t0); err != nil {
		t.Fatal(err)
	}
	next := addEndpoint(t, st, ws, "https://new.example.com", event.Envelope, chathook.NoAggregation, event.AccountConnected, event.AccountLost)
	for _, s := range []chathook.AccountState{chathook.AccountLoggedOut, chathook.AccountConnected} {
		if _, err := st.SetAccountState(ctx, a.ID, s, t0.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	got := claim(t, st, "x", t0.Add(time.Minute), 10)
	if len(got) != 2 || got[0].Webhook.ID != next.ID || got[0].Type != event.AccountLost || got[1].Type != event.AccountConnected {
		t.Errorf("claimed %v: want the new endpoint's two account events", byEndpoint(got))
	}
	for _, d := range got[:min(1, len(got))] {
		finish(t, st, d, 500, time.Time{})
	}
	act, err := st.Activity(ctx, ws, next.ID, 10)
	if err != nil || len(act) != 1 || act[0].ChatName != a.Phone || act[0].Kind != chathook.KindEvent {
		t.Errorf("activity %+v (%v): want the account event, named by its account", act, err)
	}
}

// testUpdateIsCheckedAsStored: a change is checked against the endpoint
// as the store finds it, so two changes each fine alone never make a
// bundling event endpoint or a seed endpoint of chat events; and events
// are kept normalised for the format.
func testUpdateIsCheckedAsStored(t *testing.T, st store.Store) {
	ctx := context.Background()
	ws := workspace(t, st, "acme", "")
	ep := addEndpoint(t, st, ws, "https://zap.example.com", event.Seed, chathook.Hourly, event.MessageNew)
	f := event.Envelope
	var invalid *chathook.InvalidError
	// The field at fault is the one the change sets (chathook.Webhook.Apply).
	if _, err := st.UpdateWebhook(ctx, ws, ep.ID, t0, chathook.WebhookUpdate{Format: &f}); !errors.As(err, &invalid) || invalid.Field != "format" {
		t.Errorf("event format on a bundling endpoint: %v", err)
	}
	chats := []string{event.ChatCreated}
	if _, err := st.UpdateWebhook(ctx, ws, ep.ID, t0, chathook.WebhookUpdate{Events: &chats}); !errors.As(err, &invalid) || invalid.Field != "events" {
		t.Errorf("chat events on a seed endpoint: %v", err)
	}
	if _, err := st.UpdateWebhook(ctx, ws, chathook.Outbound, t0, chathook.WebhookUpdate{Format: &f}); !errors.As(err, &invalid) || invalid.Field != "format" {
		t.Errorf("outbound in the event format: %v", err)
	}
	all := []string{event.All}
	got, err := st.UpdateWebhook(ctx, ws, ep.ID, t0, chathook.WebhookUpdate{Events: &all})
	if err != nil || !slices.Equal(got.Events, []string{event.MessageNew}) {
		t.Errorf("a seed endpoint of every type reads %v (%v), want [message:new]", got.Events, err)
	}
	if again, _ := st.Webhook(ctx, ws, ep.ID); again.Format != event.Seed || again.Granularity != chathook.Hourly {
		t.Errorf("refused changes were saved: %+v", again)
	}
}
