package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/event"
	"github.com/chathook/chathook/store"
	"github.com/google/uuid"
)

var media = map[string]func(*testing.T, store.Store){
	"AttachmentsRoundTrip":                  testAttachmentsRoundTrip,
	"HeldMessageHoldsItsLaneOnly":           testHeldMessageHoldsItsLane,
	"LastDownloadReleasesDeliveries":        testLastDownloadReleases,
	"SeedNeverGetsAttachments":              testSeedNeverGetsAttachments,
	"EnableFlushRecoverKeepHeld":            testEnableFlushRecoverKeepHeld,
	"RecoveredBehindAFlightStaysHeld":       testRecoveredBehindFlightHeld,
	"LostDownloadLeaseIsNotRecorded":        testLostDownloadLease,
	"QRDownloadsOnlyForTheLeaseOwner":       testQRDownloadsForLeaseOwner,
	"DownloadRetriesCountAttempts":          testDownloadRetries,
	"FinishDownloadRefusesNonOutcomes":      testFinishDownloadRefuses,
	"ClaimDownloadsBySize":                  testClaimDownloadsBySize,
	"FailedDownloadForgetsItsSource":        testFailedDownloadForgetsSource,
	"ExpireMediaDeletesOldestStored":        testExpireMedia,
	"MediaFileNamesItsWorkspace":            testMediaFile,
	"DuplicateStoresNoSecondAttachments":    testDuplicateAttachments,
	"AttachmentsOnlyReadForMessagesWithAny": testAttachmentsOnlyWhereAny,
}

const skipAttachments = "attachments are not supported"

// image is a pending photo of the tests, as a source would give it.
func image(n int) chathook.Attachment {
	return chathook.Attachment{Type: chathook.AttachImage, MimeType: "image/jpeg", Size: int64(48213 + n), Width: 1280, Height: 960,
		State: chathook.MediaPending, Source: []byte(fmt.Sprintf(`{"id":"media-%d"}`, n))}
}

// withFiles is msg(c, n) with attachments, skipped as ingest skips it,
// from account phone.
func withFiles(c, n int, phone string, as ...chathook.Attachment) chathook.Incoming {
	m := msg(c, n)
	m.Account.Phone = phone
	m.SkipReason, m.Attachments = skipAttachments, as
	return m
}

// mediaWorkspace is a workspace whose outbound webhook has a URL, with an
// event endpoint subscribed to message:new, and a Cloud API number with
// an access token, whose phone it returns.
func mediaWorkspace(t *testing.T, st store.Store) (ws string, ep chathook.Webhook, phone string) {
	t.Helper()
	ws = workspace(t, st, "acme", "https://hook.example.com")
	ep = addEndpoint(t, st, ws, "https://crm.example.com/in", event.Envelope, chathook.NoAggregation, event.MessageNew)
	a := addCloud(t, st, ws, 1)
	if _, err := st.SetAccessToken(context.Background(), ws, a.ID, "EAAB-token"); err != nil {
		t.Fatal(err)
	}
	return ws, ep, a.Phone
}

func claimDownloads(t *testing.T, st store.Store, owner string, at time.Time, limit int) []chathook.Download {
	t.Helper()
	got, err := st.ClaimDownloads(context.Background(), owner, at, lease, limit, 0)
	if err != nil {
		t.Fatalf("claim downloads: %v", err)
	}
	return got
}

// settle records a download by owner as stored (with a blob named after
// it) or, given a reason, failed; it must be recorded.
func settle(t *testing.T, st store.Store, owner string, d chathook.Download, at time.Time, failure string) chathook.Attachment {
	t.Helper()
	a := d.Attachment
	if failure == "" {
		a.State, a.Blob, a.SHA256, a.MimeType = chathook.MediaStored, fmt.Sprintf("blob-%d", a.ID), "ab12", "image/png"
	} else {
		a.State, a.Error = chathook.MediaFailed, failure
	}
	ok, err := st.FinishDownload(context.Background(), owner, a, at, time.Time{})
	if err != nil || !ok {
		t.Fatalf("finish download %d: %v, %v", a.ID, ok, err)
	}
	return a
}

// mediaFile reads an attachment by id.
func mediaFile(t *testing.T, st store.Store, id int64) chathook.Attachment {
	t.Helper()
	a, _, err := st.MediaFile(context.Background(), id)
	if err != nil {
		t.Fatalf("media file %d: %v", id, err)
	}
	return a
}

