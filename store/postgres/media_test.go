package postgres_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/event"
	"github.com/chathook/chathook/store"
	"github.com/chathook/chathook/store/postgres"
	"github.com/chathook/chathook/store/postgres/pgtest"
	"github.com/chathook/chathook/store/storetest"
	"github.com/chathook/chathook/store/tables"
	"github.com/jackc/pgx/v5"
)

// mediaWorkspace makes a workspace with an event endpoint and a Cloud API
// number (whose downloads any instance claims), and returns the
// workspace and the number's phone.
func mediaWorkspace(t *testing.T, st *postgres.Store) (string, string) {
	t.Helper()
	ws := newWorkspace(t, st)
	addEndpoint(t, st, ws, "ep_00000000000000m1", event.Envelope, chathook.NoAggregation, event.MessageNew)
	num := chathook.Account{Phone: "+15550000001", PhoneNumberID: "106000000000001", FullName: "Shop",
		Email: "ops@example.com", VerifyToken: "verify-1"}
	if _, err := st.AddCloudAPINumber(context.Background(), ws, num, "secret-1", "token-1", t0); err != nil {
		t.Fatal(err)
	}
	return ws, num.Phone
}

// withFiles is message n of chat c of the number phone with two pending
// images.
func withFiles(phone string, c, n int) chathook.Incoming {
	in := storetest.Message(c, n)
	in.Account = chathook.Account{Phone: phone}
	for i := range 2 {
		in.Attachments = append(in.Attachments, chathook.Attachment{Type: chathook.AttachImage, MimeType: "image/jpeg",
			State: chathook.MediaPending, Source: fmt.Appendf(nil, `{"id":"media-%d-%d-%d"}`, c, n, i)})
	}
	return in
}

// held counts the pending deliveries of message messageID that are held
// for its attachments, and those that are not.
func held(t *testing.T, st *postgres.Store, messageID string) (heldBack, due int) {
	t.Helper()
	err := st.QueryRowForTest(context.Background(), `SELECT count(*) FILTER (WHERE d.due_at = $2), count(*) FILTER (WHERE d.due_at <> $2)
		FROM deliveries d JOIN messages m ON m.id = d.message_id WHERE m.message_id = $1 AND d.state = 'pending'`,
		messageID, store.HeldDue).Scan(&heldBack, &due)
	if err != nil {
		t.Fatal(err)
	}
	return heldBack, due
}

// stored is a for the outcome of a download that stored its file.
func stored(a chathook.Attachment) chathook.Attachment {
	a.State, a.Blob, a.Size, a.SHA256 = chathook.MediaStored, fmt.Sprint("blob-", a.ID), 3, "abc"
	return a
}

