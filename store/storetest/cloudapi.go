package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/store"
)

// cloudAPI are the tests of WhatsApp Business Platform (Cloud API)
// numbers: registration, its conflicts, the secrets and removal.
var cloudAPI = map[string]func(*testing.T, store.Store){
	"CloudAPINumberIsListedWithoutItsSecret":      testCloudAPIAdd,
	"CloudAPINumberTakesOverTheAPIAccountsChats":  testCloudAPITakesOver,
	"CloudAPINumberConflicts":                     testCloudAPIConflicts,
	"ConcurrentCloudAPINumbersOneWins":            testCloudAPIConcurrent,
	"RemovedCloudAPINumberLosesItsSecrets":        testCloudAPIRemove,
	"CloudAPINumbersAreScoped":                    testCloudAPIScoped,
	"CloudAPINumbersAreNeverClaimedAsDevices":     testCloudAPINotClaimed,
	"LinkAccountDropsCloudAPICredentials":         testCloudAPILinkedByQR,
	"IngestLeavesCloudAPINumberKindAndCredential": testCloudAPIIngestKeeps,
	"CloudAPIAccessTokenIsStoredAndReplaced":      testCloudAPIAccessToken,
	"CloudAPIAccessTokenOnlyForItsOwnNumber":      testCloudAPIAccessTokenScoped,
	"CloudAPIAccessTokenGoesWithTheNumber":        testCloudAPIAccessTokenDropped,
}

// cloudNumber is Cloud API number n of the tests: +1555000000n, phone
// number id 10600000000000n.
func cloudNumber(n int) chathook.Account {
	return chathook.Account{
		Phone: fmt.Sprintf("+155500000%02d", n), PhoneNumberID: fmt.Sprintf("1060000000000%02d", n),
		FullName: fmt.Sprintf("Shop %d", n), Email: "ops@example.com", VerifyToken: fmt.Sprintf("verify-%d", n),
	}
}

func addCloud(t *testing.T, st store.Store, ws string, n int) chathook.Account {
	t.Helper()
	a, err := st.AddCloudAPINumber(context.Background(), ws, cloudNumber(n), fmt.Sprintf("secret-%d", n), "", t0)
	if err != nil {
		t.Fatalf("add Cloud API number %d: %v", n, err)
	}
	return a
}

