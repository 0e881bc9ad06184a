// Package storetest is the test suite every store.Store implementation
// runs: it proves the guarantees written in package store's doc.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/store"
	"github.com/google/uuid"
)

// Open returns a fresh, empty store for one test.
type Open func(t *testing.T) store.Store

// Run runs the whole suite.
func Run(t *testing.T, open Open) {
	tests := map[string]func(*testing.T, store.Store){
		"IngestIsIdempotent":             testIngestIsIdempotent,
		"IngestIsAllOrNothing":           testIngestIsAllOrNothing,
		"LargeBatchKeepsOrderAndRepeats": testLargeBatchKeepsOrderAndRepeats,
		"NoURLQueuesNothing":             testNoURLQueuesNothing,
		"ClaimKeepsChatOrder":            testClaimKeepsChatOrder,
		"FailureHoldsBackItsChatOnly":    testFailureHoldsBackItsChatOnly,
		"ExpiredLeaseIsClaimedAgain":     testExpiredLeaseIsClaimedAgain,
		"ReleaseMakesClaimableAtOnce":    testReleaseMakesClaimableAtOnce,
		"DisabledWebhookWaits":           testDisabledWebhookWaits,
		"WorkspacesAreIsolated":          testWorkspacesAreIsolated,
		"RetriesRunOutIntoFailed":        testRetriesRunOutIntoFailed,
		"ClaimCarriesWhatPayloadNeeds":   testClaimCarriesWhatPayloadNeeds,
		"WebhookUpdateChangesOnlyGiven":  testWebhookUpdateChangesOnlyGiven,
		"UnknownTokenIsUnauthorized":     testUnknownTokenIsUnauthorized,
		"ChatIDsAreNotWasted":            testChatIDsAreNotWasted,
		"ChatsTakeTurns":                 testChatsTakeTurns,
		"ClaimAtScale":                   testClaimAtScale,
		"BacklogsGiveRuns":               testBacklogsGiveRuns,
		"ShortRunsFillTheClaim":          testShortRunsFillTheClaim,
	}
	for _, group := range []map[string]func(*testing.T, store.Store){failures, bundles, web, inbox, team, signIns, concurrent, fairness, accounts, cloudAPI, metrics, tokens, recovery, groups, replies, endpoints, blobs, media, facts} {
		for name, test := range group {
			tests[name] = test
		}
	}
	for name, test := range tests {
		t.Run(name, func(t *testing.T) { test(t, open(t)) })
	}
}

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

const lease = time.Minute

func workspace(t *testing.T, st store.Store, name, url string) string {
	t.Helper()
	ctx := context.Background()
	id := uuid.NewString()
	if _, err := st.CreateWorkspace(ctx, chathook.Workspace{ID: id, Name: name, OwnerEmail: name + "@example.com", CreatedAt: t0},
		[]byte("token-"+id), "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"); err != nil {
		t.Fatal(err)
	}
	if url != "" {
		if _, err := st.UpdateWebhook(ctx, id, chathook.Outbound, t0, chathook.WebhookUpdate{URL: &url}); err != nil {
			t.Fatal(err)
		}
	}
	return id
}

// msg is message number n in chat c of account +15550000000.
func msg(c, n int) chathook.Incoming {
	return chathook.Incoming{
		Account:   chathook.Account{Phone: "+15550000000", FullName: "Agent", Email: "agent@example.com"},
		Chat:      chathook.Chat{ExternalID: fmt.Sprintf("+1555100%04d", c), Phone: fmt.Sprintf("+1555100%04d", c)},
		MessageID: fmt.Sprintf("c%d-m%d", c, n),
		UUID:      uuid.NewString(),
		Direction: chathook.Received,
		Timestamp: t0,
		Text:      fmt.Sprintf("message %d of chat %d", n, c),
	}
}

// Message is msg for a store's own tests: message number n in chat c of
// account +15550000000, with a fresh uuid.
func Message(c, n int) chathook.Incoming { return msg(c, n) }

func ingest(t *testing.T, st store.Store, ws string, msgs ...chathook.Incoming) []chathook.IngestResult {
	t.Helper()
	res, err := st.Ingest(context.Background(), ws, t0, msgs)
	if err != nil {
		t.Fatalf("ingest: %v", err)
	}
	return res
}

