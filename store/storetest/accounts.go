package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/store"
	"go.mau.fi/whatsmeow/proto/waAdv"
	"go.mau.fi/whatsmeow/store/sqlstore"
	"go.mau.fi/whatsmeow/types"
)

// accounts are the tests of WhatsApp accounts linked by QR code: history
// messages, chats that change their external id, the accounts' leases,
// pairings and whatsmeow's session tables.
var accounts = map[string]func(*testing.T, store.Store){
	"HistoryIsStoredNeverDelivered":          testHistoryNeverDelivered,
	"HistoryIsNeverBundled":                  testHistoryNeverBundled,
	"FirstLiveMessageAfterHistoryIsNewChat":  testFirstLiveAfterHistory,
	"FirstLiveMessageInBundleIsNewChat":      testFirstLiveAfterHistoryBundled,
	"SkippedMessageAfterHistoryIsNotNewChat": testSkippedAfterHistory,
	"LastMessageToTheMinute":                 testLastMessageToTheMinute,
	"LiveCopyOfHistoryIsNotFirstLive":        testLiveCopyOfHistory,
	"ChatFormerIDKeepsTheChat":               testChatFormerID,
	"ChatPhoneIsUpdated":                     testChatPhoneUpdated,
	"LinkAccountKeepsTheAPIAccountsChats":    testLinkAccountKeepsChats,
	"AccountsListsLinkedOnly":                testAccountsListsLinkedOnly,
	"AccountsAndWorkspacesAreScoped":         testAccountsScoped,
	"LoggedOutEmailsOnceAndReleases":         testLoggedOutOnce,
	"ClaimAccountsLimitsAndTakesExpired":     testClaimAccounts,
	"ClaimAccountsRenewsBeyondLimit":         testClaimRenewsBeyondLimit,
	"ClaimAccountsWantsAConnection":          testClaimWantsConnection,
	"ConcurrentClaimAccountsAreExclusive":    testConcurrentClaimAccounts,
	"ReleaseAccountsOnlyOwnLeases":           testReleaseAccounts,
	"PairingsRoundTripInTheirWorkspace":      testPairings,
	"SessionDBKeepsWhatsmeowDevices":         testSessionDB,
	"IngestLeavesLinkedAccountKindAndStatus": testIngestKeepsKind,
}

var t1 = t0.Add(90 * time.Minute) // in the next hour window

// history is msg(c, n) from an account's history sync.
func history(c, n int) chathook.Incoming {
	m := msg(c, n)
	m.MessageID = fmt.Sprintf("c%d-h%d", c, n)
	m.History = true
	return m
}

// link makes +1555000000n a linked device of ws, leased to owner until
// until.
func link(t *testing.T, st store.Store, ws string, n int, owner string, until time.Time) chathook.Account {
	t.Helper()
	phone := fmt.Sprintf("+155500000%02d", n)
	a, err := st.LinkAccount(context.Background(), ws, chathook.Account{Phone: phone, FullName: fmt.Sprintf("Agent %d", n),
		Email: "agent@example.com", JID: strings.TrimPrefix(phone, "+") + ":7@s.whatsapp.net", CreatedAt: t0}, owner, until)
	if err != nil {
		t.Fatalf("link %s: %v", phone, err)
	}
	return a
}

func claimAccounts(t *testing.T, st store.Store, owner string, now time.Time, limit int) []int64 {
	t.Helper()
	got, err := st.ClaimAccounts(context.Background(), owner, now, now.Add(lease), limit)
	if err != nil {
		t.Fatalf("claim accounts: %v", err)
	}
	out := make([]int64, len(got))
	for i, a := range got {
		out[i] = a.ID
	}
	return out
}

func setState(t *testing.T, st store.Store, id int64, s chathook.AccountState) chathook.Account {
	t.Helper()
	a, err := st.SetAccountState(context.Background(), id, s, t0)
	if err != nil {
		t.Fatalf("set state %s: %v", s, err)
	}
	return a
}