func cloudNumbers(t *testing.T, st store.Store, ws string) []chathook.CloudAPINumber {
	t.Helper()
	got, err := st.CloudAPINumbers(context.Background(), ws)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func testCloudAPIAdd(t *testing.T, st store.Store) {
	ctx := context.Background()
	ws := workspace(t, st, "acme", "")
	a := addCloud(t, st, ws, 1)
	want := cloudNumber(1)
	want.ID, want.WorkspaceID, want.Kind, want.State, want.CreatedAt = a.ID, ws, chathook.KindCloudAPI, chathook.AccountConnecting, t0
	if a != want {
		t.Errorf("added %+v\nwant  %+v", a, want)
	}
	if got, err := st.Accounts(ctx, ws); err != nil || len(got) != 1 || got[0] != a {
		t.Errorf("accounts %+v (%v), want the number", got, err)
	}
	if got, err := st.Account(ctx, ws, a.ID); err != nil || got != a {
		t.Errorf("account %+v (%v)", got, err)
	}
	if got := cloudNumbers(t, st, ws); len(got) != 1 || got[0].Account != a || got[0].AppSecret != "secret-1" {
		t.Errorf("numbers %+v, want the number with its secret", got)
	}
	// Meta called: connected.
	if got := setState(t, st, a.ID, chathook.AccountConnected); got.State != chathook.AccountConnected || got.VerifyToken != "verify-1" {
		t.Errorf("connected %+v", got)
	}
	if got := cloudNumbers(t, st, ws); len(got) != 1 || got[0].State != chathook.AccountConnected || got[0].AppSecret != "secret-1" {
		t.Errorf("numbers %+v once connected", got)
	}
}

func testCloudAPITakesOver(t *testing.T, st store.Store) {
	ctx := context.Background()
	ws := workspace(t, st, "acme", "")
	chatID := ingest(t, st, ws, msg(1, 1))[0].ChatID // the API creates +15550000000
	c, err := st.Chat(ctx, ws, chatID)
	if err != nil {
		t.Fatal(err)
	}
	a := addCloud(t, st, ws, 0)
	if a.ID != c.AccountID || a.Kind != chathook.KindCloudAPI || a.FullName != "Shop 0" {
		t.Errorf("added %+v, want account %d taken over", a, c.AccountID)
	}
	if r := ingest(t, st, ws, msg(1, 2))[0]; r.ChatID != chatID || r.Status != chathook.Accepted {
		t.Errorf("a message of the number: %+v, want chat %d", r, chatID)
	}
	// A removed number, or a device logged out, is taken over too.
	setState(t, st, a.ID, chathook.AccountDisconnected)
	again := addCloud(t, st, ws, 0)
	if again.ID != a.ID || again.State != chathook.AccountConnecting || again.VerifyToken != "verify-0" {
		t.Errorf("added again %+v", again)
	}
	web := link(t, st, ws, 3, "x", t0)
	setState(t, st, web.ID, chathook.AccountLoggedOut)
	if got := addCloud(t, st, ws, 3); got.ID != web.ID || got.Kind != chathook.KindCloudAPI {
		t.Errorf("a logged out device's number: %+v, want account %d", got, web.ID)
	}
}

func testCloudAPIConflicts(t *testing.T, st store.Store) {
	ctx := context.Background()
	ws := workspace(t, st, "acme", "")
	addCloud(t, st, ws, 1)
	web := link(t, st, ws, 2, "x", t0)
	for _, c := range []struct {
		name  string
		a     chathook.Account
		field string
	}{
		{"same phone number id", func() chathook.Account { a := cloudNumber(5); a.PhoneNumberID = cloudNumber(1).PhoneNumberID; return a }(), "phone_number_id"},
		{"same phone", func() chathook.Account { a := cloudNumber(1); a.PhoneNumberID = "999"; return a }(), "display_phone_number"},
		{"the same number", cloudNumber(1), "phone_number_id"},
		{"a device's phone", cloudNumber(2), "display_phone_number"},
	} {
		_, err := st.AddCloudAPINumber(ctx, ws, c.a, "s", "", t0)
		var ce *chathook.ConflictError
		if !errors.As(err, &ce) || ce.Field != c.field || !errors.Is(err, chathook.ErrConflict) {
			t.Errorf("%s: %v, want a conflict on %s", c.name, err, c.field)
		}
	}
	if got := cloudNumbers(t, st, ws); len(got) != 1 || got[0].AppSecret != "secret-1" {
		t.Errorf("numbers after the conflicts %+v", got)
	}
	if got, err := st.Account(ctx, ws, web.ID); err != nil || got.Kind != chathook.KindWeb || got.State != chathook.AccountConnected {
		t.Errorf("the device %+v (%v)", got, err)
	}
}

func testCloudAPIConcurrent(t *testing.T, st store.Store) {
	ws := workspace(t, st, "acme", "")
	const n = 8
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			a := cloudNumber(i) // eight phones, one phone number id
			a.PhoneNumberID = "106000000000042"
			_, errs[i] = st.AddCloudAPINumber(context.Background(), ws, a, "s", "", t0)
		})
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, chathook.ErrConflict):
			t.Errorf("register: %v", err)
		}
	}
	if got := cloudNumbers(t, st, ws); ok != 1 || len(got) != 1 {
		t.Errorf("%d registrations of one phone number id succeeded, %d listed; want 1", ok, len(got))
	}
}

