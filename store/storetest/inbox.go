package storetest

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/store"
)

// inbox are the tests of the chat list: its order by activity, its
// pages both ways, the account filter, search and unread counts.
var inbox = map[string]func(*testing.T, store.Store){
	"ChatListFollowsLatestMessage": testChatListFollowsLatest,
	"ChatListPagesBothWays":        testChatListPagesBothWays,
	"ChatListFiltersByAccount":     testChatListFiltersByAccount,
	"ChatSearchNamesPhonesTexts":   testChatSearch,
	"ChatSearchSkipsDeletedText":   testChatSearchSkipsDeleted,
	"ChatSearchTakesAnyInput":      testChatSearchTakesAnyInput,
	"ChatSearchStaysInWorkspace":   testChatSearchStaysInWorkspace,
	"UnreadCountsSinceMarkRead":    testUnreadSinceMarkRead,
	"UnreadStopsAtCap":             testUnreadStopsAtCap,
	"MarkReadStaysInWorkspace":     testMarkReadStaysInWorkspace,
	"ChatListFollowsSentReply":     testChatListFollowsSentReply,
	"OpeningClearsLateMessages":    testOpeningClearsLateMessages,
}

// A reply is stored when queued and takes its send time when sent: its
// chat moves then, and pages neither repeat nor skip a chat.
func testChatListFollowsSentReply(t *testing.T, st store.Store) {
	ws := workspace(t, st, "acme", "")
	acc := link(t, st, ws, 1, "a", t0.Add(time.Hour))
	chat := chatOf(t, st, ws, acc.Phone, 1, 1)
	chatOf(t, st, ws, acc.Phone, 2, 1)
	r := queueReply(t, st, ws, chat, "3EB0AAAA", "On its way", t0.Add(time.Second))
	if _, got := list(t, st, ws, store.ChatQuery{}); !slices.Equal(got, []string{"0001", "0002"}) {
		t.Fatalf("after the queued reply: %v", got)
	}
	customer := msg(2, 2)
	customer.Account.Phone = acc.Phone
	customer.Timestamp = t0.Add(2 * time.Second)
	ingest(t, st, ws, customer)
	if _, got := list(t, st, ws, store.ChatQuery{}); !slices.Equal(got, []string{"0002", "0001"}) {
		t.Fatalf("after a customer's message: %v", got)
	}
	if got := claimReplies(t, st, "a", t0.Add(3*time.Second), acc.ID); len(got) != 1 {
		t.Fatalf("claimed %v", replyIDs(got))
	}
	sent(t, st, "a", r.ID, "3EB0AAAA", t0.Add(3*time.Second))
	all, got := list(t, st, ws, store.ChatQuery{})
	if !slices.Equal(got, []string{"0001", "0002"}) || all[0].Last.UUID != r.ID {
		t.Fatalf("after the reply was sent: %v, first's last %+v", got, all[0].Last)
	}
	first, _ := list(t, st, ws, store.ChatQuery{Limit: 1})
	if _, got := list(t, st, ws, store.ChatQuery{Before: store.ActivityOf(first[0])}); !slices.Equal(got, []string{"0002"}) {
		t.Errorf("the page after the first: %v, want 0002", got)
	}
}

// Opening a chat at its latest message clears what was stored late with
// an older time (history, a late webhook) too.
func testOpeningClearsLateMessages(t *testing.T, st store.Store) {
	ctx := context.Background()
	ws := workspace(t, st, "a", "")
	olga := user(t, st, ws, "olga@acme.example")
	chat := ingest(t, st, ws, timed(1, 1, 10))[0].ChatID
	ingest(t, st, ws, timed(1, 2, 5)) // stored last, sent before the first
	all, _ := list(t, st, ws, store.ChatQuery{})
	if err := st.MarkRead(ctx, ws, olga.ID, chat, all[0].Last.ID); err != nil {
		t.Fatal(err)
	}
	if got, _ := st.Chats(ctx, ws, store.ChatQuery{UserID: olga.ID, Limit: 1}); got[0].Unread != 0 {
		t.Errorf("marked at the latest: %d unread, want 0", got[0].Unread)
	}
}

// timed is msg(c, n) sent at t0 plus minutes.
func timed(c, n int, minutes int) chathook.Incoming {
	m := msg(c, n)
	m.Timestamp = t0.Add(time.Duration(minutes) * time.Minute)
	return m
}