// finishing is another instance, A, in the middle of FinishDownload
// storing attachment f: it has run every statement of its transaction,
// on a connection of its own, and found none of the message's
// deliveries to release. commit commits it.
func finishing(t *testing.T, st *postgres.Store, url string, f chathook.Attachment) (commit *pgx.Conn) {
	t.Helper()
	ctx := context.Background()
	a, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close(ctx) })
	if _, err := a.Exec(ctx, `UPDATE attachments SET lease_owner = 'a' WHERE id = $1`, f.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Exec(ctx, `BEGIN`); err != nil {
		t.Fatal(err)
	}
	sql := postgres.FinishDownloadForTest
	var message int64
	if err := a.QueryRow(ctx, sql.Lock, f.ID).Scan(&message); err != nil {
		t.Fatal(err)
	}
	values, err := tables.FinishValues(stored(f), t0, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	tag, err := a.Exec(ctx, sql.Record, append([]any{f.ID, "a"}, values...)...)
	if err != nil || tag.RowsAffected() != 1 {
		t.Fatalf("A records: %v, %d rows", err, tag.RowsAffected())
	}
	if tag, err := a.Exec(ctx, sql.Release, message, t0.UnixMilli()); err != nil || tag.RowsAffected() != 0 {
		t.Fatalf("A releases %d deliveries (%v) while another download is pending", tag.RowsAffected(), err)
	}
	return a
}

// whileBlocked runs b while a's transaction is open, until b waits for
// a lock a holds or is done (as it is when it takes no lock that a
// holds); then it commits a, and returns b's error once b is done.
func whileBlocked(t *testing.T, st *postgres.Store, a *pgx.Conn, b func() error) error {
	t.Helper()
	ctx := context.Background()
	done := make(chan error, 1)
	go func() { done <- b() }()
	pid := int(a.PgConn().PID())
	var bErr error
	bDone := false
	for !bDone {
		select {
		case bErr = <-done:
			bDone = true
			continue
		default:
		}
		var blocked bool
		if err := st.QueryRowForTest(ctx, `SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid)))`,
			pid).Scan(&blocked); err != nil {
			t.Fatal(err)
		}
		if blocked {
			break
		}
		time.Sleep(time.Millisecond) // a poll, not a deadline
	}
	if _, err := a.Exec(ctx, `COMMIT`); err != nil {
		t.Fatal(err)
	}
	if !bDone {
		bErr = <-done
	}
	return bErr
}

// The race FinishDownload's message lock is for: instance A records one
// of a message's two downloads and finds the other still pending, and
// before A commits, instance B records the other. Without the lock B's
// check ran on a snapshot without A's change, found A's attachment
// pending too, and the message's deliveries stayed held for good. With
// it, B waits for A's commit and releases them. A is run here statement
// by statement (FinishDownload's own, see finishing), so that it stops
// before its commit for as long as the test needs.
func TestFinishDownloadLocksTheMessage(t *testing.T) {
	url := pgtest.URL(t)
	st := open(t, url)
	ctx := context.Background()
	ws, phone := mediaWorkspace(t, st)
	in := withFiles(phone, 1, 1)
	if _, err := st.Ingest(ctx, ws, t0, []chathook.Incoming{in}); err != nil {
		t.Fatal(err)
	}
	if h, due := held(t, st, in.MessageID); h == 0 || due != 0 {
		t.Fatalf("after ingest: %d held, %d due; want all held", h, due)
	}
	claimed, err := st.ClaimDownloads(ctx, "b", t0, time.Minute, 10, 0)
	if err != nil || len(claimed) != 2 {
		t.Fatalf("claimed %d (%v), want 2", len(claimed), err)
	}

	commitA := finishing(t, st, url, claimed[0].Attachment)
	err = whileBlocked(t, st, commitA, func() error {
		ok, err := st.FinishDownload(ctx, "b", stored(claimed[1].Attachment), t0, time.Time{})
		if err == nil && !ok {
			err = fmt.Errorf("B's lease was lost")
		}
		return err
	})
	if err != nil {
		t.Fatalf("B: %v", err)
	}
	if h, due := held(t, st, in.MessageID); h != 0 || due == 0 {
		t.Errorf("both downloads stored: %d deliveries still held, %d due; want none held", h, due)
	}
}

// Two instances finish the two downloads of each of many messages at
// once, each one of every message's two: every message's deliveries are
// released, each delivery once, and none is left held.
func TestConcurrentFinishesReleaseOnce(t *testing.T) {
	url := pgtest.URL(t)
	one, two := open(t, url), open(t, url)
	ctx := context.Background()
	ws, phone := mediaWorkspace(t, one)
	const messages = 30
	var msgs []chathook.Incoming
	for n := range messages {
		msgs = append(msgs, withFiles(phone, n, 1)) // a chat each
	}
	if _, err := one.Ingest(ctx, ws, t0, msgs); err != nil {
		t.Fatal(err)
	}
	if got := claimAll(t, one, t0.Add(time.Hour)); len(got) != 0 {
		t.Fatalf("claimed %d deliveries held for their files", len(got))
	}
	// Oldest first: each message's first attachment, then its second.
	var mine [2][]chathook.Attachment
	for i := range 2 * messages {
		st, owner := one, "one"
		if i%2 == 1 {
			st, owner = two, "two"
		}
		got, err := st.ClaimDownloads(ctx, owner, t0, time.Minute, 1, 0)
		if err != nil || len(got) != 1 {
			t.Fatalf("claim %d: %d (%v)", i, len(got), err)
		}
		if got[0].AccessToken != "token-1" || got[0].WorkspaceID != ws || got[0].Attempts != 0 {
			t.Fatalf("claimed %+v", got[0])
		}
		mine[i%2] = append(mine[i%2], got[0].Attachment)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 2*messages)
	start := make(chan struct{})
	for i, st := range []*postgres.Store{one, two} {
		owner := []string{"one", "two"}[i]
		wg.Go(func() {
			<-start
			for _, a := range mine[i] {
				ok, err := st.FinishDownload(ctx, owner, stored(a), t0, time.Time{})
				if err == nil && !ok {
					err = fmt.Errorf("attachment %d: lease lost", a.ID)
				}
				if err != nil {
					errs <- err
				}
			}
		})
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for _, in := range msgs {
		if h, due := held(t, one, in.MessageID); h != 0 || due == 0 {
			t.Errorf("%s: %d held, %d due", in.MessageID, h, due)
		}
	}
	got := claimAll(t, one, t0)
	var events []string
	for _, d := range got {
		if d.Kind == chathook.KindEvent {
			events = append(events, d.Message.MessageID)
		}
	}
	slices.Sort(events)
	if len(events) != messages || len(slices.Compact(events)) != messages {
		t.Errorf("claimed %d event deliveries (%v), want one per message, %d", len(events), events, messages)
	}
}

// Claimers on several instances at once take every due download once
// between them: none is claimed twice, none is left.
func TestConcurrentClaimDownloads(t *testing.T) {
	url := pgtest.URL(t)
	ctx := context.Background()
	st := open(t, url)
	ws, phone := mediaWorkspace(t, st)
	var msgs []chathook.Incoming
	for n := range 40 {
		msgs = append(msgs, withFiles(phone, n%5, n))
	}
	if _, err := st.Ingest(ctx, ws, t0, msgs); err != nil {
		t.Fatal(err)
	}
	const instances = 4
	var mu sync.Mutex
	seen := map[int64]string{}
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range instances {
		other := open(t, url)
		owner := fmt.Sprint("instance-", i)
		wg.Go(func() {
			<-start
			for {
				got, err := other.ClaimDownloads(ctx, owner, t0, time.Minute, 3, 0)
				if err != nil {
					t.Error(err)
					return
				}
				if len(got) == 0 {
					return
				}
				mu.Lock()
				for _, d := range got {
					if was, ok := seen[d.ID]; ok {
						t.Errorf("attachment %d claimed by %s and %s", d.ID, was, owner)
					}
					seen[d.ID] = owner
				}
				mu.Unlock()
			}
		})
	}
	close(start)
	wg.Wait()
	if len(seen) != 2*len(msgs) {
		t.Errorf("claimed %d downloads, want %d", len(seen), 2*len(msgs))
	}
}

// Recover and FinishDownload at once: A stores a message's last pending
// attachment while the user recovers the message's discarded delivery.
// Recover's check of the attachments must see A's outcome, or it holds
// the delivery again for a file already stored, for good: it waits for
// A's lock on the message.
func TestRecoverWaitsForFinishDownload(t *testing.T) {
	url := pgtest.URL(t)
	st := open(t, url)
	ctx := context.Background()
	ws, phone := mediaWorkspace(t, st)
	in := withFiles(phone, 1, 1)
	in.Attachments = in.Attachments[:1]
	if _, err := st.Ingest(ctx, ws, t0, []chathook.Incoming{in}); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{chathook.Outbound, "ep_00000000000000m1"} {
		if _, err := st.UpdateWebhook(ctx, ws, id, t0, chathook.WebhookUpdate{DiscardPending: true}); err != nil {
			t.Fatal(err)
		}
	}
	claimed, err := st.ClaimDownloads(ctx, "a", t0, time.Minute, 10, 0)
	if err != nil || len(claimed) != 1 {
		t.Fatalf("claimed %d (%v), want 1", len(claimed), err)
	}
	a := finishing(t, st, url, claimed[0].Attachment)
	var n int
	err = whileBlocked(t, st, a, func() error {
		var err error
		n, err = st.Recover(ctx, ws, "ep_00000000000000m1", t0.Add(-time.Hour), t0.Add(time.Hour), t0)
		return err
	})
	if err != nil || n != 1 {
		t.Fatalf("recovered %d (%v), want 1", n, err)
	}
	if h, due := held(t, st, in.MessageID); h != 0 || due != 1 {
		t.Errorf("recovered after the file was stored: %d held, %d due; want 1 due", h, due)
	}
}

// What a message's attachments go through on PostgreSQL, end to end:
// stored with it at ingest in order, a QR account's downloads claimed
// only by the instance that holds its connection, the message's event
// delivery held until its file is stored and then carrying every
// attachment, the pages showing them, the file's link resolving to its
// workspace, and retention deleting it once.
func TestAttachmentsLifeCycle(t *testing.T) {
	st := open(t, pgtest.URL(t))
	ctx := context.Background()
	ws := newWorkspace(t, st)
	addEndpoint(t, st, ws, "ep_00000000000000m1", event.Envelope, chathook.NoAggregation, event.MessageNew)
	qr, err := st.LinkAccount(ctx, ws, chathook.Account{Phone: "+15550000002", JID: "15550000002:1@s.whatsapp.net"},
		"conn-holder", t0.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	in := storetest.Message(1, 1)
	in.Account = chathook.Account{Phone: qr.Phone}
	in.SkipReason = "the message has attachments"
	in.Attachments = []chathook.Attachment{
		{Type: chathook.AttachDocument, MimeType: "application/pdf", FileName: "a.pdf", State: chathook.MediaPending,
			Source: []byte(`{"direct_path":"/x"}`)},
		{Type: chathook.AttachLocation, Latitude: 52.5, Longitude: 13.4, Name: "Office"},
	}
	plain := storetest.Message(1, 2) // a text message after it, in the same chat, sent before it
	plain.Account, plain.Timestamp = in.Account, t0.Add(-time.Minute)
	if _, err := st.Ingest(ctx, ws, t0, []chathook.Incoming{in, plain}); err != nil {
		t.Fatal(err)
	}
	if got := claimAll(t, st, t0.Add(time.Hour)); len(got) != 1 || got[0].Webhook.ID != chathook.Outbound {
		t.Fatalf("claimed %v, want only the text message's seed delivery (the chat's event lane waits for the file)", byEndpoint(got))
	}
	if got, err := st.ClaimDownloads(ctx, "other-instance", t0, time.Minute, 10, 0); err != nil || len(got) != 0 {
		t.Fatalf("an instance without the account's connection claimed %d (%v)", len(got), err)
	}
	got, err := st.ClaimDownloads(ctx, "conn-holder", t0, time.Minute, 10, 0)
	if err != nil || len(got) != 1 {
		t.Fatalf("claimed %d (%v), want the document", len(got), err)
	}
	d := got[0]
	if d.Type != chathook.AttachDocument || string(d.Source) != `{"direct_path":"/x"}` || d.MessageID != "c1-m1" ||
		d.WorkspaceID != ws || d.Account.ID != qr.ID || d.Attempts != 0 {
		t.Fatalf("claimed %+v", d)
	}
	if ok, err := st.FinishDownload(ctx, "other-instance", stored(d.Attachment), t0, time.Time{}); err != nil || ok {
		t.Fatalf("a finish without the lease was recorded: %v %v", ok, err)
	}
	f := stored(d.Attachment)
	f.Source = []byte(`{"direct_path":"/y"}`)
	if ok, err := st.FinishDownload(ctx, "conn-holder", f, t0.Add(time.Second), time.Time{}); err != nil || !ok {
		t.Fatalf("finish: %v %v", ok, err)
	}

	events := claimAll(t, st, t0.Add(time.Second))
	if len(events) != 2 || events[0].Kind != chathook.KindEvent || events[0].Message.MessageID != "c1-m1" {
		t.Fatalf("claimed %v after the file was stored", byEndpoint(events))
	}
	check := func(where string, as []chathook.Attachment) {
		t.Helper()
		if len(as) != 2 || as[0].State != chathook.MediaStored || as[0].Blob != f.Blob || as[0].FileName != "a.pdf" ||
			string(as[0].Source) != `{"direct_path":"/y"}` || !as[0].StoredAt.Equal(t0.Add(time.Second)) ||
			as[1].Type != chathook.AttachLocation || as[1].Name != "Office" || as[1].Latitude != 52.5 {
			t.Errorf("%s: attachments %+v", where, as)
		}
	}
	check("claim", events[0].Message.Attachments)
	if events[1].Message.Attachments != nil {
		t.Errorf("the text message has attachments %+v", events[1].Message.Attachments)
	}
	page, err := st.Messages(ctx, ws, events[0].Chat.ID, store.Page{Limit: 10})
	if err != nil || len(page) != 2 {
		t.Fatalf("page: %d (%v)", len(page), err)
	}
	check("page", page[1].Attachments)
	if page[0].Attachments != nil {
		t.Errorf("page: the text message has attachments %+v", page[0].Attachments)
	}
	m, err := st.MessageByUUID(ctx, ws, in.UUID)
	if err != nil {
		t.Fatal(err)
	}
	check("permalink", m.Attachments)
	chats, err := st.Chats(ctx, ws, store.ChatQuery{Limit: 10})
	if err != nil || len(chats) != 1 {
		t.Fatalf("chats: %d (%v)", len(chats), err)
	}
	check("chats", chats[0].Last.Attachments)

	file, owner, err := st.MediaFile(ctx, d.ID)
	if err != nil || owner != ws || file.Blob != f.Blob || len(file.LinkKey) != 16 {
		t.Fatalf("media file: %+v %q %v", file, owner, err)
	}
	if _, _, err := st.MediaFile(ctx, d.ID+1000); err != chathook.ErrNotFound {
		t.Errorf("unknown media file: %v", err)
	}
	if blobs, err := st.ExpireMedia(ctx, t0.Add(time.Second), 10); err != nil || len(blobs) != 0 {
		t.Fatalf("expired %v (%v) before its time", blobs, err)
	}
	if blobs, err := st.ExpireMedia(ctx, t0.Add(time.Hour), 10); err != nil || !slices.Equal(blobs, []string{f.Blob}) {
		t.Fatalf("expired %v (%v), want %s", blobs, err, f.Blob)
	}
	if blobs, err := st.ExpireMedia(ctx, t0.Add(time.Hour), 10); err != nil || len(blobs) != 0 {
		t.Fatalf("expired %v (%v) twice", blobs, err)
	}
	if file, _, err := st.MediaFile(ctx, d.ID); err != nil || file.State != chathook.MediaDeleted || file.Blob != "" {
		t.Errorf("after retention: %+v (%v)", file, err)
	}
}

// A claim hands downloads out soonest due first, not in id order: a
// retry due later comes after a newer attachment due sooner.
func TestClaimDownloadsSoonestDueFirst(t *testing.T) {
	st := open(t, pgtest.URL(t))
	ctx := context.Background()
	ws, phone := mediaWorkspace(t, st)
	if _, err := st.Ingest(ctx, ws, t0, []chathook.Incoming{withFiles(phone, 1, 1)}); err != nil {
		t.Fatal(err)
	}
	got, err := st.ClaimDownloads(ctx, "x", t0, time.Minute, 1, 0)
	if err != nil || len(got) != 1 {
		t.Fatalf("claimed %d (%v)", len(got), err)
	}
	first := got[0].Attachment
	first.State, first.Error = chathook.MediaPending, "timeout"
	if ok, err := st.FinishDownload(ctx, "x", first, t0, t0.Add(2*time.Second)); err != nil || !ok {
		t.Fatalf("retry later: %v %v", ok, err)
	}
	got, err = st.ClaimDownloads(ctx, "x", t0.Add(time.Hour), time.Minute, 10, 0)
	if err != nil || len(got) != 2 || got[0].ID <= first.ID || got[1].ID != first.ID || got[1].Attempts != 1 {
		t.Fatalf("claimed %+v (%v), want the second attachment, then the retry of %d", got, err, first.ID)
	}
}