func testCloudAPIRemove(t *testing.T, st store.Store) {
	ctx := context.Background()
	ws := workspace(t, st, "acme", "")
	a := addCloud(t, st, ws, 1)
	b := addCloud(t, st, ws, 2)
	got := setState(t, st, a.ID, chathook.AccountDisconnected)
	if got.State != chathook.AccountDisconnected || got.VerifyToken != "" || got.PhoneNumberID != a.PhoneNumberID {
		t.Errorf("removed %+v: want disconnected, no verify token, its phone number id kept", got)
	}
	if n := cloudNumbers(t, st, ws); len(n) != 1 || n[0].ID != b.ID {
		t.Errorf("numbers %+v, want only %d", n, b.ID)
	}
	// Still listed, as disconnected, like a device logged out from chathook.
	if l, err := st.Accounts(ctx, ws); err != nil || len(l) != 2 || l[0].State != chathook.AccountDisconnected {
		t.Errorf("accounts %+v (%v)", l, err)
	}
	// Nothing brings it back but a registration: not a Meta call that
	// began before the removal and marks it connected after.
	if _, err := st.SetAccountState(ctx, a.ID, chathook.AccountConnected, t0); !errors.Is(err, chathook.ErrNotFound) {
		t.Errorf("a removed number marked connected: %v, want ErrNotFound", err)
	}
	if again, err := st.Account(ctx, ws, a.ID); err != nil || again.State != chathook.AccountDisconnected {
		t.Errorf("removed number %+v (%v)", again, err)
	}
	// Registered again, it asks for the new secret only.
	if _, err := st.AddCloudAPINumber(ctx, ws, cloudNumber(1), "new-secret", "", t0); err != nil {
		t.Fatal(err)
	}
	if n := cloudNumbers(t, st, ws); len(n) != 2 || n[0].AppSecret != "new-secret" {
		t.Errorf("numbers %+v", n)
	}
	if _, err := st.SetAccountState(ctx, 1<<40, chathook.AccountDisconnected, t0); !errors.Is(err, chathook.ErrNotFound) {
		t.Errorf("unknown account: %v, want ErrNotFound", err)
	}
	// An API account has no state to set.
	apiAcc := ingest(t, st, ws, msg(1, 1))[0].ChatID
	c, _ := st.Chat(ctx, ws, apiAcc)
	if _, err := st.SetAccountState(ctx, c.AccountID, chathook.AccountDisconnected, t0); err == nil {
		t.Error("an API account took a connection state")
	}
}

func testCloudAPIScoped(t *testing.T, st store.Store) {
	ctx := context.Background()
	ws := workspace(t, st, "acme", "")
	other := workspace(t, st, "globex", "")
	a := addCloud(t, st, ws, 1)
	if got := cloudNumbers(t, st, other); len(got) != 0 {
		t.Errorf("another workspace's numbers: %+v", got)
	}
	if _, err := st.Account(ctx, other, a.ID); !errors.Is(err, chathook.ErrNotFound) {
		t.Errorf("another workspace's account: %v", err)
	}
	// Another workspace may register the same number: each has its own
	// callback URL.
	if b := addCloud(t, st, other, 1); b.ID == a.ID || b.WorkspaceID != other {
		t.Errorf("the other workspace's registration %+v", b)
	}
}

func testCloudAPINotClaimed(t *testing.T, st store.Store) {
	ws := workspace(t, st, "acme", "")
	a := addCloud(t, st, ws, 1)
	setState(t, st, a.ID, chathook.AccountConnected)
	d := link(t, st, ws, 2, "", t0)
	if got := claimAccounts(t, st, "instance-a", t0, 10); !slices.Equal(got, []int64{d.ID}) {
		t.Errorf("claimed %v, want the device %d only", got, d.ID)
	}
}