func testHistoryNeverDelivered(t *testing.T, st store.Store) {
	ctx := context.Background()
	ws := workspace(t, st, "acme", "https://hook.example.com")
	res := ingest(t, st, ws, history(1, 1), history(1, 2), history(2, 1))
	for i, r := range res {
		if r.Status != chathook.Accepted {
			t.Errorf("history message %d: %+v, want accepted", i, r)
		}
	}
	if got := claim(t, st, "a", t0, 100); len(got) != 0 {
		t.Errorf("history was delivered: %v", ids(got))
	}
	if n, err := st.Pending(ctx, ws, chathook.Outbound); err != nil || n != 0 {
		t.Errorf("pending %d (%v), want 0", n, err)
	}
	// Stored and shown in its chat, all the same.
	msgs, err := st.Messages(ctx, ws, res[0].ChatID, store.Page{Limit: 10})
	if err != nil || !equal(messageIDs(msgs), []string{"c1-h1", "c1-h2"}) {
		t.Errorf("chat 1 shows %v (%v)", messageIDs(msgs), err)
	}
	// The receiver hears of the chat with its first live message, which
	// is the one that says is_new_chat.
	for _, m := range msgs {
		if m.IsNewChat {
			t.Errorf("history message %s says is_new_chat", m.MessageID)
		}
	}
	// A live message of a chat that had history goes out, alone.
	ingest(t, st, ws, msg(1, 1))
	if got := claim(t, st, "a", t0, 100); !equal(ids(got), []string{"c1-m1"}) {
		t.Errorf("claimed %v, want the live message only", ids(got))
	}
}

func testHistoryNeverBundled(t *testing.T, st store.Store) {
	ws := gathering(t, st, "acme", chathook.Hourly)
	ingestAt(t, st, ws, t0, history(1, 1), history(2, 1))
	if chats := pendingChats(t, st, ws, t1); len(chats) != 0 {
		t.Errorf("history waits for a bundle in chats %v", chats)
	}
	ingestAt(t, st, ws, t0, msg(1, 1))
	if b, m := flush(t, st, ws, t1, roomy); b != 1 || m != 1 {
		t.Errorf("flushed %d bundles of %d messages, want 1 of 1 (the live message)", b, m)
	}
}

func testFirstLiveAfterHistory(t *testing.T, st store.Store) {
	ctx := context.Background()
	ws := workspace(t, st, "acme", "https://hook.example.com")
	chatID := ingest(t, st, ws, history(1, 1))[0].ChatID
	// A batch that has history and then live messages of a new chat, as a
	// history sync racing the first live message does.
	if _, err := st.Ingest(ctx, ws, t1, []chathook.Incoming{msg(1, 1), msg(1, 2), history(2, 1), msg(2, 1)}); err != nil {
		t.Fatal(err)
	}
	got := claim(t, st, "a", t1, 100)
	if !equal(ids(got), []string{"c1-m1", "c2-m1", "c1-m2"}) && !equal(ids(got), []string{"c1-m1", "c1-m2", "c2-m1"}) {
		t.Fatalf("claimed %v", ids(got))
	}
	for _, d := range got {
		if want := d.Message.MessageID != "c1-m2"; d.Message.IsNewChat != want {
			t.Errorf("%s: is_new_chat %v, want %v", d.Message.MessageID, d.Message.IsNewChat, want)
		}
		if d.Chat.ID == chatID && !d.Chat.CreatedAt.Equal(t1) {
			t.Errorf("chat created at %v, want its first live message's %v", d.Chat.CreatedAt, t1)
		}
	}
	for _, d := range got {
		finish(t, st, d, 200, time.Time{})
	}
	// Later live messages are not new, and neither is a later history one.
	ingest(t, st, ws, msg(1, 3), history(1, 2))
	for _, d := range claim(t, st, "a", t1.Add(time.Hour), 100) {
		if d.Message.IsNewChat || d.Message.MessageID != "c1-m3" {
			t.Errorf("then claimed %s, is_new_chat %v", d.Message.MessageID, d.Message.IsNewChat)
		}
	}
}

// testSkippedAfterHistory: an attachment is never delivered, so the first
// text after it is the receiver's first message of the chat.
func testSkippedAfterHistory(t *testing.T, st store.Store) {
	ws := workspace(t, st, "acme", "https://hook.example.com")
	ingest(t, st, ws, history(1, 1))
	image := msg(1, 2)
	image.SkipReason = "attachments are not supported"
	ingest(t, st, ws, image, msg(1, 3))
	got := claim(t, st, "a", t1, 100)
	if len(got) != 1 || got[0].Message.MessageID != "c1-m3" || !got[0].Message.IsNewChat {
		t.Fatalf("claimed %v, want c1-m3 saying is_new_chat", got)
	}
}