func claim(t *testing.T, st store.Store, owner string, at time.Time, limit int) []chathook.Delivery {
	t.Helper()
	got, err := st.ClaimDue(context.Background(), owner, at, lease, limit)
	if err != nil {
		t.Fatalf("claim: %v", err)
	}
	return got
}

// ids names claimed deliveries by their message ids.
func ids(ds []chathook.Delivery) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = d.Message.MessageID
	}
	return out
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func finish(t *testing.T, st store.Store, d chathook.Delivery, status int, retryAt time.Time) {
	t.Helper()
	out := store.Finished{Outcome: chathook.Outcome{DeliveryID: d.ID, At: t0, Status: status}, RetryAt: retryAt}
	if status < 200 || status > 299 {
		out.Err = fmt.Sprintf("HTTP %d", status)
	}
	if err := st.Finish(context.Background(), []store.Finished{out}); err != nil {
		t.Fatal(err)
	}
}

func testIngestIsIdempotent(t *testing.T, st store.Store) {
	ws := workspace(t, st, "acme", "https://hook.example.com")
	first := msg(1, 1)
	again := first
	again.UUID = uuid.NewString()
	res := ingest(t, st, ws, first, again, msg(1, 2))
	if res[0].Status != chathook.Accepted || res[1].Status != chathook.Duplicate || res[2].Status != chathook.Accepted {
		t.Fatalf("results %+v", res)
	}
	if res[0].ChatID != res[1].ChatID || res[0].ChatID != res[2].ChatID || res[0].ChatID == 0 {
		t.Errorf("chat ids %+v differ", res)
	}
	if res := ingest(t, st, ws, again); res[0].Status != chathook.Duplicate {
		t.Errorf("repeat in a later request: %+v", res)
	}
	// A repeat that names another chat is still a repeat, of the stored one.
	moved := first
	moved.Chat.ExternalID, moved.Chat.Phone = "+15559999999", "+15559999999"
	if again := ingest(t, st, ws, moved); again[0].Status != chathook.Duplicate || again[0].ChatID != res[0].ChatID {
		t.Errorf("repeat naming another chat: %+v, want a duplicate in chat %d", again, res[0].ChatID)
	}
	got := claim(t, st, "a", t0, 100)
	if want := []string{"c1-m1", "c1-m2"}; !equal(ids(got), want) {
		t.Fatalf("claimed %v, want %v: a duplicate got a delivery", ids(got), want)
	}
	if !got[0].Message.IsNewChat || got[1].Message.IsNewChat {
		t.Errorf("is_new_chat = %v, %v; want true for the message that created the chat only",
			got[0].Message.IsNewChat, got[1].Message.IsNewChat)
	}
}

// A batch larger than any one insert statement keeps the batch's order
// and finds repeats across the statements it is cut into.
func testLargeBatchKeepsOrderAndRepeats(t *testing.T, st store.Store) {
	ws := workspace(t, st, "acme", "https://hook.example.com")
	var msgs []chathook.Incoming
	for n := range 150 {
		msgs = append(msgs, msg(n%3, n))
	}
	msgs[100] = msg(1, 1) // a repeat of the second message, two statements later
	msgs[100].UUID = uuid.NewString()
	res := ingest(t, st, ws, msgs...)
	for i, r := range res {
		want := chathook.Accepted
		if i == 100 {
			want = chathook.Duplicate
		}
		if r.Status != want || r.ChatID != res[i%3].ChatID {
			t.Fatalf("message %d: %+v, want %s in chat %d", i, r, want, res[i%3].ChatID)
		}
	}
	got := claim(t, st, "a", t0, 1000)
	next := map[int64]int{}
	for _, d := range got {
		var c, n int
		fmt.Sscanf(d.Message.MessageID, "c%d-m%d", &c, &n)
		if n < next[d.Chat.ID] || n == 100 {
			t.Fatalf("chat %d: message %d out of order or a repeat delivered", c, n)
		}
		next[d.Chat.ID] = n + 1
	}
	if len(got) != 149 {
		t.Errorf("%d deliveries, want 149", len(got))
	}
}

