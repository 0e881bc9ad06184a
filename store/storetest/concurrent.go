package storetest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/store"
)

// concurrent are the tests of many callers at once: what several instances
// on one database do. On SQLite they pass by serialization; on PostgreSQL
// they prove the locking.
var concurrent = map[string]func(*testing.T, store.Store){
	"ConcurrentClaimersKeepChatOrder":  testConcurrentClaimers,
	"ConcurrentFailuresCountExactly":   testConcurrentFailures,
	"ConcurrentDuplicatesStoredOnce":   testConcurrentDuplicates,
	"ConcurrentFirstSightCreatesOnce":  testConcurrentFirstSight,
	"ConcurrentDueEmailsHandedOutOnce": testConcurrentDueEmails,
	"SwitchToNoneDuringIngest":         testSwitchToNoneDuringIngest,
}

// start runs n goroutines that begin together, and waits for them.
func start(n int, fn func(i int)) {
	var wg sync.WaitGroup
	gate := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-gate
			fn(i)
		})
	}
	close(gate)
	wg.Wait()
}

// messageNumber is n of a delivery of msg(c, n).
func messageNumber(t *testing.T, d chathook.Delivery) int {
	_, after, _ := strings.Cut(d.Message.MessageID, "-m")
	n, err := strconv.Atoi(after)
	if err != nil {
		t.Errorf("message id %q", d.Message.MessageID)
	}
	return n
}

// Eight claimers work one queue of 40 chats × 25 messages, each claim
// finishing a random part of each chat's run and releasing the rest. A
// chat is never held by two claimers at once, and each chat's messages are
// claimed and finished strictly in order, none twice.
func testConcurrentClaimers(t *testing.T, st store.Store) {
	const chats, perChat, claimers = 40, 25, 8
	ws := workspace(t, st, "acme", "https://hook.example.com")
	for n := 1; n <= perChat; n++ {
		var batch []chathook.Incoming
		for c := range chats {
			batch = append(batch, msg(c, n))
		}
		ingest(t, st, ws, batch...)
	}

	var mu sync.Mutex
	holder := map[int64]string{} // chat → the claimer holding it
	next := map[int64]int{}      // chat → the message number due next
	finished := 0
	var violations []string
	deadline := time.Now().Add(60 * time.Second)
	start(claimers, func(i int) {
		owner := fmt.Sprintf("claimer-%d", i)
		ctx := context.Background()
		for {
			mu.Lock()
			done := finished == chats*perChat || len(violations) > 0
			mu.Unlock()
			if done || time.Now().After(deadline) {
				return
			}
			got, err := st.ClaimDue(ctx, owner, t0, lease, 1+rand.IntN(40))
			if err != nil {
				mu.Lock()
				violations = append(violations, "claim: "+err.Error())
				mu.Unlock()
				return
			}
			runs := map[int64][]chathook.Delivery{}
			mu.Lock()
			for _, d := range got {
				chat := d.Chat.ID
				if h := holder[chat]; h != "" && h != owner {
					violations = append(violations, fmt.Sprintf("%s claimed %s while %s held chat %d", owner, d.Message.MessageID, h, chat))
				}
				holder[chat] = owner
				want := max(next[chat], 1) + len(runs[chat])
				if n := messageNumber(t, d); n != want {
					violations = append(violations, fmt.Sprintf("%s claimed %s, want message %d of chat %d next", owner, d.Message.MessageID, want, chat))
				}
				runs[chat] = append(runs[chat], d)
			}
			mu.Unlock()

			var outs []store.Finished
			var release []int64
			mu.Lock()
			for chat, run := range runs {
				keep := 1 + rand.IntN(len(run))
				for _, d := range run[:keep] {
					outs = append(outs, store.Finished{Outcome: chathook.Outcome{DeliveryID: d.ID, At: t0, Status: 200}})
				}
				for _, d := range run[keep:] {
					release = append(release, d.ID)
				}
				// Given up before the store is told: the next claim of
				// this chat can only follow the Finish and Release below.
				next[chat] = messageNumber(t, run[keep-1]) + 1
				delete(holder, chat)
				finished += keep
			}
			mu.Unlock()
			if err := st.Finish(ctx, outs); err != nil {
				t.Errorf("finish: %v", err)
			}
			if err := st.Release(ctx, owner, release); err != nil {
				t.Errorf("release: %v", err)
			}
		}
	})
	for _, v := range violations {
		t.Error(v)
	}
	if finished != chats*perChat {
		t.Errorf("%d of %d deliveries finished", finished, chats*perChat)
	}
	if got := claim(t, st, "after", t0, 10); len(got) != 0 {
		t.Errorf("claimable after all were finished: %v", ids(got))
	}
}