func testFirstLiveAfterHistoryBundled(t *testing.T, st store.Store) {
	ws := gathering(t, st, "acme", chathook.Hourly)
	ingestAt(t, st, ws, t0, history(1, 1))
	ingestAt(t, st, ws, t1, msg(1, 1))
	if b, _ := flush(t, st, ws, t1.Add(time.Hour), roomy); b != 1 {
		t.Fatalf("%d bundles", b)
	}
	got := claim(t, st, "a", t1.Add(time.Hour), 10)
	if len(got) != 1 || !got[0].Bundle.IsNewChat || !equal(bundleIDs(t, st, got[0]), []string{"c1-m1"}) {
		t.Errorf("bundle %+v: want the live message, is_new_chat true", got)
	}
}

// A live copy of a message that came in a history sync is a duplicate:
// the receiver still has not heard of the chat, so the next live message
// says is_new_chat.
func testLiveCopyOfHistory(t *testing.T, st store.Store) {
	ws := workspace(t, st, "acme", "https://hook.example.com")
	h := history(1, 1)
	ingest(t, st, ws, h)
	live := h
	live.History, live.UUID = false, msg(1, 1).UUID
	if r := ingest(t, st, ws, live)[0]; r.Status != chathook.Duplicate {
		t.Errorf("live copy: %+v, want duplicate", r)
	}
	ingest(t, st, ws, msg(1, 1))
	if got := claim(t, st, "a", t0, 10); len(got) != 1 || !got[0].Message.IsNewChat {
		t.Errorf("claimed %v, want c1-m1 with is_new_chat", ids(got))
	}
	// The same within one batch.
	h = history(2, 1)
	live = h
	live.History, live.UUID = false, msg(2, 1).UUID
	if r := ingest(t, st, ws, h, live, msg(2, 2)); r[1].Status != chathook.Duplicate || r[2].Status != chathook.Accepted {
		t.Errorf("batch answered %+v", r)
	}
	if got := claim(t, st, "a", t0, 10); len(got) != 1 || got[0].Message.MessageID != "c2-m2" || !got[0].Message.IsNewChat {
		t.Errorf("claimed %v, want c2-m2 with is_new_chat", ids(got))
	}
}

func testChatFormerID(t *testing.T, st store.Store) {
	ctx := context.Background()
	ws := workspace(t, st, "acme", "https://hook.example.com")
	lid := func(c int) string { return fmt.Sprintf("%d@lid", 1000+c) }
	byLID := func(c, n int) chathook.Incoming {
		m := msg(c, n)
		m.Chat.ExternalID, m.Chat.Phone = lid(c), ""
		return m
	}
	byPhone := func(c, n int) chathook.Incoming {
		m := msg(c, n)
		m.ChatFormerID = lid(c)
		return m
	}
	// Chat 1 learns its phone in a later batch, chat 2 half way through
	// its first.
	first := ingest(t, st, ws, byLID(1, 1), byLID(2, 1), byLID(2, 2), byPhone(2, 3), byPhone(2, 4), msg(2, 5))
	chat1, chat2 := first[0].ChatID, first[1].ChatID
	later := ingest(t, st, ws, byPhone(1, 2), byLID(2, 6), msg(1, 3), byPhone(2, 7))
	for i, want := range []int64{chat1, chat2, chat2, chat2, chat2, chat2} {
		if first[i].ChatID != want {
			t.Errorf("first batch, message %d went to chat %d, want %d", i, first[i].ChatID, want)
		}
	}
	// byLID(2, 6): the LID is no chat's any more, so it makes a new one.
	for i, want := range []int64{chat1, 0, chat1, chat2} {
		if want != 0 && later[i].ChatID != want {
			t.Errorf("later batch, message %d went to chat %d, want %d", i, later[i].ChatID, want)
		}
	}
	for c, id := range map[int]int64{1: chat1, 2: chat2} {
		phone := msg(c, 1).Chat.Phone
		got, err := st.Chat(ctx, ws, id)
		if err != nil || got.ExternalID != phone || got.Phone != phone {
			t.Errorf("chat %d %+v (%v): want %s as external id and phone", c, got, err, phone)
		}
	}
	news := map[int64]int{}
	for _, d := range claim(t, st, "a", t0, 100) {
		if d.Message.IsNewChat {
			news[d.Chat.ID]++
		}
	}
	if news[chat1] != 1 || news[chat2] != 1 {
		t.Errorf("is_new_chat said %v times per chat, want once for chats %d and %d", news, chat1, chat2)
	}
	// A former id that is not stored is no chat: a new one is created.
	other := msg(3, 1)
	other.ChatFormerID = "999@lid"
	if r := ingest(t, st, ws, other)[0]; r.ChatID == chat1 || r.ChatID == chat2 || r.Status != chathook.Accepted {
		t.Errorf("unknown former id: %+v", r)
	}
}