// sameAttachments compares what the source gave with what was read.
func sameAttachments(t *testing.T, where string, got, want []chathook.Attachment) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d attachments, want %d", where, len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.ID == 0 || len(g.LinkKey) != 16 {
			t.Errorf("%s: attachment %d has id %d, link key %x", where, i, g.ID, g.LinkKey)
		}
		g.ID, g.LinkKey = 0, nil
		if fmt.Sprintf("%+v", g) != fmt.Sprintf("%+v", w) {
			t.Errorf("%s: attachment %d reads\n%+v\nwant\n%+v", where, i, g, w)
		}
	}
}

// testAttachmentsRoundTrip: every kind of attachment comes back from
// every read as ingest was given it, in order; a text message has none.
func testAttachmentsRoundTrip(t *testing.T, st store.Store) {
	ctx := context.Background()
	ws, ep, phone := mediaWorkspace(t, st)
	files := []chathook.Attachment{
		image(1),
		{Type: chathook.AttachLocation, Latitude: 32.0853, Longitude: 34.7818, Name: "Office", Address: "1 Rothschild Blvd"},
		{Type: chathook.AttachContact, VCard: "BEGIN:VCARD\nFN:Dana\nEND:VCARD"},
		{Type: chathook.AttachDocument, MimeType: "application/pdf", FileName: "invoice.pdf", Size: 1200, State: chathook.MediaPending,
			Source: []byte(`{"id":"doc"}`)},
	}
	given := withFiles(1, 1, phone, files...)
	text := msg(1, 2)
	text.Account.Phone = phone
	res := ingest(t, st, ws, given, text)
	if res[0].Status != chathook.Skipped || res[0].Reason != skipAttachments {
		t.Errorf("a message with attachments: %+v, want skipped with its reason", res[0])
	}
	page, err := st.Messages(ctx, ws, res[0].ChatID, store.Page{Limit: 10})
	if err != nil || len(page) != 2 {
		t.Fatalf("messages: %d, %v", len(page), err)
	}
	sameAttachments(t, "Messages", page[0].Attachments, files)
	if page[1].Attachments != nil {
		t.Errorf("a text message reads with attachments %+v", page[1].Attachments)
	}
	byUUID, err := st.MessageByUUID(ctx, ws, given.UUID)
	if err != nil {
		t.Fatal(err)
	}
	sameAttachments(t, "MessageByUUID", byUUID.Attachments, files)

	// The chat list shows each chat's last message with its attachments.
	ingest(t, st, ws, withFiles(2, 1, phone, files[1]))
	chats, err := st.Chats(ctx, ws, store.ChatQuery{Limit: 10})
	if err != nil || len(chats) != 2 {
		t.Fatalf("chats: %+v, %v", chats, err)
	}
	sameAttachments(t, "Chats (with)", chats[0].Last.Attachments, files[1:2])
	if chats[1].Last.MessageID != "c1-m2" || chats[1].Last.Attachments != nil {
		t.Errorf("Chats (without): last %s with %+v", chats[1].Last.MessageID, chats[1].Last.Attachments)
	}

	// A message whose attachments hold no file is not held: its event
	// carries them.
	var got []chathook.Delivery
	for _, d := range claim(t, st, "x", t0, 100) {
		if d.Webhook.ID == ep.ID {
			got = append(got, d)
		}
	}
	if len(got) != 1 || got[0].Message.MessageID != "c2-m1" {
		t.Fatalf("the event endpoint claimed %v, want c2-m1 (c1-m1 waits for its files)", ids(got))
	}
	sameAttachments(t, "ClaimDue", got[0].Message.Attachments, files[1:2])
}

