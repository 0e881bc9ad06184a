package sqlite_test

import (
	"bytes"
	"context"
	"io"
	"testing"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/store/storetest"
	"github.com/chathook/chathook/store/tables"
)

// A blob an attachment names is no orphan, however old; an orphan goes
// with all its chunks.
func TestDeleteOrphansKeepsNamedBlobs(t *testing.T) {
	ctx := context.Background()
	st, ws, _, t0 := newStore(t)
	if _, err := st.Ingest(ctx, ws, t0, []chathook.Incoming{chatMessage(t0, 1, "m1")}); err != nil {
		t.Fatal(err)
	}
	bs := st.Blobs()
	named, _, err := bs.Put(ctx, bytes.NewReader(storetest.Bytes(1, 2*tables.ChunkSize+1)))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := bs.Put(ctx, bytes.NewReader(storetest.Bytes(2, 3*tables.ChunkSize))); err != nil {
		t.Fatal(err)
	}
	if _, err := st.ExecForTest(ctx, `INSERT INTO attachments (workspace_id, account_id, message_id, position, type, state, blob, link_key, created_at)
		SELECT '`+ws+`', account_id, id, 0, 'image', 'stored', '`+named+`', X'00', 0 FROM messages`); err != nil {
		t.Fatal(err)
	}
	if n, err := bs.DeleteOrphans(ctx, time.Now().Add(time.Minute)); err != nil || n != 1 {
		t.Fatalf("DeleteOrphans removed %d (%v), want the unnamed blob only", n, err)
	}
	var chunks, others int
	if err := st.QueryRowForTest(ctx, `SELECT count(*), count(*) FILTER (WHERE blob_id <> `+named+`) FROM blob_chunks`).Scan(&chunks, &others); err != nil {
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
	if got, err := io.ReadAll(b); err != nil || !bytes.Equal(got, storetest.Bytes(1, 2*tables.ChunkSize+1)) {
		t.Errorf("the named blob after DeleteOrphans: %d bytes (%v), not the same", len(got), err)
	}
}

// Put and read back 50 MiB: the bytes allocated per op show that a file
// is never whole in memory (compare with 50 MiB).
func BenchmarkBlob50MiB(b *testing.B) {
	ctx := context.Background()
	st, _, _, _ := newStore(b)
	bs := st.Blobs()
	const size = 50 << 20
	b.SetBytes(size)
	b.ReportAllocs()
	for b.Loop() {
		ref, n, err := bs.Put(ctx, io.LimitReader(zeros{}, size))
		if err != nil || n != size {
			b.Fatalf("put: %d bytes, %v", n, err)
		}
		blob, err := bs.Open(ctx, ref)
		if err != nil {
			b.Fatal(err)
		}
		if got, err := io.CopyBuffer(io.Discard, blob, make([]byte, 32<<10)); err != nil || got != size {
			b.Fatalf("read back %d bytes, %v", got, err)
		}
		blob.Close()
		if err := bs.Delete(ctx, ref); err != nil {
			b.Fatal(err)
		}
	}
}

// zeros is an endless reader that allocates nothing.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}