func testIngestIsAllOrNothing(t *testing.T, st store.Store) {
	ws := workspace(t, st, "acme", "https://hook.example.com")
	good, clash := msg(1, 1), msg(2, 1)
	clash.UUID = good.UUID // violates a unique key after good was written
	if _, err := st.Ingest(context.Background(), ws, t0, []chathook.Incoming{good, clash}); err == nil {
		t.Fatal("ingest of a clashing batch succeeded")
	}
	if got := claim(t, st, "a", t0, 100); len(got) != 0 {
		t.Errorf("a failed batch left deliveries behind: %v", ids(got))
	}
	if res := ingest(t, st, ws, msg(1, 1)); res[0].Status != chathook.Accepted {
		t.Errorf("a failed batch left its first message behind: %+v", res)
	}
}

func testNoURLQueuesNothing(t *testing.T, st store.Store) {
	ws := workspace(t, st, "acme", "")
	ingest(t, st, ws, msg(1, 1))
	url := "https://hook.example.com"
	if _, err := st.UpdateWebhook(context.Background(), ws, chathook.Outbound, t0, chathook.WebhookUpdate{URL: &url}); err != nil {
		t.Fatal(err)
	}
	ingest(t, st, ws, msg(1, 2))
	if got := claim(t, st, "a", t0, 100); !equal(ids(got), []string{"c1-m2"}) {
		t.Errorf("claimed %v, want only the message that came after the URL was set", ids(got))
	}
}

func testClaimKeepsChatOrder(t *testing.T, st store.Store) {
	ws := workspace(t, st, "acme", "https://hook.example.com")
	ingest(t, st, ws, msg(1, 1), msg(2, 1), msg(1, 2), msg(2, 2), msg(1, 3))
	first := claim(t, st, "a", t0, 3)
	if want := []string{"c1-m1", "c2-m1", "c1-m2"}; !equal(ids(first), want) {
		t.Fatalf("first claim %v, want %v", ids(first), want)
	}
	// c2-m2 is free: c2-m1 is in flight, so it must wait; c1-m3 likewise.
	if got := claim(t, st, "b", t0, 10); len(got) != 0 {
		t.Fatalf("claimed %v while earlier deliveries of the same chats were in flight", ids(got))
	}
	for _, d := range first {
		finish(t, st, d, 200, time.Time{})
	}
	if got := claim(t, st, "b", t0, 10); !equal(ids(got), []string{"c2-m2", "c1-m3"}) {
		t.Fatalf("after finishing: claimed %v", ids(got))
	}
}

func testFailureHoldsBackItsChatOnly(t *testing.T, st store.Store) {
	ws := workspace(t, st, "acme", "https://hook.example.com")
	ingest(t, st, ws, msg(1, 1), msg(1, 2), msg(2, 1))
	got := claim(t, st, "a", t0, 1)
	finish(t, st, got[0], 500, t0.Add(time.Minute))
	if got := claim(t, st, "a", t0.Add(time.Second), 10); !equal(ids(got), []string{"c2-m1"}) {
		t.Fatalf("claimed %v while c1-m1 waits for its retry: want only the other chat", ids(got))
	}
	got = claim(t, st, "a", t0.Add(time.Minute), 10)
	if !equal(ids(got), []string{"c1-m1", "c1-m2"}) {
		t.Fatalf("when the retry is due: claimed %v", ids(got))
	}
	if got[0].Attempts != 1 || got[0].EventID == "" {
		t.Errorf("retry: attempts %d, event id %q", got[0].Attempts, got[0].EventID)
	}
}

func testExpiredLeaseIsClaimedAgain(t *testing.T, st store.Store) {
	ws := workspace(t, st, "acme", "https://hook.example.com")
	ingest(t, st, ws, msg(1, 1))
	first := claim(t, st, "dead", t0, 10)
	if got := claim(t, st, "b", t0.Add(lease-time.Second), 10); len(got) != 0 {
		t.Fatalf("claimed %v before the lease expired", ids(got))
	}
	again := claim(t, st, "b", t0.Add(lease+time.Second), 10)
	if len(again) != 1 || again[0].EventID != first[0].EventID {
		t.Fatalf("after expiry claimed %v, want the same delivery with the same event id", ids(again))
	}
	// The dead owner can no longer extend or release what it lost.
	if err := st.Release(context.Background(), "dead", []int64{first[0].ID}); err != nil {
		t.Fatal(err)
	}
	if got := claim(t, st, "c", t0.Add(lease+2*time.Second), 10); len(got) != 0 {
		t.Errorf("a stale owner's release freed a delivery another owner holds")
	}
}

