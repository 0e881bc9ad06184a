package whatsweb

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/media"
	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/proto/waMmsRetry"
	"go.mau.fi/whatsmeow/types/events"
)

// DefaultMediaRetryWait is how long a download waits for the phone to
// upload a file again after a media retry receipt: a phone that is
// offline answers later, and the download is tried again then.
const DefaultMediaRetryWait = time.Minute

// Errors of a QR account's download that a person reads on the
// attachment.
var (
	ErrNotHeld          = errors.New("the account is not connected on this chathook instance")
	ErrMediaGoneOnPhone = errors.New("expired at WhatsApp: the phone no longer has the file")
	ErrMediaCorrupt     = errors.New("the file is corrupt or cannot be decrypted")
	ErrNoMediaFile      = errors.New("the attachment has no WhatsApp file reference")
)

// Fetcher downloads the files of the QR accounts this Manager holds
// (media.Fetcher), through their live connections:
//   - an account this instance does not hold, or holds disconnected,
//     is a retryable error (the store hands a QR account's downloads to
//     the instance whose lease it is);
//   - a file whose declared length is over max is not downloaded, and
//     a download stops with media.ErrTooLarge as soon as it passes max
//     (plus WhatsApp's padding and MAC): dst never holds more, whatever
//     length the sender declared;
//   - a file WhatsApp's servers dropped (404, 410) is asked of the phone
//     again with a media retry receipt, and downloaded from the new
//     path it answers, which Fetched.Source then holds;
//   - a corrupt or undecryptable file, and one the phone no longer has,
//     are permanent errors.
func (m *Manager) Fetcher() media.Fetcher { return fetcher{m} }

type fetcher struct{ m *Manager }

func (f fetcher) Fetch(ctx context.Context, d chathook.Download, max int64, dst *os.File) (media.Fetched, error) {
	var mf MediaFile
	if err := json.Unmarshal(d.Source, &mf); err != nil || mf.DirectPath == "" || len(mf.MediaKey) == 0 {
		return media.Fetched{}, media.Permanent(ErrNoMediaFile)
	}
	if mf.FileLength > max {
		return media.Fetched{}, media.ErrTooLarge
	}
	c := f.m.online(d.Account.ID)
	if c == nil {
		return media.Fetched{}, fmt.Errorf("whatsweb: account %d: %w", d.Account.ID, ErrNotHeld)
	}
	out := media.Fetched{MimeType: d.MimeType, Width: d.Width, Height: d.Height, Duration: d.DurationS}
	err := c.download(ctx, mf, dst, max)
	if errors.Is(err, whatsmeow.ErrMediaDownloadFailedWith404) || errors.Is(err, whatsmeow.ErrMediaDownloadFailedWith410) {
		if mf, err = c.reupload(ctx, mf, f.m.mediaRetryWait); err != nil {
			return media.Fetched{}, err
		}
		out.Source, _ = json.Marshal(mf) // plain fields: never fails
		err = c.download(ctx, mf, dst, max)
	}
	if err != nil {
		return media.Fetched{}, downloadError(err)
	}
	// The encrypted file fit in max plus the overhead; its plain bytes
	// must fit in max.
	if st, err := dst.Stat(); err != nil {
		return media.Fetched{}, err
	} else if st.Size() > max {
		return media.Fetched{}, media.ErrTooLarge
	}
	return out, nil
}

// downloadError marks whatsmeow's errors of a corrupt file permanent,
// and passes on a download refused for its size as media.ErrTooLarge.
func downloadError(err error) error {
	if errors.Is(err, media.ErrTooLarge) {
		return media.ErrTooLarge
	}
	for _, corrupt := range []error{whatsmeow.ErrInvalidMediaHMAC, whatsmeow.ErrInvalidMediaEncSHA256, whatsmeow.ErrInvalidMediaSHA256,
		whatsmeow.ErrFileLengthMismatch, whatsmeow.ErrTooShortFile, whatsmeow.ErrUnknownMediaType} {
		if errors.Is(err, corrupt) {
			return media.Permanent(fmt.Errorf("%w (%v)", ErrMediaCorrupt, err))
		}
	}
	// Bad padding after a good HMAC: whatsmeow wraps cbcutil's error
	// in text only.
	if strings.Contains(err.Error(), "failed to decrypt file") {
		return media.Permanent(fmt.Errorf("%w (%v)", ErrMediaCorrupt, err))
	}
	return fmt.Errorf("whatsweb: download: %w", err)
}

