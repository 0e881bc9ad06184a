package app_test

// Several instances on one PostgreSQL database (issue 6): each test runs
// two services in-process, each with its own API and dispatcher, on one
// schema of its own. They are skipped when PostgreSQL is not reachable
// (failed under CI=true).

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/app"
	"github.com/chathook/chathook/chathooktest"
	"github.com/chathook/chathook/event"
	"github.com/chathook/chathook/store"
	"github.com/jackc/pgx/v5"
)

// Each instance writes its own base URL into chat_url, so the receiver
// can tell which instance sent a delivery.
const baseA, baseB = "http://a.example", "http://b.example"

// twoInstances starts instances A and B on one fresh PostgreSQL schema,
// with a workspace whose webhook points at sink. Each gets cfg.
func twoInstances(t *testing.T, cfg app.Config, sink *chathooktest.Sink) (a, b *chathooktest.Service, wsA, wsB *chathooktest.Workspace) {
	t.Helper()
	db := chathooktest.Postgres(t)
	cfg.BaseURL = baseA
	a = chathooktest.Start(t, chathooktest.Options{DB: db, Config: cfg})
	cfg.BaseURL = baseB
	b = chathooktest.Start(t, chathooktest.Options{DB: db, Config: cfg})
	wsA = a.NewWorkspace(t, "acme")
	wsA.PointAt(t, sink.URL)
	return a, b, wsA, wsA.On(b)
}

// postInOrder posts perChat messages (chatMessage(c, 1..perChat)) to each
// of chats chats, from 4 posters at once, batch after batch to each
// instance in turn. A poster owns a quarter of the chats and posts their
// messages in order, so every chat has one ingest order while both
// instances ingest at the same time.
func postInOrder(t *testing.T, instances []*chathooktest.Workspace, chats, perChat int) {
	const posters = 4
	var wg sync.WaitGroup
	for p := range posters {
		wg.Go(func() {
			var batch []string
			sent := 0
			flush := func() {
				if len(batch) == 0 {
					return
				}
				ws := instances[(p+sent)%len(instances)]
				if status, body := ws.Do(t, http.MethodPost, "/api/v1/messages/batch",
					`{"messages": [`+strings.Join(batch, ",")+`]}`); status != http.StatusAccepted {
					t.Errorf("ingest: %d %s", status, body)
				}
				batch, sent = nil, sent+1
			}
			for n := 1; n <= perChat; n++ {
				for c := p; c < chats; c += posters {
					batch = append(batch, chatMessage(c, n))
					if len(batch) == 100 {
						flush()
					}
				}
			}
			flush()
		})
	}
	wg.Wait()
}

// delivery is what a receiver saw of one POST.
type delivery struct {
	eventID, chat, base string
	n                   int // of chatMessage(chat, n)
}

func parseDelivery(t *testing.T, header http.Header, body []byte) delivery {
	var p struct {
		Chat struct {
			ChatID  string `json:"chat_id"`
			ChatURL string `json:"chat_url"`
		}
		Message struct {
			MessageID string `json:"message_id"`
		}
	}
	if err := json.Unmarshal(body, &p); err != nil {
		t.Errorf("payload: %v", err)
	}
	d := delivery{eventID: header.Get("webhook-id"), chat: p.Chat.ChatID, base: baseB}
	if strings.HasPrefix(p.Chat.ChatURL, baseA) {
		d.base = baseA
	}
	var c int
	if _, err := fmt.Sscanf(p.Message.MessageID, "c%d-m%d", &c, &d.n); err != nil {
		t.Errorf("message id %q", p.Message.MessageID)
	}
	return d
}

// checkExactlyOnceInOrder checks that the receiver got each of chats ×
// perChat messages once, and each chat's in ingest order; it returns how
// many each instance delivered.
func checkExactlyOnceInOrder(t *testing.T, got []chathooktest.Received, chats, perChat int) map[string]int {
	t.Helper()
	if len(got) != chats*perChat {
		t.Errorf("receiver got %d deliveries, want exactly %d", len(got), chats*perChat)
	}
	by := map[string]int{}
	events := map[string]bool{}
	last := map[string]int{}
	for _, r := range got {
		d := parseDelivery(t, r.Header, r.Body)
		by[d.base]++
		if events[d.eventID] {
			t.Errorf("%s delivered twice (chat %s, message %d)", d.eventID, d.chat, d.n)
		}
		events[d.eventID] = true
		if d.n != last[d.chat]+1 {
			t.Errorf("chat %s: message %d arrived after message %d", d.chat, d.n, last[d.chat])
		}
		last[d.chat] = d.n
	}
	if len(last) != chats {
		t.Errorf("deliveries of %d chats, want %d", len(last), chats)
	}
	return by
}