// Thirty failures recorded at once, each by its own caller, are counted
// exactly; the webhook is disabled once, with one email.
func testConcurrentFailures(t *testing.T, st store.Store) {
	const n = 30
	ws := workspace(t, st, "acme", "https://hook.example.com")
	var batch []chathook.Incoming
	for c := range n {
		batch = append(batch, msg(c, 1))
	}
	ingest(t, st, ws, batch...)
	got := claim(t, st, "a", t0, n)
	if len(got) != n {
		t.Fatalf("claimed %d, want %d", len(got), n)
	}
	start(n, func(i int) {
		out := store.Finished{Outcome: chathook.Outcome{DeliveryID: got[i].ID, At: t0.Add(time.Duration(i) * time.Millisecond),
			Status: 503, Err: "HTTP 503"}, RetryAt: t0.Add(time.Hour)}
		if err := st.Finish(context.Background(), []store.Finished{out}); err != nil {
			t.Errorf("finish: %v", err)
		}
	})
	wh := webhook(t, st, ws)
	if wh.ConsecutiveFailures != n || wh.Enabled || wh.DisabledReason == "" {
		t.Errorf("after %d concurrent failures: %+v", n, wh)
	}
	if due, err := st.DueEmails(context.Background(), t0.Add(time.Hour), 10); err != nil || len(due) != 1 {
		t.Errorf("emails: %d (%v), want exactly one", len(due), err)
	}
}

// The same 20 messages posted at once by sixteen callers, half of them in
// the reverse order, are accepted once each, and queued once each. (On
// PostgreSQL, inserting in batch order deadlocks here, at 1 s a deadlock:
// the store must take the keys in one order.) Five rounds, so that later
// rounds run on warm connections, truly at once.
func testConcurrentDuplicates(t *testing.T, st store.Store) {
	const rounds, callers, size = 5, 16, 20
	ws := workspace(t, st, "acme", "https://hook.example.com")
	// The chat exists, so the callers do not queue behind its creation.
	ingest(t, st, ws, msg(1, 0))
	for r := range rounds {
		results := make([][]chathook.IngestResult, callers)
		start(callers, func(i int) {
			batch := make([]chathook.Incoming, size)
			for m := range batch {
				n := m + 1
				if i%2 == 1 {
					n = size - m
				}
				batch[m] = msg(1, r*size+n)
			}
			res, err := st.Ingest(context.Background(), ws, t0, batch)
			if err != nil {
				t.Errorf("round %d, caller %d: %v", r, i, err)
				return
			}
			if i%2 == 1 {
				slices.Reverse(res)
			}
			results[i] = res
		})
		var first []chathook.IngestResult
		for _, res := range results {
			if res != nil {
				first = res
			}
		}
		for m := range size {
			accepted := 0
			for i, res := range results {
				if res == nil {
					continue
				}
				switch res[m].Status {
				case chathook.Accepted:
					accepted++
				case chathook.Duplicate:
				default:
					t.Errorf("round %d, caller %d, message %d: %+v", r, i, m+1, res[m])
				}
				if res[m].ChatID != first[0].ChatID {
					t.Errorf("round %d, caller %d: chat %d, others %d", r, i, res[m].ChatID, first[0].ChatID)
				}
			}
			if accepted != 1 {
				t.Errorf("round %d: message %d accepted %d times, want once", r, m+1, accepted)
			}
		}
	}
	got := claim(t, st, "a", t0, 1000)
	seen := map[string]bool{}
	for _, d := range got {
		seen[d.Message.MessageID] = true
	}
	if want := rounds*size + 1; len(got) != want || len(seen) != want {
		t.Errorf("queued %d deliveries of %d messages, want each of %d once", len(got), len(seen), want)
	}
}

