package storetest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/store"
)

// recovery are the tests of Recover and RotateSecret.
var recovery = map[string]func(*testing.T, store.Store){
	"RecoverRequeuesFailedAndDiscardedInRange": testRecoverRequeuesInRange,
	"RecoverKeepsChatOrder":                    testRecoverKeepsChatOrder,
	"RecoverWaitsForTheChatsFlight":            testRecoverWaitsForFlight,
	"RecoverLeavesAPOSTUnderWayAlone":          testRecoverLeavesPOSTUnderWay,
	"RecoverBundleKeepsItsMessages":            testRecoverBundle,
	"RotateSecretKeepsOnePrevious":             testRotateSecret,
	"ConcurrentRecoveriesCountEachOnce":        testConcurrentRecoveries,
	"RecoveredWaitForADisabledWebhook":         testRecoveredWaitWhileDisabled,
}

// failForGood claims the next due delivery of the store at at and fails
// it with no retry left.
func failForGood(t *testing.T, st store.Store, at time.Time) chathook.Delivery {
	t.Helper()
	got := claim(t, st, "a", at, 1)
	if len(got) != 1 {
		t.Fatalf("nothing to claim at %v", at)
	}
	out := store.Finished{Outcome: chathook.Outcome{DeliveryID: got[0].ID, URL: got[0].Webhook.URL, At: at, Status: 500, Err: "HTTP 500"}}
	if err := st.Finish(context.Background(), []store.Finished{out}); err != nil {
		t.Fatal(err)
	}
	return got[0]
}

// finishAt records an attempt at at that ended with status, a failure
// for good unless it is 2xx.
func finishAt(t *testing.T, st store.Store, d chathook.Delivery, at time.Time, status int) {
	t.Helper()
	out := store.Finished{Outcome: chathook.Outcome{DeliveryID: d.ID, URL: d.Webhook.URL, At: at, Status: status}}
	if status < 200 || status > 299 {
		out.Err = "HTTP 500"
	}
	if err := st.Finish(context.Background(), []store.Finished{out}); err != nil {
		t.Fatal(err)
	}
}

func recoverRange(t *testing.T, st store.Store, ws string, since, until, now time.Time) int {
	t.Helper()
	n, err := st.Recover(context.Background(), ws, chathook.Outbound, since, until, now)
	if err != nil {
		t.Fatalf("recover: %v", err)
	}
	return n
}