// testHeldMessageHoldsItsLane: a message with a file to download holds
// its own lane (a later message of its chat and endpoint waits behind
// it) and nothing else: not other chats, not the same chat's seed lane.
func testHeldMessageHoldsItsLane(t *testing.T, st store.Store) {
	ws, ep, phone := mediaWorkspace(t, st)
	later := msg(1, 2)
	later.Account.Phone = phone
	other := msg(2, 1)
	other.Account.Phone = phone
	ingest(t, st, ws, withFiles(1, 1, phone, image(1)), later, other)
	first := claim(t, st, "x", t0, 100)
	m := byEndpoint(first)
	if want := []string{"event/message:new/c2-m1"}; !slices.Equal(m[ep.ID], want) {
		t.Errorf("event endpoint claimed %v, want %v: chat 1 waits for its file, chat 2 does not", m[ep.ID], want)
	}
	if want := []string{"message//c1-m2", "message//c2-m1"}; !slices.Equal(m[chathook.Outbound], want) {
		t.Errorf("outbound claimed %v, want %v", m[chathook.Outbound], want)
	}
	for _, d := range first {
		finish(t, st, d, 200, time.Time{})
	}
	// Long after, still held: HeldDue is beyond any claim.
	if got := claim(t, st, "x", t0.Add(10*365*24*time.Hour), 100); len(got) != 0 {
		t.Fatalf("ten years on claimed %v", byEndpoint(got))
	}
	downloads := claimDownloads(t, st, "x", t0, 10)
	if len(downloads) != 1 {
		t.Fatalf("%d downloads, want 1", len(downloads))
	}
	settle(t, st, "x", downloads[0], t0.Add(time.Second), "")
	got := claim(t, st, "x", t0.Add(time.Second), 100)
	if want := []string{"event/message:new/c1-m1", "event/message:new/c1-m2"}; !slices.Equal(byEndpoint(got)[ep.ID], want) {
		t.Fatalf("once downloaded claimed %v, want %v in order", byEndpoint(got), want)
	}
	a := got[0].Message.Attachments
	if len(a) != 1 || a[0].State != chathook.MediaStored || a[0].Blob == "" || a[0].MimeType != "image/png" || a[0].StoredAt.IsZero() {
		t.Errorf("the released message carries %+v", a)
	}
}

// testLastDownloadReleases: settling the first of two files releases
// nothing; settling the last, failed or not, releases the deliveries, in
// its transaction.
func testLastDownloadReleases(t *testing.T, st store.Store) {
	ws, ep, phone := mediaWorkspace(t, st)
	ingest(t, st, ws, withFiles(1, 1, phone, image(1), image(2)))
	downloads := claimDownloads(t, st, "x", t0, 10)
	if len(downloads) != 2 || downloads[0].Attempts != 0 || downloads[0].AccessToken != "EAAB-token" ||
		downloads[0].Account.Kind != chathook.KindCloudAPI || downloads[0].WorkspaceID != ws || downloads[0].MessageID != "c1-m1" ||
		downloads[0].Message == 0 || string(downloads[0].Source) != `{"id":"media-1"}` {
		t.Fatalf("downloads %+v", downloads)
	}
	settle(t, st, "x", downloads[0], t0, "")
	if got := claim(t, st, "x", t0.Add(time.Minute), 100); len(got) != 0 {
		t.Fatalf("with one file of two stored claimed %v", byEndpoint(got))
	}
	settle(t, st, "x", downloads[1], t0, "expired at WhatsApp")
	got := claim(t, st, "x", t0, 100)
	if len(got) != 1 || got[0].Webhook.ID != ep.ID {
		t.Fatalf("with both settled claimed %v", byEndpoint(got))
	}
	a := got[0].Message.Attachments
	if len(a) != 2 || a[0].State != chathook.MediaStored || a[1].State != chathook.MediaFailed || a[1].Error != "expired at WhatsApp" ||
		a[1].Blob != "" {
		t.Errorf("attachments %+v", a)
	}
	if more := claimDownloads(t, st, "x", t0.Add(time.Hour), 10); len(more) != 0 {
		t.Errorf("settled files claimed again: %+v", more)
	}
}

// testSeedNeverGetsAttachments: a message with attachments never goes to
// a seed endpoint, neither as a message nor in a bundle, even once its
// files are settled; an event endpoint gets it.
func testSeedNeverGetsAttachments(t *testing.T, st store.Store) {
	ctx := context.Background()
	ws, ep, phone := mediaWorkspace(t, st)
	gathered := addEndpoint(t, st, ws, "https://bundles.example.com", event.Seed, chathook.Hourly, event.MessageNew)
	ingest(t, st, ws, withFiles(1, 1, phone, image(1)), withFiles(2, 1, phone,
		chathook.Attachment{Type: chathook.AttachImage, URL: "https://cdn.example.com/a.jpg"}))
	for _, d := range claimDownloads(t, st, "x", t0, 10) {
		settle(t, st, "x", d, t0, "")
	}
	m := byEndpoint(claim(t, st, "x", t0, 100))
	if len(m[chathook.Outbound]) != 0 {
		t.Errorf("outbound claimed %v", m[chathook.Outbound])
	}
	if want := []string{"event/message:new/c1-m1", "event/message:new/c2-m1"}; !slices.Equal(m[ep.ID], want) {
		t.Errorf("event endpoint claimed %v, want %v", m[ep.ID], want)
	}
	if chats, err := st.PendingChats(ctx, gathered.Key, t0.Add(48*time.Hour), 0, 10); err != nil || len(chats) != 0 {
		t.Errorf("the bundling endpoint waits for chats %v (%v)", chats, err)
	}
}

