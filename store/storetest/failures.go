package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/store"
)

// failures are the tests of counting, auto-disable, outbox and log.
var failures = map[string]func(*testing.T, store.Store){
	"TenFailuresDisableAndQueueOneEmail": testTenFailuresDisable,
	"SuccessResetsTheCount":              testSuccessResetsTheCount,
	"OverlappedFailuresCountOnce":        testOverlappedFailuresCountOnce,
	"EnablingMakesWaitingDueNow":         testEnablingMakesWaitingDueNow,
	"DiscardIsLogged":                    testDiscardIsLogged,
	"DiscardTakesWhatIsInFlight":         testDiscardTakesWhatIsInFlight,
	"ActivityIsNewestFirst":              testActivityIsNewestFirst,
	"AttemptsStreamAndPrune":             testAttemptsStreamAndPrune,
	"AttemptsPageByAtThenID":             testAttemptsPageByAtThenID,
	"EmailOutbox":                        testEmailOutbox,
}

// fail claims the next due delivery and fails it with a retry due at once.
func fail(t *testing.T, st store.Store, at time.Time, text string) chathook.Delivery {
	t.Helper()
	got := claim(t, st, "a", at, 1)
	if len(got) != 1 {
		t.Fatalf("nothing to claim at %v", at)
	}
	out := store.Finished{Outcome: chathook.Outcome{DeliveryID: got[0].ID, URL: got[0].Webhook.URL, At: at, Status: 500, Err: text},
		RetryAt: at}
	if err := st.Finish(context.Background(), []store.Finished{out}); err != nil {
		t.Fatal(err)
	}
	return got[0]
}

func webhook(t *testing.T, st store.Store, ws string) chathook.Webhook {
	t.Helper()
	wh, err := st.Webhook(context.Background(), ws, chathook.Outbound)
	if err != nil {
		t.Fatal(err)
	}
	return wh
}

func testTenFailuresDisable(t *testing.T, st store.Store) {
	ws := workspace(t, st, "acme", "https://hook.example.com")
	ingest(t, st, ws, msg(1, 1), msg(2, 1))
	for i := 1; i < chathook.DisableAfter; i++ {
		fail(t, st, t0.Add(time.Duration(i)*time.Second), fmt.Sprintf("HTTP 500 (%d)", i))
	}
	if wh := webhook(t, st, ws); !wh.Enabled || wh.ConsecutiveFailures != chathook.DisableAfter-1 {
		t.Fatalf("after 9 failures: %+v", wh)
	}
	if due, _ := st.DueEmails(context.Background(), t0.Add(time.Hour), 10); len(due) != 0 {
		t.Fatalf("an email before the disable: %+v", due)
	}
	at := t0.Add(time.Minute)
	fail(t, st, at, "HTTP 500 (10)")
	wh := webhook(t, st, ws)
	if wh.Enabled || wh.ConsecutiveFailures != chathook.DisableAfter || wh.DisabledReason == "" ||
		!wh.DisabledAt.Equal(at) || wh.LastError != "HTTP 500 (10)" {
		t.Fatalf("after 10 failures: %+v", wh)
	}
	if got := claim(t, st, "a", at.Add(time.Hour), 10); len(got) != 0 {
		t.Errorf("claimed %v of a disabled webhook", ids(got))
	}
	due, err := st.DueEmails(context.Background(), at, 10)
	if err != nil || len(due) != 1 {
		t.Fatalf("emails due: %+v (%v), want exactly one", due, err)
	}
	e := due[0]
	if e.Kind != "webhook_disabled" || e.LastError != "HTTP 500 (10)" || e.Reason != wh.DisabledReason ||
		e.Workspace.ID != ws || e.Workspace.OwnerEmail != "acme@example.com" {
		t.Errorf("email %+v", e)
	}
}