func testCloudAPILinkedByQR(t *testing.T, st store.Store) {
	ctx := context.Background()
	ws := workspace(t, st, "acme", "")
	a := addCloud(t, st, ws, 1)
	l, err := st.LinkAccount(ctx, ws, chathook.Account{Phone: a.Phone, JID: "15550000001:3@s.whatsapp.net"}, "x", t0)
	if err != nil {
		t.Fatal(err)
	}
	if l.ID != a.ID || l.Kind != chathook.KindWeb || l.PhoneNumberID != "" || l.VerifyToken != "" {
		t.Errorf("linked %+v", l)
	}
	if got := cloudNumbers(t, st, ws); len(got) != 0 {
		t.Errorf("numbers %+v after the phone was linked by QR code", got)
	}
}

func testCloudAPIIngestKeeps(t *testing.T, st store.Store) {
	ctx := context.Background()
	ws := workspace(t, st, "acme", "")
	a := addCloud(t, st, ws, 0) // msg's account
	ingest(t, st, ws, msg(1, 1))
	got, err := st.Account(ctx, ws, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	// msg names the account "Agent" <agent@example.com>: a source names
	// the account as it sees it, as for any account.
	if got.Kind != chathook.KindCloudAPI || got.State != chathook.AccountConnecting || got.PhoneNumberID != a.PhoneNumberID ||
		got.VerifyToken != a.VerifyToken || !got.LastMessageAt.Equal(t0) {
		t.Errorf("after ingest %+v", got)
	}
	if n := cloudNumbers(t, st, ws); len(n) != 1 || n[0].AppSecret != "secret-0" {
		t.Errorf("numbers %+v", n)
	}
}

// accessToken is the access token the store holds for account id of ws,
// and whether the number is listed at all.
func accessToken(t *testing.T, st store.Store, ws string, id int64) (string, bool) {
	t.Helper()
	for _, n := range cloudNumbers(t, st, ws) {
		if n.ID == id {
			return n.AccessToken, true
		}
	}
	return "", false
}

func testCloudAPIAccessToken(t *testing.T, st store.Store) {
	ctx := context.Background()
	ws := workspace(t, st, "acme", "")
	a, err := st.AddCloudAPINumber(ctx, ws, cloudNumber(1), "secret-1", "EAAG-first", t0)
	if err != nil {
		t.Fatal(err)
	}
	if tok, ok := accessToken(t, st, ws, a.ID); !ok || tok != "EAAG-first" {
		t.Errorf("registered with a token: %q (listed %v)", tok, ok)
	}
	b := addCloud(t, st, ws, 2) // without one: receives, cannot send
	if tok, ok := accessToken(t, st, ws, b.ID); !ok || tok != "" {
		t.Errorf("registered without a token: %q (listed %v)", tok, ok)
	}
	// Set, then replaced; the other number keeps its own.
	for _, tok := range []string{"EAAG-second", "EAAG-third"} {
		got, err := st.SetAccessToken(ctx, ws, b.ID, tok)
		if err != nil || got.ID != b.ID || got.Kind != chathook.KindCloudAPI || got.VerifyToken != "verify-2" {
			t.Errorf("SetAccessToken(%q): %+v, %v", tok, got, err)
		}
		if have, _ := accessToken(t, st, ws, b.ID); have != tok {
			t.Errorf("after SetAccessToken(%q) the store has %q", tok, have)
		}
	}
	if tok, _ := accessToken(t, st, ws, a.ID); tok != "EAAG-first" {
		t.Errorf("the other number's token became %q", tok)
	}
	// Connected numbers take one too; the app secret is left alone.
	setState(t, st, a.ID, chathook.AccountConnected)
	if _, err := st.SetAccessToken(ctx, ws, a.ID, "EAAG-fourth"); err != nil {
		t.Fatal(err)
	}
	if n := cloudNumbers(t, st, ws); n[0].AccessToken != "EAAG-fourth" || n[0].AppSecret != "secret-1" || n[0].State != chathook.AccountConnected {
		t.Errorf("after a new token: %+v", n[0])
	}
	// Registered again, a number has the new registration's token or none.
	if _, err := st.AddCloudAPINumber(ctx, ws, cloudNumber(1), "secret-1", "", t0); err == nil {
		t.Error("a number not removed registered twice")
	}
	setState(t, st, a.ID, chathook.AccountDisconnected)
	if _, err := st.AddCloudAPINumber(ctx, ws, cloudNumber(1), "secret-1", "", t0); err != nil {
		t.Fatal(err)
	}
	if tok, _ := accessToken(t, st, ws, a.ID); tok != "" {
		t.Errorf("registered again without a token, it has %q", tok)
	}
}

func testCloudAPIAccessTokenScoped(t *testing.T, st store.Store) {
	ctx := context.Background()
	ws := workspace(t, st, "acme", "")
	other := workspace(t, st, "globex", "")
	a := addCloud(t, st, ws, 1)
	web := link(t, st, ws, 2, "x", t0)
	apiChat := ingest(t, st, ws, msg(1, 1))[0].ChatID
	c, err := st.Chat(ctx, ws, apiChat)
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range []struct {
		name string
		ws   string
		id   int64
	}{
		{"another workspace's number", other, a.ID},
		{"a device linked by QR code", ws, web.ID},
		{"an account of the ingest API", ws, c.AccountID},
		{"no such account", ws, 1 << 40},
	} {
		if got, err := st.SetAccessToken(ctx, x.ws, x.id, "EAAG-x"); !errors.Is(err, chathook.ErrNotFound) {
			t.Errorf("%s: %+v, %v; want ErrNotFound", x.name, got, err)
		}
	}
	if tok, _ := accessToken(t, st, ws, a.ID); tok != "" {
		t.Errorf("a refused SetAccessToken set %q", tok)
	}
	if got, err := st.Account(ctx, ws, web.ID); err != nil || got.Kind != chathook.KindWeb || got.State != chathook.AccountConnected {
		t.Errorf("the device after a refused SetAccessToken: %+v, %v", got, err)
	}
}

func testCloudAPIAccessTokenDropped(t *testing.T, st store.Store) {
	ctx := context.Background()
	ws := workspace(t, st, "acme", "")
	a := addCloud(t, st, ws, 1)
	if _, err := st.SetAccessToken(ctx, ws, a.ID, "EAAG-removed"); err != nil {
		t.Fatal(err)
	}
	// Removed: the token goes with the other credentials, and a removed
	// number takes no new one; only a registration brings it back.
	setState(t, st, a.ID, chathook.AccountDisconnected)
	if _, err := st.SetAccessToken(ctx, ws, a.ID, "EAAG-late"); !errors.Is(err, chathook.ErrNotFound) {
		t.Errorf("a removed number took a token: %v", err)
	}
	if _, err := st.AddCloudAPINumber(ctx, ws, cloudNumber(1), "secret-1", "EAAG-new", t0); err != nil {
		t.Fatal(err)
	}
	if tok, _ := accessToken(t, st, ws, a.ID); tok != "EAAG-new" {
		t.Errorf("registered again: token %q, want EAAG-new (the removed one must not come back)", tok)
	}
	// Linked by QR code: no longer a Cloud API number, no token.
	if _, err := st.LinkAccount(ctx, ws, chathook.Account{Phone: a.Phone, JID: "15550000001:3@s.whatsapp.net"}, "x", t0); err != nil {
		t.Fatal(err)
	}
	if _, err := st.SetAccessToken(ctx, ws, a.ID, "EAAG-device"); !errors.Is(err, chathook.ErrNotFound) {
		t.Errorf("a device took a token: %v", err)
	}
	// Registered once more without a token, nothing of the old one is left.
	setState(t, st, a.ID, chathook.AccountDisconnected)
	b := addCloud(t, st, ws, 1)
	if tok, ok := accessToken(t, st, ws, b.ID); !ok || tok != "" {
		t.Errorf("after a QR link and a new registration: token %q (listed %v)", tok, ok)
	}
}
