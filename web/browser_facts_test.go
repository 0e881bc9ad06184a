package web_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// In Chromium, the chat page shows what WhatsApp told of its messages,
// recorded through the store's RecordFacts: ticks (blue once read), the
// edited question's earlier texts, reactions, the deleted slip in
// italics; and a reply whose sending ended in doubt turns "May have been
// sent", its reason on hover, without a reload. CHATHOOK_SCREENSHOTS
// gets the page (docs/chat-facts.png).
func TestBrowserChatFacts(t *testing.T) {
	h := withReplies(t)
	chat, account, ids := h.factsChat(h.ws.WorkspaceID)

	ctx := tab(t)
	do(t, ctx, "open Bob's chat", chromedp.Navigate(fmt.Sprintf("%s/chat/%d/messages/", h.base, chat)))
	signIn(t, ctx, h.base, "owner@acme.example", password)
	do(t, ctx, "see the timeline", chromedp.WaitVisible(chromedp.ID("timeline")))

	marks := run(t, ctx, "read the marks", chromedp.Evaluate[map[string]any](`(() => {
		const mark = id => { const m = document.querySelector('#m-' + id + ' .mark');
			return m ? [m.textContent, m.getAttribute('aria-label'), getComputedStyle(m).color] : null; };
		return {answer: mark('`+ids["wa-answer"]+`'), check: mark('`+ids["wa-check"]+`'), late: mark('`+ids["wa-late"]+`'),
			ask: mark('`+ids["wa-ask"]+`')};
	})()`))
	want := map[string][]any{
		"answer": {"✓✓", "Read", "rgb(29, 143, 225)"},
		"check":  {"✓✓", "Delivered", "rgb(95, 107, 118)"},
		"late":   {"!", "Failed", "rgb(255, 255, 255)"}, // white on red
	}
	for k, w := range want {
		if fmt.Sprint(marks[k]) != fmt.Sprint(w) {
			t.Errorf("%s's mark: %v, want %v", k, marks[k], w)
		}
	}
	if marks["ask"] != nil {
		t.Errorf("a received message has a mark: %v", marks["ask"])
	}
	slip := run(t, ctx, "read the deleted message", chromedp.Evaluate[[]string](`(() => {
		const p = document.querySelector('#m-`+ids["wa-slip"]+` .text');
		return [p.textContent, getComputedStyle(p).fontStyle, p.dir];
	})()`))
	if fmt.Sprint(slip) != "[This message was deleted italic auto]" {
		t.Errorf("the deleted message reads %q", slip)
	}
	// The earlier texts show when "edited" is opened.
	edited := "#m-" + ids["wa-ask"] + " details.edited"
	do(t, ctx, "open the earlier texts", chromedp.Click(chromedp.CSS(edited+" summary")), chromedp.WaitVisible(chromedp.CSS(edited+" ol")))
	// In the browser's zone (web/static/time.js): UTC here, in its locale.
	if got := text(t, ctx, edited+" ol"); got != "Can you send the invoice? replaced Mar 1, 2026, 09:10:00 UTC\nCan you send the invoice for March? replaced Mar 1, 2026, 09:11:00 UTC" {
		t.Errorf("the earlier texts read %q", got)
	}
	if got := text(t, ctx, "#m-"+ids["wa-answer"]+" .reactions"); got != "👍 2" {
		t.Errorf("the reactions read %q", got)
	}

	// A reply, claimed by a sender whose attempt ends in doubt.
	run(t, ctx, "mark the page", chromedp.Evaluate[bool]("window.notReloaded = true"))
	do(t, ctx, "reply", chromedp.SendKeys(chromedp.ID("reply-text"), "I'll ask accounting."), chromedp.KeyEvent(kb.Enter))
	waitFor(t, ctx, "the reply sending", `(() => { const m = document.querySelector('.msg:last-of-type .reply-state'); return m && m.textContent === 'sending…'; })()`)
	out := h.claim(account)
	if len(out) != 1 {
		t.Fatalf("claimed %d replies, want the one just sent", len(out))
	}
	const reason = "WhatsApp did not answer in time: Bob may have the message"
	if err := h.st.ReplyUncertain(context.Background(), replyOwner, out[0].ID, reason, h.clock()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, "the reply uncertain, without a reload", `(() => {
		const s = document.querySelector('#m-`+out[0].ID+` .reply-state');
		return window.notReloaded === true && s.textContent === 'May have been sent' && s.title === '`+reason+`' &&
			s.classList.contains('uncertain'); })()`)
	do(t, ctx, "reload", chromedp.Reload(), chromedp.WaitVisible(chromedp.ID("m-"+out[0].ID)))
	if got := text(t, ctx, "#m-"+out[0].ID+" .reply-state.uncertain"); got != "May have been sent" {
		t.Errorf("after a reload the reply reads %q", got)
	}
	do(t, ctx, "open the earlier texts", chromedp.Click(chromedp.CSS(edited+" summary")), chromedp.WaitVisible(chromedp.CSS(edited+" ol")))
	run(t, ctx, "scroll to the top", chromedp.Evaluate[bool]("window.scrollTo(0, 0), true"))
	screenshot(t, ctx, "chat-facts", 1280, 800, true)
}