// list reads one page of the chat list, naming chats by their external
// ids' last four digits ("0003" for chat 3).
func list(t *testing.T, st store.Store, ws string, q store.ChatQuery) ([]chathook.ChatSummary, []string) {
	t.Helper()
	if q.Limit == 0 {
		q.Limit = 100
	}
	got, err := st.Chats(context.Background(), ws, q)
	if err != nil {
		t.Fatalf("chats %+v: %v", q, err)
	}
	names := make([]string, len(got))
	for i, c := range got {
		names[i] = c.ExternalID[len(c.ExternalID)-4:]
	}
	return got, names
}

func testChatListFollowsLatest(t *testing.T, st store.Store) {
	ws := workspace(t, st, "a", "")
	for c := 1; c <= 4; c++ {
		ingest(t, st, ws, timed(c, 1, c))
	}
	if _, got := list(t, st, ws, store.ChatQuery{}); !slices.Equal(got, []string{"0004", "0003", "0002", "0001"}) {
		t.Fatalf("by first messages: %v", got)
	}
	ingest(t, st, ws, timed(2, 2, 10)) // chat 2 gets a new message
	all, got := list(t, st, ws, store.ChatQuery{})
	if !slices.Equal(got, []string{"0002", "0004", "0003", "0001"}) {
		t.Fatalf("after a new message in chat 2: %v", got)
	}
	if all[0].Last.MessageID != "c2-m2" || !all[0].Last.Timestamp.Equal(t0.Add(10*time.Minute)) {
		t.Errorf("chat 2's last %+v", all[0].Last)
	}
	// A message from history, older than chat 1's latest, moves nothing
	// and is not its last.
	ingest(t, st, ws, timed(1, 0, -60))
	all, got = list(t, st, ws, store.ChatQuery{})
	if !slices.Equal(got, []string{"0002", "0004", "0003", "0001"}) || all[3].Last.MessageID != "c1-m1" {
		t.Errorf("after an old message in chat 1: %v, last %q", got, all[3].Last.MessageID)
	}
	// A sent message moves its chat as a received one does.
	out := timed(3, 2, 20)
	out.Direction = chathook.Sent
	ingest(t, st, ws, out)
	if all, got = list(t, st, ws, store.ChatQuery{}); got[0] != "0003" || all[0].Last.Direction != chathook.Sent {
		t.Errorf("after a sent message in chat 3: %v", got)
	}
}

func testChatListPagesBothWays(t *testing.T, st store.Store) {
	ws := workspace(t, st, "a", "")
	for c := 1; c <= 7; c++ {
		ingest(t, st, ws, timed(c, 1, 0)) // one time for all: the order is by message id
	}
	first, names := list(t, st, ws, store.ChatQuery{Limit: 3})
	if !slices.Equal(names, []string{"0007", "0006", "0005"}) {
		t.Fatalf("first page %v", names)
	}
	second, names := list(t, st, ws, store.ChatQuery{Before: store.ActivityOf(first[2]), Limit: 3})
	if !slices.Equal(names, []string{"0004", "0003", "0002"}) {
		t.Fatalf("second page %v", names)
	}
	if _, names = list(t, st, ws, store.ChatQuery{Before: store.ActivityOf(second[2]), Limit: 3}); !slices.Equal(names, []string{"0001"}) {
		t.Fatalf("third page %v", names)
	}
	// Back from the second page: the chats nearest above it, newest first.
	if _, names = list(t, st, ws, store.ChatQuery{After: store.ActivityOf(second[0]), Limit: 2}); !slices.Equal(names, []string{"0006", "0005"}) {
		t.Errorf("previous page of 2: %v, want 0006 0005", names)
	}
	if _, names = list(t, st, ws, store.ChatQuery{After: store.ActivityOf(second[0]), Limit: 10}); !slices.Equal(names, []string{"0007", "0006", "0005"}) {
		t.Errorf("previous page of 10: %v", names)
	}
	if _, names = list(t, st, ws, store.ChatQuery{After: store.ActivityOf(first[0])}); len(names) != 0 {
		t.Errorf("above the newest: %v", names)
	}
}

