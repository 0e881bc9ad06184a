package storetest

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/store"
	"github.com/chathook/chathook/store/tables"
)

// blobs: the store's own blob store (store.Blobs).
var blobs = map[string]func(*testing.T, store.Store){
	"BlobsRoundTrip":           testBlobsRoundTrip,
	"BlobsSeek":                testBlobsSeek,
	"BlobsFailedPutIsOrphaned": testBlobsFailedPutIsOrphaned,
	"BlobsDelete":              testBlobsDelete,
}

const chunk = tables.ChunkSize

// Bytes returns n bytes that differ from chunk to chunk and from seed to
// seed, so that a chunk read in the wrong place shows.
func Bytes(seed uint64, n int) []byte {
	b := make([]byte, n)
	rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8), byte(seed >> 16)}).Read(b)
	return b
}

func put(t *testing.T, bs store.Blobs, data []byte) string {
	t.Helper()
	ref, size, err := bs.Put(context.Background(), bytes.NewReader(data))
	if err != nil {
		t.Fatalf("put %d bytes: %v", len(data), err)
	}
	if size != int64(len(data)) {
		t.Fatalf("put %d bytes: size %d", len(data), size)
	}
	return ref
}

func testBlobsRoundTrip(t *testing.T, st store.Store) {
	ctx := context.Background()
	bs := st.Blobs()
	refs := map[string]bool{}
	for i, n := range []int{0, 1, chunk - 1, chunk, chunk + 1, 3*chunk + 17} {
		data := Bytes(uint64(i), n)
		ref := put(t, bs, data)
		if refs[ref] {
			t.Fatalf("ref %q given twice", ref)
		}
		refs[ref] = true
		b, err := bs.Open(ctx, ref)
		if err != nil {
			t.Fatalf("open %d bytes: %v", n, err)
		}
		if b.Size() != int64(n) {
			t.Errorf("%d bytes: Size() = %d", n, b.Size())
		}
		got, err := io.ReadAll(b)
		if err != nil || !bytes.Equal(got, data) {
			t.Errorf("%d bytes: read back %d bytes (%v), not the same", n, len(got), err)
		}
		if err := b.Close(); err != nil {
			t.Error(err)
		}
		if _, err := b.Read(make([]byte, 1)); err == nil {
			t.Errorf("%d bytes: read after close succeeded", n)
		}
	}
}

// Every kind of offset http.ServeContent may seek to for a range: the
// start, either side of a chunk's edge, inside a chunk, the last byte,
// the end and past it, relative to the current offset and to the end.
func testBlobsSeek(t *testing.T, st store.Store) {
	ctx := context.Background()
	data := Bytes(7, 3*chunk+17)
	size := int64(len(data))
	b, err := st.Blobs().Open(ctx, put(t, st.Blobs(), data))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	check := func(name string, offset int64, whence int, want int64) {
		t.Helper()
		got, err := b.Seek(offset, whence)
		if err != nil || got != want {
			t.Fatalf("%s: Seek(%d, %d) = %d, %v; want %d", name, offset, whence, got, err, want)
		}
		from := min(want, size)
		n := min(size-from, chunk+100) // across a chunk's edge when there is one
		buf := make([]byte, n)
		if _, err := io.ReadFull(b, buf); err != nil {
			t.Fatalf("%s: read %d bytes at %d: %v", name, n, want, err)
		}
		if !bytes.Equal(buf, data[from:from+n]) {
			t.Fatalf("%s: %d bytes at %d are not the blob's", name, n, want)
		}
		if from+n == size {
			if k, err := b.Read(make([]byte, 1)); k != 0 || err != io.EOF {
				t.Fatalf("%s: read at the end: %d, %v; want io.EOF", name, k, err)
			}
		}
	}
	check("end, as ServeContent finds the size", 0, io.SeekEnd, size)
	check("start", 0, io.SeekStart, 0)
	check("one byte in", 1, io.SeekStart, 1)
	check("last byte of the first chunk", chunk-1, io.SeekStart, chunk-1)
	check("first byte of the second chunk", chunk, io.SeekStart, chunk)
	check("inside the third chunk", 2*chunk+5, io.SeekStart, 2*chunk+5)
	check("back into the first chunk", 10, io.SeekStart, 10)
	check("the last byte", -1, io.SeekEnd, size-1)
	check("the short last chunk", -17, io.SeekEnd, 3*chunk)
	check("past the end", 10, io.SeekEnd, size+10)
	b.Seek(chunk+3, io.SeekStart)
	check("back from the current offset", -4, io.SeekCurrent, chunk-1)
	check("on from the current offset", 0, io.SeekCurrent, 2*chunk+99)
	if _, err := b.Seek(-1, io.SeekStart); err == nil {
		t.Error("seek before the start succeeded")
	}
	if _, err := b.Seek(0, 42); err == nil {
		t.Error("seek with an unknown whence succeeded")
	}
}

