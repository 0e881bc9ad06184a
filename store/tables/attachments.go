package tables

import (
	"crypto/rand"
	"fmt"
	"slices"
	"time"

	"github.com/chathook/chathook"
)

// AttachmentColumns are read by Attachment, from attachments aliased t.
// AttachmentInsertColumns are written by Ingest, in this order, from
// AttachmentValues.
const (
	AttachmentColumns = `t.id, t.type, t.mime_type, t.size, t.file_name, t.sha256, t.width, t.height, t.duration_s,
	t.latitude, t.longitude, t.name, t.address, t.vcard, t.url, t.state, t.error, t.source, t.blob, t.link_key, t.stored_at`
	AttachmentInsertColumns = `workspace_id, account_id, message_id, position, type, mime_type, size, file_name, sha256,
	width, height, duration_s, latitude, longitude, name, address, vcard, url, state, error, source, link_key, due_at, created_at`
	// AttachmentWidth is how many values AttachmentInsertColumns take.
	AttachmentWidth = 24
)

// Attachment reads a row of AttachmentColumns, then extra columns if any.
func Attachment(row Scanner, extra ...any) (chathook.Attachment, error) {
	var a chathook.Attachment
	var source string
	var stored int64
	err := row.Scan(append([]any{&a.ID, &a.Type, &a.MimeType, &a.Size, &a.FileName, &a.SHA256, &a.Width, &a.Height, &a.DurationS,
		&a.Latitude, &a.Longitude, &a.Name, &a.Address, &a.VCard, &a.URL, &a.State, &a.Error, &source, &a.Blob, &a.LinkKey,
		&stored}, extra...)...)
	if source != "" {
		a.Source = []byte(source)
	}
	a.StoredAt = OptionalTime(stored)
	return a, err
}

// AttachmentValues returns the values of AttachmentInsertColumns of a,
// the position-th attachment of a message, with a new link key. A
// pending attachment is due at now.
func AttachmentValues(workspaceID string, accountID, messageID int64, position int, a chathook.Attachment, now int64) []any {
	key := make([]byte, 16)
	rand.Read(key) // never fails (crypto/rand)
	due := int64(0)
	if a.State == chathook.MediaPending {
		due = now
	}
	return []any{workspaceID, accountID, messageID, position, string(a.Type), a.MimeType, a.Size, a.FileName, a.SHA256,
		a.Width, a.Height, a.DurationS, a.Latitude, a.Longitude, a.Name, a.Address, a.VCard, a.URL, string(a.State), a.Error,
		string(a.Source), key, due, now}
}

// Pending reports whether any of as is chathook.MediaPending: its
// message's deliveries are then held (store.HeldDue).
func Pending(as []chathook.Attachment) bool {
	for _, a := range as {
		if a.State == chathook.MediaPending {
			return true
		}
	}
	return false
}

// SQLHeldDue is store.HeldDue as an SQL numeral (media_test holds it to
// the Go constant): the due time of a delivery held for its message's
// attachments, which no claim reaches and nothing that moves due times
// may move.
const SQLHeldDue = "4611686018427387904"

// Counted notes that m, just read, has n attachments still to be read:
// n zero Attachments, which Attach replaces. The count is a column of
// the message's row, so a read of messages without attachments costs no
// second query (see WithAttachments).
func Counted(m *chathook.Message, n int) {
	if n > 0 {
		m.Attachments = make([]chathook.Attachment, n)
	}
}

// WithAttachments returns the distinct ids of msgs that Counted found
// attachments in: nil when none has any, and no query is needed.
func WithAttachments(msgs []*chathook.Message) []int64 {
	var ids []int64
	for _, m := range msgs {
		if len(m.Attachments) > 0 && !slices.Contains(ids, m.ID) {
			ids = append(ids, m.ID)
		}
	}
	return ids
}

// AttachmentsOf is, in SQL, the attachments of the messages whose ids
// in selects, in the dialect's words ("IN (SELECT value FROM
// json_each(?))", "= ANY($1)"): AttachmentColumns, then the message's
// id, in message then position order, as Attach reads them.
func AttachmentsOf(in string) string {
	return `SELECT ` + AttachmentColumns + `, t.message_id FROM attachments t WHERE t.message_id ` + in +
		` ORDER BY t.message_id, t.position`
}