// logOf returns the workspace's detailed log.
func logOf(t *testing.T, st store.Store, ws string) []chathook.Attempt {
	t.Helper()
	var all []chathook.Attempt
	if err := store.EachAttempt(context.Background(), st, ws, chathook.Outbound, time.Time{}, func(a chathook.Attempt) error {
		all = append(all, a)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return all
}

// testRecoverRequeuesInRange: the failed and the discarded deliveries
// queued in [since, until) come back with their ids and webhook-ids, a
// fresh retry schedule and attempts that keep counting in the log; those
// outside the range, delivered ones and another workspace's stay as they
// are; a second recovery queues nothing.
func testRecoverRequeuesInRange(t *testing.T, st store.Store) {
	ctx := context.Background()
	ws := workspace(t, st, "acme", "https://hook.example.com")
	other := workspace(t, st, "globex", "https://hook.example.com")
	since, until := t0, t0.Add(10*time.Minute)
	ingestAt(t, st, ws, since, msg(1, 1))                        // failed: recovered (since is inclusive)
	ingestAt(t, st, ws, since.Add(time.Minute), msg(2, 1))       // delivered: stays
	ingestAt(t, st, ws, until.Add(-time.Millisecond), msg(3, 1)) // failed: recovered
	ingestAt(t, st, ws, until, msg(4, 1))                        // failed at until: stays (until is exclusive)
	ingestAt(t, st, other, since, msg(5, 1))                     // another workspace's failure: stays

	at := t0.Add(time.Hour)
	failed := failForGood(t, st, at)
	if failed.Message.MessageID != "c1-m1" {
		t.Fatalf("claimed %s first", failed.Message.MessageID)
	}
	finish(t, st, claim(t, st, "a", at, 1)[0], 204, time.Time{}) // c2-m1
	for _, want := range []string{"c3-m1", "c4-m1", "c5-m1"} {
		if got := failForGood(t, st, at); got.Message.MessageID != want {
			t.Fatalf("claimed %s, want %s", got.Message.MessageID, want)
		}
	}

	if n := recoverRange(t, st, ws, since, until, at); n != 2 {
		t.Fatalf("recovered %d, want 2 (c1-m1, c3-m1)", n)
	}
	if n := recoverRange(t, st, ws, since, until, at); n != 0 {
		t.Errorf("a second recovery queued %d again", n)
	}
	got := claim(t, st, "a", at, 10)
	if !equal(ids(got), []string{"c1-m1", "c3-m1"}) {
		t.Fatalf("claimed %v after the recovery, want [c1-m1 c3-m1]", ids(got))
	}
	if got[0].ID != failed.ID || got[0].EventID != failed.EventID || got[0].Attempts != 0 {
		t.Errorf("recovered as id %d, webhook-id %s, %d attempts; want %d, %s, 0 (a fresh retry schedule)",
			got[0].ID, got[0].EventID, got[0].Attempts, failed.ID, failed.EventID)
	}
	finishAt(t, st, got[0], at, 500) // c1-m1 fails for good again
	finishAt(t, st, got[1], at, 204)

	// A discarded delivery comes back too.
	ingestAt(t, st, ws, since.Add(2*time.Minute), msg(6, 1))
	if _, err := st.UpdateWebhook(ctx, ws, chathook.Outbound, at, chathook.WebhookUpdate{DiscardPending: true}); err != nil {
		t.Fatal(err)
	}
	later := at.Add(time.Hour)
	if n := recoverRange(t, st, ws, since, until, later); n != 2 {
		t.Fatalf("recovered %d, want 2 (c1-m1 failed again, c6-m1 discarded)", n)
	}
	if n, _ := st.Pending(ctx, ws, chathook.Outbound); n != 2 {
		t.Errorf("%d pending, want 2", n)
	}
	got = claim(t, st, "a", later, 10)
	if !equal(ids(got), []string{"c1-m1", "c6-m1"}) {
		t.Fatalf("claimed %v, want [c1-m1 c6-m1]", ids(got))
	}
	for _, d := range got {
		finishAt(t, st, d, later, 204)
	}
	if n, _ := st.Pending(ctx, other, chathook.Outbound); n != 0 {
		t.Errorf("the other workspace has %d pending", n)
	}
	// The log keeps every attempt: c1-m1's third attempt is number 3.
	var c1 []int
	for _, a := range logOf(t, st, ws) {
		if a.DeliveryID == failed.ID {
			c1 = append(c1, a.Attempt)
		}
	}
	if len(c1) != 3 || c1[0] != 1 || c1[1] != 2 || c1[2] != 3 {
		t.Errorf("c1-m1's log rows are attempts %v, want [1 2 3]", c1)
	}
	acts, err := st.Activity(ctx, ws, chathook.Outbound, 10)
	if err != nil {
		t.Fatal(err)
	}
	shown := false
	for _, a := range acts {
		if a.DeliveryID == failed.ID {
			shown = true
			if a.State != chathook.StateDelivered || a.Attempts != 3 {
				t.Errorf("activity shows c1-m1 %s after %d attempts, want delivered after 3", a.State, a.Attempts)
			}
		}
	}
	if !shown {
		t.Errorf("c1-m1 is not in the activity: %+v", acts)
	}
}

// testRecoverKeepsChatOrder: recovered deliveries go out before the
// later ones of their chat that still wait, in the order they were first
// queued.
func testRecoverKeepsChatOrder(t *testing.T, st store.Store) {
	ws := workspace(t, st, "acme", "https://hook.example.com")
	ingest(t, st, ws, msg(1, 1), msg(1, 2), msg(1, 3), msg(1, 4))
	at := t0.Add(time.Minute)
	failForGood(t, st, at) // c1-m1
	failForGood(t, st, at) // c1-m2
	// c1-m3 fails and waits for its retry; c1-m4 waits behind it.
	fail(t, st, at, "HTTP 500")
	retryAt := at.Add(time.Hour)
	got := claim(t, st, "a", at, 10)
	if !equal(ids(got), []string{"c1-m3", "c1-m4"}) {
		t.Fatalf("claimed %v, want the retry and the rest", ids(got))
	}
	finish(t, st, got[0], 500, retryAt)
	if err := st.Release(context.Background(), "a", []int64{got[1].ID}); err != nil {
		t.Fatal(err)
	}
	if n := recoverRange(t, st, ws, t0, at, at); n != 2 {
		t.Fatalf("recovered %d, want 2", n)
	}
	if got := claim(t, st, "a", at, 10); !equal(ids(got), []string{"c1-m1", "c1-m2"}) {
		t.Fatalf("claimed %v, want [c1-m1 c1-m2]: the recovered ones, before the retry that is not due", ids(got))
	} else {
		for _, d := range got {
			finish(t, st, d, 204, time.Time{})
		}
	}
	if got := claim(t, st, "a", retryAt, 10); !equal(ids(got), []string{"c1-m3", "c1-m4"}) {
		t.Errorf("claimed %v at the retry, want [c1-m3 c1-m4]", ids(got))
	}
}

// testRecoverWaitsForFlight: a recovered delivery is not claimed while a
// later delivery of its chat is in flight, but once that lease is over.
func testRecoverWaitsForFlight(t *testing.T, st store.Store) {
	ws := workspace(t, st, "acme", "https://hook.example.com")
	ingest(t, st, ws, msg(1, 1), msg(1, 2), msg(2, 1))
	at := t0.Add(time.Minute)
	failForGood(t, st, at) // c1-m1
	failForGood(t, st, at) // c2-m1
	inFlight := claim(t, st, "a", at, 10)
	if !equal(ids(inFlight), []string{"c1-m2"}) {
		t.Fatalf("claimed %v", ids(inFlight))
	}
	if n := recoverRange(t, st, ws, t0, at, at); n != 2 {
		t.Fatalf("recovered %d, want 2", n)
	}
	other := claim(t, st, "b", at, 10)
	if !equal(ids(other), []string{"c2-m1"}) {
		t.Fatalf("claimed %v while c1-m2 is in flight, want only [c2-m1]", ids(other))
	}
	finish(t, st, other[0], 204, time.Time{})
	// A slow POST: its lease is extended twice, past where it first ended.
	extended := at.Add(lease)
	for range 2 {
		extended = extended.Add(lease / 2)
		if err := st.ExtendLeases(context.Background(), "a", []int64{inFlight[0].ID}, extended); err != nil {
			t.Fatal(err)
		}
	}
	if got := claim(t, st, "b", at.Add(lease), 10); len(got) != 0 {
		t.Fatalf("claimed %v at the first lease's end, while c1-m2 is still in flight", ids(got))
	}
	finish(t, st, inFlight[0], 204, time.Time{})
	if got := claim(t, st, "b", extended, 10); !equal(ids(got), []string{"c1-m1"}) {
		t.Errorf("claimed %v once the flight's lease is over, want [c1-m1]", ids(got))
	}
}

// testRecoverLeavesPOSTUnderWay: a discarded delivery whose POST is under
// way is recovered with its lease, and that POST's outcome decides it: it
// is not claimed a second time meanwhile.
func testRecoverLeavesPOSTUnderWay(t *testing.T, st store.Store) {
	ctx := context.Background()
	ws := workspace(t, st, "acme", "https://hook.example.com")
	ingest(t, st, ws, msg(1, 1))
	inFlight := claim(t, st, "a", t0, 10)
	if _, err := st.UpdateWebhook(ctx, ws, chathook.Outbound, t0, chathook.WebhookUpdate{DiscardPending: true}); err != nil {
		t.Fatal(err)
	}
	if n := recoverRange(t, st, ws, t0, t0.Add(time.Minute), t0); n != 1 {
		t.Fatalf("recovered %d, want 1", n)
	}
	if got := claim(t, st, "b", t0, 10); len(got) != 0 {
		t.Fatalf("claimed %v while its POST is under way", ids(got))
	}
	finish(t, st, inFlight[0], 204, time.Time{})
	if got := claim(t, st, "b", t0.Add(time.Hour), 10); len(got) != 0 {
		t.Errorf("claimed %v after it was delivered", ids(got))
	}
	if n, _ := st.Pending(ctx, ws, chathook.Outbound); n != 0 {
		t.Errorf("%d pending after the POST got through", n)
	}
}

// testRecoverBundle: a failed bundle comes back with its messages.
func testRecoverBundle(t *testing.T, st store.Store) {
	ws := gathering(t, st, "acme", chathook.Hourly)
	ingestAt(t, st, ws, t0, msg(1, 1), msg(1, 2))
	if b, m := flush(t, st, ws, t0.Add(time.Hour), roomy); b != 1 || m != 2 {
		t.Fatalf("flushed %d bundles of %d messages", b, m)
	}
	at := t0.Add(time.Hour)
	failed := failForGood(t, st, at)
	if n := recoverRange(t, st, ws, t0, at.Add(time.Millisecond), at); n != 1 {
		t.Fatalf("recovered %d, want the bundle", n)
	}
	got := claim(t, st, "a", at, 10)
	if len(got) != 1 || got[0].ID != failed.ID || got[0].EventID != failed.EventID || got[0].Kind != chathook.KindBundle ||
		got[0].Bundle.Count != 2 || !got[0].Bundle.WindowStart.Equal(failed.Bundle.WindowStart) {
		t.Fatalf("claimed %+v, want the bundle %+v again", got, failed)
	}
	if m := bundleIDs(t, st, got[0]); !equal(m, []string{"c1-m1", "c1-m2"}) {
		t.Errorf("the recovered bundle holds %v", m)
	}
}

// testRotateSecret: a rotation keeps the replaced secret until the given
// time, a second one drops the first secret at once, and a secret set by
// hand drops the previous one; claims carry both.
func testRotateSecret(t *testing.T, st store.Store) {
	ctx := context.Background()
	ws := workspace(t, st, "acme", "https://hook.example.com")
	first := webhook(t, st, ws).Secret
	until := t0.Add(chathook.SecretOverlap)
	const second, third = "whsec_c2Vjb25kIHNlY3JldCBvZiAyNCBieXRlcyE=", "whsec_dGhpcmQgc2VjcmV0IG9mIDI0IGJ5dGVzISE="
	wh, err := st.RotateSecret(ctx, ws, chathook.Outbound, second, t0, until)
	if err != nil {
		t.Fatal(err)
	}
	if wh.Secret != second || wh.PreviousSecret != first || !wh.PreviousSecretUntil.Equal(until) {
		t.Fatalf("after a rotation: %q, previous %q until %v", wh.Secret, wh.PreviousSecret, wh.PreviousSecretUntil)
	}
	if got := webhook(t, st, ws); got.Secret != second || got.PreviousSecret != first || !got.PreviousSecretUntil.Equal(until) {
		t.Fatalf("read back: %+v", got)
	}
	ingest(t, st, ws, msg(1, 1))
	d := claim(t, st, "a", t0, 1)
	if len(d) != 1 || d[0].Webhook.Secret != second || d[0].Webhook.PreviousSecret != first || !d[0].Webhook.PreviousSecretUntil.Equal(until) {
		t.Fatalf("a claim carries %+v", d)
	}
	later := until.Add(time.Hour)
	if wh, err = st.RotateSecret(ctx, ws, chathook.Outbound, third, t0.Add(time.Hour), later); err != nil {
		t.Fatal(err)
	}
	if wh.Secret != third || wh.PreviousSecret != second || !wh.PreviousSecretUntil.Equal(later) {
		t.Fatalf("after a second rotation: %q, previous %q until %v", wh.Secret, wh.PreviousSecret, wh.PreviousSecretUntil)
	}
	if wh, err = st.UpdateWebhook(ctx, ws, chathook.Outbound, t0, chathook.WebhookUpdate{Secret: &first}); err != nil {
		t.Fatal(err)
	}
	if wh.Secret != first || wh.PreviousSecret != "" || !wh.PreviousSecretUntil.IsZero() {
		t.Errorf("after setting a secret: %q, previous %q until %v", wh.Secret, wh.PreviousSecret, wh.PreviousSecretUntil)
	}
	if _, err := st.RotateSecret(ctx, "no-such-workspace", chathook.Outbound, second, t0, until); err != chathook.ErrNotFound {
		t.Errorf("rotating a missing workspace's secret: %v, want ErrNotFound", err)
	}
}

// testConcurrentRecoveries: recoveries of one range at once (two browser
// tabs, two instances) queue each delivery once between them.
func testConcurrentRecoveries(t *testing.T, st store.Store) {
	ctx := context.Background()
	ws := workspace(t, st, "acme", "https://hook.example.com")
	var msgs []chathook.Incoming
	for c := 1; c <= 40; c++ {
		msgs = append(msgs, msg(c, 1))
	}
	ingest(t, st, ws, msgs...)
	at := t0.Add(time.Minute)
	claimed := claim(t, st, "a", at, 100)
	var outs []store.Finished
	for _, d := range claimed {
		outs = append(outs, store.Finished{Outcome: chathook.Outcome{DeliveryID: d.ID, At: at, Status: 500, Err: "HTTP 500"}})
	}
	if err := st.Finish(ctx, outs); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	total := 0
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n, err := st.Recover(ctx, ws, chathook.Outbound, t0, at, at)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			total += n
			mu.Unlock()
		}()
	}
	wg.Wait()
	if total != 40 {
		t.Errorf("four recoveries at once queued %d in all, want 40", total)
	}
	if n, _ := st.Pending(ctx, ws, chathook.Outbound); n != 40 {
		t.Errorf("%d pending, want 40", n)
	}
}

