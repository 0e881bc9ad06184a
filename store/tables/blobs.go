package tables

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/chathook/chathook"
)

// ChunkSize is the size of every chunk of a blob but its last (tables
// blob_chunks). 256 KiB: a chunk's insert is one short SQLite transaction
// (ingest never waits long behind a file), a 100 MiB file is only 400
// rows and round trips, and an open blob holds one chunk in memory.
const ChunkSize = 256 << 10

// BlobRef is the reference of blob id: the id in decimal.
func BlobRef(id int64) string { return strconv.FormatInt(id, 10) }

// BlobID reads a reference of BlobRef; chathook.ErrNotFound if it is not
// one, as no blob has it.
func BlobID(ref string) (int64, error) {
	id, err := strconv.ParseInt(ref, 10, 64)
	if err != nil || id <= 0 || BlobRef(id) != ref {
		return 0, fmt.Errorf("blob %q: %w", ref, chathook.ErrNotFound)
	}
	return id, nil
}

// PutChunks reads r up to EOF into chunks of ChunkSize and gives each to
// write, numbered from 0, then returns the total size. A file of 0 bytes
// has no chunk. Only one chunk is in memory at a time (buf is reused:
// write must not keep it).
func PutChunks(ctx context.Context, r io.Reader, write func(ctx context.Context, seq int64, data []byte) error) (int64, error) {
	buf := make([]byte, ChunkSize)
	var size int64
	for seq := int64(0); ; seq++ {
		if err := ctx.Err(); err != nil {
			return size, err
		}
		n, err := io.ReadFull(r, buf)
		if n > 0 {
			if werr := write(ctx, seq, buf[:n]); werr != nil {
				return size, fmt.Errorf("write chunk %d: %w", seq, werr)
			}
			size += int64(n)
		}
		switch {
		case err == io.EOF || err == io.ErrUnexpectedEOF:
			return size, nil
		case err != nil:
			return size, fmt.Errorf("read the file: %w", err)
		}
	}
}

// ReadChunk copies chunk seq of a blob into dst (of ChunkSize) and
// returns its length; an error if the chunk is gone.
type ReadChunk func(ctx context.Context, seq int64, dst []byte) (int, error)

// Blob is an open blob (store.Blob) read through a ReadChunk: it holds
// one chunk in memory, and reads a chunk only when a Read reaches it, so
// a Seek costs nothing.
type Blob struct {
	ctx    context.Context
	size   int64
	read   ReadChunk
	off    int64
	buf    []byte // chunk seq, valid for n bytes; seq -1: none
	seq    int64
	n      int
	closed bool
}

// NewBlob opens a blob of size bytes whose chunks read reads. ctx is
// that of every later read (the request's).
func NewBlob(ctx context.Context, size int64, read ReadChunk) *Blob {
	return &Blob{ctx: ctx, size: size, read: read, seq: -1}
}

// ErrBlobClosed is a Read or Seek on a closed Blob.
var ErrBlobClosed = errors.New("read of a closed blob")

// Size is the blob's size in bytes.
func (b *Blob) Size() int64 { return b.size }

// Read reads from the current offset, at most to the end of its chunk.
func (b *Blob) Read(p []byte) (int, error) {
	if b.closed {
		return 0, ErrBlobClosed
	}
	if b.off >= b.size {
		return 0, io.EOF
	}
	if len(p) == 0 {
		return 0, nil
	}
	seq, at := b.off/ChunkSize, int(b.off%ChunkSize)
	if seq != b.seq {
		if b.buf == nil {
			b.buf = make([]byte, ChunkSize)
		}
		b.seq = -1
		n, err := b.read(b.ctx, seq, b.buf)
		if err != nil {
			return 0, fmt.Errorf("read chunk %d: %w", seq, err)
		}
		want := min(int64(ChunkSize), b.size-seq*ChunkSize)
		if int64(n) != want {
			return 0, fmt.Errorf("chunk %d has %d bytes, want %d: %w", seq, n, want, io.ErrUnexpectedEOF)
		}
		b.seq, b.n = seq, n
	}
	n := copy(p, b.buf[at:b.n])
	b.off += int64(n)
	return n, nil
}

// Seek sets the offset of the next Read; past the end is allowed (Read
// then says io.EOF), before the start is an error.
func (b *Blob) Seek(offset int64, whence int) (int64, error) {
	if b.closed {
		return 0, ErrBlobClosed
	}
	var abs int64
	switch whence {
	case io.SeekStart:
		abs = offset
	case io.SeekCurrent:
		abs = b.off + offset
	case io.SeekEnd:
		abs = b.size + offset
	default:
		return 0, fmt.Errorf("seek: whence %d", whence)
	}
	if abs < 0 {
		return 0, fmt.Errorf("seek to %d: before the start of the blob", abs)
	}
	b.off = abs
	return abs, nil
}

// Close lets go of the chunk in memory.
func (b *Blob) Close() error {
	b.closed, b.buf = true, nil
	return nil
}