func testChatPhoneUpdated(t *testing.T, st store.Store) {
	ctx := context.Background()
	ws := workspace(t, st, "acme", "")
	m := msg(1, 1)
	m.Chat.Phone = ""
	chatID := ingest(t, st, ws, m)[0].ChatID
	m = msg(1, 2)
	m.Chat.Phone = "+15559999999"
	ingest(t, st, ws, m)
	if c, err := st.Chat(ctx, ws, chatID); err != nil || c.Phone != "+15559999999" {
		t.Errorf("chat %+v (%v): phone not updated", c, err)
	}
	m = msg(1, 3)
	m.Chat.Phone = "" // unknown this time: kept
	ingest(t, st, ws, m)
	if c, err := st.Chat(ctx, ws, chatID); err != nil || c.Phone != "+15559999999" {
		t.Errorf("chat %+v (%v): an empty phone cleared it", c, err)
	}
}

func testLinkAccountKeepsChats(t *testing.T, st store.Store) {
	ctx := context.Background()
	ws := workspace(t, st, "acme", "")
	chatID := ingest(t, st, ws, msg(1, 1))[0].ChatID
	apiAcc, err := st.Chat(ctx, ws, chatID)
	if err != nil {
		t.Fatal(err)
	}
	a, err := st.LinkAccount(ctx, ws, chathook.Account{Phone: "+15550000000", FullName: "Front desk", JID: "15550000000:9@s.whatsapp.net",
		Email: "bob@example.com", CreatedAt: t1}, "instance-a", t1.Add(lease))
	if err != nil {
		t.Fatal(err)
	}
	if a.ID != apiAcc.AccountID || a.Kind != chathook.KindWeb || a.State != chathook.AccountConnected ||
		a.JID != "15550000000:9@s.whatsapp.net" || a.FullName != "Front desk" || a.Email != "bob@example.com" || a.WorkspaceID != ws {
		t.Errorf("linked %+v, want account %d taken over as web, connected", a, apiAcc.AccountID)
	}
	if r := ingest(t, st, ws, msg(1, 2))[0]; r.ChatID != chatID {
		t.Errorf("a message of the linked account went to chat %d, want %d", r.ChatID, chatID)
	}
	chats, err := st.Chats(ctx, ws, store.ChatQuery{Limit: 10})
	if err != nil || len(chats) != 1 || chats[0].AccountID != a.ID {
		t.Errorf("chats %+v (%v)", chats, err)
	}
	// It is leased to the instance that paired it.
	if got := claimAccounts(t, st, "instance-b", t1, 10); len(got) != 0 {
		t.Errorf("another instance claimed %v of a fresh link", got)
	}
	if got := claimAccounts(t, st, "instance-a", t1, 10); !slices.Equal(got, []int64{a.ID}) {
		t.Errorf("the pairing instance holds %v", got)
	}
}

