package app_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/app"
	"github.com/chathook/chathook/chathooktest"
	"github.com/chathook/chathook/payload"
)

const baseURL = "https://chathook.example.com"

// The ingest example of SPEC section 6, without attachments and with
// sender and recipient left for chathook to derive.
const received = `{
  "account": {"phone": "+972500000000", "full_name": "Amnon Haha", "email": "amnon@acme.com"},
  "chat": {"external_id": "+97254000000", "full_name": "John Doe", "is_group": false, "phone": "+97254000000"},
  "message_id": "3EB0C767D26A1D2D",
  "direction": "received",
  "timestamp": "2021-02-24T16:25:29Z",
  "text": "Hi! 👋"
}`

// A reply from chathook by a teammate, in the wire form of timestamps.
const sent = `{
  "account": {"phone": "+972500000000"},
  "chat": {"external_id": "+97254000000"},
  "message_id": "3EB0C767D26A1D2E",
  "direction": "sent",
  "timestamp": "2021-02-24T16:30:29+0000",
  "sent_by": {"full_name": "Jane Smith", "email": "jane@acme.com"},
  "text": "I am fine, <b>how</b> are you? & you"
}`

// onEveryStore runs test on a fresh SQLite file and on a fresh PostgreSQL
// schema (skipped, or failed under CI=true, when PostgreSQL is not there).
func onEveryStore(t *testing.T, test func(t *testing.T, db string)) {
	t.Run("sqlite", func(t *testing.T) { test(t, "sqlite:"+filepath.Join(t.TempDir(), "chathook.db")) })
	t.Run("postgres", func(t *testing.T) { test(t, chathooktest.Postgres(t)) })
}

// TestEndToEnd posts messages through the real API and compares what a
// real HTTP receiver gets, byte for byte, with golden files written by
// hand from SPEC sections 4.1 and 4.3, and verifies every signature.
func TestEndToEnd(t *testing.T) { onEveryStore(t, testEndToEnd) }

func testEndToEnd(t *testing.T, db string) {
	svc := chathooktest.Start(t, chathooktest.Options{DB: db, Config: app.Config{BaseURL: baseURL}})
	ws := svc.NewWorkspace(t, "acme")
	sink := chathooktest.NewSink(t)
	ws.PointAt(t, sink.URL+"/hook")

	status, body := ws.Do(t, http.MethodPost, "/api/v1/messages", received)
	if status != http.StatusAccepted || string(body) != `{"status":"accepted","chat_id":"10000001","reason":""}`+"\n" {
		t.Fatalf("ingest: %d %s", status, body)
	}
	first := sink.WaitFor(t, 1, 10*time.Second)[0]

	// The chat gets a responsible teammate before the reply: the reply's
	// payload shows it.
	status, body = ws.Do(t, http.MethodPut, "/api/v1/chats/10000001",
		map[string]string{"responsible_name": "Amnon", "responsible_email": "amnon@acme.com"})
	if status != http.StatusOK {
		t.Fatalf("update chat: %d %s", status, body)
	}
	if status, body = ws.Do(t, http.MethodPost, "/api/v1/messages", sent); status != http.StatusAccepted {
		t.Fatalf("ingest: %d %s", status, body)
	}
	second := sink.WaitFor(t, 2, 10*time.Second)[1]

	key, err := payload.ParseSecret(ws.WebhookSecret)
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	for i, c := range []struct {
		got    chathooktest.Received
		golden string
	}{{first, "testdata/received.golden"}, {second, "testdata/sent.golden"}} {
		want, err := os.ReadFile(c.golden)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(c.got.Body, want) {
			t.Errorf("delivery %d differs from %s\n got: %s\nwant: %s", i+1, c.golden, c.got.Body, want)
		}
		h := c.got.Header
		id, tsText := h.Get("webhook-id"), h.Get("webhook-timestamp")
		ts, err := strconv.ParseInt(tsText, 10, 64)
		if err != nil || time.Since(time.Unix(ts, 0)).Abs() > time.Minute {
			t.Errorf("delivery %d: webhook-timestamp %q is not the time of sending", i+1, tsText)
		}
		if !strings.HasPrefix(id, "msg_") || ids[id] {
			t.Errorf("delivery %d: webhook-id %q is not a fresh msg_ id", i+1, id)
		}
		ids[id] = true
		if !payload.Verify(key, id, ts, c.got.Body, h.Get("webhook-signature")) {
			t.Errorf("delivery %d: signature %q does not verify", i+1, h.Get("webhook-signature"))
		}
		if got := h.Get("Content-Type"); got != "application/json" {
			t.Errorf("delivery %d: Content-Type %q", i+1, got)
		}
		if got := h.Get("User-Agent"); got != "chathook/"+chathook.Version {
			t.Errorf("delivery %d: User-Agent %q", i+1, got)
		}
	}
}