// testEnableFlushRecoverKeepHeld: enabling an endpoint, flushing bundles
// and recovering discarded deliveries make due what waited, but never
// what waits for its files; the last download still releases it.
func testEnableFlushRecoverKeepHeld(t *testing.T, st store.Store) {
	ctx := context.Background()
	ws, ep, phone := mediaWorkspace(t, st)
	hourly := chathook.Hourly
	if _, err := st.UpdateWebhook(ctx, ws, chathook.Outbound, t0, chathook.WebhookUpdate{Granularity: &hourly}); err != nil {
		t.Fatal(err)
	}
	no, yes := false, true
	if _, err := st.UpdateWebhook(ctx, ws, ep.ID, t0, chathook.WebhookUpdate{Enabled: &no}); err != nil {
		t.Fatal(err)
	}
	text := msg(1, 2)
	text.Account.Phone = phone
	ingest(t, st, ws, withFiles(1, 1, phone, image(1)), text)
	if _, err := st.UpdateWebhook(ctx, ws, ep.ID, t0, chathook.WebhookUpdate{Enabled: &yes}); err != nil {
		t.Fatal(err)
	}
	if b, n := flush(t, st, ws, t0.Add(2*time.Hour), roomy); b != 1 || n != 1 {
		t.Errorf("flushed %d bundles of %d messages, want the text alone", b, n)
	}
	got := claim(t, st, "x", t0.Add(2*time.Hour), 100)
	if m := byEndpoint(got); len(m[ep.ID]) != 0 || len(m[chathook.Outbound]) != 1 {
		t.Fatalf("after enabling and flushing claimed %v: want the bundle only", m)
	}
	for _, d := range got {
		finish(t, st, d, 200, time.Time{})
	}
	// Discarded while held, then recovered: held again.
	if _, err := st.UpdateWebhook(ctx, ws, ep.ID, t0, chathook.WebhookUpdate{DiscardPending: true}); err != nil {
		t.Fatal(err)
	}
	if n, err := st.Recover(ctx, ws, ep.ID, t0.Add(-time.Hour), t0.Add(time.Hour), t0.Add(3*time.Hour)); err != nil || n != 2 {
		t.Fatalf("recovered %d (%v), want 2", n, err)
	}
	if got := claim(t, st, "x", t0.Add(3*time.Hour), 100); len(got) != 0 {
		t.Fatalf("after recovery claimed %v", byEndpoint(got))
	}
	downloads := claimDownloads(t, st, "x", t0.Add(3*time.Hour), 10)
	if len(downloads) != 1 {
		t.Fatalf("%d downloads", len(downloads))
	}
	settle(t, st, "x", downloads[0], t0.Add(3*time.Hour), "")
	if want := []string{"event/message:new/c1-m1", "event/message:new/c1-m2"}; !slices.Equal(
		byEndpoint(claim(t, st, "x", t0.Add(3*time.Hour), 100))[ep.ID], want) {
		t.Errorf("once downloaded, not %v", want)
	}
}

