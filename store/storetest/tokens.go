package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/store"
	"github.com/google/uuid"
)

// tokens are the tests of API tokens and of first-run setup.
var tokens = map[string]func(*testing.T, store.Store){
	"TokensAreNamedListedAndRevoked":   testTokensAreNamedListedAndRevoked,
	"TokensAreScopedToTheirWorkspace":  testTokensAreScopedToTheirWorkspace,
	"TokenUseIsRecordedToTheMinute":    testTokenUseIsRecordedToTheMinute,
	"SetupCreatesTheFirstWorkspace":    testSetupCreatesTheFirstWorkspace,
	"ConcurrentSetupsCreateOne":        testConcurrentSetupsCreateOne,
	"CreatingAWorkspaceClosesSetup":    testCreatingAWorkspaceClosesSetup,
	"WorkspacesAreListedOldestFirst":   testWorkspacesAreListedOldestFirst,
	"ConcurrentTokenUsesEachGetTheirs": testConcurrentTokenUsesEachGetTheirs,
}

// Token reads made at once are shared (group.Reads): each request still
// gets its own token's workspace, and a revoked or unknown token is
// refused, however the reads are gathered.
func testConcurrentTokenUsesEachGetTheirs(t *testing.T, st store.Store) {
	a := workspace(t, st, "acme", "")
	b := workspace(t, st, "bolt", "")
	createToken(t, st, a, "crm", "hash-a")
	createToken(t, st, b, "crm", "hash-b")
	revoked := createToken(t, st, b, "old", "hash-revoked")
	if err := st.RevokeToken(context.Background(), b, revoked.ID, t0); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"hash-a": a, "hash-b": b, "hash-revoked": "", "hash-unknown": ""}
	hashes := []string{"hash-a", "hash-b", "hash-revoked", "hash-unknown"}
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range 200 {
		wg.Go(func() {
			<-start
			hash := hashes[i%len(hashes)]
			ws, err := st.UseToken(context.Background(), []byte(hash), t0)
			switch {
			case want[hash] == "" && !errors.Is(err, chathook.ErrUnauthorized):
				t.Errorf("%s: %+v %v, want unauthorized", hash, ws, err)
			case want[hash] != "" && (err != nil || ws.ID != want[hash]):
				t.Errorf("%s: workspace %q %v, want %q", hash, ws.ID, err, want[hash])
			}
		})
	}
	close(start)
	wg.Wait()
}

func useToken(t *testing.T, st store.Store, hash string, at time.Time) (chathook.Workspace, error) {
	t.Helper()
	return st.UseToken(context.Background(), []byte(hash), at)
}

func createToken(t *testing.T, st store.Store, ws, name, hash string) chathook.APIToken {
	t.Helper()
	tok, err := st.CreateToken(context.Background(), ws, name, []byte(hash), t0)
	if err != nil {
		t.Fatalf("create token %s: %v", name, err)
	}
	if tok.ID == 0 || tok.WorkspaceID != ws || tok.Name != name || !tok.CreatedAt.Equal(t0) || !tok.LastUsedAt.IsZero() {
		t.Errorf("created %+v", tok)
	}
	return tok
}

func tokenNames(t *testing.T, st store.Store, ws string) []string {
	t.Helper()
	list, err := st.Tokens(context.Background(), ws)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tok := range list {
		names = append(names, tok.Name)
	}
	return names
}

// A workspace's token from CreateWorkspace is its "default"; more tokens
// work beside it, and a revoked one stops at once, the others not.
func testTokensAreNamedListedAndRevoked(t *testing.T, st store.Store) {
	ctx := context.Background()
	ws := workspace(t, st, "acme", "")
	if got, err := useToken(t, st, "token-"+ws, t0); err != nil || got.ID != ws || got.Name != "acme" {
		t.Fatalf("default token: %+v, %v", got, err)
	}
	ci := createToken(t, st, ws, "CI", "hash-ci")
	createToken(t, st, ws, "Zapier", "hash-zapier")
	if got := tokenNames(t, st, ws); !equal(got, []string{"default", "CI", "Zapier"}) {
		t.Errorf("tokens %v, want default, CI, Zapier (oldest first)", got)
	}
	for _, h := range []string{"hash-ci", "hash-zapier"} {
		if got, err := useToken(t, st, h, t0); err != nil || got.ID != ws {
			t.Errorf("token %s: %+v, %v", h, got, err)
		}
	}
	if err := st.RevokeToken(ctx, ws, ci.ID, t0); err != nil {
		t.Fatal(err)
	}
	if _, err := useToken(t, st, "hash-ci", t0); !errors.Is(err, chathook.ErrUnauthorized) {
		t.Errorf("revoked token: err %v, want ErrUnauthorized", err)
	}
	if _, err := useToken(t, st, "hash-zapier", t0); err != nil {
		t.Errorf("the other token after a revoke: %v", err)
	}
	if got := tokenNames(t, st, ws); !equal(got, []string{"default", "Zapier"}) {
		t.Errorf("tokens after revoking CI: %v", got)
	}
	// Revoking again is no error, and changes nothing.
	if err := st.RevokeToken(ctx, ws, ci.ID, t0.Add(time.Hour)); err != nil {
		t.Errorf("revoke again: %v", err)
	}
	if err := st.RevokeToken(ctx, ws, ci.ID+1000, t0); !errors.Is(err, chathook.ErrNotFound) {
		t.Errorf("revoke of no such token: err %v, want ErrNotFound", err)
	}
	if _, err := st.CreateToken(ctx, uuid.NewString(), "x", []byte("hash-x"), t0); !errors.Is(err, chathook.ErrNotFound) {
		t.Errorf("token of no such workspace: err %v, want ErrNotFound", err)
	}
}

