package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/store"
	"github.com/chathook/chathook/store/tables"
	"github.com/jackc/pgx/v5"
)

// Blobs is the store's blob store: files in blobs and blob_chunks, in
// chunks of tables.ChunkSize, so that every instance serves every file.
//
// Every chunk is written in its own statement (its own transaction): a
// large file holds no transaction open for its whole length. Reads take
// one chunk per query.
func (s *Store) Blobs() store.Blobs { return blobs{s} }

type blobs struct{ s *Store }

// orphanSQL is the condition of a blob, aliased b, that no attachment
// names (a.blob <> ” lets the partial index attachments_blob answer).
const orphanSQL = `NOT EXISTS (SELECT 1 FROM attachments a WHERE a.blob <> '' AND a.blob = b.id::text)`

// Put stores r's bytes; see store.Blobs. Its blob is begun at the wall
// clock's now (Put takes no clock), which DeleteOrphans compares with
// before; until its last chunk is written it is not done, and Open does
// not find it. An error leaves the begun blob for DeleteOrphans.
func (b blobs) Put(ctx context.Context, r io.Reader) (string, int64, error) {
	var id int64
	if err := b.s.pool.QueryRow(ctx, `INSERT INTO blobs (created_at) VALUES ($1) RETURNING id`,
		ms(time.Now())).Scan(&id); err != nil {
		return "", 0, fmt.Errorf("put blob: %w", err)
	}
	size, err := tables.PutChunks(ctx, r, func(ctx context.Context, seq int64, data []byte) error {
		_, err := b.s.pool.Exec(ctx, `INSERT INTO blob_chunks (blob_id, seq, data) VALUES ($1, $2, $3)`, id, seq, data)
		return err
	})
	if err != nil {
		return "", 0, fmt.Errorf("put blob %d: %w", id, err)
	}
	if _, err := b.s.pool.Exec(ctx, `UPDATE blobs SET size = $1, done = true WHERE id = $2`, size, id); err != nil {
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
	err = b.s.pool.QueryRow(ctx, `SELECT size FROM blobs WHERE id = $1 AND done`, id).Scan(&size)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("blob %d: %w", id, chathook.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("open blob %d: %w", id, err)
	}
	return tables.NewBlob(ctx, size, func(ctx context.Context, seq int64, dst []byte) (int, error) {
		c := chunk{dst: dst}
		err := b.s.pool.QueryRow(ctx, `SELECT data FROM blob_chunks WHERE blob_id = $1 AND seq = $2`, id, seq).Scan(&c)
		if errors.Is(err, pgx.ErrNoRows) {
			return 0, fmt.Errorf("blob %d: %w", id, chathook.ErrNotFound)
		}
		return c.n, err
	}), nil
}

// chunk scans a bytea straight from pgx's read buffer into dst
// (pgtype.BytesScanner): no chunk-sized allocation of its own per read.
type chunk struct {
	dst []byte
	n   int
}

func (c *chunk) ScanBytes(v []byte) error {
	if len(v) > len(c.dst) {
		return fmt.Errorf("a chunk of %d bytes, more than a chunk", len(v))
	}
	c.n = copy(c.dst, v)
	return nil
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
	rows, err := b.s.pool.Query(ctx, `SELECT b.id FROM blobs b WHERE b.created_at < $1 AND `+orphanSQL+` ORDER BY b.id`, ms(before))
	if err != nil {
		return 0, fmt.Errorf("find orphan blobs: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
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

// deleteWhere deletes blob id, aliased b, if cond holds, with its chunks,
// and reports whether it did.
func (b blobs) deleteWhere(ctx context.Context, id int64, cond string) (bool, error) {
	tx, err := b.s.pool.Begin(ctx)
	if err != nil {
		return false, err
	}
	defer tx.Rollback(ctx)
	tag, err := tx.Exec(ctx, `DELETE FROM blobs AS b WHERE b.id = $1`+cond, id)
	if err != nil || tag.RowsAffected() == 0 {
		return false, err
	}
	if _, err := tx.Exec(ctx, `DELETE FROM blob_chunks WHERE blob_id = $1`, id); err != nil {
		return false, err
	}
	return true, tx.Commit(ctx)
}