// failing gives n bytes, then an error.
type failing struct {
	r   io.Reader
	err error
}

func (f *failing) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if err == io.EOF {
		return n, f.err
	}
	return n, err
}

// A Put cut off midway leaves a blob that Open does not find and that
// DeleteOrphans removes once it is older than before; blobs begun after
// before stay.
func testBlobsFailedPutIsOrphaned(t *testing.T, st store.Store) {
	ctx := context.Background()
	bs := st.Blobs()
	cut := errors.New("connection reset by the phone")
	if _, _, err := bs.Put(ctx, &failing{bytes.NewReader(Bytes(1, chunk+chunk/2)), cut}); !errors.Is(err, cut) {
		t.Fatalf("put of a failing reader: err = %v, want the reader's", err)
	}
	done := put(t, bs, Bytes(2, chunk+1)) // done, but named by no attachment
	if n, err := bs.DeleteOrphans(ctx, time.Now().Add(-time.Hour)); err != nil || n != 0 {
		t.Fatalf("DeleteOrphans before both were begun removed %d (%v), want 0", n, err)
	}
	if _, err := bs.Open(ctx, done); err != nil {
		t.Fatalf("a blob begun after before is gone: %v", err)
	}
	if n, err := bs.DeleteOrphans(ctx, time.Now().Add(time.Minute)); err != nil || n != 2 {
		t.Fatalf("DeleteOrphans removed %d (%v), want the cut-off blob and the unnamed one", n, err)
	}
	if _, err := bs.Open(ctx, done); !errors.Is(err, chathook.ErrNotFound) {
		t.Errorf("open of an orphan removed: err = %v, want ErrNotFound", err)
	}
	if n, err := bs.DeleteOrphans(ctx, time.Now().Add(time.Minute)); err != nil || n != 0 {
		t.Errorf("DeleteOrphans again removed %d (%v), want 0", n, err)
	}
}

func testBlobsDelete(t *testing.T, st store.Store) {
	ctx := context.Background()
	bs := st.Blobs()
	keep, gone := Bytes(3, 2*chunk), Bytes(4, 2*chunk)
	keepRef, goneRef := put(t, bs, keep), put(t, bs, gone)
	open, err := bs.Open(ctx, goneRef)
	if err != nil {
		t.Fatal(err)
	}
	defer open.Close()
	if err := bs.Delete(ctx, goneRef); err != nil {
		t.Fatal(err)
	}
	if _, err := bs.Open(ctx, goneRef); !errors.Is(err, chathook.ErrNotFound) {
		t.Errorf("open of a deleted blob: err = %v, want ErrNotFound", err)
	}
	if _, err := io.ReadAll(open); err == nil {
		t.Error("a blob open when it was deleted read to its end without an error")
	}
	if err := bs.Delete(ctx, goneRef); err != nil {
		t.Errorf("deleting a deleted blob: %v", err)
	}
	b, err := bs.Open(ctx, keepRef)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if got, err := io.ReadAll(b); err != nil || !bytes.Equal(got, keep) {
		t.Errorf("the other blob after a delete: %d bytes (%v), not the same", len(got), err)
	}
	for _, ref := range []string{"999999", "abc", "", "-1", "01", goneRef + "000"} {
		if _, err := bs.Open(ctx, ref); !errors.Is(err, chathook.ErrNotFound) {
			t.Errorf("open of %q: err = %v, want ErrNotFound", ref, err)
		}
	}
}