// Another workspace's token id is ErrNotFound and stays valid; a token
// reaches its own workspace only.
func testTokensAreScopedToTheirWorkspace(t *testing.T, st store.Store) {
	ctx := context.Background()
	acme := workspace(t, st, "acme", "")
	globex := workspace(t, st, "globex", "")
	tok := createToken(t, st, globex, "CI", "hash-globex")
	if err := st.RevokeToken(ctx, acme, tok.ID, t0); !errors.Is(err, chathook.ErrNotFound) {
		t.Errorf("revoke of another workspace's token: err %v, want ErrNotFound", err)
	}
	if got, err := useToken(t, st, "hash-globex", t0); err != nil || got.ID != globex {
		t.Errorf("globex's token after acme tried to revoke it: %+v, %v", got, err)
	}
	if got := tokenNames(t, st, acme); !equal(got, []string{"default"}) {
		t.Errorf("acme lists %v", got)
	}
}

// Last use is written when it is a minute old, not on every request.
func testTokenUseIsRecordedToTheMinute(t *testing.T, st store.Store) {
	ws := workspace(t, st, "acme", "")
	createToken(t, st, ws, "CI", "hash-ci")
	lastUsed := func() time.Time {
		t.Helper()
		list, err := st.Tokens(context.Background(), ws)
		if err != nil {
			t.Fatal(err)
		}
		for _, tok := range list {
			if tok.Name == "CI" {
				return tok.LastUsedAt
			}
		}
		t.Fatal("no token CI")
		return time.Time{}
	}
	steps := []struct {
		at   time.Time
		want time.Time
	}{
		{t0.Add(time.Hour), t0.Add(time.Hour)},
		{t0.Add(time.Hour + 30*time.Second), t0.Add(time.Hour)},
		{t0.Add(time.Hour + 59*time.Second), t0.Add(time.Hour)},
		{t0.Add(time.Hour + 61*time.Second), t0.Add(time.Hour + 61*time.Second)},
		{t0, t0.Add(time.Hour + 61*time.Second)}, // a clock behind never moves it back
	}
	for _, s := range steps {
		if _, err := useToken(t, st, "hash-ci", s.at); err != nil {
			t.Fatal(err)
		}
		if got := lastUsed(); !got.Equal(s.want) {
			t.Errorf("used at %s: last used %s, want %s", s.at.Format(time.TimeOnly), got.Format(time.TimeOnly), s.want.Format(time.TimeOnly))
		}
	}
}

func firstWorkspace(name string) store.FirstWorkspace {
	return store.FirstWorkspace{
		Workspace: chathook.Workspace{ID: uuid.NewString(), Name: name, OwnerName: "Olga", OwnerEmail: "olga@" + name + ".example", CreatedAt: t0},
		Secret:    "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
		Owner:     chathook.User{Email: "olga@" + name + ".example", Name: "Olga", CreatedAt: t0},
		// Not a real bcrypt hash: the store keeps it as given.
		PasswordHash: []byte("hash of " + name),
	}
}