// online returns the connection of an account this instance holds and
// has logged in, or nil.
func (m *Manager) online(id int64) *conn {
	m.mu.Lock()
	c := m.conns[id]
	m.mu.Unlock()
	if c == nil || !c.isOnline() {
		return nil
	}
	return c
}

// download writes mf's file to dst, which it empties first, and stops
// with media.ErrTooLarge once dst would hold more than max plus
// mediaOverhead bytes.
func (c *conn) download(ctx context.Context, mf MediaFile, dst *os.File, max int64) error {
	if err := dst.Truncate(0); err != nil {
		return err
	}
	if _, err := dst.Seek(0, io.SeekStart); err != nil {
		return err
	}
	c.mu.Lock()
	cli := c.cli
	c.mu.Unlock()
	return cli.Download(ctx, mf, newBoundedFile(dst, max))
}

// reupload asks the phone to upload mf's file again and waits at most
// wait for its answer: mf with the new direct path.
func (c *conn) reupload(ctx context.Context, mf MediaFile, wait time.Duration) (MediaFile, error) {
	info, err := mf.Info()
	if err != nil || mf.ID == "" {
		return mf, media.Permanent(fmt.Errorf("%w: the message's key is missing", ErrNoMediaFile))
	}
	answer := make(chan *events.MediaRetry, 1)
	c.mu.Lock()
	if c.retries == nil {
		c.retries = map[string]chan *events.MediaRetry{}
	}
	c.retries[mf.ID] = answer // a second wait for one message replaces the first, which times out
	cli := c.cli
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		if c.retries[mf.ID] == answer {
			delete(c.retries, mf.ID)
		}
		c.mu.Unlock()
	}()

	if err := cli.SendMediaRetryReceipt(ctx, &info, mf.MediaKey); err != nil {
		return mf, fmt.Errorf("whatsweb: ask the phone for the file again: %w", err)
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	var evt *events.MediaRetry
	select {
	case evt = <-answer:
	case <-timer.C:
		return mf, fmt.Errorf("whatsweb: the phone did not upload the file again within %v (is it online?)", wait)
	case <-ctx.Done():
		return mf, ctx.Err()
	}

	notif, err := whatsmeow.DecryptMediaRetryNotification(evt, mf.MediaKey)
	switch {
	case errors.Is(err, whatsmeow.ErrMediaNotAvailableOnPhone):
		return mf, media.Permanent(ErrMediaGoneOnPhone)
	case errors.Is(err, whatsmeow.ErrUnknownMediaRetryError):
		return mf, fmt.Errorf("whatsweb: the phone could not upload the file again: %w", err)
	case err != nil:
		return mf, media.Permanent(fmt.Errorf("%w: the phone's answer: %v", ErrMediaCorrupt, err))
	}
	switch notif.GetResult() {
	case waMmsRetry.MediaRetryNotification_SUCCESS:
	case waMmsRetry.MediaRetryNotification_NOT_FOUND:
		return mf, media.Permanent(ErrMediaGoneOnPhone)
	case waMmsRetry.MediaRetryNotification_DECRYPTION_ERROR:
		return mf, media.Permanent(fmt.Errorf("%w: the phone could not read chathook's request", ErrMediaCorrupt))
	default:
		return mf, fmt.Errorf("whatsweb: the phone could not upload the file again (%v)", notif.GetResult())
	}
	if notif.GetDirectPath() == "" {
		return mf, fmt.Errorf("whatsweb: the phone uploaded the file again but gave no path")
	}
	mf.DirectPath = notif.GetDirectPath()
	return mf, nil
}

// mediaRetried hands the phone's answer to a media retry receipt to the
// download waiting for it; one nobody waits for (it came too late) is
// dropped.
func (c *conn) mediaRetried(evt *events.MediaRetry) {
	c.mu.Lock()
	answer := c.retries[evt.MessageID]
	c.mu.Unlock()
	if answer != nil {
		select {
		case answer <- evt:
		default:
		}
	}
}