func testChatListFiltersByAccount(t *testing.T, st store.Store) {
	ws := workspace(t, st, "a", "")
	other := timed(2, 1, 5)
	other.Account = chathook.Account{Phone: "+15559999999", FullName: "Second desk"}
	ingest(t, st, ws, timed(1, 1, 1), other, timed(3, 1, 3))
	all, _ := list(t, st, ws, store.ChatQuery{})
	var second int64
	for _, c := range all {
		if c.AccountPhone == "+15559999999" {
			second = c.AccountID
		}
	}
	if second == 0 {
		t.Fatalf("no chat of the second account in %+v", all)
	}
	if _, got := list(t, st, ws, store.ChatQuery{AccountID: second}); !slices.Equal(got, []string{"0002"}) {
		t.Errorf("second account's chats: %v", got)
	}
	if _, got := list(t, st, ws, store.ChatQuery{AccountID: all[1].AccountID}); !slices.Equal(got, []string{"0003", "0001"}) {
		t.Errorf("first account's chats: %v", got)
	}
	if _, got := list(t, st, ws, store.ChatQuery{AccountID: second + 1000}); len(got) != 0 {
		t.Errorf("an unknown account's chats: %v", got)
	}
}

// stored is the message of chat whose WhatsApp id is messageID.
func stored(t *testing.T, st store.Store, ws string, chat int64, messageID string) chathook.Message {
	t.Helper()
	ms, err := st.Messages(context.Background(), ws, chat, store.Page{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		if m.MessageID == messageID {
			return m
		}
	}
	t.Fatalf("no message %s in chat %d", messageID, chat)
	return chathook.Message{}
}

// searchable stores chats 1 to 6 of ws, each with a name and a few
// messages, chat 1 the newest.
func searchable(t *testing.T, st store.Store, ws string) map[string]chathook.Message {
	t.Helper()
	type line struct {
		chat int
		name string
		text string
	}
	lines := []line{
		{6, "Olga Petrova", "Good morning"},
		{5, "Дмитрий Орлов", "Привет, как дела?"},
		{4, "שרה כהן", "בטח, זה יעלה 120 ₪. OK?"},
		{3, "Acme Support", "Your INVOICE #4411 is ready"},
		{3, "Acme Support", "Second invoice: ready tomorrow"},
		{2, "Bob", "no invoices here, only an involved story"},
		{1, "Carol", "call me at 10"},
		{1, "Carol", "Carol here again"},
	}
	out := map[string]chathook.Message{}
	for i, l := range lines {
		m := timed(l.chat, i, i)
		m.Chat.FullName = l.name
		m.Text = l.text
		out[l.text] = stored(t, st, ws, ingest(t, st, ws, m)[0].ChatID, m.MessageID)
	}
	return out
}

func testChatSearch(t *testing.T, st store.Store) {
	ws := workspace(t, st, "a", "")
	texts := searchable(t, st, ws)
	for _, c := range []struct {
		search string
		want   []string
		match  string // the text of the first result's Match; "" for none
	}{
		{"olg", []string{"0006"}, ""},
		{"carol", []string{"0001"}, "Carol here again"}, // by name and by text: the text is shown
		{"PETROVA olga", []string{"0006"}, ""},
		{"дмит", []string{"0005"}, ""},
		{"שרה", []string{"0004"}, ""},
		{"בטח", []string{"0004"}, "בטח, זה יעלה 120 ₪. OK?"},
		{"invoice", []string{"0002", "0003"}, "no invoices here, only an involved story"},
		{"invoice ready", []string{"0003"}, "Second invoice: ready tomorrow"},
		{"4411", []string{"0003"}, "Your INVOICE #4411 is ready"},
		{"inv", []string{"0002", "0003"}, "no invoices here, only an involved story"},
		{"+1 (555) 100-0002", []string{"0002"}, ""},
		{"1000001", []string{"0001"}, ""},
		{"555 1000", []string{"0001", "0002", "0003", "0004", "0005", "0006"}, ""},
		{"nobody", nil, ""},
		{"   ", []string{"0001", "0002", "0003", "0004", "0005", "0006"}, ""},
	} {
		got, names := list(t, st, ws, store.ChatQuery{Search: c.search})
		if !slices.Equal(names, c.want) {
			t.Errorf("search %q: %v, want %v", c.search, names, c.want)
			continue
		}
		if len(got) > 0 && got[0].Match.Text != c.match {
			t.Errorf("search %q: match %q, want %q", c.search, got[0].Match.Text, c.match)
		}
	}
	got, _ := list(t, st, ws, store.ChatQuery{Search: "inv"})
	if m := got[0].Match; m.ID != texts["no invoices here, only an involved story"].ID || m.ChatID != got[0].ID || m.UUID == "" {
		t.Errorf("match of inv %+v", m)
	}
	if got[1].Last.Text != "Second invoice: ready tomorrow" || got[1].Match.Text != "Second invoice: ready tomorrow" {
		t.Errorf("a found chat still has its last message: %+v", got[0].Last)
	}
	// Search and pages and the account filter go together.
	first, names := list(t, st, ws, store.ChatQuery{Search: "inv", Limit: 1})
	if !slices.Equal(names, []string{"0002"}) {
		t.Fatalf("first page of inv: %v", names)
	}
	if _, names = list(t, st, ws, store.ChatQuery{Search: "inv", Before: store.ActivityOf(first[0]), Limit: 1}); !slices.Equal(names, []string{"0003"}) {
		t.Errorf("second page of inv: %v", names)
	}
	if _, names = list(t, st, ws, store.ChatQuery{Search: "inv", AccountID: first[0].AccountID + 1000}); len(names) != 0 {
		t.Errorf("inv in another account: %v", names)
	}
}

func testChatSearchSkipsDeleted(t *testing.T, st store.Store) {
	ws := workspace(t, st, "a", "")
	m := timed(1, 1, 1)
	m.Text = "the secret code is 8812"
	ingest(t, st, ws, m)
	if _, got := list(t, st, ws, store.ChatQuery{Search: "secret"}); len(got) != 1 {
		t.Fatalf("before the delete: %v", got)
	}
	all, _ := list(t, st, ws, store.ChatQuery{})
	record(t, st, all[0].AccountID, t0.Add(time.Hour), chathook.Fact{Kind: chathook.FactDeleted, Chat: m.Chat.ExternalID,
		MessageID: m.MessageID, ID: "revoke-1", At: t0.Add(time.Hour)})
	if _, got := list(t, st, ws, store.ChatQuery{Search: "secret"}); len(got) != 0 {
		t.Errorf("a deleted message's text is still found: %v", got)
	}
}

func testChatSearchTakesAnyInput(t *testing.T, st store.Store) {
	ws := workspace(t, st, "a", "")
	searchable(t, st, ws)
	for _, s := range []string{`"`, `inv*`, `inv"oice`, `%`, `_`, `' OR 1=1 --`, `NEAR(a b)`, `a AND`, `-inv`, `^inv`, `:*`, `&|!`, `\`, "\x00", "(", `inv OR olga`} {
		if _, err := st.Chats(context.Background(), ws, store.ChatQuery{Search: s, Limit: 10}); err != nil {
			t.Errorf("search %q: %v", s, err)
		}
	}
	for _, s := range []string{"🙂", "%", " - ", "++"} {
		if _, got := list(t, st, ws, store.ChatQuery{Search: s}); len(got) != 0 {
			t.Errorf("search %q, no word in it: %v, want none", s, got)
		}
	}
	if _, got := list(t, st, ws, store.ChatQuery{Search: `"invoice*`}); !slices.Equal(got, []string{"0002", "0003"}) {
		t.Errorf(`search "invoice*: %v, want its word invoice to find chats 2 and 3`, got)
	}
}

func testChatSearchStaysInWorkspace(t *testing.T, st store.Store) {
	a, b := workspace(t, st, "a", ""), workspace(t, st, "b", "")
	searchable(t, st, a)
	ingest(t, st, b, timed(9, 1, 1))
	for _, s := range []string{"olga", "invoice", "555", ""} {
		if _, got := list(t, st, b, store.ChatQuery{Search: s}); len(got) > 1 || (len(got) == 1 && (got[0] != "0009" || s == "olga" || s == "invoice")) {
			t.Errorf("search %q in b: %v", s, got)
		}
	}
}

func testUnreadSinceMarkRead(t *testing.T, st store.Store) {
	ctx := context.Background()
	ws := workspace(t, st, "a", "")
	olga, ivan := user(t, st, ws, "olga@acme.example"), user(t, st, ws, "ivan@acme.example")
	chat := ingest(t, st, ws, timed(1, 1, 1), timed(1, 2, 2), timed(1, 3, 3))[0].ChatID
	first, second := stored(t, st, ws, chat, "c1-m1"), stored(t, st, ws, chat, "c1-m2")
	out := timed(1, 4, 4)
	out.Direction = chathook.Sent
	ingest(t, st, ws, out)
	ingest(t, st, ws, timed(2, 1, 0))
	unread := func(u chathook.User) []int {
		got, err := st.Chats(ctx, ws, store.ChatQuery{UserID: u.ID, Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		var out []int
		for _, c := range got {
			out = append(out, c.Unread)
		}
		return out
	}
	if got := unread(olga); !slices.Equal(got, []int{3, 1}) {
		t.Errorf("never opened: %v, want [3 1] (sent messages are not unread)", got)
	}
	if got, _ := st.Chats(ctx, ws, store.ChatQuery{Limit: 10}); got[0].Unread != 0 {
		t.Errorf("no user: %d unread", got[0].Unread)
	}
	if err := st.MarkRead(ctx, ws, olga.ID, chat, second.ID); err != nil {
		t.Fatal(err)
	}
	if got := unread(olga); !slices.Equal(got, []int{1, 1}) {
		t.Errorf("read up to the second: %v, want [1 1]", got)
	}
	if got := unread(ivan); !slices.Equal(got, []int{3, 1}) {
		t.Errorf("another user's marks: %v, want [3 1]", got)
	}
	if err := st.MarkRead(ctx, ws, olga.ID, chat, first.ID); err != nil {
		t.Fatal(err)
	}
	if got := unread(olga); !slices.Equal(got, []int{1, 1}) {
		t.Errorf("a mark moved back: %v, want [1 1]", got)
	}
	// Stored after the mark, even if sent before it, is unread.
	ingest(t, st, ws, timed(1, 5, 0), timed(1, 6, 30))
	if got := unread(olga); !slices.Equal(got, []int{3, 1}) {
		t.Errorf("two new messages: %v, want [3 1]", got)
	}
}

func testUnreadStopsAtCap(t *testing.T, st store.Store) {
	ws := workspace(t, st, "a", "")
	olga := user(t, st, ws, "olga@acme.example")
	var batch []chathook.Incoming
	for n := range store.UnreadCap + 5 {
		batch = append(batch, timed(1, n, n))
	}
	ingest(t, st, ws, batch...)
	got, err := st.Chats(context.Background(), ws, store.ChatQuery{UserID: olga.ID, Limit: 1})
	if err != nil || len(got) != 1 || got[0].Unread != store.UnreadCap {
		t.Errorf("%+v, %v: want one chat with the cap %d unread", got, err, store.UnreadCap)
	}
}

func testMarkReadStaysInWorkspace(t *testing.T, st store.Store) {
	ctx := context.Background()
	a, b := workspace(t, st, "a", ""), workspace(t, st, "b", "")
	olga, bert := user(t, st, a, "olga@acme.example"), user(t, st, b, "bert@b.example")
	chatA := ingest(t, st, a, timed(1, 1, 1))[0].ChatID
	m := stored(t, st, a, chatA, "c1-m1")
	otherChat := ingest(t, st, a, timed(2, 1, 1))[0].ChatID
	if err := st.MarkRead(ctx, a, olga.ID, chatA, stored(t, st, a, otherChat, "c2-m1").ID+1000); !errors.Is(err, chathook.ErrNotFound) {
		t.Errorf("an unknown message: %v, want ErrNotFound", err)
	}
	if err := st.MarkRead(ctx, a, olga.ID, chatA, stored(t, st, a, otherChat, "c2-m1").ID); !errors.Is(err, chathook.ErrNotFound) {
		t.Errorf("another chat's message: %v, want ErrNotFound", err)
	}
	for _, c := range []struct {
		ws         string
		user, chat int64
		what       string
	}{
		{b, bert.ID, chatA, "a's chat as b"},
		{a, bert.ID, chatA, "b's user in a"},
		{a, olga.ID, chatA + 1000, "an unknown chat"},
	} {
		if err := st.MarkRead(ctx, c.ws, c.user, c.chat, m.ID); !errors.Is(err, chathook.ErrNotFound) {
			t.Errorf("%s: %v, want ErrNotFound", c.what, err)
		}
	}
	if err := st.MarkRead(ctx, a, olga.ID, chatA, m.ID); err != nil {
		t.Errorf("a's user in a: %v", err)
	}
}