func testSuccessResetsTheCount(t *testing.T, st store.Store) {
	ws := workspace(t, st, "acme", "https://hook.example.com")
	ingest(t, st, ws, msg(1, 1), msg(1, 2))
	for i := 1; i < chathook.DisableAfter; i++ {
		fail(t, st, t0.Add(time.Duration(i)*time.Second), "HTTP 503")
	}
	finish(t, st, claim(t, st, "a", t0.Add(time.Minute), 1)[0], 200, time.Time{})
	if wh := webhook(t, st, ws); !wh.Enabled || wh.ConsecutiveFailures != 0 {
		t.Fatalf("after a success: %+v, want the count back at 0", wh)
	}
	fail(t, st, t0.Add(2*time.Minute), "HTTP 503")
	if wh := webhook(t, st, ws); wh.ConsecutiveFailures != 1 || !wh.Enabled {
		t.Errorf("one failure after the reset: %+v", wh)
	}
}

// failAll fails every delivery in dels in one batch, with a retry due at
// once; all but the first are Overlapped when overlapped is set, as the
// attempts a dispatcher had in flight when its first failure came.
func failAll(t *testing.T, st store.Store, dels []chathook.Delivery, at time.Time, overlapped bool) {
	t.Helper()
	var outs []store.Finished
	for i, d := range dels {
		outs = append(outs, store.Finished{Outcome: chathook.Outcome{DeliveryID: d.ID, URL: d.Webhook.URL, At: at, Status: 503,
			Err: fmt.Sprintf("HTTP 503 (%d)", i+1)}, RetryAt: at, Overlapped: overlapped && i > 0})
	}
	if err := st.Finish(context.Background(), outs); err != nil {
		t.Fatal(err)
	}
}

// testOverlappedFailuresCountOnce: twelve attempts in flight together
// fail in one batch, the first counted and the others Overlapped (one
// outage): the count is 1, the webhook stays enabled, and last_error is
// the latest failure's. Failures counted as before then disable it at
// exactly chathook.DisableAfter.
func testOverlappedFailuresCountOnce(t *testing.T, st store.Store) {
	ws := workspace(t, st, "acme", "https://hook.example.com")
	const chats = 12
	var in []chathook.Incoming
	for c := range chats {
		in = append(in, msg(c, 1))
	}
	ingest(t, st, ws, in...)
	dels := claim(t, st, "a", t0, chats)
	if len(dels) != chats {
		t.Fatalf("claimed %d, want %d", len(dels), chats)
	}
	failAll(t, st, dels, t0, true)
	wh := webhook(t, st, ws)
	if !wh.Enabled || wh.ConsecutiveFailures != 1 || wh.LastError != fmt.Sprintf("HTTP 503 (%d)", chats) {
		t.Fatalf("after one outage of %d overlapping failures: %+v, want enabled, 1 failure, the last error", chats, wh)
	}
	if due, _ := st.DueEmails(context.Background(), t0.Add(time.Hour), 10); len(due) != 0 {
		t.Fatalf("an email without a disable: %+v", due)
	}

	at := t0.Add(time.Second)
	left := chathook.DisableAfter - 1 // counted failures until the disable
	dels = claim(t, st, "a", at, left)
	failAll(t, st, dels[:left-1], at, false)
	if wh := webhook(t, st, ws); !wh.Enabled || wh.ConsecutiveFailures != chathook.DisableAfter-1 {
		t.Fatalf("after %d counted failures: %+v", chathook.DisableAfter-1, wh)
	}
	failAll(t, st, dels[left-1:], at, false)
	if wh := webhook(t, st, ws); wh.Enabled || wh.ConsecutiveFailures != chathook.DisableAfter {
		t.Fatalf("after %d counted failures: %+v, want disabled", chathook.DisableAfter, wh)
	}
	mustOneEmail(t, st, at)
}