func testAccountsListsLinkedOnly(t *testing.T, st store.Store) {
	ctx := context.Background()
	ws := workspace(t, st, "acme", "")
	ingest(t, st, ws, msg(1, 1)) // an API account, +15550000000
	b := link(t, st, ws, 2, "x", t0)
	c := link(t, st, ws, 1, "x", t0)
	got, err := st.Accounts(ctx, ws)
	if err != nil {
		t.Fatal(err)
	}
	var listed []int64
	for _, a := range got {
		listed = append(listed, a.ID)
	}
	if !slices.Equal(listed, []int64{b.ID, c.ID}) {
		t.Errorf("accounts %v, want the linked %v oldest first", listed, []int64{b.ID, c.ID})
	}
	if len(got) == 2 && (got[0] != b || got[1] != c) {
		t.Errorf("listed %+v\nlinked %+v %+v", got, b, c)
	}
	if !got[0].CreatedAt.Equal(t0) {
		t.Errorf("created at %v, want %v", got[0].CreatedAt, t0)
	}
}

func testAccountsScoped(t *testing.T, st store.Store) {
	ctx := context.Background()
	ws := workspace(t, st, "acme", "")
	other := workspace(t, st, "globex", "")
	a := link(t, st, ws, 1, "x", t0)
	if got, err := st.Account(ctx, ws, a.ID); err != nil || got != a {
		t.Errorf("account %+v (%v), want %+v", got, err, a)
	}
	if _, err := st.Account(ctx, other, a.ID); !errors.Is(err, chathook.ErrNotFound) {
		t.Errorf("another workspace's account: %v, want ErrNotFound", err)
	}
	if got, err := st.Accounts(ctx, other); err != nil || len(got) != 0 {
		t.Errorf("another workspace lists %+v (%v)", got, err)
	}
	w, err := st.Workspace(ctx, ws)
	if err != nil || w.ID != ws || w.Name != "acme" || w.OwnerEmail != "acme@example.com" || !w.CreatedAt.Equal(t0) {
		t.Errorf("workspace %+v (%v)", w, err)
	}
	if _, err := st.Workspace(ctx, "no-such-workspace"); !errors.Is(err, chathook.ErrNotFound) {
		t.Errorf("unknown workspace: %v, want ErrNotFound", err)
	}
}

func testLoggedOutOnce(t *testing.T, st store.Store) {
	ctx := context.Background()
	ws := workspace(t, st, "acme", "")
	a := link(t, st, ws, 1, "instance-a", t0.Add(time.Hour))
	link(t, st, ws, 2, "instance-a", t0.Add(time.Hour))
	for range 2 {
		if got := setState(t, st, a.ID, chathook.AccountLoggedOut); got.State != chathook.AccountLoggedOut {
			t.Errorf("state %q", got.State)
		}
	}
	e := mustOneEmail(t, st, t0)
	if e.Kind != "account_logged_out" || e.Workspace.ID != ws || !e.CreatedAt.Equal(t0) ||
		!strings.Contains(e.Reason, "+15550000001") || !strings.Contains(e.Reason, "Agent 1") || !strings.Contains(e.Reason, "logged out") {
		t.Errorf("email %+v", e)
	}
	// Its lease went with the connection: connecting again, any instance
	// takes it at once.
	setState(t, st, a.ID, chathook.AccountConnecting)
	if got := claimAccounts(t, st, "instance-b", t0, 10); !slices.Equal(got, []int64{a.ID}) {
		t.Errorf("instance-b claimed %v, want the released %d only", got, a.ID)
	}
	// Logged out again: one more email.
	setState(t, st, a.ID, chathook.AccountLoggedOut)
	mustOneEmail(t, st, t0)
	if _, err := st.SetAccountState(ctx, 1<<40, chathook.AccountConnected, t0); !errors.Is(err, chathook.ErrNotFound) {
		t.Errorf("unknown account: %v, want ErrNotFound", err)
	}
}

func testClaimAccounts(t *testing.T, st store.Store) {
	ws := workspace(t, st, "acme", "")
	var all []int64
	for n := range 3 {
		all = append(all, link(t, st, ws, n, "pairer", t0).ID)
	}
	a := claimAccounts(t, st, "a", t0.Add(time.Second), 2)
	if !slices.Equal(a, all[:2]) {
		t.Errorf("a claimed %v, want %v", a, all[:2])
	}
	if b := claimAccounts(t, st, "b", t0.Add(time.Second), 5); !slices.Equal(b, all[2:]) {
		t.Errorf("b claimed %v, want what a left: %v", b, all[2:])
	}
	// Within a's lease nobody takes a's accounts.
	if c := claimAccounts(t, st, "c", t0.Add(lease/2), 5); len(c) != 0 {
		t.Errorf("c took %v of leases that run", c)
	}
	// a dies; once its lease expires, c takes its accounts over (b's were
	// renewed meanwhile), and a, back, no longer holds them.
	claimAccounts(t, st, "b", t0.Add(lease/2), 5)
	if c := claimAccounts(t, st, "c", t0.Add(lease+2*time.Second), 5); !slices.Equal(c, all[:2]) {
		t.Errorf("c took over %v, want a's %v", c, all[:2])
	}
	if a := claimAccounts(t, st, "a", t0.Add(lease+3*time.Second), 1); len(a) != 0 {
		t.Errorf("a still holds %v after the take-over", a)
	}
}