// testRecoveredWaitWhileDisabled: deliveries recovered while the webhook
// is switched off wait, like any, and go out when it is switched on.
func testRecoveredWaitWhileDisabled(t *testing.T, st store.Store) {
	ctx := context.Background()
	ws := workspace(t, st, "acme", "https://hook.example.com")
	ingest(t, st, ws, msg(1, 1))
	at := t0.Add(time.Minute)
	failForGood(t, st, at)
	off, on := false, true
	if _, err := st.UpdateWebhook(ctx, ws, chathook.Outbound, at, chathook.WebhookUpdate{Enabled: &off}); err != nil {
		t.Fatal(err)
	}
	if n := recoverRange(t, st, ws, t0, at, at); n != 1 {
		t.Fatalf("recovered %d, want 1", n)
	}
	if got := claim(t, st, "a", at.Add(time.Hour), 10); len(got) != 0 {
		t.Fatalf("claimed %v of a switched-off webhook", ids(got))
	}
	later := at.Add(2 * time.Hour)
	if _, err := st.UpdateWebhook(ctx, ws, chathook.Outbound, later, chathook.WebhookUpdate{Enabled: &on}); err != nil {
		t.Fatal(err)
	}
	if got := claim(t, st, "a", later, 10); !equal(ids(got), []string{"c1-m1"}) {
		t.Errorf("claimed %v once switched on, want [c1-m1]", ids(got))
	}
}
