package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/store"
	"github.com/chathook/chathook/store/tables"
)

// Blobs is the store's blob store: files in blobs and blob_chunks, in
// chunks of tables.ChunkSize.
//
// Every chunk is written in its own transaction on the one writer, so a
// large file takes the writer for one chunk at a time and ingest's
// groups run between its chunks. Reads go through the readers' pool, one
// chunk per query.
func (s *Store) Blobs() store.Blobs { return blobs{s} }

type blobs struct{ s *Store }

// orphanSQL is the condition of a blob, aliased b, that no attachment
// names (a.blob <> ” lets the partial index attachments_blob answer).
const orphanSQL = `NOT EXISTS (SELECT 1 FROM attachments a WHERE a.blob <> '' AND a.blob = CAST(b.id AS TEXT))`

// Put stores r's bytes; see store.Blobs. Its blob is begun at the wall
// clock's now (Put takes no clock), which DeleteOrphans compares with
// before; until its last chunk is written it is not done, and Open does
// not find it. An error leaves the begun blob for DeleteOrphans.
func (b blobs) Put(ctx context.Context, r io.Reader) (string, int64, error) {
	var id int64
	if err := b.s.w.QueryRowContext(ctx, `INSERT INTO blobs (created_at) VALUES (?) RETURNING id`,
		ms(time.Now())).Scan(&id); err != nil {
		return "", 0, fmt.Errorf("put blob: %w", err)
	}
	size, err := tables.PutChunks(ctx, r, func(ctx context.Context, seq int64, data []byte) error {
		_, err := b.s.w.ExecContext(ctx, `INSERT INTO blob_chunks (blob_id, seq, data) VALUES (?, ?, ?)`, id, seq, data)
		return err
	})
	if err != nil {
		return "", 0, fmt.Errorf("put blob %d: %w", id, err)
	}
	if _, err := b.s.w.ExecContext(ctx, `UPDATE blobs SET size = ?, done = 1 WHERE id = ?`, size, id); err != nil {
		return "", 0, fmt.Errorf("put blob %d: %w", id, err)
	}
	return tables.BlobRef(id), size, nil
}

// Open opens a done blob; chathook.ErrNotFound if there is none. Its
// reads use ctx.
func (b blobs) Open(ctx context.Context, ref string) (store.Blob, error) {
	id, err := tables.BlobID(ref)
	if err != nil {
		return nil, err
	}
	var size int64
	err = b.s.r.QueryRowContext(ctx, `SELECT size FROM blobs WHERE id = ? AND done = 1`, id).Scan(&size)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("blob %d: %w", id, chathook.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("open blob %d: %w", id, err)
	}
	return tables.NewBlob(ctx, size, func(ctx context.Context, seq int64, dst []byte) (int, error) {
		return b.readChunk(ctx, id, seq, dst)
	}), nil
}

// readChunk copies the chunk straight from the driver's row into dst
// (sql.RawBytes): no chunk-sized allocation of its own per read.
func (b blobs) readChunk(ctx context.Context, id, seq int64, dst []byte) (int, error) {
	rows, err := b.s.r.QueryContext(ctx, `SELECT data FROM blob_chunks WHERE blob_id = ? AND seq = ?`, id, seq)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return 0, err
		}
		return 0, fmt.Errorf("blob %d: %w", id, chathook.ErrNotFound)
	}
	var raw sql.RawBytes
	if err := rows.Scan(&raw); err != nil {
		return 0, err
	}
	if len(raw) > len(dst) {
		return 0, fmt.Errorf("blob %d chunk %d: %d bytes, more than a chunk", id, seq, len(raw))
	}
	n := copy(dst, raw)
	return n, rows.Close()
}

// Delete removes a blob and its chunks, in one transaction.
func (b blobs) Delete(ctx context.Context, ref string) error {
	id, err := tables.BlobID(ref)
	if err != nil {
		return err
	}
	_, err = b.deleteWhere(ctx, id, "")
	return err
}

// DeleteOrphans removes, one transaction each, the blobs begun before
// before that no attachment names, done or not. A blob is checked again
// as it is deleted, so one that an attachment came to name meanwhile
// stays.
func (b blobs) DeleteOrphans(ctx context.Context, before time.Time) (int, error) {
	ids, err := readIDs(b.s.r.QueryContext(ctx, `SELECT b.id FROM blobs b WHERE b.created_at < ? AND `+orphanSQL+` ORDER BY b.id`, ms(before)))
	if err != nil {
		return 0, fmt.Errorf("find orphan blobs: %w", err)
	}
	n := 0
	for _, id := range ids {
		gone, err := b.deleteWhere(ctx, id, " AND "+orphanSQL)
		if err != nil {
			return n, fmt.Errorf("delete orphan blob %d: %w", id, err)
		}
		if gone {
			n++
		}
	}
	return n, nil
}

// deleteBatch is how many chunks one transaction of a delete removes:
// freeing a chunk reads its pages, so a 100 MiB file deleted at once
// would hold the one writer, and ingest behind it, for seconds.
const deleteBatch = 8

// deleteWhere deletes blob id, aliased b, if cond holds, with its chunks,
// and reports whether it did. The blob is first marked not done (Open no
// longer finds it), then its chunks go a few at a time, then its row: a
// crash midway leaves a blob that no attachment names, which
// DeleteOrphans finishes.
func (b blobs) deleteWhere(ctx context.Context, id int64, cond string) (bool, error) {
	res, err := b.s.w.ExecContext(ctx, `UPDATE blobs AS b SET done = 0 WHERE b.id = ?`+cond, id)
	if err != nil {
		return false, err
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return false, err
	}
	for {
		res, err := b.s.w.ExecContext(ctx, `DELETE FROM blob_chunks WHERE blob_id = ?1
			AND seq IN (SELECT seq FROM blob_chunks WHERE blob_id = ?1 ORDER BY seq LIMIT ?2)`, id, deleteBatch)
		if err != nil {
			return false, err
		}
		if n, err := res.RowsAffected(); err != nil || n < deleteBatch {
			if err != nil {
				return false, err
			}
			break
		}
	}
	_, err = b.s.w.ExecContext(ctx, `DELETE FROM blobs WHERE id = ?`, id)
	return err == nil, err
}