// testLostDownloadLease: a leased download is not claimed again until its
// lease passes; once another claim takes it, the first claimer's outcome
// is not recorded.
func testLostDownloadLease(t *testing.T, st store.Store) {
	ws, _, phone := mediaWorkspace(t, st)
	ingest(t, st, ws, withFiles(1, 1, phone, image(1)))
	first := claimDownloads(t, st, "a", t0, 10)
	if len(first) != 1 {
		t.Fatalf("%d downloads", len(first))
	}
	if again := claimDownloads(t, st, "b", t0.Add(lease/2), 10); len(again) != 0 {
		t.Fatalf("a leased download claimed again: %+v", again)
	}
	second := claimDownloads(t, st, "b", t0.Add(2*lease), 10)
	if len(second) != 1 || second[0].ID != first[0].ID || second[0].Attempts != 1 {
		t.Fatalf("after the lease passed: %+v", second)
	}
	lost := first[0].Attachment
	lost.State, lost.Blob = chathook.MediaStored, "blob-lost"
	ok, err := st.FinishDownload(context.Background(), "a", lost, t0.Add(2*lease), time.Time{})
	if err != nil || ok {
		t.Fatalf("the lost lease's outcome: %v, %v; want false", ok, err)
	}
	if a := mediaFile(t, st, lost.ID); a.State != chathook.MediaPending || a.Blob != "" {
		t.Fatalf("after a lost lease's outcome the attachment is %s with blob %q", a.State, a.Blob)
	}
	if got := claim(t, st, "x", t0.Add(3*lease), 100); len(got) != 0 {
		t.Fatalf("a lost lease's outcome released %v", byEndpoint(got))
	}
	settle(t, st, "b", second[0], t0.Add(2*lease), "")
	// Settled: a late outcome of anyone is not recorded either.
	if ok, err := st.FinishDownload(context.Background(), "b", lost, t0.Add(3*lease), time.Time{}); err != nil || ok {
		t.Errorf("a second outcome: %v, %v", ok, err)
	}
}

// testQRDownloadsForLeaseOwner: a QR account's files are downloaded by
// the instance that holds its connection, or by any when none does; a
// Cloud API number's by any.
func testQRDownloadsForLeaseOwner(t *testing.T, st store.Store) {
	ws, _, cloud := mediaWorkspace(t, st)
	qr := link(t, st, ws, 2, "instance-1", t0.Add(time.Hour))
	ingest(t, st, ws, withFiles(1, 1, qr.Phone, image(1)))
	if got := claimDownloads(t, st, "instance-2", t0, 10); len(got) != 0 {
		t.Fatalf("another instance claimed %+v", got)
	}
	got := claimDownloads(t, st, "instance-1", t0, 10)
	if len(got) != 1 || got[0].Account.ID != qr.ID || got[0].Account.Kind != chathook.KindWeb || got[0].Account.JID != qr.JID ||
		got[0].AccessToken != "" {
		t.Fatalf("the lease owner claimed %+v", got)
	}
	ingest(t, st, ws, withFiles(2, 1, cloud, image(2)))
	if got := claimDownloads(t, st, "instance-2", t0, 10); len(got) != 1 || got[0].Account.Phone != cloud {
		t.Errorf("a Cloud API number's download: %+v", got)
	}
	// Once no instance holds the account (its lease ran out: it is not
	// connected), any instance claims the download, to fail it rather
	// than hold its message for ever.
	orphaned := false
	for _, d := range claimDownloads(t, st, "instance-2", t0.Add(2*time.Hour), 10) {
		orphaned = orphaned || d.Account.ID == qr.ID
	}
	if !orphaned {
		t.Errorf("the download of an account no instance holds was not claimed")
	}
	// The ingest API's attachments are links kept as given: nothing to
	// download, and nothing waits.
	api := msg(3, 1)
	api.SkipReason, api.Attachments = skipAttachments, []chathook.Attachment{{Type: chathook.AttachImage, URL: "https://cdn.example.com/b.jpg"}}
	ingest(t, st, ws, api)
	for _, d := range claimDownloads(t, st, "instance-1", t0.Add(time.Hour), 10) {
		if d.MessageID == api.MessageID {
			t.Errorf("an ingest API attachment claimed for download: %+v", d)
		}
	}
}

