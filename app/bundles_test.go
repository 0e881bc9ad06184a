package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/chathook/chathook"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chathook/chathook/app"
	"github.com/chathook/chathook/chathooktest"
)

// day is tomorrow, UTC midnight: a test clock near real time, so the
// webhook-timestamp of a bundle stays a plausible time.
var day = time.Now().UTC().Truncate(24 * time.Hour).Add(24 * time.Hour)

// gathering starts a service on db and clock with a workspace whose
// webhook, at sink, bundles every granularity.
func gathering(t *testing.T, db string, clock *chathooktest.Clock, cfg app.Config, granularity string) (*chathooktest.Service, *chathooktest.Workspace, *chathooktest.Sink) {
	t.Helper()
	svc := chathooktest.Start(t, chathooktest.Options{DB: db, Config: cfg, Clock: clock})
	ws := svc.NewWorkspace(t, "acme")
	sink := chathooktest.NewSink(t)
	ws.PointAt(t, sink.URL+"/hook")
	setGranularity(t, ws, granularity)
	return svc, ws, sink
}

// recorded waits until the store has recorded the outcome of every
// delivery of ws. A test must before it moves its clock past the lease:
// a delivery whose POST is done but whose outcome is not yet recorded
// would look expired and go out a second time (at-least-once, as after a
// crash).
func recorded(t *testing.T, svc *chathooktest.Service, ws *chathooktest.Workspace) {
	t.Helper()
	until(t, "every delivery recorded", func() bool {
		n, err := svc.Store.Pending(context.Background(), ws.WorkspaceID, chathook.Outbound)
		return err == nil && n == 0
	})
}

func setGranularity(t *testing.T, ws *chathooktest.Workspace, g string) {
	t.Helper()
	if status, body := ws.Do(t, http.MethodPut, "/api/v1/webhooks/outbound", map[string]string{"granularity": g}); status != http.StatusOK {
		t.Fatalf("granularity %s: %d %s", g, status, body)
	}
}

type wireBundle struct {
	Chat struct {
		ChatID    string `json:"chat_id"`
		IsNewChat bool   `json:"is_new_chat"`
	} `json:"chat"`
	Messages []struct {
		MessageID string `json:"message_id"`
		Timestamp string `json:"timestamp"`
		Text      string `json:"text"`
	} `json:"messages"`
	First       string `json:"first_message_timestamp"`
	Last        string `json:"last_message_timestamp"`
	Aggregation string `json:"aggregation"`
}

// bundles decodes what a sink got, sorted by chat (chats go out side by
// side, in no set order) and, within a chat, in the order received.
func bundles(t *testing.T, got []chathooktest.Received) []wireBundle {
	t.Helper()
	out := make([]wireBundle, len(got))
	for i, r := range got {
		if err := json.Unmarshal(r.Body, &out[i]); err != nil || len(out[i].Messages) == 0 {
			t.Fatalf("not a bundle: %s (%v)", r.Body, err)
		}
	}
	slices.SortStableFunc(out, func(a, b wireBundle) int { return strings.Compare(a.Chat.ChatID, b.Chat.ChatID) })
	return out
}

func messageIDs(b wireBundle) string {
	var ids []string
	for _, m := range b.Messages {
		ids = append(ids, m.MessageID)
	}
	return strings.Join(ids, " ")
}

// chatText is message n of chat c, sent at the given time.
func chatText(c, n int, at time.Time, text string) string {
	body, _ := json.Marshal(map[string]any{
		"account":    map[string]string{"phone": "+972500000000", "full_name": "Amnon Haha", "email": "amnon@acme.com"},
		"chat":       map[string]string{"external_id": fmt.Sprintf("+9725400000%d", c), "full_name": fmt.Sprintf("Contact %d", c), "phone": fmt.Sprintf("+9725400000%d", c)},
		"message_id": fmt.Sprintf("c%d-m%d", c, n), "direction": "received", "timestamp": at.Format(time.RFC3339), "text": text,
	})
	return string(body)
}

