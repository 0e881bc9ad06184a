package postgres_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/event"
	"github.com/chathook/chathook/store"
	"github.com/chathook/chathook/store/postgres"
	"github.com/chathook/chathook/store/postgres/pgtest"
	"github.com/chathook/chathook/store/storetest"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// factsWorkspace makes a workspace with an event endpoint of messages and
// their statuses, a Cloud API number (whose replies any instance claims)
// and a chat of it; it returns the number and the chat.
func factsWorkspace(t *testing.T, st *postgres.Store) (string, chathook.Account, chathook.IngestResult, chathook.Incoming) {
	t.Helper()
	ctx := context.Background()
	ws := newWorkspace(t, st)
	addEndpoint(t, st, ws, "ep_00000000000000f1", event.Envelope, chathook.NoAggregation, event.MessageNew, event.MessageStatus)
	num, err := st.AddCloudAPINumber(ctx, ws, chathook.Account{Phone: "+15550000001", PhoneNumberID: "106000000000001",
		FullName: "Shop", VerifyToken: "verify-1"}, "secret-1", "token-1", t0)
	if err != nil {
		t.Fatal(err)
	}
	in := storetest.Message(1, 1)
	in.Account = chathook.Account{Phone: num.Phone}
	res, err := st.Ingest(ctx, ws, t0, []chathook.Incoming{in})
	if err != nil || res[0].Status != chathook.Accepted {
		t.Fatalf("ingest: %v %v", res, err)
	}
	drainAll(t, st, t0) // the chat's creation and message, out of the way
	return ws, num, res[0], in
}

// recording is another instance, A, in the middle of RecordFacts: it has
// run every statement of its transaction, on a connection of its own,
// and not committed. It returns that connection, for whileBlocked to
// commit, and what A's statements answered.
func recording(t *testing.T, url string, accountID int64, f chathook.Fact) (*pgx.Conn, []chathook.FactResult) {
	t.Helper()
	ctx := context.Background()
	a, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close(ctx) })
	tx, err := a.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	res, _, err := postgres.RecordFactsInTxForTest(ctx, tx, accountID, t0, []chathook.Fact{f})
	if err != nil {
		t.Fatalf("A: %v", err)
	}
	return a, res
}

// drainAll claims and delivers every delivery due at at, in claim order.
func drainAll(t *testing.T, st *postgres.Store, at time.Time) []chathook.Delivery {
	t.Helper()
	var out []chathook.Delivery
	for {
		got := claimAll(t, st, at)
		if len(got) == 0 {
			return out
		}
		for _, d := range got {
			if err := st.Finish(context.Background(), []store.Finished{{Outcome: chathook.Outcome{DeliveryID: d.ID, At: at, Status: 200}}}); err != nil {
				t.Fatal(err)
			}
		}
		out = append(out, got...)
	}
}

// types lists claimed deliveries' types, and the status of each status.
func types(ds []chathook.Delivery) []string {
	var out []string
	for _, d := range ds {
		typ := d.Type
		if d.Type == event.MessageStatus {
			typ += " " + string(d.Data)
		}
		out = append(out, typ)
	}
	return out
}

// Two instances record the same receipt of a message at once (WhatsApp
// redelivers it to a second connection): A has moved the status and not
// committed when B reads it. B waits for A's lock on the message, then
// finds the status delivered already: one message:status between them.
// Were B to read the message unlocked, it would see no status yet and tell
// delivered a second time.
func TestConcurrentStatusMovesOnce(t *testing.T) {
	url := pgtest.URL(t)
	st := open(t, url)
	ctx := context.Background()
	_, num, _, in := factsWorkspace(t, st)
	f := chathook.Fact{Kind: chathook.FactStatus, Chat: in.Chat.ExternalID, MessageID: in.MessageID,
		Status: chathook.StatusDelivered, At: t0.Add(time.Second)}

	a, resA := recording(t, url, num.ID, f)
	var resB []chathook.FactResult
	err := whileBlocked(t, st, a, func() (err error) {
		resB, _, err = st.RecordFacts(ctx, num.ID, t0, []chathook.Fact{f})
		return err
	})
	if err != nil {
		t.Fatalf("B: %v", err)
	}
	if resA[0] != chathook.FactApplied || resB[0] != chathook.FactRepeat {
		t.Errorf("A %v, B %v; want applied, then repeat", resA, resB)
	}
	got := drainAll(t, st, t0.Add(time.Minute))
	if len(got) != 1 || got[0].Type != event.MessageStatus {
		t.Errorf("told %v, want one message:status", types(got))
	}
}