// An owner's own leases are all renewed, however small the limit: a claim
// never drops a connection it holds for a limit.
func testClaimRenewsBeyondLimit(t *testing.T, st store.Store) {
	ws := workspace(t, st, "acme", "")
	var all []int64
	for n := range 4 {
		all = append(all, link(t, st, ws, n, "pairer", t0).ID)
	}
	if a := claimAccounts(t, st, "a", t0.Add(time.Second), 3); len(a) != 3 {
		t.Fatalf("a claimed %v", a)
	}
	renewedAt := t0.Add(lease / 2)
	if a := claimAccounts(t, st, "a", renewedAt, 1); !slices.Equal(a, all[:3]) {
		t.Errorf("a renewing with limit 1 holds %v, want %v", a, all[:3])
	}
	// Renewed: past the first lease, before the renewed one, they are a's.
	if b := claimAccounts(t, st, "b", t0.Add(lease+2*time.Second), 10); !slices.Equal(b, all[3:]) {
		t.Errorf("b claimed %v, want only %v", b, all[3:])
	}
	if b := claimAccounts(t, st, "b", renewedAt.Add(lease+time.Second), 10); !slices.Equal(b, all) {
		t.Errorf("after a's renewed lease b holds %v, want all", b)
	}
}

func testClaimWantsConnection(t *testing.T, st store.Store) {
	ws := workspace(t, st, "acme", "")
	ingest(t, st, ws, msg(1, 1)) // an API account: never claimed
	want := map[chathook.AccountState]bool{
		chathook.AccountConnecting: true, chathook.AccountConnected: true, chathook.AccountDisconnecting: true,
		chathook.AccountDisconnected: false, chathook.AccountLoggedOut: false, chathook.AccountReplaced: false,
	}
	wanted := []int64{}
	n := 1
	for s, w := range want {
		a := link(t, st, ws, n, "pairer", t0.Add(time.Hour))
		n++
		setState(t, st, a.ID, s)
		if w {
			wanted = append(wanted, a.ID)
		}
	}
	slices.Sort(wanted)
	if got := claimAccounts(t, st, "a", t0.Add(2*time.Hour), 100); !slices.Equal(got, wanted) {
		t.Errorf("claimed %v, want those that want a connection: %v", got, wanted)
	}
}

// Owners claim at once, round after round, each round's owners new (the
// previous ones died, their leases expired): an account is never held by
// two of them, and every account is held by one.
func testConcurrentClaimAccounts(t *testing.T, st store.Store) {
	const accounts, owners, rounds, limit = 24, 8, 15, 4
	ws := workspace(t, st, "acme", "")
	for n := range accounts {
		link(t, st, ws, n, "pairer", t0)
	}
	for r := range rounds {
		now := t0.Add(time.Duration(r+1) * 2 * lease)
		held := make([][]int64, owners)
		errs := make([]error, owners)
		start(owners, func(i int) {
			got, err := st.ClaimAccounts(context.Background(), fmt.Sprintf("r%d-o%d", r, i), now, now.Add(lease), limit)
			errs[i] = err
			for _, a := range got {
				held[i] = append(held[i], a.ID)
			}
		})
		holder := map[int64]int{}
		for i, ids := range held {
			if errs[i] != nil {
				t.Fatalf("round %d owner %d: %v", r, i, errs[i])
			}
			if len(ids) > limit {
				t.Errorf("round %d owner %d holds %d, limit %d", r, i, len(ids), limit)
			}
			for _, id := range ids {
				if j, ok := holder[id]; ok {
					t.Fatalf("round %d: account %d held by owners %d and %d", r, id, j, i)
				}
				holder[id] = i
			}
		}
		// What a claimer was told it holds is what the database says.
		for i := range owners {
			again := claimAccounts(t, st, fmt.Sprintf("r%d-o%d", r, i), now, 0)
			if !slices.Equal(again, held[i]) {
				t.Errorf("round %d owner %d: told %v, holds %v", r, i, held[i], again)
			}
		}
		// Whatever SKIP LOCKED passed over is free for the next claim.
		for i := range owners {
			for _, id := range claimAccounts(t, st, fmt.Sprintf("r%d-o%d", r, i), now, limit) {
				holder[id] = i
			}
		}
		if len(holder) != accounts {
			t.Errorf("round %d: %d of %d accounts held", r, len(holder), accounts)
		}
	}
}