var permalink = regexp.MustCompile(`/permalink/[0-9a-f-]{36}/`)

// TestBundlesAtTheWindowsEnd: with 1h, a chat's messages of the hour go
// out as one bundle when the hour ends, in the wire format of SPEC 4.2,
// with the aggregation escaped.
func TestBundlesAtTheWindowsEnd(t *testing.T) { onEveryStore(t, testBundlesAtTheWindowsEnd) }

func testBundlesAtTheWindowsEnd(t *testing.T, db string) {
	clock := chathooktest.NewClock(day.Add(10*time.Hour + 30*time.Minute))
	svc, ws, sink := gathering(t, db, clock, app.Config{BaseURL: baseURL}, "1h")
	sentAt := day.Add(10*time.Hour + 29*time.Minute)
	postAll(t, ws,
		chatText(1, 1, sentAt, "Hi! How are you?"),
		chatText(2, 1, sentAt, "other chat"),
		chatText(1, 2, sentAt.Add(time.Minute), "<script>alert(1)</script>\nand '><img src=x onerror=alert(1)>"))
	clock.Set(day.Add(10*time.Hour + 59*time.Minute))
	svc.Tick()
	postAll(t, ws, chatText(1, 3, sentAt.Add(2*time.Minute), "last of the hour"))
	clock.Set(day.Add(11*time.Hour + 3*time.Second))
	svc.Tick()
	got := bundles(t, sink.WaitFor(t, 2, 10*time.Second))
	if len(got) != 2 || messageIDs(got[0]) != "c1-m1 c1-m2 c1-m3" || messageIDs(got[1]) != "c2-m1" {
		t.Fatalf("bundles %q and %q, want one per chat with the whole hour", messageIDs(got[0]), messageIDs(got[1]))
	}
	var body string
	for _, r := range sink.Got() {
		if strings.Contains(string(r.Body), `"chat_id":"10000001"`) {
			body = permalink.ReplaceAllString(string(r.Body), "/permalink/UUID/")
		}
	}
	body = strings.ReplaceAll(body, day.Format("2006-01-02"), "DAY")
	want, err := os.ReadFile("testdata/bundle.golden")
	if err != nil {
		t.Fatal(err)
	}
	if body != string(want) {
		t.Errorf("bundle differs from testdata/bundle.golden\n got: %s\nwant: %s", body, want)
	}
	if id := sink.Got()[0].Header.Get("webhook-id"); !strings.HasPrefix(id, "bnd_") {
		t.Errorf("webhook-id %q", id)
	}
	until(t, "the activity log to show the bundle as one delivery of 3 messages", func() bool {
		_, activity := ws.Do(t, http.MethodGet, "/api/v1/webhooks/outbound/activity", nil)
		return strings.Contains(string(activity), `"kind":"bundle","chat_id":"10000001","chat_name":"Contact 1","messages":3,"status":"delivered"`)
	})
}

// A restart in the middle of a window loses nothing, and a window that
// ended while the service was down is flushed when it starts, once.
func TestBundleSurvivesRestartAndDowntime(t *testing.T) {
	onEveryStore(t, testBundleSurvivesRestartAndDowntime)
}