// TestTwoInstancesShareTheQueue: two instances ingest 4,000 messages over
// 200 chats at once and deliver them together: every message once, each
// chat in order, never two POSTs of one chat at the same time.
func TestTwoInstancesShareTheQueue(t *testing.T) {
	const chats, perChat = 200, 20
	sink := chathooktest.NewSink(t)
	var mu sync.Mutex
	inFlight := map[string]int{}
	var overlaps []string
	sink.Respond = func(_ int, r *http.Request) int {
		body, _ := io.ReadAll(r.Body)
		d := parseDelivery(t, r.Header, body)
		mu.Lock()
		inFlight[d.chat]++
		if inFlight[d.chat] > 1 {
			overlaps = append(overlaps, fmt.Sprintf("chat %s: message %d while another was in flight", d.chat, d.n))
		}
		mu.Unlock()
		time.Sleep(time.Millisecond) // a receiver's latency: a window for an overlap to show
		mu.Lock()
		inFlight[d.chat]--
		mu.Unlock()
		return http.StatusNoContent
	}
	a, b, wsA, wsB := twoInstances(t, app.Config{}, sink)
	postInOrder(t, []*chathooktest.Workspace{wsA, wsB}, chats, perChat)
	sink.WaitFor(t, chats*perChat, 60*time.Second)
	a.Stop(t)
	b.Stop(t) // in-flight POSTs are done: nothing more can arrive

	by := checkExactlyOnceInOrder(t, sink.Got(), chats, perChat)
	for _, o := range overlaps {
		t.Error(o)
	}
	if by[baseA] == 0 || by[baseB] == 0 {
		t.Errorf("deliveries by instance: %v; want both to share the work", by)
	}
	t.Logf("delivered by A: %d, by B: %d", by[baseA], by[baseB])
}

// TestKilledInstanceWorkIsTakenOver: instance A is killed (no release, no
// finish) while POSTs of it hang; B delivers what A held once A's leases
// have expired, and every message arrives once, in order.
func TestKilledInstanceWorkIsTakenOver(t *testing.T) {
	const chats, perChat = 100, 20
	sink := chathooktest.NewSink(t)
	held := make(chan struct{}, 1000)
	release := make(chan struct{})
	var releaseOnce sync.Once
	t.Cleanup(func() { releaseOnce.Do(func() { close(release) }) }) // before the sink closes
	// A's POSTs of the second half of a chat hang until A is dead; then
	// they fail, and A records nothing of them. From the first that hangs
	// on, every POST of A hangs too, so that A delivers nothing after the
	// test has seen it record what it delivered: a crash between a 2xx and
	// its record is at-least-once (a second POST with the same webhook-id),
	// not what this test is about.
	var muA sync.Mutex
	stoppedA := false
	answeredA := map[string]bool{} // webhook-ids A got a 2xx for
	sink.Respond = func(_ int, r *http.Request) int {
		body, _ := io.ReadAll(r.Body)
		d := parseDelivery(t, r.Header, body)
		if d.base != baseA {
			return http.StatusNoContent
		}
		muA.Lock()
		if d.n >= 10 || stoppedA {
			stoppedA = true
			muA.Unlock()
			held <- struct{}{}
			<-release
			return http.StatusServiceUnavailable
		}
		answeredA[d.eventID] = true
		muA.Unlock()
		return http.StatusNoContent
	}
	a, b, wsA, wsB := twoInstances(t, app.Config{Lease: 2 * time.Second}, sink)
	postInOrder(t, []*chathooktest.Workspace{wsA, wsB}, chats, perChat)
	select {
	case <-held:
	case <-time.After(60 * time.Second):
		t.Fatal("instance A never reached the second half of a chat")
	}

	conn, err := pgx.Connect(context.Background(), a.DB)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	leasedBy := func(owner string) map[string]bool {
		rows, err := conn.Query(context.Background(),
			`SELECT event_id FROM deliveries WHERE state = 'pending' AND lease_owner = $1`, owner)
		if err != nil {
			t.Fatal(err)
		}
		ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		set := map[string]bool{}
		for _, id := range ids {
			set[id] = true
		}
		return set
	}
	until(t, "A to record what it delivered", func() bool {
		leased := leasedBy(a.Instance)
		muA.Lock()
		defer muA.Unlock()
		for id := range answeredA {
			if leased[id] {
				return false
			}
		}
		return true
	})
	a.Kill(t)
	orphaned := leasedBy(a.Instance)
	if len(orphaned) == 0 {
		t.Fatal("no delivery is leased by the killed instance: its claims were released, not left to expire")
	}
	releaseOnce.Do(func() { close(release) })

	got := sink.WaitFor(t, chats*perChat, 60*time.Second)
	b.Stop(t)
	checkExactlyOnceInOrder(t, sink.Got(), chats, perChat)
	for _, r := range got {
		if d := parseDelivery(t, r.Header, r.Body); orphaned[d.eventID] {
			if d.base != baseB {
				t.Errorf("%s, leased by A when it died, was delivered by A", d.eventID)
			}
			delete(orphaned, d.eventID)
		}
	}
	if len(orphaned) != 0 {
		t.Errorf("%d deliveries A held were never delivered", len(orphaned))
	}
}

