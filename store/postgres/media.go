package postgres

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/store"
	"github.com/chathook/chathook/store/tables"
	"github.com/jackc/pgx/v5"
)

// Downloads across instances
//
// A pending attachment is leased like a delivery: ClaimDownloads takes
// due ones FOR UPDATE SKIP LOCKED, so claimers on several instances
// never take one twice nor wait for each other, and a lease that expires
// (its instance died) makes the attachment claimable again.
//
// A message's held deliveries are released by the FinishDownload that
// settles its last pending attachment. Two instances may settle a
// message's last two attachments at once: each would check, on a
// snapshot without the other's uncommitted change, that the other is
// still pending, and neither would release. So FinishDownload first locks
// the message's row (FOR NO KEY UPDATE: ingests' foreign-key checks on
// it do not wait): the second waits for the first to commit, and its
// later statements see the first's change. Exactly one of them finds no
// attachment pending and releases the deliveries.

// claimDownloads leases up to $4 pending attachments due at $1 until $2
// to owner $3, oldest due first (attachments_pending): those of Cloud API
// numbers, and those of QR accounts whose connection $3 holds.
var claimDownloads = `WITH due AS (
	SELECT t.id FROM attachments t JOIN accounts a ON a.id = t.account_id
	WHERE t.state = 'pending' AND t.due_at <= $1 AND t.lease_until < $1
		AND (a.kind = '` + string(chathook.KindCloudAPI) + `' OR (a.kind = '` + string(chathook.KindWeb) + `' AND a.lease_owner = $3))
	ORDER BY t.due_at, t.id LIMIT $4
	FOR UPDATE OF t SKIP LOCKED
), claimed AS (
	UPDATE attachments t SET lease_until = $2, lease_owner = $3 FROM due WHERE t.id = due.id
	RETURNING t.*
)
SELECT ` + tables.AttachmentColumns + `, t.message_id, m.message_id, t.workspace_id, t.attempts,
	` + qualified("a", tables.AccountColumns) + `, a.access_token
FROM claimed t JOIN messages m ON m.id = t.message_id JOIN accounts a ON a.id = t.account_id
ORDER BY t.due_at, t.id`

// qualified prefixes each of a list of columns with alias.
func qualified(alias, columns string) string {
	parts := strings.Split(columns, ",")
	for i, p := range parts {
		parts[i] = alias + "." + strings.TrimSpace(p)
	}
	return strings.Join(parts, ", ")
}

// ClaimDownloads leases pending attachments; see store.Media and the
// comment above. Cloud API numbers' come with their access token.
func (s *Store) ClaimDownloads(ctx context.Context, owner string, now time.Time, lease time.Duration, limit int) ([]chathook.Download, error) {
	rows, err := s.pool.Query(ctx, claimDownloads, ms(now), ms(now.Add(lease)), owner, limit)
	if err != nil {
		return nil, fmt.Errorf("claim downloads: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (chathook.Download, error) {
		var d chathook.Download
		var access string
		a, err := tables.Attachment(row, &d.Message, &d.MessageID, &d.WorkspaceID, &d.Attempts,
			&d.Account.ID, &d.Account.WorkspaceID, &d.Account.Phone, &d.Account.FullName, &d.Account.Email, &d.Account.Kind,
			&d.Account.State, &d.Account.JID, &d.Account.PhoneNumberID, &d.Account.VerifyToken, new(int64), new(int64), &access)
		d.Attachment = a
		if d.Account.Kind == chathook.KindCloudAPI {
			d.AccessToken = access
		}
		return d, err
	})
	if err != nil {
		return nil, fmt.Errorf("claim downloads: %w", err)
	}
	return out, nil
}

// lockMessage locks the message of attachment $1 (see the comment
// above) and returns its id.
const lockMessage = `SELECT id FROM messages
	WHERE id = (SELECT message_id FROM attachments WHERE id = $1) FOR NO KEY UPDATE`

