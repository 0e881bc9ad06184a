package web

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chathook/chathook"
)

// renderMessages renders the chat page of ms, as showChat would, and
// returns each message's <article> by its UUID.
func renderMessages(t *testing.T, ms ...chathook.Message) map[string]string {
	t.Helper()
	s, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)
	data := chatView{Chat: chathook.Chat{ID: 7, FullName: "Ana"}, Latest: "/chat/7/messages/"}
	for _, m := range ms {
		data.Messages = append(data.Messages, messageViewOf(m, now))
	}
	var buf bytes.Buffer
	if err := s.pages["chat.html"].ExecuteTemplate(&buf, "layout", data); err != nil {
		t.Fatal(err)
	}
	body := buf.String()
	out := map[string]string{}
	for _, m := range ms {
		i := strings.Index(body, `id="m-`+m.UUID+`"`)
		if i < 0 {
			t.Fatalf("message %s is not on the page", m.UUID)
		}
		out[m.UUID] = body[i : i+strings.Index(body[i:], "</article>")]
	}
	return out
}

var at0 = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

func message(uuid string, dir chathook.Direction, text string) chathook.Message {
	return chathook.Message{UUID: uuid, Direction: dir, Timestamp: at0, Text: text, Sender: chathook.Person{FullName: "Agent"}}
}

// Sent messages carry WhatsApp's ticks, named in words; received ones none.
func TestChatStatusMarks(t *testing.T) {
	var ms []chathook.Message
	for _, st := range []chathook.MessageStatus{"", chathook.StatusSent, chathook.StatusDelivered, chathook.StatusRead, chathook.StatusPlayed, chathook.StatusFailed} {
		m := message("sent-"+string(st), chathook.Sent, "hi")
		m.Status, m.StatusAt = st, at0.Add(5*time.Minute)
		ms = append(ms, m)
	}
	in := message("received", chathook.Received, "hello")
	in.Status = chathook.StatusRead // never shown on a received message, whatever the store says
	ms = append(ms, in)
	failedReply := message("failed-reply", chathook.Sent, "hi")
	failedReply.Status, failedReply.Reply, failedReply.ReplyError = chathook.StatusFailed, chathook.ReplyFailed, "131047: Re-engagement message"
	ms = append(ms, failedReply)
	got := renderMessages(t, ms...)

	for uuid, want := range map[string]string{
		"sent-sent":      `<span class="mark sent" role="img" aria-label="Sent" title="Sent · 2026-03-01 09:05:00 UTC">✓</span>`,
		"sent-delivered": `<span class="mark delivered" role="img" aria-label="Delivered" title="Delivered · 2026-03-01 09:05:00 UTC">✓✓</span>`,
		"sent-read":      `<span class="mark read" role="img" aria-label="Read" title="Read · 2026-03-01 09:05:00 UTC">✓✓</span>`,
		"sent-played":    `<span class="mark played" role="img" aria-label="Played" title="Played · 2026-03-01 09:05:00 UTC">✓✓</span>`,
		"sent-failed":    `<span class="mark failed" role="img" aria-label="Failed" title="Failed · 2026-03-01 09:05:00 UTC">!</span>`,
		"failed-reply":   `<span class="mark failed" role="img" aria-label="Failed" title="Failed: 131047: Re-engagement message">!</span>`,
	} {
		if !strings.Contains(got[uuid], want) {
			t.Errorf("%s: want %s in\n%s", uuid, want, got[uuid])
		}
	}
	for _, uuid := range []string{"sent-", "received"} {
		if strings.Contains(got[uuid], `class="mark`) {
			t.Errorf("%s shows a status mark:\n%s", uuid, got[uuid])
		}
	}
	if !strings.Contains(got["failed-reply"], `<p class="reply-state failed">failed: 131047: Re-engagement message</p>`) {
		t.Errorf("a failed reply no longer says why beside it:\n%s", got["failed-reply"])
	}
}

// A reply sent with no receipt yet says "sent"; once a receipt came, its
// ticks say it instead of the label.
func TestChatReplySentAndTicks(t *testing.T) {
	plain := message("plain", chathook.Sent, "hi")
	plain.Reply = chathook.ReplySent
	ticked := plain
	ticked.UUID, ticked.Status = "ticked", chathook.StatusSent
	seen := plain
	seen.UUID, seen.Status = "seen", chathook.StatusRead
	got := renderMessages(t, plain, ticked, seen)
	for _, id := range []string{"plain", "ticked"} {
		if !strings.Contains(got[id], `<p class="reply-state sent">sent</p>`) || strings.Contains(got[id], `class="mark`) {
			t.Errorf("a sent reply not yet delivered does not read just \"sent\":\n%s", got[id])
		}
	}
	if strings.Contains(got["seen"], "reply-state") || !strings.Contains(got["seen"], `aria-label="Read"`) {
		t.Errorf("a read reply shows its label instead of its ticks:\n%s", got["seen"])
	}
}

