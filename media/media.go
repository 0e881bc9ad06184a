// Package media downloads the attachments of messages from their
// sources, keeps them in a blob store, serves them through expiring
// links, and deletes them when their retention ends (SPEC 8).
//
// Guarantees:
//   - A message is acknowledged to its source once stored with its
//     attachments pending; downloads run afterwards, here, never in a
//     source's event handler. A pending attachment lives in the store
//     with a lease, so a crash loses none: another claim takes it up.
//   - A message's deliveries wait for its own attachments only (see
//     store.Media): other chats never wait for a large file.
//   - A file is typed by its bytes, never by what the sender claims, and
//     is never served as something a browser would run (HTML, SVG).
//   - A link names one attachment, is signed with that attachment's own
//     key, and expires: a guessed or altered link is unknown (404), an
//     expired one or one of a deleted file is gone (410).
package media

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/chathook/chathook"
)

// Fetcher downloads the files of one kind of account (whatsweb's linked
// devices, the Cloud API's numbers).
type Fetcher interface {
	// Fetch writes d's file to dst from its start. A file known to be
	// larger than max is not downloaded: ErrTooLarge. An error wrapped
	// by Permanent is not tried again; any other is, with backoff.
	Fetch(ctx context.Context, d chathook.Download, max int64, dst *os.File) (Fetched, error)
}

// Fetched is what a Fetcher learnt of a file besides its bytes.
type Fetched struct {
	MimeType string // as the source gives it; checked against the bytes
	FileName string // "" to keep the attachment's
	Width    int
	Height   int
	Duration int // seconds
	// Source replaces the attachment's Source when not nil: where the
	// file is now, after the phone uploaded it again.
	Source []byte
}

// ErrTooLarge is a file larger than --media-max-bytes.
var ErrTooLarge = errors.New("the file is larger than the media size limit (--media-max-bytes)")

// permanent is an error no retry will cure.
type permanent struct{ err error }

func (p permanent) Error() string { return p.err.Error() }
func (p permanent) Unwrap() error { return p.err }

// Permanent marks err as one that no retry cures: the attachment fails
// at once, with err as its error.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return permanent{err}
}

// IsPermanent reports whether err was marked by Permanent, or is
// ErrTooLarge.
func IsPermanent(err error) bool {
	var p permanent
	return errors.As(err, &p) || errors.Is(err, ErrTooLarge)
}

// LinkTTL is how long a link is valid after it is made (SPEC 8).
const LinkTTL = 24 * time.Hour

// Link returns a link to a's file, made at now, and when it expires:
// baseURL/media/<token>. The token is the attachment's id, the expiry
// (unix seconds) and an HMAC-SHA256 of both under the attachment's own
// LinkKey, so it needs no row of its own, cannot be guessed, and a
// changed id or expiry breaks it.
func Link(baseURL string, a chathook.Attachment, now time.Time) (string, time.Time) {
	expires := now.Add(LinkTTL).Truncate(time.Second).UTC()
	head := strconv.FormatInt(a.ID, 36) + "." + strconv.FormatInt(expires.Unix(), 36)
	return baseURL + "/media/" + head + "." + sign(a.LinkKey, head), expires
}

// Token is a parsed link token; Check tells whether it is the
// attachment's.
type Token struct {
	ID      int64
	Expires time.Time
	head    string
	mac     string
}

// ParseToken reads a token of Link; an error for anything that is not
// one (answered as unknown).
func ParseToken(s string) (Token, error) {
	parts := strings.Split(s, ".")
	if len(parts) != 3 {
		return Token{}, errors.New("not a media token")
	}
	id, err1 := strconv.ParseInt(parts[0], 36, 64)
	exp, err2 := strconv.ParseInt(parts[1], 36, 64)
	if err1 != nil || err2 != nil || id <= 0 {
		return Token{}, errors.New("not a media token")
	}
	return Token{ID: id, Expires: time.Unix(exp, 0).UTC(), head: parts[0] + "." + parts[1], mac: parts[2]}, nil
}

// Check reports whether t was made by Link for a.
func (t Token) Check(a chathook.Attachment) bool {
	return len(a.LinkKey) > 0 && hmac.Equal([]byte(t.mac), []byte(sign(a.LinkKey, t.head)))
}

func sign(key []byte, head string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(head))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}
