package postgres_test

import (
	"bytes"
	"context"
	"io"
	"testing"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/store/postgres/pgtest"
	"github.com/chathook/chathook/store/storetest"
	"github.com/chathook/chathook/store/tables"
)

// A blob an attachment names is no orphan, however old; an orphan goes
// with all its chunks.
func TestDeleteOrphansKeepsNamedBlobs(t *testing.T) {
	ctx := context.Background()
	st := open(t, pgtest.URL(t))
	ws := newWorkspace(t, st)
	if _, err := st.Ingest(ctx, ws, t0, []chathook.Incoming{storetest.Message(1, 1)}); err != nil {
		t.Fatal(err)
	}
	bs := st.Blobs()
	data := storetest.Bytes(1, 2*tables.ChunkSize+1)
	named, _, err := bs.Put(ctx, bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := bs.Put(ctx, bytes.NewReader(storetest.Bytes(2, 3*tables.ChunkSize))); err != nil {
		t.Fatal(err)
	}
	if _, err := st.ExecForTest(ctx, `INSERT INTO attachments (workspace_id, account_id, message_id, position, type, state, blob, link_key, created_at)
		SELECT $1, account_id, id, 0, 'image', 'stored', $2, '\x00'::bytea, 0 FROM messages`, ws, named); err != nil {
		t.Fatal(err)
	}
	if n, err := bs.DeleteOrphans(ctx, time.Now().Add(time.Minute)); err != nil || n != 1 {
		t.Fatalf("DeleteOrphans removed %d (%v), want the unnamed blob only", n, err)
	}
	var chunks, others int
	if err := st.QueryRowForTest(ctx, `SELECT count(*), count(*) FILTER (WHERE blob_id::text <> $1) FROM blob_chunks`, named).Scan(&chunks, &others); err != nil {
		t.Fatal(err)
	}
	if chunks != 3 || others != 0 {
		t.Errorf("%d chunks left, %d of them not the named blob's; want its 3 only", chunks, others)
	}
	b, err := bs.Open(ctx, named)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if got, err := io.ReadAll(b); err != nil || !bytes.Equal(got, data) {
		t.Errorf("the named blob after DeleteOrphans: %d bytes (%v), not the same", len(got), err)
	}
}