func testBundleSurvivesRestartAndDowntime(t *testing.T, db string) {
	clock := chathooktest.NewClock(day.Add(10*time.Hour + 30*time.Minute))
	svc, ws, sink := gathering(t, db, clock, app.Config{}, "6h")
	postAll(t, ws, chatText(1, 1, day.Add(10*time.Hour), "before the restart"))
	svc.Stop(t)

	clock.Set(day.Add(11 * time.Hour))
	svc = chathooktest.Start(t, chathooktest.Options{DB: svc.DB, Clock: clock})
	postAll(t, ws.On(svc), chatText(1, 2, day.Add(11*time.Hour), "after the restart"))
	svc.Stop(t)

	clock.Set(day.Add(14 * time.Hour)) // the 06-12 window ended while down
	svc = chathooktest.Start(t, chathooktest.Options{DB: svc.DB, Clock: clock})
	got := bundles(t, sink.WaitFor(t, 1, 10*time.Second))
	svc.Tick() // a second look finds nothing more to send
	if status, body := ws.On(svc).Do(t, http.MethodPost, "/api/v1/webhooks/outbound/flush", nil); status != 200 || string(body) != `{"bundles":0,"messages":0}`+"\n" {
		t.Errorf("flush after the bundle went out: %d %s", status, body)
	}
	svc.Stop(t)
	if len(sink.Got()) != 1 || messageIDs(got[0]) != "c1-m1 c1-m2" || !got[0].Chat.IsNewChat {
		t.Errorf("%d bundles, first %q new=%v; want one with both messages, the chat new", len(sink.Got()), messageIDs(got[0]), got[0].Chat.IsNewChat)
	}
}

// The flush route sends what waits at once; a window too large for one
// POST is split into parts, each a valid bundle, in order.
func TestFlushNowSplitsLargeBundles(t *testing.T) { onEveryStore(t, testFlushNowSplitsLargeBundles) }

func testFlushNowSplitsLargeBundles(t *testing.T, db string) {
	clock := chathooktest.NewClock(day.Add(10 * time.Hour))
	_, ws, sink := gathering(t, db, clock, app.Config{}, "24h")
	var msgs []string
	for n := range 1200 {
		msgs = append(msgs, chatText(1, n, day.Add(time.Duration(n)*time.Second), fmt.Sprintf("short %d", n)))
	}
	long := strings.Repeat("ü<", 30000) // 60,000 characters, longer still once escaped
	for n := range 12 {
		msgs = append(msgs, chatText(2, n, day.Add(time.Duration(n)*time.Second), long))
	}
	for i := 0; i < len(msgs); i += 500 {
		postAll(t, ws, msgs[i:min(i+500, len(msgs))]...)
	}
	status, body := ws.Do(t, http.MethodPost, "/api/v1/webhooks/outbound/flush", nil)
	if status != http.StatusOK || !strings.Contains(string(body), `"messages":1212`) {
		t.Fatalf("flush: %d %s", status, body)
	}
	var flushed struct{ Bundles int }
	json.Unmarshal(body, &flushed)
	raw := sink.WaitFor(t, flushed.Bundles, 20*time.Second)
	got := bundles(t, raw)
	counts := map[string][]int{}
	next := map[string]int{}
	for i, b := range got {
		counts[b.Chat.ChatID] = append(counts[b.Chat.ChatID], len(b.Messages))
		if b.Chat.IsNewChat != (len(counts[b.Chat.ChatID]) == 1) {
			t.Errorf("chat %s part %d: is_new_chat %v, want it on the first part only", b.Chat.ChatID, len(counts[b.Chat.ChatID]), b.Chat.IsNewChat)
		}
		if b.First != b.Messages[0].Timestamp || b.Last != b.Messages[len(b.Messages)-1].Timestamp || !strings.Contains(b.Aggregation, "/permalink/") {
			t.Errorf("bundle %d is not a valid bundle of its own: first %s last %s", i, b.First, b.Last)
		}
		for _, m := range b.Messages {
			var c, n int
			fmt.Sscanf(m.MessageID, "c%d-m%d", &c, &n)
			if n != next[b.Chat.ChatID] {
				t.Fatalf("chat %s: message %d where %d was next", b.Chat.ChatID, n, next[b.Chat.ChatID])
			}
			next[b.Chat.ChatID]++
		}
	}
	for _, r := range raw {
		if len(r.Body) > 1<<20 {
			t.Errorf("a bundle of %d bytes: over the 1 MiB limit", len(r.Body))
		}
	}
	if fmt.Sprint(counts["10000001"]) != "[500 500 200]" || next["10000002"] != 12 || len(counts["10000002"]) < 2 {
		t.Errorf("parts per chat %v", counts)
	}
}

