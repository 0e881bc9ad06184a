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

// sqliteWorkspace is a SQLite store with one workspace whose webhook
// posts to url.
func sqliteWorkspace(t *testing.T, url string) (st *sqlite.Store, ws string) {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "chathook.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ws = uuid.NewString()
	if _, err := st.CreateWorkspace(context.Background(), chathook.Workspace{ID: ws, Name: "acme", OwnerEmail: "o@example.com", CreatedAt: time.Now()},
		[]byte("token"), "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"); err != nil {
		t.Fatal(err)
	}
	if _, err := st.UpdateWebhook(context.Background(), ws, chathook.Outbound, time.Now(), chathook.WebhookUpdate{URL: &url}); err != nil {
		t.Fatal(err)
	}
	return st, ws
}

// ingestOne stores message id of chat +15551000001 straight into the
// store, as a source would, waking nobody.
func ingestOne(t *testing.T, st *sqlite.Store, ws, id string) {
	t.Helper()
	in := chathook.Incoming{Account: chathook.Account{Phone: "+15550000000"}, Chat: chathook.Chat{ExternalID: "+15551000001"},
		MessageID: id, UUID: uuid.NewString(), Direction: chathook.Received, Timestamp: time.Now(), Text: id}
	if _, err := st.Ingest(context.Background(), ws, time.Now(), []chathook.Incoming{in}); err != nil {
		t.Fatal(err)
	}
}

// runFor runs d until the test ends (after stop, if given, is called).
func runFor(t testing.TB, d *deliver.Dispatcher, stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- d.Run(ctx) }()
	t.Cleanup(func() {
		if stop != nil {
			stop()
		}
		cancel()
		<-done
	})
}

// On SQLite a message whose chat is idle goes out with no claim: the
// store hands it to the running dispatcher as it stores it. Here nothing
// kicks the dispatcher and it polls once an hour, so only the hand-over
// can bring the second message to the receiver.
func TestIdleChatIsHandedOverWithoutAClaim(t *testing.T) {
	ctx := context.Background()
	rec := newRecorder(t, func(int, http.ResponseWriter, *http.Request) {})
	st, ws := sqliteWorkspace(t, rec.URL)
	d := deliver.New(deliver.Config{Store: st, AllowPrivateTargets: true, Poll: time.Hour})
	runFor(t, d, nil)

	ingestOne(t, st, ws, "m1")
	d.Kick() // whether Run's first claim or the hand-over takes it
	rec.wait(t, 1)
	// The first is recorded once its lease is gone: then the chat is idle.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if n, err := st.Pending(ctx, ws, chathook.Outbound); err != nil || n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the first delivery was never recorded")
		}
	}
	ingestOne(t, st, ws, "m2")
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

func (c *claimCounter) ClaimDue(ctx context.Context, owner string, now time.Time, lease time.Duration, limit int, skip ...int64) ([]chathook.Delivery, error) {
	c.claims.Add(1)
	return c.Store.ClaimDue(ctx, owner, now, lease, limit, skip...)
}

// While the store hands over, an ingest wakes no claim: the message of an
// idle chat is handed over, and one that is not waits behind something
// whose end wakes the dispatcher. Here the first POST is held, so no
// outcome wakes it either, and the dispatcher polls once an hour: a claim
// now could only come from Ingested.
func TestIngestedClaimsNothingWhileHandedOver(t *testing.T) {
	arrived, hold := make(chan struct{}, 10), make(chan struct{})
	rec := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		<-hold
	}))
	t.Cleanup(rec.Close)
	st, ws := sqliteWorkspace(t, rec.URL)
	counted := &claimCounter{Store: st}
	d := deliver.New(deliver.Config{Store: counted, AllowPrivateTargets: true, Poll: time.Hour})
	runFor(t, d, func() { close(hold) }) // the held POST ends before Run waits for it
	for deadline := time.Now().Add(10 * time.Second); counted.claims.Load() == 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("Run never made its first claim")
		}
	}
	time.Sleep(50 * time.Millisecond) // the first claim returns, and Run waits
	before := counted.claims.Load()

	for i, id := range []string{"m1", "m2"} { // m2 waits behind m1, in flight
		ingestOne(t, st, ws, id)
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
