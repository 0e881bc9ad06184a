package deliver_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/deliver"
	"github.com/chathook/chathook/store/sqlite"
	"github.com/google/uuid"
)

// On SQLite a message whose chat is idle goes out with no claim: the
// store hands it to the running dispatcher as it stores it. Here nothing
// kicks the dispatcher and it polls once an hour, so only the hand-over
// can bring the second message to the receiver.
func TestIdleChatIsHandedOverWithoutAClaim(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "chathook.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	rec := newRecorder(t, func(int, http.ResponseWriter, *http.Request) {})
	t0 := time.Now()
	ws := uuid.NewString()
	if _, err := st.CreateWorkspace(ctx, chathook.Workspace{ID: ws, Name: "acme", OwnerEmail: "o@example.com", CreatedAt: t0},
		[]byte("token"), "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"); err != nil {
		t.Fatal(err)
	}
	if _, err := st.UpdateWebhook(ctx, ws, t0, chathook.WebhookUpdate{URL: &rec.URL}); err != nil {
		t.Fatal(err)
	}
	d := deliver.New(deliver.Config{Store: st, AllowPrivateTargets: true, Poll: time.Hour})
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error)
	go func() { done <- d.Run(runCtx) }()
	defer func() { cancel(); <-done }()

	ingest := func(id string) {
		t.Helper()
		in := chathook.Incoming{Account: chathook.Account{Phone: "+15550000000"}, Chat: chathook.Chat{ExternalID: "+15551000001"},
			MessageID: id, UUID: uuid.NewString(), Direction: chathook.Received, Timestamp: t0, Text: id}
		if _, err := st.Ingest(ctx, ws, time.Now(), []chathook.Incoming{in}); err != nil {
			t.Fatal(err)
		}
	}
	ingest("m1")
	d.Kick() // whether Run's first claim or the hand-over takes it
	rec.wait(t, 1)
	// The first is recorded once its lease is gone: then the chat is idle.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if n, err := st.Pending(ctx, ws); err != nil || n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the first delivery was never recorded")
		}
	}
	ingest("m2")
	got := rec.wait(t, 2)
	if string(got[1].body) == string(got[0].body) {
		t.Errorf("the second request repeats the first")
	}
}

// claimCounter is a SQLite store that counts its claims; HandTo is
// promoted, so the dispatcher still receives from it.
type claimCounter struct {
	*sqlite.Store
	claims atomic.Int64
}

func (c *claimCounter) ClaimDue(ctx context.Context, owner string, now time.Time, lease time.Duration, limit int, skip ...string) ([]chathook.Delivery, error) {
	c.claims.Add(1)
	return c.Store.ClaimDue(ctx, owner, now, lease, limit, skip...)
}

// While the store hands over, an ingest wakes no claim: the message of an
// idle chat is handed over, and one that is not waits behind something
// whose end wakes the dispatcher. Here the first POST is held, so no
// outcome wakes it either, and the dispatcher polls once an hour: a claim
// now could only come from Ingested.
func TestIngestedClaimsNothingWhileHandedOver(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "chathook.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	arrived, hold := make(chan struct{}, 10), make(chan struct{})
	rec := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		<-hold
	}))
	defer rec.Close()
	t0 := time.Now()
	ws := uuid.NewString()
	if _, err := st.CreateWorkspace(ctx, chathook.Workspace{ID: ws, Name: "acme", OwnerEmail: "o@example.com", CreatedAt: t0},
		[]byte("token"), "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"); err != nil {
		t.Fatal(err)
	}
	if _, err := st.UpdateWebhook(ctx, ws, t0, chathook.WebhookUpdate{URL: &rec.URL}); err != nil {
		t.Fatal(err)
	}
	counted := &claimCounter{Store: st}
	d := deliver.New(deliver.Config{Store: counted, AllowPrivateTargets: true, Poll: time.Hour})
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error)
	go func() { done <- d.Run(runCtx) }()
	defer func() { close(hold); cancel(); <-done }()
	for deadline := time.Now().Add(10 * time.Second); counted.claims.Load() == 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("Run never made its first claim")
		}
	}
	time.Sleep(50 * time.Millisecond) // the first claim returns, and Run waits
	before := counted.claims.Load()

	for i, id := range []string{"m1", "m2"} { // m2 waits behind m1, in flight
		in := chathook.Incoming{Account: chathook.Account{Phone: "+15550000000"}, Chat: chathook.Chat{ExternalID: "+15551000001"},
			MessageID: id, UUID: uuid.NewString(), Direction: chathook.Received, Timestamp: t0, Text: id}
		if _, err := st.Ingest(ctx, ws, time.Now(), []chathook.Incoming{in}); err != nil {
			t.Fatal(err)
		}
		d.Ingested()
		if i == 0 {
			select {
			case <-arrived:
			case <-time.After(10 * time.Second):
				t.Fatal("the idle chat's message was not handed over")
			}
		}
	}
	time.Sleep(200 * time.Millisecond) // time enough for a claim that should not be
	if n := counted.claims.Load() - before; n != 0 {
		t.Errorf("%d claims after the ingests, want none", n)
	}
}