func testSetupCreatesTheFirstWorkspace(t *testing.T, st store.Store) {
	ctx := context.Background()
	if err := st.AddSetupCode(ctx, []byte("code"), t0); err != nil {
		t.Fatal(err)
	}
	if err := st.CheckSetupCode(ctx, []byte("code")); err != nil {
		t.Errorf("valid code: %v", err)
	}
	if err := st.CheckSetupCode(ctx, []byte("wrong")); !errors.Is(err, chathook.ErrNotFound) {
		t.Errorf("wrong code: err %v, want ErrNotFound", err)
	}
	if _, _, err := st.Setup(ctx, []byte("wrong"), firstWorkspace("wrong")); !errors.Is(err, chathook.ErrNotFound) {
		t.Errorf("setup with a wrong code: err %v, want ErrNotFound", err)
	}
	if list, err := st.Workspaces(ctx); err != nil || len(list) != 0 {
		t.Fatalf("after a wrong code: workspaces %v, %v", list, err)
	}
	first := firstWorkspace("acme")
	ws, u, err := st.Setup(ctx, []byte("code"), first)
	if err != nil {
		t.Fatal(err)
	}
	if ws != first.Workspace || u.ID == 0 || u.WorkspaceID != ws.ID || u.Email != first.Owner.Email || u.Name != "Olga" {
		t.Errorf("setup made %+v and %+v", ws, u)
	}
	got, hash, err := st.UserByEmail(ctx, first.Owner.Email)
	if err != nil || got != u || string(hash) != "hash of acme" {
		t.Errorf("the owner: %+v %q %v, want %+v", got, hash, err, u)
	}
	if wh, err := st.Webhook(ctx, ws.ID, chathook.Outbound); err != nil || wh.Secret != first.Secret || !wh.Enabled {
		t.Errorf("the workspace's webhook: %+v, %v", wh, err)
	}
	if list, err := st.Tokens(ctx, ws.ID); err != nil || len(list) != 0 {
		t.Errorf("setup's workspace has tokens %v (%v), want none", list, err)
	}
	// The code is used, and setup is closed: for it and for any other.
	if err := st.CheckSetupCode(ctx, []byte("code")); !errors.Is(err, chathook.ErrConflict) {
		t.Errorf("used code: err %v, want ErrConflict", err)
	}
	if _, _, err := st.Setup(ctx, []byte("code"), firstWorkspace("again")); !errors.Is(err, chathook.ErrConflict) {
		t.Errorf("setup again: err %v, want ErrConflict", err)
	}
	if err := st.AddSetupCode(ctx, []byte("new"), t0); !errors.Is(err, chathook.ErrConflict) {
		t.Errorf("a code once a workspace exists: err %v, want ErrConflict", err)
	}
	if list, _ := st.Workspaces(ctx); len(list) != 1 {
		t.Errorf("%d workspaces, want 1", len(list))
	}
}

// Setups at once, with the same code or with different codes (two
// instances each printed one), create exactly one workspace.
func testConcurrentSetupsCreateOne(t *testing.T, st store.Store) {
	ctx := context.Background()
	codes := [][]byte{[]byte("code-a"), []byte("code-b")}
	for _, c := range codes {
		if err := st.AddSetupCode(ctx, c, t0); err != nil {
			t.Fatal(err)
		}
	}
	const n = 8
	var wg sync.WaitGroup
	errs := make([]error, n)
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			_, _, errs[i] = st.Setup(ctx, codes[i%2], firstWorkspace(fmt.Sprint("ws", i)))
		})
	}
	close(start)
	wg.Wait()
	won := 0
	for i, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, chathook.ErrConflict):
			t.Errorf("setup %d: err %v, want ErrConflict", i, err)
		}
	}
	list, err := st.Workspaces(ctx)
	if won != 1 || err != nil || len(list) != 1 {
		t.Errorf("%d setups succeeded, %d workspaces (%v): want exactly one", won, len(list), err)
	}
}

func testCreatingAWorkspaceClosesSetup(t *testing.T, st store.Store) {
	ctx := context.Background()
	if err := st.AddSetupCode(ctx, []byte("code"), t0); err != nil {
		t.Fatal(err)
	}
	workspace(t, st, "acme", "")
	if err := st.CheckSetupCode(ctx, []byte("code")); !errors.Is(err, chathook.ErrConflict) {
		t.Errorf("code after workspace create: err %v, want ErrConflict", err)
	}
	if _, _, err := st.Setup(ctx, []byte("code"), firstWorkspace("late")); !errors.Is(err, chathook.ErrConflict) {
		t.Errorf("setup after workspace create: err %v, want ErrConflict", err)
	}
}

func testWorkspacesAreListedOldestFirst(t *testing.T, st store.Store) {
	ctx := context.Background()
	var want []string
	for i, name := range []string{"first", "second", "third"} {
		id := uuid.NewString()
		if _, err := st.CreateWorkspace(ctx, chathook.Workspace{ID: id, Name: name, OwnerEmail: name + "@example.com",
			CreatedAt: t0.Add(time.Duration(i) * time.Minute)}, []byte("token-"+id), "whsec_x"); err != nil {
			t.Fatal(err)
		}
		want = append(want, name+" "+name+"@example.com")
	}
	list, err := st.Workspaces(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, ws := range list {
		got = append(got, ws.Name+" "+ws.OwnerEmail)
	}
	if !equal(got, want) {
		t.Errorf("workspaces %v, want %v", got, want)
	}
}
