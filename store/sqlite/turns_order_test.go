package sqlite_test

import (
	"context"
	"testing"
	"time"

	"github.com/chathook/chathook"
)

// An ingest group that comes while a claim waits for the writer lets the
// claim have it first (and does not even ask for it meanwhile), so the
// claim finds nothing of the group's; the next claim takes it.
func TestClaimWaitingGoesBeforeAGroup(t *testing.T) {
	ctx := context.Background()
	st, ws, _, t0 := newStore(t)
	release, err := st.HoldWriterForTest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(release) // before the store closes, should the test fail
	claim := func() ([]chathook.Delivery, error) { return st.ClaimDue(ctx, "local", t0, time.Minute, 10) }
	claimed := make(chan []chathook.Delivery, 1)
	go func() {
		dels, err := claim()
		if err != nil {
			t.Error(err)
		}
		claimed <- dels
	}()
	waitUntil(t, "the claim waits for the writer", func() bool { return st.WriterWaitsForTest() == 1 })
	ingested := make(chan error, 1)
	go func() {
		_, err := st.Ingest(ctx, ws, t0, []chathook.Incoming{chatMessage(t0, 1, "m1")})
		ingested <- err
	}()
	waitUntil(t, "the group waits for the claim", func() bool {
		if st.WriterWaitsForTest() > 1 {
			t.Fatal("the group asked for the writer while a claim that came first waited for it")
		}
		return st.GroupsWaitingForTest() == 1
	})
	release()
	if dels := <-claimed; len(dels) != 0 {
		t.Fatalf("the claim went after the group: it claimed %d deliveries", len(dels))
	}
	if err := <-ingested; err != nil {
		t.Fatal(err)
	}
	dels, err := claim()
	if err != nil || len(dels) != 1 || dels[0].Message.MessageID != "m1" {
		t.Fatalf("the next claim took %+v (%v), want m1", dels, err)
	}
}

// waitUntil waits until cond holds, failing the test after 10 s.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
	}
}