// TestConcurrentDuplicatePostsToTwoInstances: the same message posted 32
// times at once, half to each instance, is accepted once; so is each
// message of a batch posted 8 times at once; each is delivered once.
func TestConcurrentDuplicatePostsToTwoInstances(t *testing.T) {
	sink := chathooktest.NewSink(t)
	a, b, wsA, wsB := twoInstances(t, app.Config{}, sink)
	statuses := make([]string, 32)
	var batch []string
	for c := range 5 { // five chats seen for the first time, by every poster at once
		for n := 1; n <= 4; n++ {
			batch = append(batch, chatMessage(c, n))
		}
	}
	batchResults := make([][]string, 8)
	var wg sync.WaitGroup
	gate := make(chan struct{})
	for i := range statuses {
		wg.Go(func() {
			ws := []*chathooktest.Workspace{wsA, wsB}[i%2]
			<-gate
			status, body := ws.Do(t, http.MethodPost, "/api/v1/messages", received)
			var res struct{ Status, ChatID string }
			if err := json.Unmarshal(body, &res); status != http.StatusAccepted || err != nil {
				t.Errorf("post %d: %d %s", i, status, body)
			}
			statuses[i] = res.Status
		})
	}
	for i := range batchResults {
		wg.Go(func() {
			ws := []*chathooktest.Workspace{wsA, wsB}[i%2]
			<-gate
			status, body := ws.Do(t, http.MethodPost, "/api/v1/messages/batch", `{"messages": [`+strings.Join(batch, ",")+`]}`)
			var res struct{ Results []struct{ Status string } }
			if err := json.Unmarshal(body, &res); status != http.StatusAccepted || err != nil || len(res.Results) != len(batch) {
				t.Errorf("batch %d: %d %s", i, status, body)
				return
			}
			for _, r := range res.Results {
				batchResults[i] = append(batchResults[i], r.Status)
			}
		})
	}
	close(gate)
	wg.Wait()

	count := func(list []string) map[string]int {
		n := map[string]int{}
		for _, s := range list {
			n[s]++
		}
		return n
	}
	if n := count(statuses); n["accepted"] != 1 || n["duplicate"] != len(statuses)-1 {
		t.Errorf("32 posts of one message: %v, want 1 accepted and 31 duplicates", n)
	}
	for m := range batch {
		var column []string
		for _, res := range batchResults {
			if res != nil {
				column = append(column, res[m])
			}
		}
		if n := count(column); n["accepted"] != 1 || n["duplicate"] != len(column)-1 {
			t.Errorf("message %d of the batch: %v, want 1 accepted", m, n)
		}
	}
	want := 1 + len(batch)
	sink.WaitFor(t, want, 30*time.Second)
	a.Stop(t)
	b.Stop(t)
	ids := map[string]int{}
	for _, r := range sink.Got() {
		ids[r.Header.Get("webhook-id")]++
	}
	if len(sink.Got()) != want || len(ids) != want {
		t.Errorf("receiver got %d deliveries of %d events, want %d of each", len(sink.Got()), len(ids), want)
	}
}

