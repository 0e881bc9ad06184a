package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/chathook/chathook"
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

// claimDownloads leases the ids of tables.DueDownloads ($1 now, $2
// owner, $3 limit, $5 max size) until $4, FOR UPDATE SKIP LOCKED, and returns them
// with tables.DownloadColumns, in the order they were due. As on SQLite,
// the lease moves the due time along with it (so a claim finds the due
// ones along attachments_pending alone) and counts the attempt (a file
// whose download kills the instance is not tried for ever).
var claimDownloads = `WITH due AS (
	` + fmt.Sprintf(tables.DueDownloads, "$1", "$2", "$3", "$5::bigint") + `
	FOR UPDATE OF t SKIP LOCKED
), claimed AS (
	UPDATE attachments t SET lease_owner = $2, lease_until = $4, due_at = $4, attempts = attempts + 1
	FROM due WHERE t.id = due.id
	RETURNING t.*
)
SELECT ` + tables.DownloadColumns + `
FROM claimed t JOIN messages m ON m.id = t.message_id JOIN accounts a ON a.id = t.account_id
JOIN attachments was ON was.id = t.id -- the statement's snapshot: the row as it was before the lease
ORDER BY was.due_at, was.id`

// ClaimDownloads leases pending attachments; see store.Media and the
// comment above.
// sqlMediaFile is tables.MediaFile in this dialect.
var sqlMediaFile = fmt.Sprintf(tables.MediaFile, "$1")

func (s *Store) ClaimDownloads(ctx context.Context, owner string, now time.Time, lease time.Duration, limit int, maxSize int64) ([]chathook.Download, error) {
	if limit <= 0 {
		return nil, nil
	}
	rows, err := s.pool.Query(ctx, claimDownloads, ms(now), owner, limit, ms(now.Add(lease)), maxSize)
	if err != nil {
		return nil, fmt.Errorf("claim downloads: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (chathook.Download, error) { return tables.Download(row) })
	if err != nil {
		return nil, fmt.Errorf("claim downloads: %w", err)
	}
	return out, nil
}

// lockMessage locks the message of attachment $1 (see the comment
// above) and returns its id.
const lockMessage = `SELECT id FROM messages
	WHERE id = (SELECT message_id FROM attachments WHERE id = $1) FOR NO KEY UPDATE`

// The statements of FinishDownload after lockMessage: tables' shared SQL.
var (
	finishDownload = fmt.Sprintf(tables.FinishDownload, placeholders(16)...)
	releaseHeld    = fmt.Sprintf(tables.ReleaseHeld, "$1", "$2")
)

// placeholders returns "$1" to "$n", for fmt's %[i]s.
func placeholders(n int) []any {
	out := make([]any, n)
	for i := range out {
		out[i] = fmt.Sprintf("$%d", i+1)
	}
	return out
}

// FinishDownload records a download's outcome and, when it settled its
// message's last pending attachment, releases the message's deliveries,
// in one transaction; see store.Media and the comment above.
func (s *Store) FinishDownload(ctx context.Context, owner string, a chathook.Attachment, now, retryAt time.Time) (bool, error) {
	values, err := tables.FinishValues(a, now, retryAt)
	if err != nil {
		return false, err
	}
	recorded := false
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		recorded = false
		var message int64
		if err := tx.QueryRow(ctx, lockMessage, a.ID).Scan(&message); err != nil {
			if errors.Is(err, pgx.ErrNoRows) {
				return nil // no such attachment: no lease of owner's
			}
			return err
		}
		tag, err := tx.Exec(ctx, finishDownload, append([]any{a.ID, owner}, values...)...)
		if err != nil || tag.RowsAffected() == 0 { // another claim has it, or it is settled already
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
	a, err := tables.Attachment(s.pool.QueryRow(ctx, sqlMediaFile, id), &workspaceID)
	if err != nil {
		return chathook.Attachment{}, "", noRows(err, chathook.ErrNotFound)
	}
	return a, workspaceID, nil
}

// expireMedia marks the files of tables.ExpiringMedia ($1 before, $2
// limit) deleted and returns their blobs.
var expireMedia = `WITH x AS (` + fmt.Sprintf(tables.ExpiringMedia, "$1", "$2") + ` FOR UPDATE SKIP LOCKED)
	UPDATE attachments t SET state = 'deleted', blob = '', source = '' FROM x WHERE t.id = x.id RETURNING x.blob`

// ExpireMedia marks the oldest stored files deleted, in one statement
// (attachments_stored). SKIP LOCKED: sweepers on several instances at
// once take different files, so each blob is returned once.
func (s *Store) ExpireMedia(ctx context.Context, before time.Time, limit int) ([]string, error) {
	if limit <= 0 {
		return nil, nil
	}
	rows, err := s.pool.Query(ctx, expireMedia, ms(before), limit)
	if err != nil {
		return nil, fmt.Errorf("expire media: %w", err)
	}
	blobs, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("expire media: %w", err)
	}
	return blobs, nil
}
