package sqlite_test

import (
	"context"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/event"
	"github.com/chathook/chathook/store"
	"github.com/google/uuid"
)

// handed is a receiver for HandTo that records what it is handed.
type handed struct {
	room atomic.Int64
	took chan []chathook.Delivery
}

func receive(st store.HandOff) (*handed, func()) {
	h := &handed{took: make(chan []chathook.Delivery, 16)}
	h.room.Store(100)
	stop := st.HandTo(store.Receiver{Owner: "local", Lease: time.Minute,
		Room: func(int64) int { return int(h.room.Load()) },
		Take: func(leased []chathook.Delivery, _ time.Time) { h.took <- leased }})
	return h, stop
}

// next is the next group's deliveries handed over.
func (h *handed) next(t *testing.T) []chathook.Delivery {
	t.Helper()
	select {
	case dels := <-h.took:
		return dels
	case <-time.After(10 * time.Second):
		t.Fatal("nothing handed over")
		return nil
	}
}

func chatMessage(t0 time.Time, chat int, id string) chathook.Incoming {
	return chathook.Incoming{
		Account:   chathook.Account{Phone: "+15550000000"},
		Chat:      chathook.Chat{ExternalID: fmt.Sprintf("+1555100%04d", chat)},
		MessageID: id, UUID: uuid.NewString(), Direction: chathook.Received, Timestamp: t0, Text: "hello " + id,
	}
}

// A message whose chat has nothing pending is leased to the local
// dispatcher as it is stored and handed over loaded, with every later
// message of its chat in the same transaction; one whose chat has a
// delivery pending, in flight or not, waits for a claim, in order.
func TestHandOffTakesIdleChatsOnly(t *testing.T) {
	ctx := context.Background()
	st, ws, url, t0 := newStore(t)
	h, stop := receive(st)
	in := func(ws string, msgs ...chathook.Incoming) {
		t.Helper()
		if _, err := st.Ingest(ctx, ws, t0, msgs); err != nil {
			t.Fatal(err)
		}
	}
	claimed := func() []string {
		t.Helper()
		got, err := st.ClaimDue(ctx, "claimer", t0, time.Minute, 100)
		if err != nil {
			t.Fatal(err)
		}
		return idsOf(got)
	}

	in(ws, chatMessage(t0, 1, "a"), chatMessage(t0, 2, "b"), chatMessage(t0, 1, "c"))
	first := h.next(t)
	if got := idsOf(first); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Fatalf("handed %v, want a, b, c in ingest order", got)
	}
	d := first[0]
	if d.Webhook.URL != url || d.Chat.ExternalID != "+15551000001" || d.Account.Phone != "+15550000000" ||
		d.Message.Text != "hello a" || d.EventID == "" || d.Webhook.WorkspaceID != ws {
		t.Errorf("handed delivery not loaded as a claim loads it: %+v", d)
	}
	if got := claimed(); len(got) != 0 {
		t.Errorf("claim took %v, leased to the local dispatcher", got)
	}

	// Chat 1 is in flight: its next message waits behind it. Chat 3 is
	// idle: the next group hands over its message only.
	in(ws, chatMessage(t0, 1, "d"))
	in(ws, chatMessage(t0, 3, "e"))
	if got := idsOf(h.next(t)); !slices.Equal(got, []string{"e"}) {
		t.Errorf("handed %v, want e only: d's chat is in flight", got)
	}
	ok := func(d chathook.Delivery) store.Finished {
		return store.Finished{Outcome: chathook.Outcome{DeliveryID: d.ID, URL: url, At: t0, Status: 204}}
	}
	if err := st.Finish(ctx, []store.Finished{ok(first[0]), ok(first[2])}); err != nil {
		t.Fatal(err)
	}
	if got := claimed(); !slices.Equal(got, []string{"d"}) {
		t.Errorf("claimed %v after a and c, want d", got)
	}

	// A chat waiting for a retry is not idle either.
	if err := st.Finish(ctx, []store.Finished{{Outcome: chathook.Outcome{DeliveryID: first[1].ID, URL: url, At: t0, Status: 500},
		RetryAt: t0.Add(time.Hour)}}); err != nil {
		t.Fatal(err)
	}
	in(ws, chatMessage(t0, 2, "f"))
	in(ws, chatMessage(t0, 4, "g"))
	if got := idsOf(h.next(t)); !slices.Equal(got, []string{"g"}) {
		t.Errorf("handed %v, want g only: f's chat waits for a retry", got)
	}

	// Not wanted, or of a disabled webhook: left for a claim.
	h.room.Store(0)
	in(ws, chatMessage(t0, 5, "h"))
	h.room.Store(100)
	off := uuid.NewString()
	if _, err := st.CreateWorkspace(ctx, chathook.Workspace{ID: off, Name: "off", OwnerEmail: "off@example.com", CreatedAt: t0},
		[]byte("token-off"), "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"); err != nil {
		t.Fatal(err)
	}
	disabled := false
	if _, err := st.UpdateWebhook(ctx, off, chathook.Outbound, t0, chathook.WebhookUpdate{URL: &url, Enabled: &disabled}); err != nil {
		t.Fatal(err)
	}
	in(off, chatMessage(t0, 6, "i"))
	if got := claimed(); !slices.Equal(got, []string{"h"}) {
		t.Errorf("claimed %v, want h: it was not wanted", got)
	}
	var leased int
	if err := st.QueryRowForTest(ctx, `SELECT count(*) FROM deliveries WHERE workspace_id = '`+off+`' AND lease_until > 0`).Scan(&leased); err != nil || leased != 0 {
		t.Errorf("%d deliveries of a disabled webhook leased (%v)", leased, err)
	}

	// Room for one chat: the first idle chat is handed, with its later
	// message; the next waits for a claim.
	h.room.Store(1)
	in(ws, chatMessage(t0, 8, "k"), chatMessage(t0, 9, "l"), chatMessage(t0, 8, "m"))
	if got := idsOf(h.next(t)); !slices.Equal(got, []string{"k", "m"}) {
		t.Errorf("handed %v with room for one chat, want k, m", got)
	}
	if got := claimed(); !slices.Equal(got, []string{"l"}) {
		t.Errorf("claimed %v, want l: there was no room for it", got)
	}
	h.room.Store(100)

	// Once stopped, nothing more is handed.
	stop()
	in(ws, chatMessage(t0, 7, "j"))
	if got := claimed(); !slices.Equal(got, []string{"j"}) {
		t.Errorf("claimed %v after stop, want j", got)
	}
	select {
	case dels := <-h.took:
		t.Errorf("handed %v after stop", idsOf(dels))
	default:
	}
}