// Sixteen callers seeing a new account and a new chat at once, each with a
// message of its own, all succeed: one account, one chat, one message
// that says it created the chat.
func testConcurrentFirstSight(t *testing.T, st store.Store) {
	const callers = 16
	ws := workspace(t, st, "acme", "https://hook.example.com")
	chatIDs := make([]int64, callers)
	start(callers, func(i int) {
		m := msg(7, i+1)
		m.Account.FullName = fmt.Sprintf("Agent %d", i) // every caller renames the account
		res, err := st.Ingest(context.Background(), ws, t0, []chathook.Incoming{m})
		if err != nil {
			t.Errorf("caller %d: %v", i, err)
			return
		}
		if res[0].Status != chathook.Accepted {
			t.Errorf("caller %d: %+v", i, res[0])
		}
		chatIDs[i] = res[0].ChatID
	})
	for i, id := range chatIDs {
		if id != chatIDs[0] {
			t.Errorf("caller %d got chat %d, caller 0 chat %d", i, id, chatIDs[0])
		}
	}
	got := claim(t, st, "a", t0, 100)
	created := 0
	for _, d := range got {
		if d.Message.IsNewChat {
			created++
		}
		if d.Account.ID != got[0].Account.ID {
			t.Errorf("two accounts: %d and %d", d.Account.ID, got[0].Account.ID)
		}
	}
	if len(got) != callers || created != 1 {
		t.Errorf("%d deliveries, %d of them creating the chat; want %d and 1", len(got), created, callers)
	}
}

// Notifiers of several instances asking for due emails at once get each
// email once between them.
func testConcurrentDueEmails(t *testing.T, st store.Store) {
	const workspaces, askers = 6, 8
	for w := range workspaces {
		ws := workspace(t, st, fmt.Sprintf("ws%d", w), "https://hook.example.com")
		ingest(t, st, ws, msg(1, 1))
		d := claim(t, st, "a", t0, 1)[0]
		for i := range chathook.DisableAfter {
			finish(t, st, d, 500, t0.Add(time.Duration(i)*time.Second))
		}
	}
	var mu sync.Mutex
	handed := map[int64]int{}
	start(askers, func(int) {
		due, err := st.DueEmails(context.Background(), t0.Add(time.Hour), 2)
		if err != nil {
			t.Errorf("due emails: %v", err)
		}
		mu.Lock()
		defer mu.Unlock()
		for _, e := range due {
			handed[e.ID]++
		}
	})
	for id, n := range handed {
		if n != 1 {
			t.Errorf("email %d handed out %d times", id, n)
		}
	}
	if len(handed) != workspaces {
		t.Errorf("%d emails handed out, want %d", len(handed), workspaces)
	}
	// A notifier that took an email and died: it is due again after the lease.
	if due, _ := st.DueEmails(context.Background(), t0.Add(time.Hour+store.EmailLease-time.Second), 10); len(due) != 0 {
		t.Errorf("%d emails handed out again within the lease", len(due))
	}
	if due, _ := st.DueEmails(context.Background(), t0.Add(time.Hour+store.EmailLease), 10); len(due) != workspaces {
		t.Errorf("%d emails due after the lease, want %d", len(due), workspaces)
	}
}

// A switch of granularity to none while batches are being ingested under
// 1h strands no message: each is either queued on its own by the ingest
// or waiting, and then queued by the switch. Ten rounds, each switching
// once while eight callers ingest.
func testSwitchToNoneDuringIngest(t *testing.T, st store.Store) {
	const rounds, callers, size = 10, 8, 10
	ctx := context.Background()
	ws := workspace(t, st, "acme", "https://hook.example.com")
	hourly, none := chathook.Hourly, chathook.NoAggregation
	accepted := 0
	var mu sync.Mutex
	for r := range rounds {
		if _, err := st.UpdateWebhook(ctx, ws, chathook.Outbound, t0, chathook.WebhookUpdate{Granularity: &hourly}); err != nil {
			t.Fatal(err)
		}
		start(callers+1, func(i int) {
			if i == callers {
				if _, err := st.UpdateWebhook(ctx, ws, chathook.Outbound, t0, chathook.WebhookUpdate{Granularity: &none}); err != nil {
					t.Errorf("switch: %v", err)
				}
				return
			}
			batch := make([]chathook.Incoming, size)
			for m := range batch {
				batch[m] = msg(i, r*size+m)
			}
			if _, err := st.Ingest(ctx, ws, t0, batch); err != nil {
				t.Errorf("ingest: %v", err)
				return
			}
			mu.Lock()
			accepted += size
			mu.Unlock()
		})
		if got := pendingChats(t, st, ws, t0.Add(48*time.Hour)); len(got) != 0 {
			t.Fatalf("round %d: chats %v wait for a bundle under granularity none", r, got)
		}
	}
	if got := claim(t, st, "a", t0, 10*accepted); len(got) != accepted {
		t.Errorf("%d deliveries queued for %d messages", len(got), accepted)
	}
}