// TestTwoInstancesDisableOnceAndMailOnce: both instances fail deliveries
// to a broken receiver at the same time; the failures are counted exactly
// (the count equals the attempts in the log), the webhook is disabled
// once, and its owner gets one email, though both notifiers poll.
func TestTwoInstancesDisableOnceAndMailOnce(t *testing.T) {
	smtp := chathooktest.NewSMTPServer(t, nil)
	cfg := quick()
	cfg.SMTPURL = smtp.URL
	sink, _ := failing(t)
	a, b, wsA, wsB := twoInstances(t, cfg, sink)
	var msgs []string
	for c := range 20 {
		msgs = append(msgs, chatMessage(c, 1))
	}
	postAll(t, wsA, msgs[:10]...)
	postAll(t, wsB, msgs[10:]...)
	smtp.WaitFor(t, 1, 30*time.Second)
	until(t, "the disable", func() bool { return !state(t, wsA).Enabled })
	a.Stop(t)
	b.Stop(t)

	st, err := app.OpenStore(context.Background(), a.DB)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	wh, err := st.Webhook(context.Background(), wsA.WorkspaceID, chathook.Outbound)
	if err != nil {
		t.Fatal(err)
	}
	attempts := 0
	if err := store.EachAttempt(context.Background(), st, wsA.WorkspaceID, chathook.Outbound, time.Time{}, func(chathook.Attempt) error {
		attempts++
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if wh.Enabled || wh.ConsecutiveFailures != attempts || attempts < 10 {
		t.Errorf("webhook %+v after %d failed attempts: the count must equal them", wh, attempts)
	}
	if n := len(smtp.Mails()); n != 1 {
		t.Errorf("%d mails for one disable", n)
	}
	conn, err := pgx.Connect(context.Background(), a.DB)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var emails int
	if err := conn.QueryRow(context.Background(), `SELECT count(*) FROM emails`).Scan(&emails); err != nil || emails != 1 {
		t.Errorf("%d emails in the outbox (%v), want 1", emails, err)
	}
}

// TestTwoInstancesFlushEachMessageOnce: both instances run the bundle
// flusher at each hour's end over the same chats at the same moment
// (issue 6: each bundle window flushed by exactly one instance). Over
// three windows, every message arrives in exactly one bundle, and each
// chat gets one bundle a window.
func TestTwoInstancesFlushEachMessageOnce(t *testing.T) {
	const chats, perWindow, windows = 300, 2, 3
	clock := chathooktest.NewClock(day.Add(10*time.Hour + 5*time.Minute))
	db := chathooktest.Postgres(t)
	sink := chathooktest.NewSink(t)
	a := chathooktest.Start(t, chathooktest.Options{DB: db, Clock: clock, Config: app.Config{BaseURL: baseA}})
	b := chathooktest.Start(t, chathooktest.Options{DB: db, Clock: clock, Config: app.Config{BaseURL: baseB}})
	wsA := a.NewWorkspace(t, "acme")
	wsA.PointAt(t, sink.URL)
	setGranularity(t, wsA, "1h")
	instances := []*chathooktest.Workspace{wsA, wsA.On(b)}

	for w := range windows {
		hour := day.Add(time.Duration(10+w) * time.Hour)
		var msgs []string
		for n := w*perWindow + 1; n <= (w+1)*perWindow; n++ {
			for c := range chats {
				msgs = append(msgs, chatText(c, n, hour.Add(time.Duration(n)*time.Minute), fmt.Sprintf("message %d", n)))
			}
		}
		for i := 0; i < len(msgs); i += 200 {
			postAll(t, instances[i/200%2], msgs[i:min(i+200, len(msgs))]...)
		}
		clock.Set(hour.Add(time.Hour + 5*time.Second))
		a.Tick()
		b.Tick()
		sink.WaitFor(t, (w+1)*chats, 60*time.Second)
		recorded(t, a, wsA)
		clock.Set(hour.Add(time.Hour + 5*time.Minute)) // the next window's messages
	}
	a.Stop(t)
	b.Stop(t) // in-flight POSTs are done: nothing more can arrive

	got := bundles(t, sink.Got())
	perChat := map[string]int{}
	seen := map[string]int{}
	for _, bnd := range got {
		perChat[bnd.Chat.ChatID]++
		for _, m := range bnd.Messages {
			seen[bnd.Chat.ChatID+"/"+m.MessageID]++
		}
	}
	if len(got) != windows*chats || len(perChat) != chats {
		t.Errorf("%d bundles of %d chats, want %d of %d: one per chat and window", len(got), len(perChat), windows*chats, chats)
	}
	for chat, n := range perChat {
		if n != windows {
			t.Errorf("chat %s: %d bundles, want %d", chat, n, windows)
		}
	}
	for m, n := range seen {
		if n != 1 {
			t.Errorf("message %s in %d bundles", m, n)
		}
	}
	if len(seen) != chats*windows*perWindow {
		t.Errorf("%d messages arrived in bundles, want %d", len(seen), chats*windows*perWindow)
	}

	conn, err := pgx.Connect(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var waiting, queued, bundled int
	if err := conn.QueryRow(context.Background(), `SELECT
			(SELECT count(*) FROM messages WHERE pending),
			(SELECT count(*) FROM deliveries WHERE kind = 'bundle'),
			(SELECT coalesce(sum(messages), 0) FROM deliveries WHERE kind = 'bundle')`).Scan(&waiting, &queued, &bundled); err != nil {
		t.Fatal(err)
	}
	if waiting != 0 || queued != windows*chats || bundled != chats*windows*perWindow {
		t.Errorf("in the database: %d messages waiting, %d bundles of %d messages; want 0, %d of %d",
			waiting, queued, bundled, windows*chats, chats*windows*perWindow)
	}
}

// TestTwoInstancesThreeEndpoints: two instances on one database deliver
// 2,000 messages over 100 chats to three endpoints (outbound in the seed
// format, two in the event format, one of them of every type): each gets
// every message once, each chat in order, and the event endpoints one
// chat:created per chat before its first message, with one event id per
// event across endpoints.
func TestTwoInstancesThreeEndpoints(t *testing.T) {
	const chats, perChat = 100, 20
	seed, all, messages := chathooktest.NewSink(t), chathooktest.NewSink(t), chathooktest.NewSink(t)
	a, b, wsA, wsB := twoInstances(t, app.Config{}, seed)
	addEndpoint(t, a, wsA, "ep_00000000000000a1", all.URL, event.Envelope, chathook.NoAggregation, event.All)
	addEndpoint(t, a, wsA, "ep_00000000000000a2", messages.URL, event.Envelope, chathook.NoAggregation, event.MessageNew)
	postInOrder(t, []*chathooktest.Workspace{wsA, wsB}, chats, perChat)
	seed.WaitFor(t, chats*perChat, 60*time.Second)
	all.WaitFor(t, chats*(perChat+1), 60*time.Second)
	messages.WaitFor(t, chats*perChat, 60*time.Second)
	a.Stop(t)
	b.Stop(t) // in-flight POSTs are done: nothing more can arrive

	checkExactlyOnceInOrder(t, seed.Got(), chats, perChat)
	ids := map[string]string{} // message -> its message:new event id
	for name, sink := range map[string]*chathooktest.Sink{"every type": all, "message:new": messages} {
		got := sink.Got()
		var msgs []chathooktest.Received
		created := map[string]bool{}
		for _, r := range got {
			var e struct {
				Type    string `json:"type"`
				EventID string `json:"event_id"`
				Data    struct {
					Chat    json.RawMessage `json:"chat"`
					Message json.RawMessage `json:"message"`
				} `json:"data"`
			}
			if err := json.Unmarshal(r.Body, &e); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			var chat struct {
				ChatID string `json:"chat_id"`
			}
			_ = json.Unmarshal(e.Data.Chat, &chat)
			switch e.Type {
			case event.ChatCreated:
				if created[chat.ChatID] {
					t.Errorf("%s: chat %s created twice", name, chat.ChatID)
				}
				created[chat.ChatID] = true
			case event.MessageNew:
				if name == "every type" && !created[chat.ChatID] {
					t.Errorf("%s: a message of chat %s before its chat:created", name, chat.ChatID)
				}
				var m struct {
					MessageID string `json:"message_id"`
				}
				_ = json.Unmarshal(e.Data.Message, &m)
				key := chat.ChatID + "/" + m.MessageID
				if prev, ok := ids[key]; ok && prev != e.EventID {
					t.Errorf("message %s has event ids %s and %s", key, prev, e.EventID)
				}
				ids[key] = e.EventID
				// As the seed format, for checkExactlyOnceInOrder.
				msgs = append(msgs, chathooktest.Received{Header: r.Header,
					Body: []byte(`{"chat":` + string(e.Data.Chat) + `,"message":` + string(e.Data.Message) + `}`)})
			default:
				t.Errorf("%s got %s", name, e.Type)
			}
		}
		if name == "every type" && len(created) != chats {
			t.Errorf("%s: %d chats created, want %d", name, len(created), chats)
		}
		checkExactlyOnceInOrder(t, msgs, chats, perChat)
	}
}