// TestDuplicatesAndSkippedAreNeverDelivered: a repeat and a message with
// attachments are answered and kept, and only the first text message of
// the three reaches the receiver.
func TestDuplicatesAndSkippedAreNeverDelivered(t *testing.T) {
	svc := chathooktest.Start(t, chathooktest.Options{})
	ws := svc.NewWorkspace(t, "acme")
	sink := chathooktest.NewSink(t)
	ws.PointAt(t, sink.URL)

	withPhoto := strings.Replace(received, `"text": "Hi! 👋"`,
		`"text": "", "attachments": [{"type": "image", "url": "https://files.example/1.jpg"}]`, 1)
	withPhoto = strings.Replace(withPhoto, "3EB0C767D26A1D2D", "PHOTO1", 1)
	status, body := ws.Do(t, http.MethodPost, "/api/v1/messages/batch",
		`{"messages": [`+received+`,`+received+`,`+withPhoto+`]}`)
	if status != http.StatusAccepted {
		t.Fatalf("batch: %d %s", status, body)
	}
	var answer struct {
		Results []struct {
			Status, Reason string
			ChatID         string `json:"chat_id"`
		}
	}
	if err := json.Unmarshal(body, &answer); err != nil {
		t.Fatal(err)
	}
	want := []string{"accepted", "duplicate", "skipped"}
	for i, r := range answer.Results {
		if r.Status != want[i] || r.ChatID != "10000001" {
			t.Errorf("result %d = %+v, want %s in chat 10000001", i, r, want[i])
		}
	}
	if answer.Results[2].Reason == "" {
		t.Error("skipped without a reason")
	}
	// The same message again, later, in a request of its own.
	if status, body = ws.Do(t, http.MethodPost, "/api/v1/messages", received); !strings.Contains(string(body), `"duplicate"`) {
		t.Errorf("repeat: %d %s", status, body)
	}
	// A marker message in the same chat: once it has arrived, everything
	// queued before it in that chat has gone out too (per-chat order).
	marker := strings.Replace(received, "3EB0C767D26A1D2D", "MARKER", 1)
	ws.Do(t, http.MethodPost, "/api/v1/messages", marker)
	got := sink.WaitFor(t, 2, 10*time.Second)
	svc.Stop(t)
	if n := len(sink.Got()); n != 2 {
		t.Fatalf("receiver got %d deliveries, want 2 (the message and the marker)", n)
	}
	for i, id := range []string{"3EB0C767D26A1D2D", "MARKER"} {
		if !bytes.Contains(got[i].Body, []byte(`"message_id":"`+id+`"`)) {
			t.Errorf("delivery %d is not %s: %s", i+1, id, got[i].Body)
		}
	}
}

// TestRestartDeliversEverythingOnce stops the service while deliveries are
// pending and in flight, starts it again on the same database, and checks
// that every message arrives exactly once, in order within its chat.
func TestRestartDeliversEverythingOnce(t *testing.T) {
	onEveryStore(t, testRestartDeliversEverythingOnce)
}

func testRestartDeliversEverythingOnce(t *testing.T, db string) {
	const chats, perChat = 10, 30
	sink := chathooktest.NewSink(t)
	sink.Respond = func(int, *http.Request) int {
		time.Sleep(5 * time.Millisecond) // a slow receiver keeps deliveries in flight
		return http.StatusOK
	}
	svc := chathooktest.Start(t, chathooktest.Options{DB: db})
	ws := svc.NewWorkspace(t, "acme")
	ws.PointAt(t, sink.URL)

	var batch []string
	for i := range chats * perChat {
		batch = append(batch, fmt.Sprintf(`{"account": {"phone": "+15550000000"}, "chat": {"external_id": "+1555100%04d"},
			"message_id": "m%05d", "direction": "received", "text": "n %d"}`, i%chats, i, i))
	}
	if status, body := ws.Do(t, http.MethodPost, "/api/v1/messages/batch", `{"messages": [`+strings.Join(batch, ",")+`]}`); status != http.StatusAccepted {
		t.Fatalf("batch: %d %s", status, body)
	}
	sink.WaitFor(t, 20, 10*time.Second)
	svc.Stop(t)
	before := len(sink.Got())
	if before >= chats*perChat {
		t.Fatalf("all %d delivered before the stop: the test proves nothing", before)
	}
	t.Logf("%d of %d delivered before the restart", before, chats*perChat)

	again := chathooktest.Start(t, chathooktest.Options{DB: svc.DB})
	sink.WaitFor(t, chats*perChat, 30*time.Second)
	again.Stop(t)

	got := sink.Got()
	if len(got) != chats*perChat {
		t.Errorf("receiver got %d deliveries, want exactly %d", len(got), chats*perChat)
	}
	seen := map[string]int{}
	last := map[string]int{} // chat → last message number
	for _, r := range got {
		var p struct {
			Chat struct {
				ChatID string `json:"chat_id"`
			}
			Message struct {
				MessageID string `json:"message_id"`
			}
		}
		if err := json.Unmarshal(r.Body, &p); err != nil {
			t.Fatal(err)
		}
		seen[p.Message.MessageID]++
		n, _ := strconv.Atoi(strings.TrimPrefix(p.Message.MessageID, "m"))
		if prev, ok := last[p.Chat.ChatID]; ok && n < prev {
			t.Errorf("chat %s: %s arrived after m%05d", p.Chat.ChatID, p.Message.MessageID, prev)
		}
		last[p.Chat.ChatID] = n
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("%s delivered %d times", id, n)
		}
	}
	if len(seen) != chats*perChat {
		t.Errorf("%d distinct messages delivered, want %d", len(seen), chats*perChat)
	}
}