// An uncertain reply reads "May have been sent", its reason on hover:
// neither failed nor sent.
func TestChatReplyUncertain(t *testing.T) {
	m := message("u", chathook.Sent, "hi")
	m.Reply, m.ReplyError = chathook.ReplyUncertain, "WhatsApp did not answer in time <maybe>"
	got := renderMessages(t, m)["u"]
	want := `<p class="reply-state uncertain" title="WhatsApp did not answer in time &lt;maybe&gt;">May have been sent</p>`
	if !strings.Contains(got, want) || strings.Contains(got, "failed") {
		t.Errorf("want %s in\n%s", want, got)
	}
}

// An edited message says "edited", and lists its earlier texts, oldest
// first, with when each was replaced: in a title and in a <details>.
func TestChatEdited(t *testing.T) {
	m := message("e", chathook.Received, "See you at 10")
	m.Edits = []chathook.Edit{{Text: "See you at 8", At: at0.Add(time.Minute)}, {Text: "See you at 9 <b>", At: at0.Add(2 * time.Minute)}}
	plain := message("p", chathook.Received, "Unchanged")
	got := renderMessages(t, m, plain)
	for _, want := range []string{
		`<p class="text" dir="auto">See you at 10</p>`,
		`title="Edited. Earlier texts, oldest first:
2026-03-01 09:01:00 UTC: See you at 8
2026-03-01 09:02:00 UTC: See you at 9 &lt;b&gt;"><summary>edited</summary>`,
		`<li><span dir="auto">See you at 8</span> <span class="replaced">replaced <time datetime="2026-03-01T09:01:00Z">2026-03-01 09:01:00 UTC</time></span></li><li><span dir="auto">See you at 9 &lt;b&gt;</span>`,
	} {
		if !strings.Contains(got["e"], want) {
			t.Errorf("want %s in\n%s", want, got["e"])
		}
	}
	if strings.Contains(got["p"], "edited") {
		t.Errorf("an unedited message says edited:\n%s", got["p"])
	}
}

// A deleted message shows "This message was deleted" and nothing of what
// it was: text, earlier texts, attachments, reactions.
func TestChatDeleted(t *testing.T) {
	m := message("d", chathook.Received, "secret plan")
	m.Deleted, m.DeletedAt = true, at0.Add(3*time.Minute)
	m.Edits = []chathook.Edit{{Text: "secret draft", At: at0.Add(time.Minute)}}
	m.Reactions = []chathook.Reaction{{Sender: chathook.Person{FullName: "Bob"}, Reaction: "😮"}}
	m.Attachments = []chathook.Attachment{{Type: chathook.AttachDocument, FileName: "secret.pdf"}}
	got := renderMessages(t, m)["d"]
	want := `<p class="text deleted" dir="auto" title="Deleted 2026-03-01 09:03:00 UTC">This message was deleted</p>`
	if !strings.Contains(got, want) {
		t.Errorf("want %s in\n%s", want, got)
	}
	for _, hidden := range []string{"secret", "😮", "edited", "attachment"} {
		if strings.Contains(got, hidden) {
			t.Errorf("a deleted message still shows %q:\n%s", hidden, got)
		}
	}
}

var reactionItem = regexp.MustCompile(`<li title="([^"]*)" aria-label="([^"]*)"><span class="emoji" dir="auto">([^<]*)</span> <span class="count">(\d+)</span></li>`)

// Reactions show under the message, by emoji in the order first given,
// each with its count and who gave it; one taken back is none.
func TestChatReactions(t *testing.T) {
	m := message("r", chathook.Sent, "Lunch?")
	m.Reactions = []chathook.Reaction{
		{Sender: chathook.Person{FullName: "Ana"}, Reaction: "👍"},
		{Sender: chathook.Person{Phone: "+15551000002"}, Reaction: "❤️"},
		{Sender: chathook.Person{FullName: "Cy"}, Reaction: ""},
		{Sender: chathook.Person{FullName: "Bob & Co"}, Reaction: "👍"},
	}
	got := renderMessages(t, m, message("none", chathook.Sent, "x"))
	items := reactionItem.FindAllStringSubmatch(got["r"], -1)
	want := [][]string{
		{"Ana, Bob &amp; Co", "👍 2: Ana, Bob &amp; Co", "👍", "2"},
		{"&#43;15551000002", "❤️ 1: &#43;15551000002", "❤️", "1"}, // html/template escapes + in attributes,
	}
	if len(items) != len(want) {
		t.Fatalf("reactions %q, want %q in\n%s", items, want, got["r"])
	}
	for i := range want {
		if strings.Join(items[i][1:], "|") != strings.Join(want[i], "|") {
			t.Errorf("reaction %d: %q, want %q", i, items[i][1:], want[i])
		}
	}
	if strings.Contains(got["r"], "Cy") || strings.Contains(got["none"], "reactions") {
		t.Errorf("a reaction taken back, or none, shows:\n%s\n%s", got["r"], got["none"])
	}
}