func testReleaseAccounts(t *testing.T, st store.Store) {
	ctx := context.Background()
	ws := workspace(t, st, "acme", "")
	x := link(t, st, ws, 1, "a", t0.Add(time.Hour))
	y := link(t, st, ws, 2, "a", t0.Add(time.Hour))
	if err := st.ReleaseAccounts(ctx, "b", []int64{x.ID, y.ID}); err != nil {
		t.Fatal(err)
	}
	if got := claimAccounts(t, st, "b", t0, 10); len(got) != 0 {
		t.Errorf("b's release of a's leases freed %v", got)
	}
	if err := st.ReleaseAccounts(ctx, "a", []int64{x.ID}); err != nil {
		t.Fatal(err)
	}
	if got := claimAccounts(t, st, "b", t0, 10); !slices.Equal(got, []int64{x.ID}) {
		t.Errorf("after a released %d, b claimed %v", x.ID, got)
	}
	if err := st.ReleaseAccounts(ctx, "a", nil); err != nil {
		t.Errorf("release nothing: %v", err)
	}
}

func testPairings(t *testing.T, st store.Store) {
	ctx := context.Background()
	ws := workspace(t, st, "acme", "")
	other := workspace(t, st, "globex", "")
	p := chathook.Pairing{ID: "p-1", WorkspaceID: ws, Email: "bob@example.com", QR: "2@abc,def,ghi",
		State: chathook.PairingWaiting, UpdatedAt: t0}
	if err := st.SavePairing(ctx, p); err != nil {
		t.Fatal(err)
	}
	if got, err := st.Pairing(ctx, ws, p.ID); err != nil || got != p {
		t.Errorf("pairing %+v (%v), want %+v", got, err, p)
	}
	p.QR, p.Phone, p.Code, p.State, p.AccountID, p.Err, p.UpdatedAt = "", "+15550000001", "ABCD-EFGH", chathook.PairingFailed, 42,
		"the QR code expired: start again", t1
	if err := st.SavePairing(ctx, p); err != nil {
		t.Fatal(err)
	}
	if got, err := st.Pairing(ctx, ws, p.ID); err != nil || got != p {
		t.Errorf("updated pairing %+v (%v), want %+v", got, err, p)
	}
	if _, err := st.Pairing(ctx, other, p.ID); !errors.Is(err, chathook.ErrNotFound) {
		t.Errorf("another workspace's pairing: %v, want ErrNotFound", err)
	}
	if _, err := st.Pairing(ctx, ws, "p-2"); !errors.Is(err, chathook.ErrNotFound) {
		t.Errorf("unknown pairing: %v, want ErrNotFound", err)
	}
	// A pairing id of another workspace is not taken over.
	stolen := p
	stolen.WorkspaceID, stolen.State = other, chathook.PairingPaired
	if err := st.SavePairing(ctx, stolen); err == nil {
		t.Error("saved over another workspace's pairing")
	}
	if got, err := st.Pairing(ctx, ws, p.ID); err != nil || got != p {
		t.Errorf("after another workspace's save: %+v (%v)", got, err)
	}
}