// Bundles fail, retry with the same webhook-id, and disable the webhook
// after 10 consecutive failures exactly like single messages.
func TestBundleFailuresAreLikeAnyDelivery(t *testing.T) {
	onEveryStore(t, testBundleFailuresAreLikeAnyDelivery)
}

func testBundleFailuresAreLikeAnyDelivery(t *testing.T, db string) {
	clock := chathooktest.NewClock(day.Add(10 * time.Hour))
	cfg := quick()
	svc, ws, sink := gathering(t, db, clock, cfg, "1h")
	sink.Respond = func(n int, _ *http.Request) int {
		if n <= 2 {
			return http.StatusServiceUnavailable
		}
		return http.StatusOK
	}
	postAll(t, ws, chatText(1, 1, day, "one"), chatText(1, 2, day, "two"))
	clock.Set(day.Add(11*time.Hour + 5*time.Second))
	svc.Tick()
	got := sink.WaitFor(t, 1, 10*time.Second)
	if sink.Attempts() != 3 {
		t.Errorf("%d attempts, want 2 failures and a success", sink.Attempts())
	}
	var rows []string
	until(t, "three attempts in the log", func() bool {
		rows = strings.Split(strings.TrimSpace(string(logOf(t, ws))), "\n")
		return len(rows) == 4 // the header and three attempts
	})
	for _, row := range rows[1:] {
		if !strings.Contains(row, got[0].Header.Get("webhook-id")) || !strings.Contains(row, ",bundle,") {
			t.Errorf("attempt not of the same bundle: %s", row)
		}
	}

	sink.Respond = func(int, *http.Request) int { return http.StatusInternalServerError }
	postAll(t, ws, chatText(1, 3, day.Add(11*time.Hour), "three"))
	clock.Set(day.Add(12*time.Hour + 5*time.Second))
	svc.Tick()
	until(t, "the disable", func() bool { return !state(t, ws).Enabled })
	if s := state(t, ws); s.ConsecutiveFailures != 10 || s.LastError != "HTTP 500 Internal Server Error" {
		t.Errorf("after the bundle failed 10 times: %+v", s)
	}
}

func logOf(t *testing.T, ws *chathooktest.Workspace) []byte {
	t.Helper()
	status, body := ws.Do(t, http.MethodGet, "/api/v1/webhooks/outbound/log", nil)
	if status != http.StatusOK {
		t.Fatalf("log: %d %s", status, body)
	}
	return body
}

// Changing the granularity never strands a message: to none, what waits
// goes out one by one at once; to a shorter window, what a window that
// has now ended holds goes out at once.
func TestGranularityChangesStrandNothing(t *testing.T) {
	onEveryStore(t, testGranularityChangesStrandNothing)
}

func testGranularityChangesStrandNothing(t *testing.T, db string) {
	clock := chathooktest.NewClock(day.Add(10 * time.Hour))
	svc, ws, sink := gathering(t, db, clock, app.Config{}, "24h")
	postAll(t, ws, chatText(1, 1, day, "a"), chatText(2, 1, day, "b"), chatText(1, 2, day, "c"))
	setGranularity(t, ws, "none")
	got := deliveredIDs(t, sink.WaitFor(t, 3, 10*time.Second))
	if first := slices.Index(got, "c1-m1"); first < 0 || first > slices.Index(got, "c1-m2") || !slices.Contains(got, "c2-m1") {
		t.Errorf("after switching to none: %v, want every waiting message, chat 1 in order", got)
	}

	setGranularity(t, ws, "6h")
	postAll(t, ws, chatText(3, 1, day.Add(10*time.Hour), "in hour 10"))
	recorded(t, svc, ws)
	clock.Set(day.Add(11*time.Hour + 30*time.Minute))
	setGranularity(t, ws, "1h") // hour 10 has ended under 1h
	b := bundles(t, sink.WaitFor(t, 4, 10*time.Second)[3:])
	if messageIDs(b[0]) != "c3-m1" {
		t.Errorf("after switching to 1h got %q", messageIDs(b[0]))
	}
}