func testReleaseMakesClaimableAtOnce(t *testing.T, st store.Store) {
	ws := workspace(t, st, "acme", "https://hook.example.com")
	ingest(t, st, ws, msg(1, 1), msg(1, 2))
	got := claim(t, st, "a", t0, 10)
	if err := st.Release(context.Background(), "a", []int64{got[0].ID, got[1].ID}); err != nil {
		t.Fatal(err)
	}
	again := claim(t, st, "b", t0, 10)
	if !equal(ids(again), []string{"c1-m1", "c1-m2"}) || again[0].Attempts != 0 {
		t.Errorf("after release claimed %v (attempts %d)", ids(again), again[0].Attempts)
	}
	until := t0.Add(10 * lease)
	if err := st.ExtendLeases(context.Background(), "b", []int64{again[0].ID}, until); err != nil {
		t.Fatal(err)
	}
	if got := claim(t, st, "c", t0.Add(2*lease), 10); len(got) != 0 {
		t.Errorf("claimed %v whose lease was extended", ids(got))
	}
}

func testDisabledWebhookWaits(t *testing.T, st store.Store) {
	ctx := context.Background()
	ws := workspace(t, st, "acme", "https://hook.example.com")
	off, on := false, true
	if _, err := st.UpdateWebhook(ctx, ws, chathook.Outbound, t0, chathook.WebhookUpdate{Enabled: &off}); err != nil {
		t.Fatal(err)
	}
	ingest(t, st, ws, msg(1, 1))
	if got := claim(t, st, "a", t0, 10); len(got) != 0 {
		t.Fatalf("claimed %v of a disabled webhook", ids(got))
	}
	if _, err := st.UpdateWebhook(ctx, ws, chathook.Outbound, t0, chathook.WebhookUpdate{Enabled: &on}); err != nil {
		t.Fatal(err)
	}
	if got := claim(t, st, "a", t0, 10); !equal(ids(got), []string{"c1-m1"}) {
		t.Errorf("after enabling claimed %v", ids(got))
	}
}

func testWorkspacesAreIsolated(t *testing.T, st store.Store) {
	ctx := context.Background()
	a := workspace(t, st, "a", "https://a.example.com")
	b := workspace(t, st, "b", "https://b.example.com")
	resA, resB := ingest(t, st, a, msg(1, 1)), ingest(t, st, b, msg(1, 1))
	if resB[0].Status != chathook.Accepted || resA[0].ChatID == resB[0].ChatID {
		t.Fatalf("the same message in two workspaces: %+v, %+v", resA, resB)
	}
	name := "stolen"
	if _, err := st.UpdateChat(ctx, a, resB[0].ChatID, chathook.ChatUpdate{FullName: &name}); !errors.Is(err, chathook.ErrNotFound) {
		t.Errorf("workspace a renamed b's chat: err = %v", err)
	}
	for _, d := range claim(t, st, "x", t0, 10) {
		want := map[int64]string{resA[0].ChatID: a, resB[0].ChatID: b}[d.Chat.ID]
		if d.Webhook.WorkspaceID != want || d.Chat.FullName == name {
			t.Errorf("delivery of chat %d goes to workspace %s's webhook, want %s", d.Chat.ID, d.Webhook.WorkspaceID, want)
		}
	}
}

func testRetriesRunOutIntoFailed(t *testing.T, st store.Store) {
	ws := workspace(t, st, "acme", "https://hook.example.com")
	ingest(t, st, ws, msg(1, 1), msg(1, 2))
	got := claim(t, st, "a", t0, 1)
	finish(t, st, got[0], 410, time.Time{}) // no retry left
	if got := claim(t, st, "a", t0, 10); !equal(ids(got), []string{"c1-m2"}) {
		t.Errorf("after c1-m1 failed for good claimed %v; the chat must move on", ids(got))
	}
}

