package web_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chathook/chathook"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
)

// In a browser set to Asia/Jerusalem (UTC+2 in March), the chat page
// shows each message at its local hour under its local day: a message at
// 22:30 UTC on 1 March says 00:30, under Monday, 2 March. Lists' relative
// times read "5 min" and "yesterday". Hebrew text reads right to left;
// a web address is a safe link, a javascript: text is not. With
// CHATHOOK_SCREENSHOTS, docs/chat.png and docs/chat-phone.png.
func TestBrowserChatLocalTimeAndText(t *testing.T) {
	h := withReplies(t)
	ctx0 := context.Background()
	late := time.Date(2026, 3, 1, 22, 30, 0, 0, time.UTC)
	chat, ids := h.ingestAt(h.ws.WorkspaceID, "נועה כהן",
		said{at: late.Add(-90 * time.Minute), text: "שלום! כמה עולה משלוח לתל אביב?"},
		said{at: late.Add(-88 * time.Minute), text: "Hi Noa! Delivery to Tel Aviv is 120 ₪, details: https://shop.example.com/delivery?city=tlv.", sent: true, id: "wa-price"},
		said{at: late.Add(-80 * time.Minute), text: "בטח, זה יעלה 120 ₪. OK?"},
		said{at: late, text: "Ordered! The old site sent me to javascript:alert(1) though."},
		said{at: late.Add(time.Minute), text: "Thanks! It ships tomorrow morning.", sent: true, id: "wa-thanks"},
	)
	acc, err := h.st.LinkAccount(ctx0, h.ws.WorkspaceID, chathook.Account{
		Phone: "+15550000000", JID: "15550000000:3@s.whatsapp.net", FullName: "Agent", Email: "owner@acme.example",
	}, "elsewhere", h.clock().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	status := func(msg string, s chathook.MessageStatus, at time.Time) chathook.Fact {
		return chathook.Fact{Kind: chathook.FactStatus, Chat: chatPhone("נועה כהן"), MessageID: msg, At: at, Status: s}
	}
	if _, _, err := h.st.RecordFacts(ctx0, acc.ID, h.clock(), []chathook.Fact{
		status("wa-price", chathook.StatusRead, late.Add(-85*time.Minute)), status("wa-thanks", chathook.StatusDelivered, late.Add(2*time.Minute)),
	}); err != nil {
		t.Fatal(err)
	}

	ctx := tab(t)
	if _, err := chromedp.Call(ctx, emulation.SetTimezoneOverride, emulation.SetTimezoneOverrideParams{TimezoneID: "Asia/Jerusalem"}); err != nil {
		t.Fatalf("set the browser's zone: %v", err)
	}
	do(t, ctx, "open the chat", chromedp.Navigate(fmt.Sprintf("%s/chat/%d/messages/", h.base, chat)))
	signIn(t, ctx, h.base, "owner@acme.example", password)
	do(t, ctx, "see the timeline", chromedp.WaitVisible(chromedp.ID("timeline")))
	waitFor(t, ctx, "local times", `document.querySelector('#timeline time.clock[data-local]') !== null`)

	got := run(t, ctx, "read the times and days", chromedp.Evaluate[map[string]string](`(() => {
		const day = id => { let e = document.getElementById('m-' + id); while (e && !e.classList.contains('day')) e = e.previousElementSibling; return e ? e.textContent : ''; };
		const clock = id => document.querySelector('#m-' + id + ' time.clock').textContent;
		return {zone: Intl.DateTimeFormat().resolvedOptions().timeZone, first: clock('`+ids[0]+`'), firstDay: day('`+ids[0]+`'),
			late: clock('`+ids[3]+`'), lateDay: day('`+ids[3]+`'), days: String(document.querySelectorAll('#timeline .day').length),
			utcDays: String(document.querySelectorAll('#timeline .day[data-utc-day]').length)};
	})()`))
	want := map[string]string{"zone": "Asia/Jerusalem", "first": "23:00", "firstDay": "Sunday, 1 March 2026",
		"late": "00:30", "lateDay": "Monday, 2 March 2026", "days": "2", "utcDays": "0"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("times and days: %v\nwant %v", got, want)
	}

	rel := run(t, ctx, "render relative times", chromedp.Evaluate[[]string](`(() => {
		const add = d => { const t = document.createElement('time'); t.className = 'relative'; t.setAttribute('datetime', d.toISOString()); document.body.appendChild(t); return t; };
		const y = new Date(); y.setDate(y.getDate() - 1); y.setHours(12, 0, 0, 0);
		const a = add(new Date(Date.now() - 5 * 60e3)), b = add(y), c = add(new Date(Date.now() - 10e3));
		window.chathookTimes(document.body);
		const got = [a.textContent, b.textContent, c.textContent, a.title ? 'titled' : 'no title'];
		[a, b, c].forEach(t => t.remove());
		return got;
	})()`))
	if fmt.Sprint(rel) != "[5 min yesterday now titled]" {
		t.Errorf("relative times read %v", rel)
	}

	text := run(t, ctx, "read the text", chromedp.Evaluate[map[string]string](`(() => {
		const p = document.querySelector('#m-`+ids[2]+` .text'), a = document.querySelector('#m-`+ids[1]+` .text a');
		const box = document.getElementById('reply-text');
		return {dir: p.dir, direction: getComputedStyle(p).direction, box: box.dir,
			href: a ? a.href : '', rel: a ? a.rel : '', target: a ? a.target : '',
			js: String(document.querySelectorAll('#m-`+ids[3]+` .text a').length)};
	})()`))
	wantText := map[string]string{"dir": "auto", "direction": "rtl", "box": "auto", "href": "https://shop.example.com/delivery?city=tlv",
		"rel": "noopener noreferrer nofollow", "target": "_blank", "js": "0"}
	if fmt.Sprint(text) != fmt.Sprint(wantText) {
		t.Errorf("text: %v\nwant %v", text, wantText)
	}
	chatShot(t, ctx, "chat", 1280, 900)
	chatShot(t, ctx, "chat-phone", 390, 844)
}

// chatShot writes the chat page, scrolled to its newest message, to
// $CHATHOOK_SCREENSHOTS/<name>.png at the given viewport, when that is set.
func chatShot(t *testing.T, ctx context.Context, name string, width, height int64) {
	t.Helper()
	dir := os.Getenv("CHATHOOK_SCREENSHOTS")
	if dir == "" {
		return
	}
	do(t, ctx, "resize for "+name, chromedp.EmulateViewport(width, height),
		chromedp.Evaluate[chromedp.Void](`window.scrollTo(0, document.documentElement.scrollHeight)`))
	png := run(t, ctx, "screenshot "+name, chromedp.CaptureScreenshot())
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
	do(t, ctx, "restore the viewport", chromedp.EmulateViewport(1280, 800))
}

// A chat of 120 messages opens scrolled to its newest; scrolling to the
// top loads the older pages in place, in order, without jumping, until
// there are none. Its account came in through the API: the page says why
// it has no reply box.
func TestBrowserChatScrollsAndLoadsOlder(t *testing.T) {
	h := withReplies(t)
	var msgs []said
	t0 := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	for i := range 120 {
		msgs = append(msgs, said{at: t0.Add(time.Duration(i) * time.Minute), text: fmt.Sprint("message ", i)})
	}
	chat, ids := h.ingestAt(h.ws.WorkspaceID, "Long chat", msgs...)
	ctx := tab(t)
	do(t, ctx, "open the chat", chromedp.Navigate(fmt.Sprintf("%s/chat/%d/messages/", h.base, chat)))
	signIn(t, ctx, h.base, "owner@acme.example", password)
	do(t, ctx, "see the timeline", chromedp.WaitVisible(chromedp.ID("timeline")))

	const atBottom = `(() => { const s = document.scrollingElement; return s.scrollTop > 0 && s.scrollTop + s.clientHeight >= s.scrollHeight - 2; })()`
	waitFor(t, ctx, "the page at its newest message", atBottom)
	why := run(t, ctx, "read why there is no box", chromedp.Evaluate[[]string](`[document.getElementById('cannot-reply') ? document.getElementById('cannot-reply').textContent : '',
		String(document.getElementById('reply-text') === null)]`))
	if len(why) != 2 || why[1] != "true" || why[0] == "" || why[0][:41] != "This chat came in through the API: chatho" {
		t.Errorf("an API chat: %q, want the reason and no reply box", why)
	}

	const count = `document.querySelectorAll('#timeline .msg').length`
	for _, n := range []int{100, 120} {
		do(t, ctx, "scroll to the top", chromedp.Evaluate[chromedp.Void](`window.scrollTo(0, 0)`))
		waitFor(t, ctx, fmt.Sprint(n, " messages"), fmt.Sprint(count, " === ", n))
		if top := run(t, ctx, "read the scroll", chromedp.Evaluate[float64](`document.scrollingElement.scrollTop`)); top < 500 {
			t.Errorf("with %d messages the view jumped to %v px from the top", n, top)
		}
	}
	order := run(t, ctx, "read the order", chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll('#timeline .msg .text')).map(p => p.textContent)`))
	for i, s := range order {
		if s != fmt.Sprint("message ", i) {
			t.Fatalf("message %d reads %q: not in order", i, s)
		}
	}
	if n := run(t, ctx, "look for the Older link", chromedp.Evaluate[bool](`document.getElementById('older') === null`)); !n {
		t.Error("the Older link is still there with every message loaded")
	}

	// A permalink opens at its message, not at the newest.
	do(t, ctx, "open a permalink", chromedp.Navigate(fmt.Sprintf("%s/permalink/%s/", h.base, ids[60])))
	waitFor(t, ctx, "the permalink's message in view", `(() => {
		const m = document.querySelector('.msg.highlight'); if (!m) return false;
		const r = m.getBoundingClientRect(); return r.top >= 0 && r.bottom <= window.innerHeight; })()`)
	if run(t, ctx, "read the scroll", chromedp.Evaluate[bool](atBottom)) {
		t.Error("the permalink's page opened at its bottom")
	}
}

// In a browser set to Asia/Jerusalem the Recover form says "your time",
// sends the zone with the times, and the server reads them in it: a
// minute before the failed delivery, in Jerusalem's wall time, recovers
// it (read as UTC it would be two hours later, after now, and refused).
func TestBrowserRecoverTakesLocalTime(t *testing.T) {
	h := newHarness(t, true, "")
	hook := "https://hook.example.com/in"
	if _, err := h.st.UpdateWebhook(context.Background(), h.ws.WorkspaceID, chathook.Outbound, h.clock(), chathook.WebhookUpdate{URL: &hook}); err != nil {
		t.Fatal(err)
	}
	h.ingest(h.ws.WorkspaceID, "Ann", "one")
	if n := h.failForGood(h.ws.WorkspaceID); n != 1 {
		t.Fatalf("failed %d deliveries, want 1", n)
	}
	h.advance(time.Second)
	jerusalem, err := time.LoadLocation("Asia/Jerusalem")
	if err != nil {
		t.Fatal(err)
	}
	since := h.clock().Add(-time.Minute).In(jerusalem).Format("2006-01-02T15:04")

	ctx := tab(t)
	if _, err := chromedp.Call(ctx, emulation.SetTimezoneOverride, emulation.SetTimezoneOverrideParams{TimezoneID: "Asia/Jerusalem"}); err != nil {
		t.Fatalf("set the browser's zone: %v", err)
	}
	do(t, ctx, "open the Outbound page", chromedp.Navigate(h.base+"/settings/webhooks/outbound"))
	signIn(t, ctx, h.base, "owner@acme.example", password)
	do(t, ctx, "see the form", chromedp.WaitVisible(chromedp.ID("recover-form")))
	waitFor(t, ctx, "the zone in the form", `document.querySelector('#recover-form input[name=tz]').value === 'Asia/Jerusalem'`)
	if got := text(t, ctx, "label[for=since]"); got != "From (your time)" {
		t.Errorf("the label reads %q", got)
	}
	do(t, ctx, "recover from a minute before, in Jerusalem time",
		chromedp.Evaluate[chromedp.Void]("document.getElementById('since').value = "+fmt.Sprintf("%q", since)),
		chromedp.Click(chromedp.ID("recover-submit")),
		chromedp.WaitVisible(chromedp.ID("recovered")),
	)
	if got := text(t, ctx, "#recovered"); got != "1 delivery was queued again." {
		t.Errorf("after recovering the page says %q", got)
	}
}
