package storetest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/store"
)

// bundles are the tests of gathering messages into windows.
var bundles = map[string]func(*testing.T, store.Store){
	"GatheredMessagesAreNotDeliveredOneByOne": testGatheredNotSingle,
	"WindowBoundaries":                        testWindowBoundaries,
	"BundleCarriesWindowAndNewChat":           testBundleCarriesWindowAndNewChat,
	"BundleIsSplitIntoParts":                  testBundleIsSplit,
	"FlushIsOnceOnly":                         testFlushIsOnceOnly,
	"FlushIsAllOrNothing":                     testFlushIsAllOrNothing,
	"ConcurrentFlushesBundleEachMessageOnce":  testConcurrentFlushes,
	"SwitchToNoneQueuesWhatWaits":             testSwitchToNone,
	"DisabledWebhookKeepsGathering":           testDisabledKeepsGathering,
	"BundlesKeepChatOrderWithSingles":         testBundlesKeepChatOrder,
}

// roomy cuts nothing smaller than 500 messages of any size.
var roomy = store.Splitter{Size: func(chathook.Message) int { return 1 }, Fits: func(n, _ int) bool { return n <= 500 }, Max: 500}

func gathering(t *testing.T, st store.Store, name string, g chathook.Granularity) string {
	t.Helper()
	ws := workspace(t, st, name, "https://hook.example.com")
	if _, err := st.UpdateWebhook(context.Background(), ws, chathook.Outbound, t0, chathook.WebhookUpdate{Granularity: &g}); err != nil {
		t.Fatal(err)
	}
	return ws
}

// ingestAt ingests msgs as received at at.
func ingestAt(t *testing.T, st store.Store, ws string, at time.Time, msgs ...chathook.Incoming) {
	t.Helper()
	if _, err := st.Ingest(context.Background(), ws, at, msgs); err != nil {
		t.Fatalf("ingest: %v", err)
	}
}

// outboundKey is the Key of ws's outbound webhook.
func outboundKey(t *testing.T, st store.Store, ws string) int64 {
	t.Helper()
	wh, err := st.Webhook(context.Background(), ws, chathook.Outbound)
	if err != nil {
		t.Fatal(err)
	}
	return wh.Key
}

func pendingChats(t *testing.T, st store.Store, ws string, before time.Time) []int64 {
	t.Helper()
	var all []int64
	after := int64(0)
	for {
		page, err := st.PendingChats(context.Background(), outboundKey(t, st, ws), before, after, 2)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			return all
		}
		all, after = append(all, page...), page[len(page)-1]
	}
}

// flush bundles everything of ws received before before, and returns the
// bundles and messages queued.
func flush(t *testing.T, st store.Store, ws string, before time.Time, split store.Splitter) (int, int) {
	t.Helper()
	b, m, err := st.FlushChats(context.Background(), outboundKey(t, st, ws), pendingChats(t, st, ws, before), before, before, split)
	if err != nil {
		t.Fatalf("flush: %v", err)
	}
	return b, m
}

