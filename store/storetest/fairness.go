package storetest

import (
	"testing"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/store"
)

var fairness = map[string]func(*testing.T, store.Store){
	"ClaimSkipsBusyWorkspaces": testClaimSkipsBusyWorkspaces,
}

// testClaimSkipsBusyWorkspaces: a workspace the dispatcher holds enough of
// is passed over, however many of its chats come first, so another
// workspace's delivery is claimed at once rather than after D's backlog.
func testClaimSkipsBusyWorkspaces(t *testing.T, st store.Store) {
	d := workspace(t, st, "d", "https://d.example.com")
	c := workspace(t, st, "c", "https://c.example.com")
	var backlog []chathook.Incoming
	for chat := range 300 {
		backlog = append(backlog, msg(chat, 1), msg(chat, 2))
	}
	ingest(t, st, d, backlog...)
	other := msg(1, 1)
	other.Account.Phone = "+15550000009" // a chat of its own, created after D's
	ingest(t, st, c, other)

	first := claim(t, st, "x", t0, 64)
	if len(first) != 64 || first[0].Webhook.WorkspaceID != d {
		t.Fatalf("claimed %d, the first of %s: want 64 of D's", len(first), first[0].Webhook.WorkspaceID)
	}
	got, err := st.ClaimDue(t.Context(), "x", t0, lease, 64, outboundKey(t, st, d))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Webhook.WorkspaceID != c || got[0].Message.MessageID != "c1-m1" {
		t.Fatalf("with D skipped: %d claimed %v, want C's one", len(got), ids(got))
	}
	// Skipping is per claim: D's chats come again when D is not skipped.
	again := claim(t, st, "x", t0, 64)
	for _, del := range again {
		if del.Webhook.WorkspaceID != d {
			t.Fatalf("claimed %s's delivery, only D's wait", del.Webhook.WorkspaceID)
		}
	}
	if len(again) != 64 {
		t.Errorf("D not skipped: %d claimed, want 64", len(again))
	}
}