func idsOf(dels []chathook.Delivery) []string {
	var ids []string
	for _, d := range dels {
		ids = append(ids, d.Message.MessageID)
	}
	return ids
}

// A delivery held for its message's files is never handed over, nor is
// anything of its lane after it in the same group or a later one; the
// group's other lanes are handed as ever.
func TestHandOffNeverHandsHeld(t *testing.T) {
	ctx := context.Background()
	st, ws, _, t0 := newStore(t)
	ep, err := st.CreateWebhook(ctx, ws, chathook.Webhook{ID: "ep_0123456789abcdef", URL: "https://crm.example.com",
		Events: []string{event.MessageNew}, Format: event.Envelope, Granularity: chathook.NoAggregation, Enabled: true,
		Secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}, t0)
	if err != nil {
		t.Fatal(err)
	}
	h, stop := receive(st)
	defer stop()
	photo := func(chat int, id string) chathook.Incoming {
		m := chatMessage(t0, chat, id)
		m.SkipReason = "attachments are not supported"
		m.Attachments = []chathook.Attachment{{Type: chathook.AttachImage, State: chathook.MediaPending, Source: []byte(`{"id":"1"}`)}}
		return m
	}
	// handedTo ingests msgs in one group and returns what the event
	// endpoint was handed.
	handedTo := func(msgs ...chathook.Incoming) []string {
		t.Helper()
		if _, err := st.Ingest(ctx, ws, t0, msgs); err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, d := range h.next(t) {
			if d.Webhook.ID == ep.ID {
				got = append(got, d.Message.MessageID)
			}
		}
		return got
	}
	if got := handedTo(chatMessage(t0, 1, "a"), photo(1, "b"), chatMessage(t0, 1, "c"), chatMessage(t0, 2, "d")); !slices.Equal(got, []string{"a", "d"}) {
		t.Errorf("handed %v, want a and d: b waits for its file, c behind it", got)
	}
	if got := handedTo(chatMessage(t0, 3, "e"), photo(4, "f"), chatMessage(t0, 4, "g")); !slices.Equal(got, []string{"e"}) {
		t.Errorf("handed %v, want e: f waits for its file, g behind it", got)
	}
	if got := handedTo(chatMessage(t0, 4, "h"), chatMessage(t0, 5, "i")); !slices.Equal(got, []string{"i"}) {
		t.Errorf("handed %v, want i: h's lane holds f", got)
	}
}