// whatsmeow keeps its sessions in the store's database: its migrations
// run (and run again, as at every start) and a device round-trips.
func testSessionDB(t *testing.T, st store.Store) {
	ctx := context.Background()
	db, dialect := st.SessionDB()
	container := sqlstore.NewWithDB(db, dialect, nil)
	for range 2 {
		if err := container.Upgrade(ctx); err != nil {
			t.Fatalf("upgrade whatsmeow's tables: %v", err)
		}
	}
	dev := container.NewDevice()
	jid := types.NewADJID("15550000001", 0, 7)
	dev.ID = &jid
	dev.PushName = "Agent 1"
	// What pairing fills in: the account's signature of this device.
	dev.Account = &waAdv.ADVSignedDeviceIdentity{Details: []byte("details"), AccountSignatureKey: make([]byte, 32),
		AccountSignature: make([]byte, 64), DeviceSignature: make([]byte, 64)}
	if err := container.PutDevice(ctx, dev); err != nil {
		t.Fatal(err)
	}
	got, err := container.GetDevice(ctx, jid)
	if err != nil || got == nil {
		t.Fatalf("device %v (%v)", got, err)
	}
	if *got.ID != jid || got.PushName != "Agent 1" || got.RegistrationID != dev.RegistrationID ||
		*got.NoiseKey.Pub != *dev.NoiseKey.Pub || *got.IdentityKey.Priv != *dev.IdentityKey.Priv ||
		string(got.Account.Details) != "details" {
		t.Errorf("device read back differs: %v", got.ID)
	}
	// The store still works beside it.
	ws := workspace(t, st, "acme", "")
	ingest(t, st, ws, msg(1, 1))
}

// Ingest records when an account last had a message to the minute: a
// message within a minute of the recorded time leaves it.
func testLastMessageToTheMinute(t *testing.T, st store.Store) {
	ws := workspace(t, st, "acme", "")
	a := link(t, st, ws, 0, "instance-a", t0.Add(time.Hour))
	for _, c := range []struct {
		at, want time.Time
	}{{t0, t0}, {t0.Add(30 * time.Second), t0}, {t0.Add(61 * time.Second), t0.Add(61 * time.Second)}} {
		ingestAt(t, st, ws, c.at, msg(1, int(c.at.Sub(t0)/time.Second)+1))
		got, err := st.Account(context.Background(), ws, a.ID)
		if err != nil || !got.LastMessageAt.Equal(c.want) {
			t.Errorf("after a message at %v: last message at %v, want %v (%v)", c.at, got.LastMessageAt, c.want, err)
		}
	}
}

// Ingest records when an account last had a message, and never changes
// what a linked device's account is.
func testIngestKeepsKind(t *testing.T, st store.Store) {
	ctx := context.Background()
	ws := workspace(t, st, "acme", "")
	a := link(t, st, ws, 0, "instance-a", t0.Add(time.Hour)) // +15550000000, msg's account
	if !a.LastMessageAt.IsZero() {
		t.Errorf("last message at %v before any", a.LastMessageAt)
	}
	ingest(t, st, ws, msg(1, 1))
	got, err := st.Account(ctx, ws, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Kind != chathook.KindWeb || got.State != chathook.AccountConnected || got.JID != a.JID || !got.LastMessageAt.Equal(t0) {
		t.Errorf("after ingest %+v", got)
	}
	// An account the API creates is kind api, created then.
	m := msg(1, 2)
	m.Account.Phone = "+15557777777"
	chatID := ingest(t, st, ws, m)[0].ChatID
	c, err := st.Chat(ctx, ws, chatID)
	if err != nil {
		t.Fatal(err)
	}
	api, err := st.Account(ctx, ws, c.AccountID)
	if err != nil || api.Kind != chathook.KindAPI || api.State != "" || !api.CreatedAt.Equal(t0) || !api.LastMessageAt.Equal(t0) {
		t.Errorf("API account %+v (%v)", api, err)
	}
	// A delivery carries its account as stored.
	if _, err := st.UpdateWebhook(ctx, ws, chathook.Outbound, t0, chathook.WebhookUpdate{URL: new("https://hook.example.com")}); err != nil {
		t.Fatal(err)
	}
	ingest(t, st, ws, msg(1, 3))
	if d := claim(t, st, "a", t0, 10); len(d) != 1 || d[0].Account.Kind != chathook.KindWeb || d[0].Account.JID != a.JID {
		t.Errorf("delivery's account %+v", d)
	}
}