// bundleIDs names a bundle by its messages' ids.
func bundleIDs(t *testing.T, st store.Store, d chathook.Delivery) []string {
	t.Helper()
	if d.Kind != chathook.KindBundle {
		return []string{d.Message.MessageID}
	}
	msgs, err := st.BundleMessages(context.Background(), d.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != d.Bundle.Count {
		t.Errorf("bundle %d says %d messages, holds %d", d.ID, d.Bundle.Count, len(msgs))
	}
	out := make([]string, len(msgs))
	for i, m := range msgs {
		out[i] = m.MessageID
	}
	return out
}

func testGatheredNotSingle(t *testing.T, st store.Store) {
	ws := gathering(t, st, "acme", chathook.Hourly)
	at := t0.Add(10 * time.Minute)
	ingestAt(t, st, ws, at, msg(1, 1), msg(2, 1))
	if got := claim(t, st, "a", at.Add(48*time.Hour), 10); len(got) != 0 {
		t.Errorf("claimed %v before any flush", ids(got))
	}
	if got := pendingChats(t, st, ws, at); len(got) != 0 {
		t.Errorf("chats pending before %v: %v; the messages came at that very time", at, got)
	}
	if got := pendingChats(t, st, ws, at.Add(time.Millisecond)); len(got) != 2 {
		t.Errorf("chats pending: %v, want 2", got)
	}
}

// Windows are aligned to the clock in UTC; a message at 05:59:59.999 and
// one at 06:00:00 are in different 1h and 6h windows, the same 12h and 24h
// ones.
func testWindowBoundaries(t *testing.T, st store.Store) {
	day := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	justBefore, six := day.Add(6*time.Hour-time.Millisecond), day.Add(6*time.Hour)
	for _, tc := range []struct {
		g       chathook.Granularity
		bundles int
		end     time.Time // when everything is due
	}{
		{chathook.Hourly, 2, day.Add(7 * time.Hour)},
		{chathook.SixHourly, 2, day.Add(12 * time.Hour)},
		{chathook.TwelveHourly, 1, day.Add(12 * time.Hour)},
		{chathook.Daily, 1, day.Add(24 * time.Hour)},
	} {
		t.Run(string(tc.g), func(t *testing.T) {
			ws := gathering(t, st, "acme-"+string(tc.g), tc.g)
			ingestAt(t, st, ws, justBefore, msg(1, 1))
			ingestAt(t, st, ws, six, msg(1, 2))
			// What the flusher does at now: flush what came before the
			// window that holds now.
			at := func(now time.Time) int {
				b, _ := flush(t, st, ws, tc.g.WindowStart(now), roomy)
				return b
			}
			if b := at(justBefore); b != 0 {
				t.Errorf("%d bundles flushed before the first window ended", b)
			}
			if b := at(tc.end.Add(-time.Millisecond)); b != tc.bundles-1 {
				t.Errorf("just before the last window ended: %d bundles, want %d", b, tc.bundles-1)
			}
			if b := at(tc.end); b != 1 {
				t.Errorf("when the last window ended: %d bundles, want 1", b)
			}
			var parts []string
			for _, d := range claim(t, st, "a", tc.end, 100) {
				if d.Webhook.WorkspaceID == ws {
					parts = append(parts, fmt.Sprint(bundleIDs(t, st, d)))
				}
			}
			want := map[int]string{1: "[[c1-m1 c1-m2]]", 2: "[[c1-m1] [c1-m2]]"}[tc.bundles]
			if fmt.Sprint(parts) != want {
				t.Errorf("bundles %v, want %s", parts, want)
			}
		})
	}
}

func testBundleCarriesWindowAndNewChat(t *testing.T, st store.Store) {
	ws := gathering(t, st, "acme", chathook.SixHourly)
	w1 := time.Date(2026, 3, 2, 6, 0, 0, 0, time.UTC)
	first, second, third := msg(1, 1), msg(1, 2), msg(1, 3)
	// Sent out of order: the bundle is in timestamp order, not arrival order.
	first.Timestamp, second.Timestamp = w1.Add(2*time.Hour), w1.Add(time.Hour)
	ingestAt(t, st, ws, w1.Add(3*time.Hour), first, second)
	third.Timestamp = w1.Add(7 * time.Hour)
	ingestAt(t, st, ws, w1.Add(7*time.Hour), third)
	flush(t, st, ws, w1.Add(12*time.Hour), roomy)
	got := claim(t, st, "a", w1.Add(12*time.Hour), 10)
	if len(got) != 2 {
		t.Fatalf("%d bundles, want one per window", len(got))
	}
	b := got[0]
	if !b.Bundle.WindowStart.Equal(w1) || !b.Bundle.WindowEnd.Equal(w1.Add(6*time.Hour)) || !b.Bundle.IsNewChat || b.Bundle.Count != 2 ||
		b.Chat.ID == 0 || b.Account.Phone != "+15550000000" || b.Webhook.URL != "https://hook.example.com" || b.EventID == "" {
		t.Errorf("first bundle %+v", b)
	}
	if ids := bundleIDs(t, st, b); fmt.Sprint(ids) != "[c1-m2 c1-m1]" {
		t.Errorf("messages %v, want timestamp order", ids)
	}
	if got[1].Bundle.IsNewChat || !got[1].Bundle.WindowStart.Equal(w1.Add(6*time.Hour)) {
		t.Errorf("the next window's bundle says the chat is new: %+v", got[1].Bundle)
	}
}

func testBundleIsSplit(t *testing.T, st store.Store) {
	ws := gathering(t, st, "acme", chathook.Hourly)
	var msgs []chathook.Incoming
	for n := range 7 {
		msgs = append(msgs, msg(1, n))
	}
	ingestAt(t, st, ws, t0, msgs...)
	three := store.Splitter{Size: func(chathook.Message) int { return 10 }, Fits: func(n, size int) bool { return n <= 3 && size <= 30 }, Max: 3}
	if b, m := flush(t, st, ws, t0.Add(time.Hour), three); b != 3 || m != 7 {
		t.Fatalf("%d bundles of %d messages, want 3 of 7", b, m)
	}
	got := claim(t, st, "a", t0.Add(time.Hour), 10)
	var parts []string
	for _, d := range got {
		parts = append(parts, fmt.Sprint(bundleIDs(t, st, d)))
		if d.Bundle.IsNewChat != (len(parts) == 1) {
			t.Errorf("part %d: is_new_chat %v, want it on the first part only", len(parts), d.Bundle.IsNewChat)
		}
	}
	if fmt.Sprint(parts) != "[[c1-m0 c1-m1 c1-m2] [c1-m3 c1-m4 c1-m5] [c1-m6]]" {
		t.Errorf("parts %v", parts)
	}
	// A message larger than the limit on its own still goes, alone.
	big := store.Splitter{Size: func(chathook.Message) int { return 100 }, Fits: func(n, size int) bool { return size <= 30 }, Max: 3}
	ingestAt(t, st, ws, t0.Add(time.Hour), msg(2, 1), msg(2, 2))
	if b, m := flush(t, st, ws, t0.Add(2*time.Hour), big); b != 2 || m != 2 {
		t.Errorf("oversized messages: %d bundles of %d messages, want one each", b, m)
	}
}

func testFlushIsOnceOnly(t *testing.T, st store.Store) {
	ws := gathering(t, st, "acme", chathook.Hourly)
	ingestAt(t, st, ws, t0, msg(1, 1), msg(2, 1))
	if b, m := flush(t, st, ws, t0.Add(time.Hour), roomy); b != 2 || m != 2 {
		t.Fatalf("first flush: %d bundles of %d messages", b, m)
	}
	if b, _ := flush(t, st, ws, t0.Add(2*time.Hour), roomy); b != 0 {
		t.Errorf("the second flush made %d bundles again", b)
	}
	// Flushing chats that have nothing waiting is harmless.
	if b, _, err := st.FlushChats(context.Background(), outboundKey(t, st, ws), []int64{1, 2, 3}, t0.Add(2*time.Hour), t0, roomy); err == nil && b != 0 {
		t.Errorf("flushing other ids made %d bundles", b)
	}
}

func testConcurrentFlushes(t *testing.T, st store.Store) {
	ws := gathering(t, st, "acme", chathook.Hourly)
	var msgs []chathook.Incoming
	for c := range 20 {
		for n := range 5 {
			msgs = append(msgs, msg(c, n))
		}
	}
	ingestAt(t, st, ws, t0, msgs...)
	chats := pendingChats(t, st, ws, t0.Add(time.Hour))
	var wg sync.WaitGroup
	var mu sync.Mutex
	total := 0
	for range 4 {
		wg.Go(func() {
			_, m, err := st.FlushChats(context.Background(), outboundKey(t, st, ws), chats, t0.Add(time.Hour), t0.Add(time.Hour), roomy)
			if err != nil {
				t.Errorf("flush: %v", err)
			}
			mu.Lock()
			total += m
			mu.Unlock()
		})
	}
	wg.Wait()
	if total != 100 {
		t.Errorf("%d messages bundled by 4 concurrent flushes, want each of 100 once", total)
	}
	if got := claim(t, st, "a", t0.Add(time.Hour), 100); len(got) != 20 {
		t.Errorf("%d bundles, want 20", len(got))
	}
}

func testSwitchToNone(t *testing.T, st store.Store) {
	ctx := context.Background()
	ws := gathering(t, st, "acme", chathook.Daily)
	ingestAt(t, st, ws, t0, msg(1, 1), msg(2, 1), msg(1, 2))
	none := chathook.NoAggregation
	if _, err := st.UpdateWebhook(ctx, ws, chathook.Outbound, t0.Add(time.Minute), chathook.WebhookUpdate{Granularity: &none}); err != nil {
		t.Fatal(err)
	}
	if got := claim(t, st, "a", t0.Add(time.Minute), 10); !equal(ids(got), []string{"c1-m1", "c2-m1", "c1-m2"}) {
		t.Errorf("after switching to none claimed %v, want every waiting message, in ingest order", ids(got))
	}
	if got := pendingChats(t, st, ws, t0.Add(48*time.Hour)); len(got) != 0 {
		t.Errorf("still pending: %v", got)
	}
	// And from none to a granularity, what is queued stays queued.
	g := chathook.Hourly
	ingestAt(t, st, ws, t0, msg(3, 1))
	if _, err := st.UpdateWebhook(ctx, ws, chathook.Outbound, t0, chathook.WebhookUpdate{Granularity: &g}); err != nil {
		t.Fatal(err)
	}
	if got := claim(t, st, "b", t0.Add(time.Minute), 10); !equal(ids(got), []string{"c3-m1"}) {
		t.Errorf("after switching to 1h claimed %v, want the message queued before", ids(got))
	}
}

func testDisabledKeepsGathering(t *testing.T, st store.Store) {
	ctx := context.Background()
	ws := gathering(t, st, "acme", chathook.Hourly)
	off, on := false, true
	if _, err := st.UpdateWebhook(ctx, ws, chathook.Outbound, t0, chathook.WebhookUpdate{Enabled: &off}); err != nil {
		t.Fatal(err)
	}
	other := workspace(t, st, "plain", "https://hook.example.com")
	ingestAt(t, st, ws, t0, msg(1, 1))
	whs, err := st.BundleWebhooks(ctx)
	if err != nil || len(whs) != 1 || whs[0].WorkspaceID != ws || whs[0].Enabled {
		t.Fatalf("bundle webhooks %+v (%v), want only the disabled one gathering (not %s)", whs, err, other)
	}
	if b, _ := flush(t, st, ws, t0.Add(time.Hour), roomy); b != 1 {
		t.Fatalf("%d bundles while disabled, want 1 waiting", b)
	}
	if got := claim(t, st, "a", t0.Add(time.Hour), 10); len(got) != 0 {
		t.Errorf("claimed a bundle of a disabled webhook")
	}
	if _, err := st.UpdateWebhook(ctx, ws, chathook.Outbound, t0.Add(time.Hour), chathook.WebhookUpdate{Enabled: &on}); err != nil {
		t.Fatal(err)
	}
	if got := claim(t, st, "a", t0.Add(time.Hour), 10); len(got) != 1 || got[0].Kind != chathook.KindBundle {
		t.Errorf("after enabling claimed %d", len(got))
	}
}

// A chat's bundles and single messages go out in the order they were
// queued, one at a time, like any deliveries.
func testBundlesKeepChatOrder(t *testing.T, st store.Store) {
	ctx := context.Background()
	ws := workspace(t, st, "acme", "https://hook.example.com")
	ingestAt(t, st, ws, t0, msg(1, 1))
	g := chathook.Hourly
	if _, err := st.UpdateWebhook(ctx, ws, chathook.Outbound, t0, chathook.WebhookUpdate{Granularity: &g}); err != nil {
		t.Fatal(err)
	}
	ingestAt(t, st, ws, t0, msg(1, 2), msg(1, 3))
	flush(t, st, ws, t0.Add(time.Hour), roomy)
	head := claim(t, st, "a", t0.Add(time.Hour), 10)
	if len(head) != 2 || head[0].Kind != chathook.KindMessage || head[1].Kind != chathook.KindBundle {
		t.Fatalf("claimed %+v", head)
	}
	finish(t, st, head[0], 500, t0.Add(2*time.Hour)) // the single fails: its chat's bundle waits behind it
	if err := st.Release(ctx, "a", []int64{head[1].ID}); err != nil {
		t.Fatal(err)
	}
	if got := claim(t, st, "b", t0.Add(time.Hour+time.Minute), 10); len(got) != 0 {
		t.Errorf("claimed %v while the chat's earlier delivery waits for a retry", ids(got))
	}
}

// A flush cut short (the process dies, the context ends) leaves every
// message waiting and no bundle behind: it is one transaction.
func testFlushIsAllOrNothing(t *testing.T, st store.Store) {
	ws := gathering(t, st, "acme", chathook.Hourly)
	for c := range 5 {
		ingestAt(t, st, ws, t0, msg(c, 1), msg(c, 2))
	}
	chats := pendingChats(t, st, ws, t0.Add(time.Hour))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	calls := 0
	dying := roomy
	dying.Size = func(chathook.Message) int {
		if calls++; calls == 5 { // in the middle of the third chat
			cancel()
		}
		return 1
	}
	if _, _, err := st.FlushChats(ctx, outboundKey(t, st, ws), chats, t0.Add(time.Hour), t0.Add(time.Hour), dying); err == nil {
		t.Fatal("a flush whose context ended mid-way reported success")
	}
	if got := pendingChats(t, st, ws, t0.Add(time.Hour)); len(got) != 5 {
		t.Errorf("%d chats still waiting after the failed flush, want all 5", len(got))
	}
	if got := claim(t, st, "a", t0.Add(time.Hour), 10); len(got) != 0 {
		t.Errorf("the failed flush left %d bundles", len(got))
	}
	if b, m := flush(t, st, ws, t0.Add(time.Hour), roomy); b != 5 || m != 10 {
		t.Errorf("flushing again: %d bundles of %d messages, want 5 of 10", b, m)
	}
}
