package cloudapi_test

// Statuses, reactions and bad messages through the real endpoint: Meta's
// POSTs signed as Meta signs them, replies sent through a local server
// that answers as the Graph API does.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/app"
	"github.com/chathook/chathook/chathooktest"
	"github.com/chathook/chathook/store"
)

// metaBody is a POST of Meta's for Shop One, whose contacts name Sheena:
// messages and statuses, each a JSON object.
func metaBody(messages, statuses []string) []byte {
	return []byte(`{"object": "whatsapp_business_account", "entry": [{"id": "102290129340398", "changes": [{"field": "messages", "value": {
		"messaging_product": "whatsapp",
		"metadata": {"display_phone_number": "15550783881", "phone_number_id": "` + shopOne.PhoneNumberID + `"},
		"contacts": [{"profile": {"name": "Sheena Nelson"}, "wa_id": "16505551234"}],
		"messages": [` + strings.Join(messages, ",") + `],
		"statuses": [` + strings.Join(statuses, ",") + `]}}]}]}`)
}

// sheenaSays is a text message of Sheena's a minute ago.
func sheenaSays(id, text string) string {
	return fmt.Sprintf(`{"from": "16505551234", "id": %q, "timestamp": "%d", "type": "text", "text": {"body": %q}}`,
		id, time.Now().Add(-time.Minute).Unix(), text)
}

// TestBadMessagesLeftOut: SPEC 5.2. One message that breaks the rules is
// logged, by its path and never its text, and left out; the two good ones
// of its POST are stored and the POST answered 200, so that Meta does not
// send it again for days. A NUL in a text is cleaned, as a QR-linked
// account's is, not a reason to leave it out.
func TestBadMessagesLeftOut(t *testing.T) { onEveryStore(t, testBadMessagesLeftOut) }

func testBadMessagesLeftOut(t *testing.T, db string) {
	e := start(t, db)
	recent := fmt.Sprint(time.Now().Add(-time.Minute).Unix())
	// Each bad message is a format of its time and its text.
	future := fmt.Sprint(time.Now().Add(48 * time.Hour).Unix())
	for i, c := range []struct{ name, bad, when, field string }{
		{"a timestamp a day ahead", `{"from": "16505551234", "id": "wamid.BAD", "timestamp": "%s", "type": "text", "text": {"body": "SECRET-%d"}}`, future, "timestamp"},
		{"a timestamp in milliseconds", `{"from": "16505551234", "id": "wamid.BAD", "timestamp": "%s000", "type": "text", "text": {"body": "SECRET-%d"}}`, recent, "timestamp"},
		{"a from not a number", `{"from": "sheena", "id": "wamid.BAD", "timestamp": "%s", "type": "text", "text": {"body": "SECRET-%d"}}`, recent, "from"},
		{"no id", `{"from": "16505551234", "timestamp": "%s", "type": "text", "text": {"body": "SECRET-%d"}}`, recent, "id"},
		{"a text not a string", `{"from": "16505551234", "id": "wamid.BAD", "timestamp": "%s", "type": "text", "text": {"body": ["SECRET-%d"]}}`, recent, "text.body"},
		{"blank text", `{"from": "16505551234", "id": "wamid.BAD", "timestamp": "%s", "type": "text", "text": {"body": "\u200b"}, "note": "SECRET-%d"}`, recent, "text.body"},
	} {
		bad := fmt.Sprintf(c.bad, c.when, i)
		body := metaBody([]string{sheenaSays(fmt.Sprintf("wamid.GOOD-%d-A", i), "first"), bad, sheenaSays(fmt.Sprintf("wamid.GOOD-%d-B", i), "second")}, nil)
		if status, got := e.post(t, body, appOne); status != http.StatusOK || got != `{"accepted":2,"duplicate":0,"skipped":0,"left_out":1}`+"\n" {
			t.Errorf("%s: %d %s, want the two good messages stored and one left out", c.name, status, got)
		}
		if path := "path=entry[0].changes[0].value.messages[1]." + c.field; !strings.Contains(e.log.String(), path) {
			t.Errorf("%s: the log does not name %s:\n%s", c.name, path, e.log)
		}
		// Meta sends it again: the good ones are duplicates now, the bad
		// one is left out again.
		if status, got := e.post(t, body, appOne); status != http.StatusOK || got != `{"accepted":0,"duplicate":2,"skipped":0,"left_out":1}`+"\n" {
			t.Errorf("%s again: %d %s", c.name, status, got)
		}
	}
	if strings.Contains(e.log.String(), "SECRET-") {
		t.Errorf("the log holds a left-out message's text:\n%s", e.log)
	}

	// A NUL and a bell in a text are cleaned; the message is stored.
	body := metaBody([]string{`{"from": "16505551234", "id": "wamid.NUL", "timestamp": "` + recent + `", "type": "text", "text": {"body": "a\u0000b\u0007"}}`}, nil)
	if status, got := e.post(t, body, appOne); status != http.StatusOK || got != answer(1, 0, 0) {
		t.Errorf("a NUL in a text: %d %s, want it stored", status, got)
	}
	kept := e.messages(t)
	if m, ok := kept["wamid.NUL"]; !ok || m.Text != "ab\a" {
		t.Errorf("the text with a NUL is stored as %q (%v), want %q", m.Text, ok, "ab\a")
	}
	if len(kept) != 13 {
		t.Errorf("%d messages stored, want the 12 good ones and the cleaned one", len(kept))
	}
	for id := range kept {
		if strings.Contains(id, "BAD") {
			t.Errorf("a bad message was stored: %s", id)
		}
	}
}

