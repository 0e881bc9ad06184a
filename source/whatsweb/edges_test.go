package whatsweb_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/chathooktest"
	"github.com/chathook/chathook/source/whatsweb"
	"github.com/chathook/chathook/store"
	"go.mau.fi/whatsmeow/proto/waHistorySync"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"
	"google.golang.org/protobuf/proto"
)

// history is a history sync of n text messages with Bob, ids H0, H1, ...
func history(n int) *events.HistorySync {
	msgs := make([]*waHistorySync.HistorySyncMsg, n)
	past := t0.Add(-48 * time.Hour)
	for i := range msgs {
		msgs[i] = webMsg(bobJID, "", fmt.Sprintf("H%d", i), false, past.Add(time.Duration(i)*time.Second), txt("old"))
	}
	return &events.HistorySync{Data: &waHistorySync.HistorySync{
		SyncType:      waHistorySync.HistorySync_INITIAL_BOOTSTRAP.Enum(),
		Conversations: []*waHistorySync.Conversation{{ID: proto.String(bobJID), Messages: msgs}},
	}}
}

// flakyIngest is the real store, whose next fails Ingest calls fail as
// a locked database would.
type flakyIngest struct {
	store.Store
	fails atomic.Int32
}

func (s *flakyIngest) Ingest(ctx context.Context, ws string, now time.Time, msgs []chathook.Incoming) ([]chathook.IngestResult, error) {
	if s.fails.Add(-1) >= 0 {
		return nil, errors.New("database is locked")
	}
	return s.Store.Ingest(ctx, ws, now, msgs)
}

// A batch of history the store refuses is tried again, not dropped:
// whatsmeow never hands a history sync twice.
func TestHistoryRetried(t *testing.T) {
	e := newEnv(t, sqliteOpener(t))
	st := &flakyIngest{Store: e.st}
	m := e.managerOn(t, st, e.net, "a", 0, e.clock.Now)
	whatsweb.SetHistoryRetry(m, time.Millisecond)
	_, fc := e.pair(t, m, e.net, danaJID, "Dana Owner")
	st.fails.Store(2)
	fc.Emit(history(3))
	for i := range 3 {
		if n := e.messageCount(t, fmt.Sprint("H", i)); n != 1 {
			t.Errorf("history message H%d stored %d times", i, n)
		}
	}
}

// A message the phone sent again (this device could not decrypt it) is
// acknowledged by whatsmeow whatever the handler answers: a refused
// write is tried again until it is stored.
func TestMessageFromPhoneRetried(t *testing.T) {
	e := newEnv(t, sqliteOpener(t))
	st := &flakyIngest{Store: e.st}
	m := e.managerOn(t, st, e.net, "a", 0, e.clock.Now)
	whatsweb.SetHistoryRetry(m, time.Millisecond)
	_, fc := e.pair(t, m, e.net, danaJID, "Dana Owner")
	st.fails.Store(2)
	evt := live(t, bobJID, bobJID, "P1", t0, txt("sent again by the phone"))
	evt.UnavailableRequestID = "REQ1"
	if !fc.Emit(evt) {
		t.Error("not acknowledged once stored")
	}
	if n := e.messageCount(t, "P1"); n != 1 {
		t.Errorf("the phone's copy stored %d times", n)
	}
}

// A history sync handed over after the connection closed is stored all
// the same: whatsmeow acknowledged it already and never hands it again.
func TestHistoryAtStopStored(t *testing.T) {
	e := newEnv(t, sqliteOpener(t))
	a := e.manager(t, "a")
	_, fc := e.pair(t, a, e.net, danaJID, "Dana Owner")
	if err := a.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	fc.Emit(history(2))
	if n := e.messageCount(t, "H0") + e.messageCount(t, "H1"); n != 2 {
		t.Errorf("%d of 2 history messages stored after Close", n)
	}
}

// A message whose database write hangs (its table locked by another
// transaction) is answered false once the handling times out, rather
// than holding whatsmeow's event loop; sent again after the lock is gone,
// it is stored once.
func TestHangingWriteTimesOut(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, pgOpener(t))
	m := e.manager(t, "a")
	whatsweb.SetHandleTimeout(m, 200*time.Millisecond)
	_, fc := e.pair(t, m, e.net, danaJID, "Dana Owner")

	db, _ := e.st.SessionDB()
	lock, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Rollback()
	if _, err := lock.ExecContext(ctx, `LOCK TABLE messages IN ACCESS EXCLUSIVE MODE`); err != nil {
		t.Fatal(err)
	}
	answered := make(chan bool, 1)
	go func() { answered <- fc.Deliver(live(t, bobJID, bobJID, "L1", t0, txt("hello"))) }()
	select {
	case ok := <-answered:
		if ok {
			t.Fatal("a message whose write timed out was acknowledged")
		}
	case <-time.After(30 * time.Second):
		lock.Rollback()
		t.Fatal("the handler still waits for a locked table after 30 s")
	}
	if err := lock.Rollback(); err != nil {
		t.Fatal(err)
	}

	// whatsmeow reconnects; WhatsApp sends the message again.
	fc.Disconnect()
	fc.Emit(&events.Disconnected{})
	if err := fc.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	chathooktest.Eventually(t, "the redelivery acknowledged", func() bool { return len(e.net.Unacked(danaJID)) == 0 })
	if n := e.messageCount(t, "L1"); n != 1 {
		t.Errorf("stored %d times", n)
	}
}

// Pings WhatsApp leaves unanswered three times in a row show the account
// connecting; pings answered again show it connected.
func TestKeepAliveTimeouts(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, sqliteOpener(t))
	acc, fc := e.pair(t, e.manager(t, "a"), e.net, danaJID, "Dana Owner")
	state := func() chathook.AccountState {
		a, err := e.st.Account(ctx, e.ws.ID, acc.ID)
		if err != nil {
			t.Fatal(err)
		}
		return a.State
	}
	fc.Emit(&events.KeepAliveTimeout{ErrorCount: 1})
	fc.Emit(&events.KeepAliveTimeout{ErrorCount: 2})
	if s := state(); s != chathook.AccountConnected {
		t.Fatalf("after two missed pings: %s", s)
	}
	fc.Emit(&events.KeepAliveTimeout{ErrorCount: 3})
	if s := state(); s != chathook.AccountConnecting {
		t.Fatalf("after three missed pings: %s", s)
	}
	fc.Emit(&events.KeepAliveRestored{})
	if s := state(); s != chathook.AccountConnected {
		t.Fatalf("after pings answered again: %s", s)
	}
}

// A message whatsmeow could not decrypt is logged (it asks for it again;
// there is no text to log).
func TestUndecryptableLogged(t *testing.T) {
	e := newEnv(t, sqliteOpener(t))
	var log chathooktest.SyncBuffer
	m, err := whatsweb.New(context.Background(), whatsweb.Config{
		Store: e.st, Network: e.net, Owner: "a", Now: e.clock.Now, Logger: slog.New(slog.NewTextHandler(&log, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close(context.Background()) })
	_, fc := e.pair(t, m, e.net, danaJID, "Dana Owner")
	fc.Emit(&events.UndecryptableMessage{Info: types.MessageInfo{ID: "3EB0UNDEC"}, DecryptFailMode: events.DecryptFailHide})
	if out := log.String(); !strings.Contains(out, "not decrypted") || !strings.Contains(out, "3EB0UNDEC") {
		t.Errorf("no log line of the undecryptable message:\n%s", out)
	}
}