func testEnablingMakesWaitingDueNow(t *testing.T, st store.Store) {
	ctx := context.Background()
	ws := workspace(t, st, "acme", "https://hook.example.com")
	ingest(t, st, ws, msg(1, 1), msg(1, 2), msg(2, 1))
	// The head of chat 1 waits for a retry far away, and the webhook is
	// switched off and on again.
	d := claim(t, st, "a", t0, 1)[0]
	finish(t, st, d, 500, t0.Add(24*time.Hour))
	off, on := false, true
	if _, err := st.UpdateWebhook(ctx, ws, chathook.Outbound, t0, chathook.WebhookUpdate{Enabled: &off}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.UpdateWebhook(ctx, ws, chathook.Outbound, t0, chathook.WebhookUpdate{Enabled: &on}); err != nil {
		t.Fatal(err)
	}
	if got := claim(t, st, "a", t0, 10); !equal(ids(got), []string{"c1-m1", "c1-m2", "c2-m1"}) {
		t.Errorf("after enabling claimed %v, want everything waiting, in order", ids(got))
	}
}

func testDiscardIsLogged(t *testing.T, st store.Store) {
	ctx := context.Background()
	ws := workspace(t, st, "acme", "https://hook.example.com")
	ingest(t, st, ws, msg(1, 1), msg(1, 2))
	fail(t, st, t0, "HTTP 500")
	on := true
	if _, err := st.UpdateWebhook(ctx, ws, chathook.Outbound, t0, chathook.WebhookUpdate{Enabled: &on, DiscardPending: true}); err != nil {
		t.Fatal(err)
	}
	if got := claim(t, st, "a", time.Now(), 10); len(got) != 0 {
		t.Fatalf("claimed %v after a discard", ids(got))
	}
	var outcomes []string
	if err := store.EachAttempt(ctx, st, ws, chathook.Outbound, time.Time{}, func(a chathook.Attempt) error {
		outcomes = append(outcomes, a.Outcome)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if !equal(outcomes, []string{"retrying", "discarded", "discarded"}) {
		t.Errorf("log outcomes %v", outcomes)
	}
	acts, _ := st.Activity(ctx, ws, chathook.Outbound, 10)
	if len(acts) != 2 || acts[0].State != chathook.StateDiscarded || acts[1].State != chathook.StateDiscarded {
		t.Errorf("activity %+v, want both deliveries discarded", acts)
	}
}

func testActivityIsNewestFirst(t *testing.T, st store.Store) {
	ctx := context.Background()
	ws := workspace(t, st, "acme", "https://hook.example.com")
	other := workspace(t, st, "other", "https://other.example.com")
	for i := range 12 {
		ingest(t, st, ws, msg(i, 1))
	}
	ingest(t, st, other, msg(1, 1))
	for i, d := range claim(t, st, "a", t0, 100) {
		out := store.Finished{Outcome: chathook.Outcome{DeliveryID: d.ID, At: t0.Add(time.Duration(i) * time.Second), Status: 200,
			Duration: 3 * time.Millisecond}}
		if err := st.Finish(ctx, []store.Finished{out}); err != nil {
			t.Fatal(err)
		}
	}
	acts, err := st.Activity(ctx, ws, chathook.Outbound, 10)
	if err != nil || len(acts) != 10 {
		t.Fatalf("%d entries (%v), want 10", len(acts), err)
	}
	for i, a := range acts {
		if want := fmt.Sprintf("c%d-m1", 11-i); a.State != chathook.StateDelivered || a.Messages != 1 || a.Kind != "message" ||
			a.Status != 200 || a.Duration != 3*time.Millisecond || a.Attempts != 1 || a.ChatName == "" {
			t.Errorf("entry %d (%s): %+v", i, want, a)
		}
		if i > 0 && a.At.After(acts[i-1].At) {
			t.Errorf("entry %d is newer than entry %d", i, i-1)
		}
	}
}

func testAttemptsStreamAndPrune(t *testing.T, st store.Store) {
	ctx := context.Background()
	ws := workspace(t, st, "acme", "https://hook.example.com")
	ingest(t, st, ws, msg(1, 1))
	for i := range 3 {
		fail(t, st, t0.Add(time.Duration(i)*time.Hour), fmt.Sprintf("error %d", i))
	}
	var got []string
	collect := func(a chathook.Attempt) error {
		got = append(got, fmt.Sprintf("%d:%s", a.Attempt, a.Err))
		return nil
	}
	if err := store.EachAttempt(ctx, st, ws, chathook.Outbound, t0.Add(time.Hour), collect); err != nil {
		t.Fatal(err)
	}
	if !equal(got, []string{"2:error 1", "3:error 2"}) {
		t.Errorf("since an hour in: %v", got)
	}
	n, err := st.PruneAttempts(ctx, t0.Add(90*time.Minute))
	if err != nil || n != 2 {
		t.Errorf("pruned %d (%v), want 2", n, err)
	}
	got = nil
	store.EachAttempt(ctx, st, ws, chathook.Outbound, time.Time{}, collect)
	if !equal(got, []string{"3:error 2"}) {
		t.Errorf("after pruning: %v", got)
	}
}

func testEmailOutbox(t *testing.T, st store.Store) {
	ctx := context.Background()
	ws := workspace(t, st, "acme", "https://hook.example.com")
	ingest(t, st, ws, msg(1, 1))
	for i := range chathook.DisableAfter {
		fail(t, st, t0.Add(time.Duration(i)*time.Second), "HTTP 500")
	}
	e := mustOneEmail(t, st, t0.Add(time.Minute))
	if err := st.EmailFailed(ctx, e.ID, "connection refused", t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if due, _ := st.DueEmails(ctx, t0.Add(time.Minute), 10); len(due) != 0 {
		t.Errorf("a failed email is due before its retry: %+v", due)
	}
	if again := mustOneEmail(t, st, t0.Add(time.Hour)); again.Attempts != 1 {
		t.Errorf("attempts %d after one failure", again.Attempts)
	}
	if err := st.EmailDone(ctx, e.ID, t0.Add(time.Hour), false); err != nil {
		t.Fatal(err)
	}
	if due, _ := st.DueEmails(ctx, t0.Add(48*time.Hour), 10); len(due) != 0 {
		t.Errorf("a sent email is due again: %+v", due)
	}
}

func mustOneEmail(t *testing.T, st store.Store, at time.Time) chathook.Email {
	t.Helper()
	due, err := st.DueEmails(context.Background(), at, 10)
	if err != nil || len(due) != 1 {
		t.Fatalf("emails due at %v: %+v (%v), want one", at, due, err)
	}
	return due[0]
}

// A discard also takes deliveries that are claimed (a POST under way, or a
// claim not yet given back): their outcome, when it comes, does not bring
// them back, unless the POST got through, which the log then says.
func testDiscardTakesWhatIsInFlight(t *testing.T, st store.Store) {
	ctx := context.Background()
	ws := workspace(t, st, "acme", "https://hook.example.com")
	ingest(t, st, ws, msg(1, 1), msg(2, 1), msg(3, 1))
	inFlight := claim(t, st, "a", t0, 10)
	if len(inFlight) != 3 {
		t.Fatalf("claimed %d", len(inFlight))
	}
	if _, err := st.UpdateWebhook(ctx, ws, chathook.Outbound, t0, chathook.WebhookUpdate{DiscardPending: true}); err != nil {
		t.Fatal(err)
	}
	late := []store.Finished{
		{Outcome: chathook.Outcome{DeliveryID: inFlight[0].ID, At: t0, Status: 500, Err: "HTTP 500"}, RetryAt: t0},
		{Outcome: chathook.Outcome{DeliveryID: inFlight[1].ID, At: t0, Status: 500, Err: "HTTP 500"}},
		{Outcome: chathook.Outcome{DeliveryID: inFlight[2].ID, At: t0, Status: 204}},
	}
	if err := st.Finish(ctx, late); err != nil {
		t.Fatal(err)
	}
	if got := claim(t, st, "b", t0.Add(time.Hour), 10); len(got) != 0 {
		t.Errorf("claimed %v after a discard and late failures", ids(got))
	}
	states := map[int64]string{}
	acts, _ := st.Activity(ctx, ws, chathook.Outbound, 10)
	for _, a := range acts {
		states[a.DeliveryID] = a.State
	}
	if states[inFlight[0].ID] != chathook.StateDiscarded || states[inFlight[1].ID] != chathook.StateDiscarded ||
		states[inFlight[2].ID] != chathook.StateDelivered {
		t.Errorf("states %v: want discarded, discarded, delivered (its POST got through)", states)
	}
	var outcomes []string
	if err := store.EachAttempt(ctx, st, ws, chathook.Outbound, time.Time{}, func(a chathook.Attempt) error {
		outcomes = append(outcomes, a.Outcome)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if !equal(outcomes, []string{"discarded", "discarded", "discarded", "failed", "failed", "delivered"}) {
		t.Errorf("log outcomes %v", outcomes)
	}
}
