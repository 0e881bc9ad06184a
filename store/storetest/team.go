package storetest

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/store"
)

// team are the tests of the Team page's reads and writes: teammates,
// their removal, invitations and password reset links.
var team = map[string]func(*testing.T, store.Store){
	"TeammatesAreListedInTheirWorkspace": testTeammatesAreListed,
	"RemovingAUserEndsItsSessions":       testRemovingAUserEndsItsSessions,
	"InvitationIsUsedOnce":               testInvitationIsUsedOnce,
	"InvitationExpires":                  testInvitationExpires,
	"NewInvitationReplacesOlder":         testNewInvitationReplacesOlder,
	"InvitingATeammateConflicts":         testInvitingATeammateConflicts,
	"InvitedEmailTakenMeanwhile":         testInvitedEmailTakenMeanwhile,
	"ResetSetsPasswordAndEndsSessions":   testResetSetsPasswordAndEndsSessions,
	"ConcurrentUsesOfALinkSucceedOnce":   testConcurrentUsesOfALinkSucceedOnce,
	"TeamLinkEmailGoesToTheTeammate":     testTeamLinkEmailGoesToTheTeammate,
}

func invite(t *testing.T, st store.Store, ws, email, token string) chathook.TeamLink {
	t.Helper()
	l, err := st.CreateTeamLink(context.Background(), []byte(token), chathook.TeamLink{Kind: chathook.LinkInvite, WorkspaceID: ws,
		Email: email, Name: "Invited", CreatedAt: t0, ExpiresAt: t0.Add(chathook.InviteLifetime)})
	if err != nil {
		t.Fatalf("invite %s: %v", email, err)
	}
	return l
}

func resetLink(t *testing.T, st store.Store, ws string, userID int64, token string) {
	t.Helper()
	if _, err := st.CreateTeamLink(context.Background(), []byte(token), chathook.TeamLink{Kind: chathook.LinkReset, WorkspaceID: ws,
		UserID: userID, CreatedAt: t0, ExpiresAt: t0.Add(chathook.ResetLifetime)}); err != nil {
		t.Fatalf("reset link of %d: %v", userID, err)
	}
}

func linkGone(t *testing.T, st store.Store, token string, at time.Time, why string) {
	t.Helper()
	if l, err := st.TeamLink(context.Background(), []byte(token), at); !errors.Is(err, chathook.ErrNotFound) {
		t.Errorf("%s: link %+v, %v; want ErrNotFound", why, l, err)
	}
}