// A status of a queued reply, found by its id, sends it. Two instances
// record statuses of it at once (Meta's "sent" and "delivered" POSTed to
// both): A has made it sent and queued its message, uncommitted, when B
// looks. B waits for A's lock on the reply, finds it sent, and only moves
// the status: the message is queued once. The sender's own ReplySent,
// late, is not ours.
func TestConcurrentStatusesSendReplyOnce(t *testing.T) {
	url := pgtest.URL(t)
	st := open(t, url)
	ctx := context.Background()
	ws, num, chat, in := factsWorkspace(t, st)
	r, err := st.QueueReply(ctx, chathook.Reply{ID: uuid.Must(uuid.NewV7()).String(), WorkspaceID: ws, ChatID: chat.ChatID,
		Text: "hello", SentBy: chathook.Teammate{FullName: "Jane", Email: "jane@example.com"}}, t0)
	if err != nil {
		t.Fatal(err)
	}
	claimed, err := st.ClaimReplies(ctx, "sender", store.ReplyClaim{Now: t0, Until: t0.Add(time.Minute), Stale: t0.Add(-time.Hour), Limit: 10})
	if err != nil || len(claimed) != 1 {
		t.Fatalf("claimed %d replies (%v)", len(claimed), err)
	}
	sent := chathook.Fact{Kind: chathook.FactStatus, Chat: in.Chat.ExternalID, MessageID: "wamid.R", ReplyID: r.ID,
		Status: chathook.StatusSent, At: t0.Add(time.Second)}
	delivered := sent
	delivered.Status, delivered.At = chathook.StatusDelivered, t0.Add(2*time.Second)

	a, resA := recording(t, url, num.ID, sent)
	var resB []chathook.FactResult
	err = whileBlocked(t, st, a, func() (err error) {
		resB, _, err = st.RecordFacts(ctx, num.ID, t0, []chathook.Fact{delivered})
		return err
	})
	if err != nil {
		t.Fatalf("B: %v", err)
	}
	if resA[0] != chathook.FactApplied || resB[0] != chathook.FactApplied {
		t.Errorf("A %v, B %v; want both applied", resA, resB)
	}
	if q, err := st.ReplySent(ctx, "sender", r.ID, "wamid.R", t0.Add(3*time.Second)); !errors.Is(err, store.ErrNotOurs) || q {
		t.Errorf("the sender's late ReplySent: %v, %v; want ErrNotOurs", q, err)
	}
	got, err := st.Reply(ctx, ws, chat.ChatID, r.ID)
	if err != nil || got.State != chathook.ReplySent || got.WAID != "wamid.R" {
		t.Errorf("reply %+v (%v), want sent as wamid.R", got, err)
	}
	told := drainAll(t, st, t0.Add(time.Minute))
	var events []chathook.Delivery
	seed := 0
	for _, d := range told {
		if d.Kind == chathook.KindEvent {
			events = append(events, d)
		} else if d.Message.MessageID == "wamid.R" {
			seed++ // the outbound webhook's, in the seed format
		}
	}
	want := []string{event.MessageNew, event.MessageStatus + ` {"message_id":"wamid.R","message_uuid":"` + r.ID +
		`","status":"sent","error":"","at":"2026-03-01T12:00:01Z"}`, event.MessageStatus + ` {"message_id":"wamid.R","message_uuid":"` +
		r.ID + `","status":"delivered","error":"","at":"2026-03-01T12:00:02Z"}`}
	if got := types(events); !slices.Equal(got, want) || seed != 1 {
		t.Fatalf("told %v and %d seed messages, want %v and 1", got, seed, want)
	}
	if events[0].Message.MessageID != "wamid.R" {
		t.Errorf("message %+v", events[0].Message)
	}
	msgs, err := st.Messages(ctx, ws, chat.ChatID, store.Page{Limit: 10})
	if err != nil || len(msgs) != 2 || msgs[1].UUID != r.ID || msgs[1].Status != chathook.StatusDelivered {
		t.Errorf("timeline %+v (%v), want the reply delivered", msgs, err)
	}
}
