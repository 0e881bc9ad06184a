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
//   - These hold for any number of callers at once, on one store or, where
//     the database is shared (PostgreSQL), on several instances: a chat's
//     deliveries are held by one claimer at a time, concurrent failures
//     are counted exactly and disable a webhook once, with one email.
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
	UpdateWebhook(ctx context.Context, workspaceID string, u chathook.WebhookUpdate) (chathook.Webhook, error)

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

	// DueEmails hands out outbox emails due at now, oldest first. Each is
	// handed to one caller: it is not due again until EmailLease has
	// passed, unless EmailFailed says when, so the notifiers of several
	// instances never send one email twice.
	DueEmails(ctx context.Context, now time.Time, limit int) ([]chathook.Email, error)
	// EmailDone marks an email sent, or logged when no SMTP server is set.
	EmailDone(ctx context.Context, id int64, at time.Time, logged bool) error
	// EmailFailed records a failed send, to try again at retryAt (zero:
	// give up).
	EmailFailed(ctx context.Context, id int64, failure string, retryAt time.Time) error

	Ping(ctx context.Context) error
	Close() error
}

// EmailLease is how long an email handed out by DueEmails is not handed
// out again: far longer than one send may take, so that only a notifier
// that died sends it a second time.
const EmailLease = 10 * time.Minute

// Finished is one attempt's outcome, and when to retry if it failed.
type Finished struct {
	chathook.Outcome
	RetryAt time.Time
}
