package web_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chathook/chathook"
	"github.com/google/uuid"
)

// factsChat is Bob's chat of workspace ws after WhatsApp told what
// happened to its messages, recorded through the store's RecordFacts as
// the sources record them: an edited question, a read answer with
// reactions, a delivered one, a deleted slip, a failed one. It returns
// the chat's id, its account's, and each message's UUID by its WhatsApp id.
func (h *harness) factsChat(ws string) (chatID, accountID int64, uuids map[string]string) {
	h.t.Helper()
	ctx := context.Background()
	t0 := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	agent := chathook.Person{FullName: "Agent", Phone: "+15550000000"}
	bob := chathook.Person{FullName: "Bob Buyer", Phone: "+15551000001"}
	uuids = map[string]string{}
	var in []chathook.Incoming
	for i, m := range []struct {
		id   string
		dir  chathook.Direction
		text string
	}{
		{"wa-ask", chathook.Received, "Can you send the invoice?"},
		{"wa-answer", chathook.Sent, "Here it is: INV-2026-03"},
		{"wa-check", chathook.Sent, "Did it arrive?"},
		{"wa-slip", chathook.Received, "my card pin is 1234"},
		{"wa-late", chathook.Sent, "Any news?"},
		{"wa-plain", chathook.Received, "Thanks!"},
	} {
		uuids[m.id] = uuid.NewString()
		sender := &bob
		if m.dir == chathook.Sent {
			sender = &agent
		}
		in = append(in, chathook.Incoming{
			Account:   chathook.Account{Phone: agent.Phone, FullName: agent.FullName},
			Chat:      chathook.Chat{ExternalID: chatPhone("bob"), Phone: bob.Phone, FullName: bob.FullName},
			MessageID: m.id, UUID: uuids[m.id], Direction: m.dir, Sender: sender,
			Timestamp: t0.Add(time.Duration(i) * time.Minute), Text: m.text,
		})
	}
	res, err := h.st.Ingest(ctx, ws, h.clock(), in)
	if err != nil {
		h.t.Fatal(err)
	}
	// Linking the ingest API's phone by QR code makes its account a
	// source's, as it is of the facts, and lets the page reply.
	acc, err := h.st.LinkAccount(ctx, ws, chathook.Account{
		Phone: agent.Phone, JID: "15550000000:3@s.whatsapp.net", FullName: agent.FullName, Email: "owner@acme.example",
	}, "elsewhere", h.clock().Add(time.Hour))
	if err != nil {
		h.t.Fatal(err)
	}
	fact := func(kind chathook.FactKind, msg string, at int, f chathook.Fact) chathook.Fact {
		f.Kind, f.Chat, f.MessageID, f.At = kind, chatPhone("bob"), msg, t0.Add(time.Duration(at)*time.Minute)
		return f
	}
	facts := []chathook.Fact{
		fact(chathook.FactEdited, "wa-ask", 10, chathook.Fact{ID: "wa-edit-1", Text: "Can you send the invoice for March?"}),
		fact(chathook.FactEdited, "wa-ask", 11, chathook.Fact{ID: "wa-edit-2", Text: "Can you send the March invoice, please?"}),
		fact(chathook.FactStatus, "wa-answer", 12, chathook.Fact{Status: chathook.StatusDelivered}),
		fact(chathook.FactStatus, "wa-answer", 13, chathook.Fact{Status: chathook.StatusRead}),
		fact(chathook.FactReaction, "wa-answer", 14, chathook.Fact{ID: "wa-r1", Reaction: "👍", Sender: bob, SenderKey: "15551000001@s.whatsapp.net"}),
		fact(chathook.FactReaction, "wa-answer", 15, chathook.Fact{ID: "wa-r2", Reaction: "🙏", Sender: agent, SenderKey: "15550000000@s.whatsapp.net"}),
		fact(chathook.FactReaction, "wa-answer", 16, chathook.Fact{ID: "wa-r3", Reaction: "👍", Sender: agent, SenderKey: "15550000000@s.whatsapp.net"}),
		fact(chathook.FactStatus, "wa-check", 17, chathook.Fact{Status: chathook.StatusDelivered}),
		fact(chathook.FactDeleted, "wa-slip", 18, chathook.Fact{ID: "wa-revoke"}),
		fact(chathook.FactStatus, "wa-late", 19, chathook.Fact{Status: chathook.StatusFailed, Error: "131047: Re-engagement message"}),
	}
	results, _, err := h.st.RecordFacts(ctx, acc.ID, h.clock(), facts)
	if err != nil {
		h.t.Fatal(err)
	}
	for i, r := range results {
		if r != chathook.FactApplied {
			h.t.Fatalf("fact %d (%s of %s): %s, want applied", i, facts[i].Kind, facts[i].MessageID, r)
		}
	}
	return res[0].ChatID, acc.ID, uuids
}

// The chat page shows what WhatsApp told of its messages, as the store
// recorded it: ticks on the sent ones, the edited question with its
// earlier texts, reactions by emoji, the deleted slip without its text.
func TestChatPageShowsFacts(t *testing.T) {
	h := newHarness(t, true, "")
	chat, _, ids := h.factsChat(h.ws.WorkspaceID)
	v := h.visitor()
	v.signIn("owner@acme.example", password)
	page := v.get(fmt.Sprintf("/chat/%d/messages/", chat))
	if page.status != 200 {
		t.Fatalf("chat page: %d %s", page.status, page.body)
	}
	msg := func(id string) string { return article(page.body, ids[id]) }
	expect := func(id string, wants ...string) {
		t.Helper()
		for _, w := range wants {
			if !strings.Contains(msg(id), w) {
				t.Errorf("%s: want %s in\n%s", id, w, msg(id))
			}
		}
	}
	expect("wa-ask",
		`<p class="text" dir="auto">Can you send the March invoice, please?</p>`,
		`<summary>edited</summary>`,
		`title="Edited. Earlier texts, oldest first:
2026-03-01 09:10:00 UTC: Can you send the invoice?
2026-03-01 09:11:00 UTC: Can you send the invoice for March?"`)
	expect("wa-answer", `aria-label="Read"`, `>✓✓</span>`,
		`<li title="Bob Buyer, Agent" aria-label="👍 2: Bob Buyer, Agent"><span class="emoji" dir="auto">👍</span> <span class="count">2</span></li>`)
	expect("wa-check", `<span class="mark delivered" role="img" aria-label="Delivered" title="Delivered · 2026-03-01 09:17:00 UTC">✓✓</span>`)
	expect("wa-slip", `<p class="text deleted" dir="auto" title="Deleted 2026-03-01 09:18:00 UTC">This message was deleted</p>`)
	expect("wa-late", `<span class="mark failed" role="img" aria-label="Failed"`)
	if strings.Contains(page.body, "1234") || strings.Contains(page.body, "🙏") {
		t.Errorf("the page shows a deleted text or a replaced reaction")
	}
	for _, id := range []string{"wa-ask", "wa-slip", "wa-plain"} {
		if strings.Contains(msg(id), `class="mark`) {
			t.Errorf("received message %s shows a status mark:\n%s", id, msg(id))
		}
	}
	if strings.Contains(msg("wa-plain"), "edited") || strings.Contains(msg("wa-plain"), "reactions") {
		t.Errorf("a plain message shows facts it has not:\n%s", msg("wa-plain"))
	}
}