func testClaimCarriesWhatPayloadNeeds(t *testing.T, st store.Store) {
	ws := workspace(t, st, "acme", "https://hook.example.com")
	in := msg(1, 1)
	in.Chat.FullName = "John Doe"
	in.Direction = chathook.Sent
	in.SentByName = "Jane"
	ingest(t, st, ws, in)
	got := claim(t, st, "a", t0, 1)
	if len(got) != 1 {
		t.Fatal("nothing claimed")
	}
	d := got[0]
	if d.Webhook.URL != "https://hook.example.com" || d.Webhook.Secret == "" {
		t.Errorf("webhook %+v", d.Webhook)
	}
	if d.Account.Phone != "+15550000000" || d.Account.FullName != "Agent" || d.Account.Email != "agent@example.com" {
		t.Errorf("account %+v", d.Account)
	}
	if d.Chat.FullName != "John Doe" || d.Chat.Phone != "+15551000001" || d.Chat.IsGroup {
		t.Errorf("chat %+v", d.Chat)
	}
	m := d.Message
	want := chathook.Person{FullName: "Jane", Phone: "+15550000000"}
	if m.Sender != want || m.Recipient != (chathook.Person{FullName: "John Doe", Phone: "+15551000001"}) {
		t.Errorf("sender %+v recipient %+v: not derived from account, chat and sent_by", m.Sender, m.Recipient)
	}
	if !m.Timestamp.Equal(t0) || m.Text != in.Text || m.UUID != in.UUID || m.Direction != chathook.Sent {
		t.Errorf("message %+v", m)
	}
}

func testWebhookUpdateChangesOnlyGiven(t *testing.T, st store.Store) {
	ctx := context.Background()
	ws := workspace(t, st, "acme", "https://hook.example.com")
	g := chathook.SixHourly
	wh, err := st.UpdateWebhook(ctx, ws, chathook.Outbound, t0, chathook.WebhookUpdate{Granularity: &g})
	if err != nil {
		t.Fatal(err)
	}
	if wh.URL != "https://hook.example.com" || wh.Granularity != g || !wh.Enabled {
		t.Errorf("after a granularity change: %+v", wh)
	}
	if again, _ := st.Webhook(ctx, ws, chathook.Outbound); !reflect.DeepEqual(again, wh) {
		t.Errorf("read back %+v, want %+v", again, wh)
	}
}

func testUnknownTokenIsUnauthorized(t *testing.T, st store.Store) {
	workspace(t, st, "acme", "")
	if _, err := st.UseToken(context.Background(), []byte("no such token"), t0); !errors.Is(err, chathook.ErrUnauthorized) {
		t.Errorf("err = %v, want ErrUnauthorized", err)
	}
}

// Chat ids start at 10000001 and a message in a known chat uses up no id:
// they are in every chat_url, and gaps would only puzzle people.
func testChatIDsAreNotWasted(t *testing.T, st store.Store) {
	ws := workspace(t, st, "acme", "")
	var got []int64
	for n := range 3 {
		for _, res := range ingest(t, st, ws, msg(1, n)) {
			got = append(got, res.ChatID)
		}
	}
	got = append(got, ingest(t, st, ws, msg(2, 1))[0].ChatID)
	if fmt.Sprint(got) != "[10000001 10000001 10000001 10000002]" {
		t.Errorf("chat ids %v", got)
	}
}

// A chat with a deep backlog does not starve the others: a claim smaller
// than the backlog still serves a chat that came later.
func testChatsTakeTurns(t *testing.T, st store.Store) {
	ws := workspace(t, st, "acme", "https://hook.example.com")
	var busy []chathook.Incoming
	for n := range 50 {
		busy = append(busy, msg(1, n))
	}
	ingest(t, st, ws, busy...)
	ingest(t, st, ws, msg(2, 1))
	got := claim(t, st, "a", t0, 10)
	if len(got) < 2 || len(got) > 10 || !slices.Contains(ids(got), "c2-m1") {
		t.Errorf("claimed %v: chat 2 waits behind chat 1's backlog", ids(got))
	}
}