// finishDownload records the outcome of a download leased to $2
// (attachment $1): $3 is its new state, due again at $4 when pending;
// $5-$13 what was learnt of the file; $14 its new source, NULL to keep
// it; $15 now.
const finishDownload = `UPDATE attachments SET state = $3::text,
	due_at = CASE WHEN $3 = 'pending' THEN $4::bigint ELSE 0 END, attempts = attempts + 1, lease_until = 0, lease_owner = '',
	mime_type = $5, size = $6, file_name = $7, sha256 = $8, width = $9, height = $10, duration_s = $11,
	error = $12, blob = $13, source = COALESCE($14::text, source),
	stored_at = CASE WHEN $3 = 'stored' THEN $15::bigint ELSE 0 END
	WHERE id = $1 AND state = 'pending' AND lease_owner = $2`

// releaseHeld makes the held deliveries of message $1 due at $2 once
// none of its attachments is pending (deliveries_message).
var releaseHeld = fmt.Sprintf(`UPDATE deliveries SET due_at = $2
	WHERE message_id = $1 AND state = 'pending' AND due_at = %d
		AND NOT EXISTS (SELECT 1 FROM attachments WHERE message_id = $1 AND state = 'pending')`, store.HeldDue)

// FinishDownload records a download's outcome and, when it settled its
// message's last pending attachment, releases the message's deliveries,
// in one transaction; see store.Media and the comment above.
func (s *Store) FinishDownload(ctx context.Context, owner string, a chathook.Attachment, now, retryAt time.Time) (bool, error) {
	switch a.State {
	case chathook.MediaStored:
		if a.Blob == "" {
			return false, fmt.Errorf("finish download %d: stored without a blob", a.ID)
		}
	case chathook.MediaFailed, chathook.MediaPending:
		a.Blob = "" // a file not stored names no blob
	default:
		return false, fmt.Errorf("finish download %d: state %q is not stored, failed or pending", a.ID, a.State)
	}
	var source *string // NULL keeps the stored source
	if a.Source != nil {
		v := string(a.Source)
		source = &v
	}
	recorded := false
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		recorded = false
		var message int64
		err := tx.QueryRow(ctx, lockMessage, a.ID).Scan(&message)
		if err != nil {
			return noRows(err, chathook.ErrNotFound)
		}
		tag, err := tx.Exec(ctx, finishDownload, a.ID, owner, string(a.State), ms(retryAt),
			a.MimeType, a.Size, a.FileName, a.SHA256, a.Width, a.Height, a.DurationS, a.Error, a.Blob, source, ms(now))
		if err != nil || tag.RowsAffected() == 0 { // the lease was lost
			return err
		}
		recorded = true
		if a.State == chathook.MediaPending {
			return nil
		}
		_, err = tx.Exec(ctx, releaseHeld, message, ms(now))
		return err
	})
	if err != nil {
		return false, fmt.Errorf("finish download %d: %w", a.ID, err)
	}
	return recorded, nil
}

// MediaFile reads one attachment and its workspace.
func (s *Store) MediaFile(ctx context.Context, id int64) (chathook.Attachment, string, error) {
	var workspaceID string
	a, err := tables.Attachment(s.pool.QueryRow(ctx, `SELECT `+tables.AttachmentColumns+`, t.workspace_id
		FROM attachments t WHERE t.id = $1`, id), &workspaceID)
	if err != nil {
		return chathook.Attachment{}, "", noRows(err, chathook.ErrNotFound)
	}
	return a, workspaceID, nil
}

// ExpireMedia marks the oldest stored files deleted, in one statement
// (attachments_stored). SKIP LOCKED: sweepers on several instances at
// once take different files, so each blob is returned once.
func (s *Store) ExpireMedia(ctx context.Context, before time.Time, limit int) ([]string, error) {
	rows, err := s.pool.Query(ctx, `WITH x AS (
			SELECT id, blob FROM attachments WHERE state = 'stored' AND stored_at < $1
			ORDER BY stored_at, id LIMIT $2 FOR UPDATE SKIP LOCKED)
		UPDATE attachments t SET state = 'deleted', blob = '' FROM x WHERE t.id = x.id RETURNING x.blob`, ms(before), limit)
	if err != nil {
		return nil, fmt.Errorf("expire media: %w", err)
	}
	blobs, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("expire media: %w", err)
	}
	return blobs, nil
}

// TODO(issue 27): the blob store; replaced before landing.
func (s *Store) Blobs() store.Blobs { return nil }