func testTeammatesAreListed(t *testing.T, st store.Store) {
	ctx := context.Background()
	a, b := workspace(t, st, "a", ""), workspace(t, st, "b", "")
	first := user(t, st, a, "olga@acme.example")
	user(t, st, b, "boris@bolt.example")
	second, err := st.CreateUser(ctx, chathook.User{WorkspaceID: a, Email: "ivan@acme.example", Name: "Ivan", CreatedAt: t0.Add(time.Hour)}, []byte("x"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := st.Teammates(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].ID != first.ID || got[1].ID != second.ID || got[1].Name != "Ivan" ||
		got[1].Email != "ivan@acme.example" || !got[1].CreatedAt.Equal(t0.Add(time.Hour)) || got[1].WorkspaceID != a {
		t.Errorf("teammates of a: %+v, want olga then ivan", got)
	}
}

func testRemovingAUserEndsItsSessions(t *testing.T, st store.Store) {
	ctx := context.Background()
	a, b := workspace(t, st, "a", ""), workspace(t, st, "b", "")
	olga, ivan := user(t, st, a, "olga@acme.example"), user(t, st, a, "ivan@acme.example")
	boris := user(t, st, b, "boris@bolt.example")
	session(t, st, "olga-1", olga.ID, t0.Add(time.Hour))
	session(t, st, "olga-2", olga.ID, t0.Add(time.Hour))
	session(t, st, "ivan", ivan.ID, t0.Add(time.Hour))
	resetLink(t, st, a, olga.ID, "olga-reset")
	if err := st.DeleteUser(ctx, a, boris.ID); !errors.Is(err, chathook.ErrNotFound) {
		t.Errorf("removing another workspace's user: %v, want ErrNotFound", err)
	}
	if err := st.DeleteUser(ctx, a, olga.ID); err != nil {
		t.Fatal(err)
	}
	for _, tok := range []string{"olga-1", "olga-2"} {
		if _, err := st.Session(ctx, []byte(tok), t0); !errors.Is(err, chathook.ErrUnauthorized) {
			t.Errorf("session %s of a removed user: %v, want ErrUnauthorized", tok, err)
		}
	}
	if _, err := st.Session(ctx, []byte("ivan"), t0); err != nil {
		t.Errorf("another teammate's session ended too: %v", err)
	}
	linkGone(t, st, "olga-reset", t0, "the removed user's reset link")
	if _, _, err := st.UserByEmail(ctx, "olga@acme.example"); !errors.Is(err, chathook.ErrNotFound) {
		t.Errorf("removed user by email: %v, want ErrNotFound", err)
	}
	if list, _ := st.Teammates(ctx, a); len(list) != 1 || list[0].ID != ivan.ID {
		t.Errorf("teammates after removing olga: %+v", list)
	}
	if err := st.DeleteUser(ctx, a, olga.ID); !errors.Is(err, chathook.ErrNotFound) {
		t.Errorf("removing twice: %v, want ErrNotFound", err)
	}
	// The email is free again: the person can be invited back.
	invite(t, st, a, "olga@acme.example", "olga-back")
}

func testInvitationIsUsedOnce(t *testing.T, st store.Store) {
	ctx := context.Background()
	ws := workspace(t, st, "a", "")
	invite(t, st, ws, "olga@acme.example", "tok")
	l, err := st.TeamLink(ctx, []byte("tok"), t0.Add(time.Hour))
	if err != nil || l.Kind != chathook.LinkInvite || l.WorkspaceID != ws || l.Email != "olga@acme.example" || l.Name != "Invited" ||
		!l.ExpiresAt.Equal(t0.Add(chathook.InviteLifetime)) || !l.CreatedAt.Equal(t0) {
		t.Fatalf("link %+v %v", l, err)
	}
	u, err := st.UseTeamLink(ctx, []byte("tok"), t0.Add(time.Hour), "Olga", []byte("olga's hash"))
	if err != nil {
		t.Fatal(err)
	}
	if u.ID == 0 || u.WorkspaceID != ws || u.Name != "Olga" || u.Email != "olga@acme.example" || !u.CreatedAt.Equal(t0.Add(time.Hour)) {
		t.Errorf("user %+v", u)
	}
	got, hash, err := st.UserByEmail(ctx, "olga@acme.example")
	if err != nil || got.ID != u.ID || string(hash) != "olga's hash" {
		t.Errorf("invited user by email: %+v %q %v", got, hash, err)
	}
	linkGone(t, st, "tok", t0.Add(time.Hour), "a used invitation")
	if _, err := st.UseTeamLink(ctx, []byte("tok"), t0.Add(time.Hour), "Eve", []byte("x")); !errors.Is(err, chathook.ErrNotFound) {
		t.Errorf("using an invitation twice: %v, want ErrNotFound", err)
	}
}

func testInvitationExpires(t *testing.T, st store.Store) {
	ctx := context.Background()
	ws := workspace(t, st, "a", "")
	invite(t, st, ws, "olga@acme.example", "tok")
	expiry := t0.Add(chathook.InviteLifetime)
	if _, err := st.TeamLink(ctx, []byte("tok"), expiry.Add(-time.Millisecond)); err != nil {
		t.Errorf("just before expiry: %v", err)
	}
	linkGone(t, st, "tok", expiry, "at its expiry")
	if _, err := st.UseTeamLink(ctx, []byte("tok"), expiry, "Olga", []byte("x")); !errors.Is(err, chathook.ErrNotFound) {
		t.Errorf("using an expired invitation: %v, want ErrNotFound", err)
	}
	if _, _, err := st.UserByEmail(ctx, "olga@acme.example"); !errors.Is(err, chathook.ErrNotFound) {
		t.Errorf("an expired invitation made a user: %v", err)
	}
}

func testNewInvitationReplacesOlder(t *testing.T, st store.Store) {
	ctx := context.Background()
	ws := workspace(t, st, "a", "")
	invite(t, st, ws, "olga@acme.example", "old")
	invite(t, st, ws, "OLGA@acme.example", "new")
	linkGone(t, st, "old", t0, "the older invitation of the same email")
	if _, err := st.TeamLink(ctx, []byte("new"), t0); err != nil {
		t.Errorf("the newer invitation: %v", err)
	}
	invite(t, st, ws, "ivan@acme.example", "ivan")
	if _, err := st.TeamLink(ctx, []byte("new"), t0); err != nil {
		t.Errorf("another email's invitation replaced olga's: %v", err)
	}
	// Another workspace's invitation of the same address replaces
	// nothing of this one's: the first taken wins the email.
	other := workspace(t, st, "b", "")
	invite(t, st, other, "olga@acme.example", "b's")
	if l, err := st.TeamLink(ctx, []byte("new"), t0); err != nil || l.WorkspaceID != ws {
		t.Errorf("a's invitation after b's: %+v, %v", l, err)
	}
	if _, err := st.UseTeamLink(ctx, []byte("new"), t0, "Olga", []byte("x")); err != nil {
		t.Fatalf("using a's: %v", err)
	}
	if _, err := st.UseTeamLink(ctx, []byte("b's"), t0, "Olga", []byte("x")); !errors.Is(err, chathook.ErrConflict) {
		t.Errorf("using b's after a's: %v, want ErrConflict", err)
	}
}

func testInvitingATeammateConflicts(t *testing.T, st store.Store) {
	a, b := workspace(t, st, "a", ""), workspace(t, st, "b", "")
	user(t, st, b, "olga@acme.example")
	_, err := st.CreateTeamLink(context.Background(), []byte("tok"), chathook.TeamLink{Kind: chathook.LinkInvite, WorkspaceID: a,
		Email: "Olga@Acme.example", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)})
	var conflict *chathook.ConflictError
	if !errors.As(err, &conflict) || conflict.Field != "email" {
		t.Errorf("inviting an email that has a user: %v, want a ConflictError on email", err)
	}
	linkGone(t, st, "tok", t0, "a refused invitation")
}

func testInvitedEmailTakenMeanwhile(t *testing.T, st store.Store) {
	ctx := context.Background()
	ws := workspace(t, st, "a", "")
	invite(t, st, ws, "olga@acme.example", "tok")
	user(t, st, ws, "OLGA@acme.example")
	if _, err := st.UseTeamLink(ctx, []byte("tok"), t0, "Olga", []byte("x")); !errors.Is(err, chathook.ErrConflict) {
		t.Errorf("accepting after the email was taken: %v, want ErrConflict", err)
	}
}

func testResetSetsPasswordAndEndsSessions(t *testing.T, st store.Store) {
	ctx := context.Background()
	a, b := workspace(t, st, "a", ""), workspace(t, st, "b", "")
	olga, ivan := user(t, st, a, "olga@acme.example"), user(t, st, a, "ivan@acme.example")
	boris := user(t, st, b, "boris@bolt.example")
	session(t, st, "olga", olga.ID, t0.Add(2*time.Hour))
	session(t, st, "ivan", ivan.ID, t0.Add(2*time.Hour))
	if _, err := st.CreateTeamLink(ctx, []byte("x"), chathook.TeamLink{Kind: chathook.LinkReset, WorkspaceID: a, UserID: boris.ID,
		CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}); !errors.Is(err, chathook.ErrNotFound) {
		t.Errorf("a reset of another workspace's user: %v, want ErrNotFound", err)
	}
	resetLink(t, st, a, olga.ID, "old")
	resetLink(t, st, a, olga.ID, "tok")
	linkGone(t, st, "old", t0, "an older reset link of the same user")
	l, err := st.TeamLink(ctx, []byte("tok"), t0)
	if err != nil || l.Kind != chathook.LinkReset || l.UserID != olga.ID || l.Email != "olga@acme.example" || l.Name != olga.Name {
		t.Fatalf("reset link %+v %v", l, err)
	}
	linkGone(t, st, "tok", t0.Add(chathook.ResetLifetime), "a reset link at its expiry")
	u, err := st.UseTeamLink(ctx, []byte("tok"), t0.Add(time.Minute), "", []byte("new hash"))
	if err != nil || u.ID != olga.ID || u.Name != olga.Name {
		t.Fatalf("reset: %+v %v", u, err)
	}
	if _, hash, _ := st.UserByEmail(ctx, "olga@acme.example"); string(hash) != "new hash" {
		t.Errorf("hash %q after a reset", hash)
	}
	if _, err := st.Session(ctx, []byte("olga"), t0); !errors.Is(err, chathook.ErrUnauthorized) {
		t.Errorf("olga's session after a reset: %v, want ErrUnauthorized", err)
	}
	if _, err := st.Session(ctx, []byte("ivan"), t0); err != nil {
		t.Errorf("ivan's session ended by olga's reset: %v", err)
	}
	if _, err := st.UseTeamLink(ctx, []byte("tok"), t0.Add(time.Minute), "", []byte("again")); !errors.Is(err, chathook.ErrNotFound) {
		t.Errorf("using a reset link twice: %v, want ErrNotFound", err)
	}
	resetLink(t, st, a, olga.ID, "renamed")
	if u, err := st.UseTeamLink(ctx, []byte("renamed"), t0, "Olga K.", []byte("h")); err != nil || u.Name != "Olga K." {
		t.Errorf("a reset with a name: %+v %v", u, err)
	}
}

func testConcurrentUsesOfALinkSucceedOnce(t *testing.T, st store.Store) {
	ws := workspace(t, st, "a", "")
	invite(t, st, ws, "olga@acme.example", "tok")
	var wg sync.WaitGroup
	var ok, gone atomic.Int32
	for range 8 {
		wg.Go(func() {
			_, err := st.UseTeamLink(context.Background(), []byte("tok"), t0, "Olga", []byte("x"))
			switch {
			case err == nil:
				ok.Add(1)
			case errors.Is(err, chathook.ErrNotFound):
				gone.Add(1)
			default:
				t.Errorf("use: %v", err)
			}
		})
	}
	wg.Wait()
	if ok.Load() != 1 || gone.Load() != 7 {
		t.Errorf("%d uses succeeded and %d found no link, want 1 and 7", ok.Load(), gone.Load())
	}
}

func testTeamLinkEmailGoesToTheTeammate(t *testing.T, st store.Store) {
	ctx := context.Background()
	ws := workspace(t, st, "a", "")
	invite(t, st, ws, "quiet@acme.example", "no-mail")
	if _, err := st.CreateTeamLink(ctx, []byte("tok"), chathook.TeamLink{Kind: chathook.LinkInvite, WorkspaceID: ws,
		Email: "olga@acme.example", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour), MailLink: "https://chathook.test/invite/tok"}); err != nil {
		t.Fatal(err)
	}
	due, err := st.DueEmails(ctx, t0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(due) != 1 {
		t.Fatalf("%d emails due, want the one invitation that asked for one: %+v", len(due), due)
	}
	e := due[0]
	if e.Kind != "team_invite" || e.To != "olga@acme.example" || e.Reason != "https://chathook.test/invite/tok" || e.Workspace.ID != ws ||
		!e.CreatedAt.Equal(t0) {
		t.Errorf("email %+v", e)
	}
	if err := st.EmailDone(ctx, e.ID, t0, false); err != nil {
		t.Fatal(err)
	}
}
