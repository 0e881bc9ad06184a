package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/store/tables"
)

// The statements of store.Media: tables' shared SQL with SQLite's
// placeholders.
var (
	sqlDueDownloads   = fmt.Sprintf(tables.DueDownloads, "?1", "?2", "?3", "?4")
	sqlFinishDownload = fmt.Sprintf(tables.FinishDownload, placeholders(16)...)
	sqlReleaseHeld    = fmt.Sprintf(tables.ReleaseHeld, "?1", "?2")
	sqlExpiringMedia  = fmt.Sprintf(tables.ExpiringMedia, "?1", "?2")
	sqlMediaFile      = fmt.Sprintf(tables.MediaFile, "?1")
)

const (
	// sqlLeaseDownloads counts the attempt at the claim, not at its end:
	// a file whose download kills the instance is not tried for ever.
	sqlLeaseDownloads = `UPDATE attachments SET lease_owner = ?1, lease_until = ?2, due_at = ?2, attempts = attempts + 1
		WHERE id IN (SELECT value FROM json_each(?3))`
	sqlLoadDownloads = `SELECT ` + tables.DownloadColumns + `
		FROM json_each(?1) l JOIN attachments t ON t.id = l.value
		JOIN messages m ON m.id = t.message_id JOIN accounts a ON a.id = t.account_id
		ORDER BY l.key`
	sqlExpire = `UPDATE attachments SET state = 'deleted', blob = '', source = '' WHERE id IN (SELECT value FROM json_each(?1))`
)

// placeholders returns "?1" to "?n", for fmt's %[i]s.
func placeholders(n int) []any {
	out := make([]any, n)
	for i := range out {
		out[i] = fmt.Sprintf("?%d", i+1)
	}
	return out
}

// ClaimDownloads leases pending attachments due; see store.Media. The
// lease moves the due time along with it, so a leased attachment is not
// due again until its lease has passed, and the claim finds the due ones
// along attachments_pending alone.
func (s *Store) ClaimDownloads(ctx context.Context, owner string, now time.Time, lease time.Duration, limit int, maxSize int64) ([]chathook.Download, error) {
	if limit <= 0 {
		return nil, nil
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	ids, err := readIDs(tx.QueryContext(ctx, sqlDueDownloads, ms(now), owner, limit, maxSize))
	if err != nil {
		return nil, fmt.Errorf("claim downloads: %w", err)
	}
	if len(ids) == 0 {
		return nil, nil
	}
	list := idList(ids)
	if _, err := tx.ExecContext(ctx, sqlLeaseDownloads, owner, ms(now.Add(lease)), list); err != nil {
		return nil, fmt.Errorf("claim downloads: %w", err)
	}
	rows, err := tx.QueryContext(ctx, sqlLoadDownloads, list)
	if err != nil {
		return nil, fmt.Errorf("claim downloads: %w", err)
	}
	out, err := tables.All(rows, tables.Download)
	rows.Close()
	if err != nil {
		return nil, fmt.Errorf("claim downloads: %w", err)
	}
	return out, tx.Commit()
}

// readIDs reads a column of ids.
func readIDs(rows *sql.Rows, err error) ([]int64, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return tables.All(rows, func(row tables.Scanner) (int64, error) {
		var id int64
		return id, row.Scan(&id)
	})
}

// FinishDownload records a download's outcome and, when it settles its
// message's last pending attachment, makes the message's held deliveries
// due, in one transaction; see store.Media.
func (s *Store) FinishDownload(ctx context.Context, owner string, a chathook.Attachment, now, retryAt time.Time) (bool, error) {
	values, err := tables.FinishValues(a, now, retryAt)
	if err != nil {
		return false, err
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return false, err
	}
	defer tx.Rollback()
	var message int64
	err = tx.QueryRowContext(ctx, sqlFinishDownload, append([]any{a.ID, owner}, values...)...).Scan(&message)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil // another claim has it, or it is settled already
	}
	if err != nil {
		return false, fmt.Errorf("finish download %d: %w", a.ID, err)
	}
	if a.State != chathook.MediaPending {
		if _, err := tx.ExecContext(ctx, sqlReleaseHeld, message, ms(now)); err != nil {
			return false, fmt.Errorf("finish download %d: release deliveries: %w", a.ID, err)
		}
	}
	return true, tx.Commit()
}

// MediaFile returns an attachment and its workspace's id; see
// store.Media.
func (s *Store) MediaFile(ctx context.Context, id int64) (chathook.Attachment, string, error) {
	var workspaceID string
	a, err := tables.Attachment(s.r.QueryRowContext(ctx, sqlMediaFile, id), &workspaceID)
	if err != nil {
		return chathook.Attachment{}, "", notFound(err)
	}
	return a, workspaceID, nil
}

// ExpireMedia marks files stored before before deleted and returns their
// blobs; see store.Media.
func (s *Store) ExpireMedia(ctx context.Context, before time.Time, limit int) ([]string, error) {
	if limit <= 0 {
		return nil, nil
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	type file struct {
		id   int64
		blob string
	}
	rows, err := tx.QueryContext(ctx, sqlExpiringMedia, ms(before), limit)
	if err != nil {
		return nil, fmt.Errorf("expire media: %w", err)
	}
	files, err := tables.All(rows, func(row tables.Scanner) (f file, err error) { return f, row.Scan(&f.id, &f.blob) })
	rows.Close()
	if err != nil || len(files) == 0 {
		return nil, err
	}
	ids, blobs := make([]int64, len(files)), make([]string, len(files))
	for i, f := range files {
		ids[i], blobs[i] = f.id, f.blob
	}
	if _, err := tx.ExecContext(ctx, sqlExpire, idList(ids)); err != nil {
		return nil, fmt.Errorf("expire media: %w", err)
	}
	return blobs, tx.Commit()
}