// testDownloadRetries: a download tried again waits for its retry time,
// keeps its message held, takes the new source, and counts attempts.
func testDownloadRetries(t *testing.T, st store.Store) {
	ctx := context.Background()
	ws, _, phone := mediaWorkspace(t, st)
	ingest(t, st, ws, withFiles(1, 1, phone, image(1)))
	d := claimDownloads(t, st, "x", t0, 10)[0]
	again := d.Attachment
	again.Error, again.Source = "connection reset", []byte(`{"id":"media-1","reuploaded":true}`)
	retryAt := t0.Add(5 * time.Minute)
	if ok, err := st.FinishDownload(ctx, "x", again, t0, retryAt); err != nil || !ok {
		t.Fatalf("retry: %v, %v", ok, err)
	}
	if got := claimDownloads(t, st, "x", retryAt.Add(-time.Second), 10); len(got) != 0 {
		t.Fatalf("claimed before its retry time: %+v", got)
	}
	if got := claim(t, st, "x", retryAt, 100); len(got) != 0 {
		t.Fatalf("a retrying download released %v", byEndpoint(got))
	}
	got := claimDownloads(t, st, "x", retryAt, 10)
	if len(got) != 1 || got[0].Attempts != 1 || string(got[0].Source) != string(again.Source) || got[0].Error != "connection reset" {
		t.Fatalf("the retry: %+v", got)
	}
	settle(t, st, "x", got[0], retryAt, "")
	if a := mediaFile(t, st, d.ID); a.Error != "" || a.State != chathook.MediaStored {
		t.Errorf("stored after a retry: state %s, error %q", a.State, a.Error)
	}
}

// testClaimDownloadsBySize: a claim with a size limit passes over the
// files declared larger, which a claim without one takes.
func testClaimDownloadsBySize(t *testing.T, st store.Store) {
	ws, _, phone := mediaWorkspace(t, st)
	ingest(t, st, ws, withFiles(1, 1, phone, image(1)), withFiles(2, 1, phone, image(2)))
	small, big := image(1).Size, image(2).Size
	got, err := st.ClaimDownloads(context.Background(), "x", t0, lease, 10, small)
	if err != nil || len(got) != 1 || got[0].Size != small {
		t.Fatalf("claimed %+v (%v), want only the file of %d bytes", got, err, small)
	}
	got, err = st.ClaimDownloads(context.Background(), "x", t0, lease, 10, 0)
	if err != nil || len(got) != 1 || got[0].Size != big {
		t.Fatalf("claimed %+v (%v), want the file of %d bytes", got, err, big)
	}
}

// testFailedDownloadForgetsSource: a failed file keeps no source (a QR
// file's media key): nothing downloads it again.
func testFailedDownloadForgetsSource(t *testing.T, st store.Store) {
	ctx := context.Background()
	ws, _, phone := mediaWorkspace(t, st)
	ingest(t, st, ws, withFiles(1, 1, phone, image(1)))
	d := claimDownloads(t, st, "x", t0, 10)[0]
	failed := d.Attachment
	failed.State, failed.Error = chathook.MediaFailed, "gone from WhatsApp"
	if ok, err := st.FinishDownload(ctx, "x", failed, t0, time.Time{}); err != nil || !ok {
		t.Fatalf("fail: %v, %v", ok, err)
	}
	if a := mediaFile(t, st, d.ID); a.State != chathook.MediaFailed || a.Source != nil {
		t.Errorf("failed: state %s, source %q", a.State, a.Source)
	}
}

// testFinishDownloadRefuses: an outcome that is none is an error, and
// changes nothing.
func testFinishDownloadRefuses(t *testing.T, st store.Store) {
	ws, _, phone := mediaWorkspace(t, st)
	ingest(t, st, ws, withFiles(1, 1, phone, image(1)))
	d := claimDownloads(t, st, "x", t0, 10)[0]
	for _, c := range []struct {
		name    string
		change  func(*chathook.Attachment)
		retryAt time.Time
	}{
		{"stored without a blob", func(a *chathook.Attachment) { a.State = chathook.MediaStored }, time.Time{}},
		{"failed without a reason", func(a *chathook.Attachment) { a.State = chathook.MediaFailed }, time.Time{}},
		{"pending without a retry time", func(a *chathook.Attachment) {}, time.Time{}},
		{"deleted", func(a *chathook.Attachment) { a.State = chathook.MediaDeleted }, t0},
		{"no state", func(a *chathook.Attachment) { a.State = chathook.MediaNone }, t0},
	} {
		a := d.Attachment
		c.change(&a)
		if ok, err := st.FinishDownload(context.Background(), "x", a, t0, c.retryAt); err == nil || ok {
			t.Errorf("%s: %v, %v; want an error", c.name, ok, err)
		}
	}
	if a := mediaFile(t, st, d.ID); a.State != chathook.MediaPending {
		t.Errorf("refused outcomes left it %s", a.State)
	}
}

