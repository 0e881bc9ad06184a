package whatsweb

import (
	"io"
	"os"

	"github.com/chathook/chathook/media"
	"go.mau.fi/whatsmeow"
)

// mediaOverhead is what WhatsApp's encryption adds to a file: up to 16
// bytes of AES-CBC padding and a 10-byte MAC, rounded up.
const mediaOverhead = 32

// boundedFile is the file whatsmeow downloads into (whatsmeow.File),
// bounded while it downloads: a write, or a truncation, that would make
// it larger than limit is refused with media.ErrTooLarge, and so is
// every one after the first refusal, so that a whatsmeow that moves on
// to its next media host stops at its first write. The file therefore
// never holds more than limit bytes, whatever length the sender
// declared or the CDN's Content-Length says.
//
// It wraps an *os.File rather than embedding it on purpose: io.Copy
// would otherwise use (*os.File).ReadFrom and write around Write, and
// whatsmeow would preallocate the Content-Length it sees for an
// *os.File.
type boundedFile struct {
	f       *os.File
	limit   int64
	refused bool
}

var _ whatsmeow.File = (*boundedFile)(nil)

func newBoundedFile(f *os.File, max int64) *boundedFile {
	return &boundedFile{f: f, limit: max + mediaOverhead}
}

func (b *boundedFile) Write(p []byte) (int, error) {
	off, err := b.f.Seek(0, io.SeekCurrent)
	if err != nil {
		return 0, err
	}
	if err := b.check(off + int64(len(p))); err != nil {
		return 0, err
	}
	return b.f.Write(p)
}

func (b *boundedFile) WriteAt(p []byte, off int64) (int, error) {
	if err := b.check(off + int64(len(p))); err != nil {
		return 0, err
	}
	return b.f.WriteAt(p, off)
}

func (b *boundedFile) Truncate(size int64) error {
	if err := b.check(size); err != nil {
		return err
	}
	return b.f.Truncate(size)
}

// check refuses an end past the limit, and everything after a refusal.
func (b *boundedFile) check(end int64) error {
	if b.refused || end > b.limit {
		b.refused = true
		return media.ErrTooLarge
	}
	return nil
}

func (b *boundedFile) Read(p []byte) (int, error)                { return b.f.Read(p) }
func (b *boundedFile) ReadAt(p []byte, off int64) (int, error)   { return b.f.ReadAt(p, off) }
func (b *boundedFile) Seek(off int64, whence int) (int64, error) { return b.f.Seek(off, whence) }
func (b *boundedFile) Stat() (os.FileInfo, error)                { return b.f.Stat() }