// graphCounter answers each send as Meta's Graph API does, with the
// wamids wamid.REPLY-1, wamid.REPLY-2, ...
type graphCounter struct {
	*httptest.Server
	mu sync.Mutex
	n  int
}

func newGraphCounter(t *testing.T) *graphCounter {
	g := &graphCounter{}
	g.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		g.mu.Lock()
		g.n++
		n := g.n
		g.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"messaging_product":"whatsapp","contacts":[{"input":"16505551234","wa_id":"16505551234"}],"messages":[{"id":"wamid.REPLY-%d"}]}`, n)
	}))
	t.Cleanup(g.Close)
	return g
}

// replyState is a reply as GET /api/v1/chats/{chat_id}/messages/{id}
// answers it.
type replyState struct {
	MessageID string `json:"message_id"`
	Status    string `json:"status"`
	Error     string `json:"error"`
}

// sendReply queues a reply to the chat and waits until it is no longer
// queued.
func (e *env) sendReply(t *testing.T, chat int64, text string) (string, replyState) {
	t.Helper()
	status, data := e.ws.Do(t, http.MethodPost, fmt.Sprintf("/api/v1/chats/%d/messages", chat), map[string]any{"text": text})
	var queued replyState
	if err := json.Unmarshal(data, &queued); status != http.StatusAccepted || err != nil || queued.MessageID == "" {
		t.Fatalf("reply: %d %s", status, data)
	}
	var got replyState
	chathooktest.Eventually(t, "the reply sent", func() bool {
		got = e.reply(t, chat, queued.MessageID)
		return got.Status != "queued"
	})
	return queued.MessageID, got
}

func (e *env) reply(t *testing.T, chat int64, id string) replyState {
	t.Helper()
	status, data := e.ws.Do(t, http.MethodGet, fmt.Sprintf("/api/v1/chats/%d/messages/%s", chat, id), nil)
	var got replyState
	if err := json.Unmarshal(data, &got); status != http.StatusOK || err != nil {
		t.Fatalf("GET reply: %d %s", status, data)
	}
	return got
}

// metaStatus is a status of Meta's for a message sent to Sheena.
func metaStatus(wamid, status, replyID, errors string) string {
	s := fmt.Sprintf(`{"id": %q, "status": %q, "timestamp": "%d", "recipient_id": "16505551234",
		"conversation": {"id": "9b4a3b4ad13e8e9f1b2b7b3a5d2c1e0f", "origin": {"type": "service"}},
		"pricing": {"billable": true, "pricing_model": "PMP", "category": "service"}`, wamid, status, time.Now().Unix())
	if replyID != "" {
		s += `, "biz_opaque_callback_data": "` + replyID + `"`
	}
	if errors != "" {
		s += `, "errors": ` + errors
	}
	return s + "}"
}

// event is what an event-format endpoint got, as far as these tests read.
type event struct {
	Type string `json:"type"`
	Data struct {
		MessageID   string `json:"message_id"`
		MessageUUID string `json:"message_uuid"`
		Status      string `json:"status"`
		Error       string `json:"error"`
		Reaction    string `json:"reaction"`
		Sender      person `json:"sender"`
	} `json:"data"`
}

// TestStatusesAndReactions: Meta's statuses of replies sent from chathook
// move the message's status, and fail a sent reply with Meta's code and
// title; a customer's reaction is recorded, also to a message of the same
// POST; an endpoint in the event format subscribed to them gets
// message:status and message:reaction. A status sent again changes
// nothing.
func TestStatusesAndReactions(t *testing.T) { onEveryStore(t, testStatusesAndReactions) }

func testStatusesAndReactions(t *testing.T, db string) {
	graph := newGraphCounter(t)
	e := startWith(t, db, app.Config{GraphAPIURL: graph.URL, ReplyBackoff: func(int) time.Duration { return 20 * time.Millisecond }}, graphToken)
	events := chathooktest.NewSink(t)
	if status, body := e.ws.Do(t, http.MethodPost, "/api/v1/webhooks", map[string]any{
		"url": events.URL + "/events", "events": []string{"message:status", "message:reaction"},
	}); status != http.StatusCreated {
		t.Fatalf("add the endpoint: %d %s", status, body)
	}
	if status, body := e.post(t, fixture(t, "text.json"), appOne); status != http.StatusOK {
		t.Fatalf("Sheena's message: %d %s", status, body)
	}
	chats, err := e.svc.Store.Chats(context.Background(), e.ws.WorkspaceID, store.ChatQuery{Limit: 10})
	if err != nil || len(chats) != 1 {
		t.Fatalf("chats %+v (%v)", chats, err)
	}
	chat := chats[0].ID

	delivered, got := e.sendReply(t, chat, "Yes: in blue and in green.")
	if got.Status != "sent" || got.MessageID != delivered {
		t.Fatalf("the first reply: %+v, want sent", got)
	}
	failed, got := e.sendReply(t, chat, "Are you still there?")
	if got.Status != "sent" {
		t.Fatalf("the second reply: %+v, want sent", got)
	}
	statuses := metaBody(nil, []string{
		metaStatus("wamid.REPLY-1", "delivered", delivered, ""),
		metaStatus("wamid.REPLY-2", "failed", failed, `[{"code": 131047, "title": "Re-engagement message", "message": "Re-engagement message",
			"error_data": {"details": "Message failed to send because more than 24 hours have passed since the customer last replied to this number."},
			"href": "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/"}]`),
		metaStatus("wamid.REPLY-1", "deleted", "", ""),
	})
	if status, body := e.post(t, statuses, appOne); status != http.StatusOK || body != answer(0, 0, 0) {
		t.Fatalf("the statuses: %d %s", status, body)
	}
	if m := e.messages(t)["wamid.REPLY-1"]; m.Status != chathook.StatusDelivered {
		t.Errorf("the first reply's message is %q, want delivered", m.Status)
	}
	if got := e.reply(t, chat, failed); got.Status != "failed" ||
		!strings.HasPrefix(got.Error, "131047: Re-engagement message (Message failed to send because more than 24 hours") {
		t.Errorf("the second reply: %+v, want failed with Meta's code and title", got)
	}
	if !strings.Contains(e.log.String(), "status deleted: 1") {
		t.Errorf("the deleted status is not logged as ignored:\n%s", e.log)
	}

	// A new message of Sheena's and her reaction to it in one POST: the
	// message is stored first. Her reaction to the reply, in another.
	both := metaBody([]string{
		sheenaSays("wamid.NEW", "Perfect, thanks"),
		`{"from": "16505551234", "id": "wamid.REACT-1", "timestamp": "` + fmt.Sprint(time.Now().Unix()) + `", "type": "reaction", "reaction": {"message_id": "wamid.NEW", "emoji": "🙏"}}`,
	}, nil)
	if status, body := e.post(t, both, appOne); status != http.StatusOK || body != answer(1, 0, 0) {
		t.Fatalf("a message and its reaction: %d %s", status, body)
	}
	toReply := metaBody([]string{`{"from": "16505551234", "id": "wamid.REACT-2", "timestamp": "` + fmt.Sprint(time.Now().Unix()) + `", "type": "reaction", "reaction": {"message_id": "wamid.REPLY-1", "emoji": "👍"}}`}, nil)
	if status, body := e.post(t, toReply, appOne); status != http.StatusOK {
		t.Fatalf("a reaction to the reply: %d %s", status, body)
	}
	kept := e.messages(t)
	for id, emoji := range map[string]string{"wamid.NEW": "🙏", "wamid.REPLY-1": "👍"} {
		rs := kept[id].Reactions
		if len(rs) != 1 || rs[0].Reaction != emoji || rs[0].Sender != (chathook.Person{FullName: "Sheena Nelson", Phone: "+16505551234"}) {
			t.Errorf("%s's reactions: %+v, want Sheena's %s", id, rs, emoji)
		}
	}

	// The endpoint gets them: the delivered and failed statuses, and the
	// two reactions.
	want := map[string]bool{
		"message:status wamid.REPLY-1 " + delivered + " delivered":    true,
		"message:status wamid.REPLY-2 " + failed + " failed":          true,
		"message:reaction wamid.NEW 🙏 Sheena Nelson +16505551234":     true,
		"message:reaction wamid.REPLY-1 👍 Sheena Nelson +16505551234": true,
	}
	seen := func() map[string]bool {
		s := map[string]bool{}
		for _, r := range events.Got() {
			var ev event
			if err := json.Unmarshal(r.Body, &ev); err != nil {
				t.Fatalf("an event: %v: %s", err, r.Body)
			}
			d := ev.Data
			if ev.Type == "message:status" {
				s[ev.Type+" "+d.MessageID+" "+d.MessageUUID+" "+d.Status] = true
				if d.Status == "failed" && !strings.HasPrefix(d.Error, "131047: Re-engagement message") {
					t.Errorf("the failed status says %q", d.Error)
				}
			} else {
				s[ev.Type+" "+d.MessageID+" "+d.Reaction+" "+d.Sender.FullName+" "+d.Sender.Phone] = true
			}
		}
		return s
	}
	chathooktest.Eventually(t, "the statuses and reactions at the endpoint", func() bool {
		s := seen()
		for k := range want {
			if !s[k] {
				return false
			}
		}
		return true
	})

	// Meta sends the statuses again: repeats, nothing new queued.
	if status, body := e.post(t, statuses, appOne); status != http.StatusOK || body != answer(0, 0, 0) {
		t.Errorf("the statuses again: %d %s", status, body)
	}
	if !strings.Contains(e.log.String(), "facts_repeat=2") {
		t.Errorf("the statuses sent again are not repeats:\n%s", e.log)
	}
}