// testExpireMedia: files stored before the cut are deleted, oldest first,
// up to the limit, and their blobs returned once.
func testExpireMedia(t *testing.T, st store.Store) {
	ctx := context.Background()
	ws, _, phone := mediaWorkspace(t, st)
	ingest(t, st, ws, withFiles(1, 1, phone, image(1), image(2), image(3)))
	ds := claimDownloads(t, st, "x", t0, 10)
	if len(ds) != 3 {
		t.Fatalf("%d downloads", len(ds))
	}
	old1 := settle(t, st, "x", ds[1], t0, "")
	old2 := settle(t, st, "x", ds[0], t0.Add(time.Minute), "")
	recent := settle(t, st, "x", ds[2], t0.Add(time.Hour), "")
	blobs, err := st.ExpireMedia(ctx, t0.Add(30*time.Minute), 1)
	if err != nil || !slices.Equal(blobs, []string{old1.Blob}) {
		t.Fatalf("expired %v (%v), want the oldest, %s", blobs, err, old1.Blob)
	}
	blobs, err = st.ExpireMedia(ctx, t0.Add(30*time.Minute), 10)
	if err != nil || !slices.Equal(blobs, []string{old2.Blob}) {
		t.Fatalf("then expired %v (%v), want %s", blobs, err, old2.Blob)
	}
	if blobs, err := st.ExpireMedia(ctx, t0.Add(30*time.Minute), 10); err != nil || len(blobs) != 0 {
		t.Errorf("a third time expired %v (%v)", blobs, err)
	}
	for _, c := range []struct {
		a     chathook.Attachment
		state chathook.MediaState
		blob  string
	}{{old1, chathook.MediaDeleted, ""}, {old2, chathook.MediaDeleted, ""}, {recent, chathook.MediaStored, recent.Blob}} {
		if a := mediaFile(t, st, c.a.ID); a.State != c.state || a.Blob != c.blob {
			t.Errorf("attachment %d: %s, blob %q; want %s, %q", a.ID, a.State, a.Blob, c.state, c.blob)
		}
		// A deleted file's source (a QR file's media key) goes with it.
		if a := mediaFile(t, st, c.a.ID); (a.Source == nil) != (c.state == chathook.MediaDeleted) {
			t.Errorf("attachment %d, %s: source %q", a.ID, a.State, a.Source)
		}
	}
}

// testMediaFile: an attachment by id, with its workspace; an unknown id
// is not found.
func testMediaFile(t *testing.T, st store.Store) {
	ctx := context.Background()
	ws, _, phone := mediaWorkspace(t, st)
	given := withFiles(1, 1, phone, image(1))
	ingest(t, st, ws, given)
	m, err := st.MessageByUUID(ctx, ws, given.UUID)
	if err != nil || len(m.Attachments) != 1 {
		t.Fatalf("message: %+v, %v", m, err)
	}
	a, owner, err := st.MediaFile(ctx, m.Attachments[0].ID)
	if err != nil || owner != ws || a.ID != m.Attachments[0].ID || string(a.LinkKey) != string(m.Attachments[0].LinkKey) ||
		a.Type != chathook.AttachImage || a.State != chathook.MediaPending {
		t.Fatalf("media file: %+v, %q, %v", a, owner, err)
	}
	if _, _, err := st.MediaFile(ctx, a.ID+1000); !errors.Is(err, chathook.ErrNotFound) {
		t.Errorf("an unknown id: %v, want not found", err)
	}
}

// testDuplicateAttachments: a repeat of a stored message, in the batch or
// later, stores no second set of attachments and no second download.
func testDuplicateAttachments(t *testing.T, st store.Store) {
	ctx := context.Background()
	ws, _, phone := mediaWorkspace(t, st)
	first := withFiles(1, 1, phone, image(1))
	inBatch := first
	inBatch.UUID, inBatch.Attachments = uuid.NewString(), []chathook.Attachment{image(2), image(3)}
	res := ingest(t, st, ws, first, inBatch)
	later := inBatch
	later.UUID = uuid.NewString()
	res = append(res, ingest(t, st, ws, later)...)
	if res[1].Status != chathook.Duplicate || res[2].Status != chathook.Duplicate {
		t.Fatalf("results %+v", res)
	}
	m, err := st.MessageByUUID(ctx, ws, first.UUID)
	if err != nil || len(m.Attachments) != 1 || string(m.Attachments[0].Source) != `{"id":"media-1"}` {
		t.Fatalf("the stored message: %+v, %v", m.Attachments, err)
	}
	if got := claimDownloads(t, st, "x", t0, 10); len(got) != 1 {
		t.Errorf("%d downloads, want 1", len(got))
	}
}

