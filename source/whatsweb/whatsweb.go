// Package whatsweb connects WhatsApp accounts to chathook as linked
// devices (WhatsApp Web multi-device, through go.mau.fi/whatsmeow): it
// pairs them by QR or pairing code, keeps their sessions in chathook's
// database, and turns every message they send or receive into a
// chathook.Incoming stored through the store's Ingest, the path the
// ingest API takes (SPEC 5.1).
//
// Guarantees:
//   - One connection per account across every instance on the database:
//     a Manager connects only accounts whose lease it holds (see
//     store.Accounts), renews the leases every Lease/3, and drops a
//     connection before its lease can run out unrenewed.
//   - A live message (or receipt) is acknowledged to WhatsApp only once
//     stored, also when a closed connection still gets it: answered
//     false, WhatsApp sends it to the device's next connection.
//   - Live messages are stored one Ingest per event, in the order
//     WhatsApp hands them over; history sent at pairing is stored with
//     History set (never delivered), in batches of at most
//     ingest.MaxBatch.
//   - Every Incoming passes the ingest API's own validation: names and
//     text that break its limits are cut or cleaned, never the reason a
//     message is lost; one that still fails is logged and skipped.
//   - A message's files are never downloaded in the event handler: it is
//     stored with its attachments pending, and Fetcher downloads them
//     afterwards; a history message's files are not downloaded at all.
//   - Message text and device keys are never logged.
package whatsweb

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/chathook/chathook/store"
	"go.mau.fi/whatsmeow"
	wastore "go.mau.fi/whatsmeow/store"
	"go.mau.fi/whatsmeow/types"
)

// Network is WhatsApp as chathook reaches it: production is Whatsmeow
// (the real client); tests use a fake that emits whatsmeow's own event
// types.
type Network interface {
	// Client returns the connection of one device (paired or not) of the
	// sqlstore.
	Client(dev *wastore.Device) Client
}

// Client is one linked device's connection to WhatsApp.
type Client interface {
	// Connect returns once the socket is open, or fails (WhatsApp
	// unreachable). An unpaired device then gets *events.QR; a paired one
	// *events.Connected once logged in.
	Connect(ctx context.Context) error
	Disconnect()
	// Logout removes the linked device on the phone; its session is
	// deleted.
	Logout(ctx context.Context) error
	// PairPhone returns the pairing code for phone ("+N" or digits); after
	// Connect of an unpaired device.
	PairPhone(ctx context.Context, phone string) (string, error)
	// AddEventHandler registers fn for every event: *events.QR,
	// *events.PairSuccess, *events.Connected, *events.Disconnected,
	// *events.Message, *events.HistorySync, *events.LoggedOut,
	// *events.StreamReplaced, *events.GroupInfo, ... fn answers false
	// when it could not handle the event: a message it could not store
	// (or that reached a closed connection). That message is then not
	// acknowledged, and WhatsApp sends it again.
	AddEventHandler(fn func(evt any) bool)
	// GroupName returns a group's subject.
	GroupName(ctx context.Context, group types.JID) (string, error)
	// SendText sends a text message to a user or group under the given
	// message id, and returns once WhatsApp's server took it, with the
	// time it gave the message. A message sent again under the same id
	// is the same message to WhatsApp and the phones.
	SendText(ctx context.Context, to types.JID, id types.MessageID, text string) (time.Time, error)
	// Download writes the file f names to dst from its start, decrypted
	// and checked against its hashes, never whole in memory. Its errors
	// are whatsmeow's: ErrMediaDownloadFailedWith404 or ...410 when
	// WhatsApp's servers no longer have it (SendMediaRetryReceipt brings
	// it back), ErrInvalidMediaHMAC, ErrInvalidMediaEncSHA256, ... for a
	// corrupt file, or dst's own errors (media.ErrTooLarge from a dst
	// that bounds the file's size), passed on wrapped.
	Download(ctx context.Context, f MediaFile, dst whatsmeow.File) error
	// SendMediaRetryReceipt asks the phone to upload the file of a
	// message again, under a new direct path; the phone answers with
	// *events.MediaRetry (see whatsmeow.DecryptMediaRetryNotification).
	SendMediaRetryReceipt(ctx context.Context, info *types.MessageInfo, mediaKey []byte) error
}

// Config is what a Manager needs.
type Config struct {
	Store   store.Store // chathook's store
	Network Network     // nil: Whatsmeow{}, WhatsApp itself
	Owner   string      // this instance's name on account leases
	// Lease is how long an account's lease lasts (0: DefaultLease). It is
	// renewed every Lease/3; a dead holder's accounts are taken over when
	// it expires.
	Lease  time.Duration
	Queued func() // called after live messages were stored (kicks the dispatcher); may be nil
	Logger *slog.Logger
	Now    func() time.Time
}

// DefaultLease is Config.Lease when unset: a dead instance's accounts are
// taken over within a minute.
const DefaultLease = 45 * time.Second

// ErrNeedsPairing answers Reconnect for an account whose linked device is
// gone (logged out on the phone, or disconnected from chathook): only a
// new pairing brings it back.
var ErrNeedsPairing = errors.New("the linked device was removed: connect the account again with a new QR code")
