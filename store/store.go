// Package store is the contract between chathook and its database.
//
// Guarantees every implementation keeps (and the shared tests prove):
//   - Ingest writes a batch in one transaction: every message with its
//     account, chat and pending delivery, or nothing at all.
//   - A message is stored once per (account, message_id); a repeat is
//     answered Duplicate and gets no second delivery.
//   - ClaimDue never hands out a delivery while an earlier unfinished
//     delivery of the same chat is in flight or waiting for a retry, so one
//     chat's deliveries go out in the order they were ingested.
//   - A claim is a lease: a dispatcher that dies without finishing loses it
//     when it expires, and the delivery is claimed again (at-least-once).
//   - With a granularity other than none, an accepted message waits for its
//     window. FlushChats puts each waiting message into exactly one bundle
//     delivery, in the transaction that creates it: a crash mid-flush
//     neither loses nor duplicates a bundle, and two flushers running at
//     once never bundle a message twice.
package store

import (
	"context"
	"time"

	"github.com/chathook/chathook"
)

// Store is what chathook needs of its database.
type Store interface {
	// CreateWorkspace creates a workspace, its outbound webhook (enabled,
	// no URL, granularity none) and stores the SHA-256 of its API token.
	CreateWorkspace(ctx context.Context, ws chathook.Workspace, tokenHash []byte, secret string) (chathook.Workspace, error)
	// WorkspaceByToken returns the workspace whose token hashes to
	// tokenHash, or chathook.ErrUnauthorized.
	WorkspaceByToken(ctx context.Context, tokenHash []byte) (chathook.Workspace, error)

	// Ingest stores messages for one workspace, in one transaction, and
	// queues a delivery for each accepted one when the webhook has a URL.
	Ingest(ctx context.Context, workspaceID string, now time.Time, msgs []chathook.Incoming) ([]chathook.IngestResult, error)
	// UpdateChat changes a chat's names; ErrNotFound if the chat is not
	// the workspace's.
	UpdateChat(ctx context.Context, workspaceID string, chatID int64, u chathook.ChatUpdate) (chathook.Chat, error)

	Webhook(ctx context.Context, workspaceID string) (chathook.Webhook, error)
	// UpdateWebhook changes the given fields in one transaction. Enabling
	// a disabled webhook clears why it was disabled and its failure count
	// and makes every waiting delivery due at now; DiscardPending discards
	// them instead. Switching the granularity to none turns every message
	// waiting for a bundle into a delivery of its own, in ingest order.
	UpdateWebhook(ctx context.Context, workspaceID string, now time.Time, u chathook.WebhookUpdate) (chathook.Webhook, error)

	// BundleWebhooks returns every webhook that gathers bundles: one with a
	// URL and a granularity other than none, enabled or not (a disabled
	// webhook keeps gathering; its bundles wait like any delivery).
	BundleWebhooks(ctx context.Context) ([]chathook.Webhook, error)
	// PendingChats returns up to limit chat ids of a workspace, ascending
	// and greater than after, with messages waiting for a bundle that were
	// received before before.
	PendingChats(ctx context.Context, workspaceID string, before time.Time, after int64, limit int) ([]int64, error)
	// FlushChats bundles the waiting messages of the given chats received
	// before before, in one transaction, under the webhook's granularity as
	// it is then: one bundle delivery per chat and window (cut into parts
	// by split), due at now. It returns how many bundles and messages it
	// queued.
	FlushChats(ctx context.Context, workspaceID string, chatIDs []int64, before, now time.Time, split Splitter) (bundles, messages int, err error)
	// BundleMessages returns the messages of a bundle delivery in
	// timestamp order.
	BundleMessages(ctx context.Context, deliveryID int64) ([]chathook.Message, error)

	// ClaimDue leases up to limit deliveries that are due, of enabled
	// webhooks with a URL, in ingest order, until now+lease.
	ClaimDue(ctx context.Context, owner string, now time.Time, lease time.Duration, limit int) ([]chathook.Delivery, error)
	// ExtendLeases pushes the lease of the given claimed deliveries to until.
	ExtendLeases(ctx context.Context, owner string, ids []int64, until time.Time) error
	// Finish records the outcome of attempts: a success marks the delivery
	// delivered; a failure makes it due again at retryAt (zero: failed for
	// good). Either way the lease is released, the attempt is logged and
	// the webhook's consecutive failures are reset or counted. The failure
	// that reaches chathook.DisableAfter disables the webhook and queues
	// exactly one owner email, in the same transaction.
	Finish(ctx context.Context, outcomes []Finished) error
	// Release gives back leases without an attempt, so the deliveries are
	// claimable again at once.
	Release(ctx context.Context, owner string, ids []int64) error

	// Activity returns a workspace's latest deliveries that were attempted
	// or discarded, newest first.
	Activity(ctx context.Context, workspaceID string, limit int) ([]chathook.Activity, error)
	// Attempts calls fn for each log row of a workspace at or after since,
	// oldest first, reading as it goes: the log is never held in memory.
	Attempts(ctx context.Context, workspaceID string, since time.Time, fn func(chathook.Attempt) error) error
	// PruneAttempts deletes log rows older than before.
	PruneAttempts(ctx context.Context, before time.Time) (int64, error)

	// DueEmails returns outbox emails due at now, oldest first.
	DueEmails(ctx context.Context, now time.Time, limit int) ([]chathook.Email, error)
	// EmailDone marks an email sent, or logged when no SMTP server is set.
	EmailDone(ctx context.Context, id int64, at time.Time, logged bool) error
	// EmailFailed records a failed send, to try again at retryAt (zero:
	// give up).
	EmailFailed(ctx context.Context, id int64, failure string, retryAt time.Time) error

	Ping(ctx context.Context) error
	Close() error
}

// Splitter cuts a window's messages into bundles that fit one POST.
type Splitter struct {
	Size func(chathook.Message) int // bytes a message adds to a bundle
	Fits func(n, size int) bool     // whether n messages of size bytes fit
	Max  int                        // the most messages a bundle may hold
}

// FirstPart returns how many of msgs, which are in window then timestamp
// order, go into the next bundle: those of msgs[0]'s window, as many as
// fit, and always at least one.
func (s Splitter) FirstPart(msgs []chathook.Message, g chathook.Granularity) int {
	window := g.WindowStart(msgs[0].ReceivedAt)
	size := 0
	for i, m := range msgs {
		if i > 0 && !g.WindowStart(m.ReceivedAt).Equal(window) {
			return i
		}
		size += s.Size(m)
		if i > 0 && !s.Fits(i+1, size) {
			return i
		}
	}
	return len(msgs)
}

// Finished is one attempt's outcome, and when to retry if it failed.
type Finished struct {
	chathook.Outcome
	RetryAt time.Time
}