// testAttachmentsOnlyWhereAny: a page mixing messages with and without
// attachments gives each its own, and copies of one message (its
// deliveries to two endpoints) each carry them.
func testAttachmentsOnlyWhereAny(t *testing.T, st store.Store) {
	ctx := context.Background()
	ws, ep, phone := mediaWorkspace(t, st)
	second := addEndpoint(t, st, ws, "https://second.example.com", event.Envelope, chathook.NoAggregation, event.MessageNew)
	loc := func(name string) chathook.Attachment {
		return chathook.Attachment{Type: chathook.AttachLocation, Name: name}
	}
	var msgs []chathook.Incoming
	for n := range 6 {
		if n%2 == 0 {
			msgs = append(msgs, withFiles(1, n, phone, loc(fmt.Sprintf("place %d", n)), loc("and another")))
		} else {
			m := msg(1, n)
			m.Account.Phone = phone
			msgs = append(msgs, m)
		}
	}
	res := ingest(t, st, ws, msgs...)
	page, err := st.Messages(ctx, ws, res[0].ChatID, store.Page{Limit: 4})
	if err != nil || len(page) != 4 {
		t.Fatalf("page: %d, %v", len(page), err)
	}
	for _, m := range page {
		var n int
		fmt.Sscanf(m.MessageID, "c1-m%d", &n)
		if n%2 == 1 && m.Attachments != nil {
			t.Errorf("%s: %+v", m.MessageID, m.Attachments)
		}
		if n%2 == 0 && (len(m.Attachments) != 2 || m.Attachments[0].Name != fmt.Sprintf("place %d", n)) {
			t.Errorf("%s: %+v", m.MessageID, m.Attachments)
		}
	}
	counted := 0
	for _, d := range claim(t, st, "x", t0, 100) {
		if d.Webhook.ID != ep.ID && d.Webhook.ID != second.ID {
			continue
		}
		var n int
		fmt.Sscanf(d.Message.MessageID, "c1-m%d", &n)
		if want := 2 * (1 - n%2); len(d.Message.Attachments) != want {
			t.Errorf("%s to %s: %d attachments, want %d", d.Message.MessageID, d.Webhook.ID, len(d.Message.Attachments), want)
		}
		counted++
	}
	if counted != 12 {
		t.Errorf("%d event deliveries, want 12", counted)
	}
}

// testRecoveredBehindFlightHeld: a held delivery recovered while a later
// one of its lane is in flight stays held when that flight ends.
func testRecoveredBehindFlightHeld(t *testing.T, st store.Store) {
	ctx := context.Background()
	ws, ep, phone := mediaWorkspace(t, st)
	ingest(t, st, ws, withFiles(1, 1, phone, image(1)))
	if _, err := st.UpdateWebhook(ctx, ws, ep.ID, t0, chathook.WebhookUpdate{DiscardPending: true}); err != nil {
		t.Fatal(err)
	}
	text := msg(1, 2)
	text.Account.Phone = phone
	ingest(t, st, ws, text)
	var flight []chathook.Delivery
	for _, d := range claim(t, st, "x", t0, 100) {
		if d.Webhook.ID == ep.ID {
			flight = append(flight, d)
		} else {
			finish(t, st, d, 200, time.Time{})
		}
	}
	if want := []string{"event/message:new/c1-m2"}; !slices.Equal(byEndpoint(flight)[ep.ID], want) {
		t.Fatalf("claimed %v, want %v", byEndpoint(flight), want)
	}
	if n, err := st.Recover(ctx, ws, ep.ID, t0.Add(-time.Hour), t0.Add(time.Hour), t0.Add(time.Second)); err != nil || n != 1 {
		t.Fatalf("recovered %d (%v), want 1", n, err)
	}
	if err := st.ExtendLeases(ctx, "x", []int64{flight[0].ID}, t0.Add(2*lease)); err != nil {
		t.Fatal(err)
	}
	finish(t, st, flight[0], 200, time.Time{})
	if got := claim(t, st, "x", t0.Add(3*lease), 100); len(got) != 0 {
		t.Fatalf("once the flight ended claimed %v: the recovered message still waits for its file", byEndpoint(got))
	}
}