// Attach reads the rows of AttachmentsOf into msgs: every message of an
// id read gets its attachments, in position order (copies of one message,
// as several deliveries of it, share them); one without rows gets none.
func Attach(rows Rows, msgs []*chathook.Message) error {
	byMessage := map[int64][]chathook.Attachment{}
	for rows.Next() {
		var message int64
		a, err := Attachment(rows, &message)
		if err != nil {
			return err
		}
		byMessage[message] = append(byMessage[message], a)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	for _, m := range msgs {
		if len(m.Attachments) > 0 {
			m.Attachments = byMessage[m.ID]
		}
	}
	return nil
}

// The statements of store.Media, in SQL whose placeholders are written
// %[1]s, %[2]s, … for each store to fill in with its own ("?1", "$1").
const (
	// DueDownloads selects the ids of up to limit (3) pending attachments
	// due at now (1), soonest due first, declared no larger than maxSize
	// (4) unless it is 0, that owner (2) may download: a QR account's
	// whose lease owner holds, or that no instance holds (not connected:
	// the download fails, with retries, rather than hold its message for
	// ever); any other kind's (a Cloud API number's; another kind's,
	// which the downloader fails).
	DueDownloads = `SELECT t.id FROM attachments t JOIN accounts a ON a.id = t.account_id
		WHERE t.state = 'pending' AND t.due_at <= %[1]s AND (%[4]s = 0 OR t.size <= %[4]s)
			AND (a.kind <> 'web' OR a.lease_owner = %[2]s OR a.lease_until < %[1]s)
		ORDER BY t.due_at, t.id LIMIT %[3]s`
	// FinishDownload records a download of attachment (1) if owner (2)
	// still holds its lease, with the values of FinishValues, and returns
	// its message's id.
	FinishDownload = `UPDATE attachments SET state = %[3]s, mime_type = %[4]s, size = %[5]s, file_name = %[6]s,
			sha256 = %[7]s, width = %[8]s, height = %[9]s, duration_s = %[10]s, error = %[11]s, blob = %[12]s,
			source = CASE WHEN %[13]s THEN %[14]s ELSE source END, stored_at = %[15]s, due_at = %[16]s,
			lease_owner = '', lease_until = 0
		WHERE id = %[1]s AND lease_owner = %[2]s AND state = 'pending'
		RETURNING message_id`
	// ReleaseHeld makes the held deliveries of message (1) due at now
	// (2) once no attachment of it is pending. Discarded ones stay held,
	// should they be recovered, which looks again.
	ReleaseHeld = `UPDATE deliveries SET due_at = %[2]s
		WHERE message_id = %[1]s AND state = 'pending' AND due_at = ` + SQLHeldDue + `
			AND NOT EXISTS (SELECT 1 FROM attachments t WHERE t.message_id = %[1]s AND t.state = 'pending')`
	// ExpiringMedia selects the id and blob of up to limit (2) files
	// stored before before (1), oldest first.
	ExpiringMedia = `SELECT id, blob FROM attachments WHERE state = 'stored' AND stored_at < %[1]s
		ORDER BY stored_at, id LIMIT %[2]s`
	// MediaFile selects AttachmentColumns of attachment (1), then its
	// workspace's id.
	MediaFile = `SELECT ` + AttachmentColumns + `, t.workspace_id FROM attachments t WHERE t.id = %[1]s`
)

// FinishValues returns the values of FinishDownload's placeholders 3 on
// of a download that ends in a, at now, to be tried again at retryAt if
// a is still pending; or an error when a is not an outcome: stored
// without a blob, failed without an error, pending without a retry time,
// or in any other state.
func FinishValues(a chathook.Attachment, now, retryAt time.Time) ([]any, error) {
	var stored, due int64
	switch a.State {
	case chathook.MediaStored:
		if a.Blob == "" {
			return nil, fmt.Errorf("attachment %d: stored without a blob", a.ID)
		}
		stored = now.UnixMilli()
	case chathook.MediaFailed:
		if a.Error == "" {
			return nil, fmt.Errorf("attachment %d: failed without saying why", a.ID)
		}
	case chathook.MediaPending:
		if retryAt.IsZero() {
			return nil, fmt.Errorf("attachment %d: pending again without a retry time", a.ID)
		}
		due = retryAt.UnixMilli()
	default:
		return nil, fmt.Errorf("attachment %d: a download cannot end in state %q", a.ID, a.State)
	}
	blob, failure := a.Blob, a.Error
	if a.State == chathook.MediaStored {
		failure = "" // what an earlier attempt said no longer holds
	} else {
		blob = "" // only a stored file keeps one: any other would never be deleted
	}
	// A failed file's source (its media key, for a QR account's) is kept
	// no longer than needed: nothing downloads it again.
	setSource, source := a.Source != nil, string(a.Source)
	if a.State == chathook.MediaFailed {
		setSource, source = true, ""
	}
	return []any{string(a.State), a.MimeType, a.Size, a.FileName, a.SHA256, a.Width, a.Height, a.DurationS, failure, blob,
		setSource, source, stored, due}, nil
}

// DownloadColumns are read by Download: a claimed attachment t with its
// message m and account a. Attempts were counted by the claim.
const DownloadColumns = AttachmentColumns + `, t.message_id, m.message_id, t.workspace_id, t.attempts - 1,
	a.id, a.workspace_id, a.phone, a.full_name, a.email, a.kind, a.state, a.jid, a.phone_number_id, a.verify_token,
	a.last_message_at, a.created_at, a.access_token`

// Download reads a row of DownloadColumns.
func Download(row Scanner) (chathook.Download, error) {
	var d chathook.Download
	var last, created int64
	acc := &d.Account
	a, err := Attachment(row, &d.Message, &d.MessageID, &d.WorkspaceID, &d.Attempts,
		&acc.ID, &acc.WorkspaceID, &acc.Phone, &acc.FullName, &acc.Email, &acc.Kind, &acc.State, &acc.JID, &acc.PhoneNumberID,
		&acc.VerifyToken, &last, &created, &d.AccessToken)
	d.Attachment = a
	acc.LastMessageAt, acc.CreatedAt = OptionalTime(last), OptionalTime(created)
	return d, err
}