// Claims stay right with many chats and a deep backlog: every delivery
// is claimed once, each chat's in order, whatever the batch size.
func testClaimAtScale(t *testing.T, st store.Store) {
	ws := workspace(t, st, "acme", "https://hook.example.com")
	var msgs []chathook.Incoming
	for n := range 2000 {
		msgs = append(msgs, msg(n%150, n))
	}
	ingest(t, st, ws, msgs...)
	next := map[int64]int{}
	seen := 0
	for round := 0; seen < len(msgs); round++ {
		if round > 1000 {
			t.Fatalf("%d of %d claimed after 1000 rounds", seen, len(msgs))
		}
		got := claim(t, st, "a", t0, 97)
		var done []store.Finished
		for _, d := range got {
			var c, n int
			fmt.Sscanf(d.Message.MessageID, "c%d-m%d", &c, &n)
			if n < next[d.Chat.ID] {
				t.Fatalf("chat %d: message %d after %d", c, n, next[d.Chat.ID])
			}
			next[d.Chat.ID] = n + 1
			done = append(done, store.Finished{Outcome: chathook.Outcome{DeliveryID: d.ID, At: t0, Status: 200}})
			seen++
		}
		if err := st.Finish(context.Background(), done); err != nil {
			t.Fatal(err)
		}
	}
	if got := claim(t, st, "a", t0, 97); len(got) != 0 {
		t.Errorf("claimed %d more after all were delivered", len(got))
	}
}

// With more chats waiting than a claim has runs, each chat with a backlog
// gives a run of store.RunShare, in order, not one delivery.
func testBacklogsGiveRuns(t *testing.T, st store.Store) {
	ws := workspace(t, st, "acme", "https://hook.example.com")
	var msgs []chathook.Incoming
	for n := range 20 {
		for c := range 200 {
			msgs = append(msgs, msg(c, n))
		}
	}
	ingest(t, st, ws, msgs...)
	got := claim(t, st, "a", t0, 512)
	runs := map[int64][]string{}
	for _, d := range got {
		runs[d.Chat.ID] = append(runs[d.Chat.ID], d.Message.MessageID)
	}
	share := 512 / store.RunsPerClaim // more than the even share of 3 a chat
	if len(got) != 512 || len(runs) != 512/share {
		t.Fatalf("claimed %d over %d chats, want 512 in runs of %d", len(got), len(runs), share)
	}
	for chat, run := range runs {
		if len(run) != share {
			t.Errorf("chat %d gave %d, want %d", chat, len(run), share)
		}
		for i, id := range run {
			if !strings.HasSuffix(id, fmt.Sprintf("-m%d", i)) {
				t.Fatalf("chat %d gave %v, want its first %d in order", chat, run, share)
			}
		}
	}
}

// With many chats of one delivery each, a claim goes on from chat to chat
// until it is full, and the next goes on from where it stopped, round to
// the first chat again: each of its chats once, each chat's in order.
func testShortRunsFillTheClaim(t *testing.T, st store.Store) {
	ws := workspace(t, st, "acme", "https://hook.example.com")
	var msgs []chathook.Incoming
	for c := range 300 {
		msgs = append(msgs, msg(c, 0))
	}
	ingest(t, st, ws, msgs...)
	deliver := func(got []chathook.Delivery) []string {
		t.Helper()
		var done []store.Finished
		for _, d := range got {
			done = append(done, store.Finished{Outcome: chathook.Outcome{DeliveryID: d.ID, At: t0, Status: 200}})
		}
		if err := st.Finish(context.Background(), done); err != nil {
			t.Fatal(err)
		}
		names := ids(got)
		slices.Sort(names)
		return names
	}
	want := func(from, to, n int) []string { // message n of chats from to to-1
		var out []string
		for c := from; c < to; c++ {
			out = append(out, fmt.Sprintf("c%d-m%d", c, n))
		}
		slices.Sort(out)
		return out
	}
	if got := deliver(claim(t, st, "a", t0, 256)); !slices.Equal(got, want(0, 256, 0)) {
		t.Fatalf("first claim took %d: %v, want the first message of chats 0-255", len(got), got)
	}
	var more []chathook.Incoming
	for c := range 100 {
		more = append(more, msg(c, 1))
	}
	ingest(t, st, ws, more...)
	if got := deliver(claim(t, st, "a", t0, 256)); !slices.Equal(got, slices.Sorted(slices.Values(append(want(256, 300, 0), want(0, 100, 1)...)))) {
		t.Fatalf("second claim took %d: %v, want chats 256-299, then round to 0-99 for their second", len(got), got)
	}
	if got := claim(t, st, "a", t0, 256); len(got) != 0 {
		t.Errorf("claimed %d more after all were delivered", len(got))
	}
}
