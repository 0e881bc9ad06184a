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
//   - These hold for any number of callers at once, on one store or, where
//     the database is shared (PostgreSQL), on several instances: a chat's
//     deliveries are held by one claimer at a time, concurrent failures
//     are counted exactly and disable a webhook once, with one email.
package store

import (
	"context"
	"database/sql"
	"io"
	"strings"
	"time"
	"unicode"

	"github.com/chathook/chathook"
)

// Store is what chathook needs of its database.
type Store interface {
	// CreateWorkspace creates a workspace, its outbound webhook (enabled,
	// no URL, granularity none) and its API token named "default", of
	// which it stores the SHA-256 (see Tokens). It ends first-run setup.
	CreateWorkspace(ctx context.Context, ws chathook.Workspace, tokenHash []byte, secret string) (chathook.Workspace, error)
	// Workspace returns a workspace by id, or chathook.ErrNotFound.
	Workspace(ctx context.Context, id string) (chathook.Workspace, error)

	// Ingest stores messages for one workspace, in one transaction, and
	// queues a delivery for each accepted one when the webhook has a URL.
	// It records when each account last had a message, to the minute: a
	// time less than a minute after the recorded one is not written, so
	// that concurrent requests of one account do not queue on its row.
	Ingest(ctx context.Context, workspaceID string, now time.Time, msgs []chathook.Incoming) ([]chathook.IngestResult, error)
	// UpdateChat changes a chat's names; ErrNotFound if the chat is not
	// the workspace's.
	UpdateChat(ctx context.Context, workspaceID string, chatID int64, u chathook.ChatUpdate) (chathook.Chat, error)

	// Webhook returns one endpoint of a workspace by its id
	// (chathook.Outbound or "ep_…"), or chathook.ErrNotFound: also for
	// a deleted one, or another workspace's.
	Webhook(ctx context.Context, workspaceID, id string) (chathook.Webhook, error)
	// Endpoint returns an endpoint by its key, deleted or not.
	Endpoint(ctx context.Context, key int64) (chathook.Webhook, error)
	// Webhooks returns a workspace's endpoints, outbound first, then in
	// the order they were created.
	Webhooks(ctx context.Context, workspaceID string) ([]chathook.Webhook, error)
	// CreateWebhook adds an endpoint to a workspace, with w's ID, URL,
	// Description, Events, Format, Granularity, Accounts, Enabled and
	// Secret, checked by the caller. It gets events from now on.
	// chathook.ErrLimit when the workspace has chathook.MaxEndpoints.
	CreateWebhook(ctx context.Context, workspaceID string, w chathook.Webhook, now time.Time) (chathook.Webhook, error)
	// UpdateWebhook changes the given fields of an endpoint in one
	// transaction. Enabling a disabled endpoint clears why it was
	// disabled and its failure count and makes every waiting delivery due
	// at now; DiscardPending discards them instead. Switching the
	// granularity to none turns every message waiting for a bundle into
	// a delivery of its own, in ingest order.
	UpdateWebhook(ctx context.Context, workspaceID, id string, now time.Time, u chathook.WebhookUpdate) (chathook.Webhook, error)
	// DeleteWebhook deletes an endpoint and, in the same transaction,
	// discards everything waiting for it, each logged as discarded.
	// chathook.ErrNotFound for no such endpoint; a *chathook.ConflictError
	// for chathook.Outbound, which cannot be deleted.
	DeleteWebhook(ctx context.Context, workspaceID, id string, now time.Time) error

	// BundleWebhooks returns every endpoint that gathers bundles: one with
	// a URL and a granularity other than none, enabled or not (a disabled
	// endpoint keeps gathering; its bundles wait like any delivery).
	BundleWebhooks(ctx context.Context) ([]chathook.Webhook, error)
	// PendingChats returns up to limit chat ids, ascending and greater
	// than after, with messages waiting for a bundle of the endpoint
	// whose Key is endpoint that were received before before.
	PendingChats(ctx context.Context, endpoint int64, before time.Time, after int64, limit int) ([]int64, error)
	// FlushChats bundles the endpoint's waiting messages of the given
	// chats received before before, in one transaction, under its
	// granularity as it is then: one bundle delivery per chat and window
	// (cut into parts by split), due at now. It returns how many bundles
	// and messages it queued.
	FlushChats(ctx context.Context, endpoint int64, chatIDs []int64, before, now time.Time, split Splitter) (bundles, messages int, err error)
	// BundleMessages returns the messages of a bundle delivery in
	// timestamp order.
	BundleMessages(ctx context.Context, deliveryID int64) ([]chathook.Message, error)

	// ClaimDue leases up to limit deliveries that are due, of enabled
	// endpoints with a URL, in ingest order per chat and endpoint (a
	// lane), until now+lease. The endpoints (Keys) in skip are passed
	// over: the dispatcher names those it holds enough of already, so a
	// claim is not filled with a slow endpoint's deliveries while
	// another's wait.
	ClaimDue(ctx context.Context, owner string, now time.Time, lease time.Duration, limit int, skip ...int64) ([]chathook.Delivery, error)
	// ExtendLeases pushes the lease of the given claimed deliveries to until.
	ExtendLeases(ctx context.Context, owner string, ids []int64, until time.Time) error
	// Finish records the outcome of attempts: a success marks the delivery
	// delivered; a failure makes it due again at retryAt (zero: failed for
	// good). Either way the lease is released, the attempt is logged and
	// the endpoint's consecutive failures are reset or counted. The
	// failure that reaches chathook.DisableAfter disables the endpoint and
	// queues exactly one owner email naming it, in the same transaction.
	Finish(ctx context.Context, outcomes []Finished) error
	// Release gives back leases without an attempt, so the deliveries are
	// claimable again at once.
	Release(ctx context.Context, owner string, ids []int64) error

	// Activity returns an endpoint's latest deliveries that were attempted
	// or discarded, newest first.
	Activity(ctx context.Context, workspaceID, endpointID string, limit int) ([]chathook.Activity, error)
	// Attempts returns up to limit log rows of an endpoint, oldest first
	// (by At, then ID): those at or after since and, when after is set,
	// after that position. Each call is one short read that holds no
	// connection (nor, on SQLite, a snapshot) once it returns, so a
	// download of a long log pages through it (see EachAttempt) and a
	// client that stops reading never holds the database. Log reads use
	// few connections of their own, so they never make the reads that
	// authenticate requests wait.
	Attempts(ctx context.Context, workspaceID, endpointID string, since time.Time, after Position, limit int) ([]chathook.Attempt, error)
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

	// Pending counts an endpoint's deliveries that wait to be sent (not
	// yet delivered, failed or discarded), in flight or not.
	Pending(ctx context.Context, workspaceID, endpointID string) (int, error)

	Users
	Pages
	Accounts
	Metrics
	Tokens
	FirstRun
	Recovery
	Replies
	Media
	Facts

	Ping(ctx context.Context) error
	Close() error
}

// RunsPerClaim is how many chats' runs a full claim is cut into at the
// least: with more chats waiting than that, each gives limit/RunsPerClaim
// deliveries, not one. A chat sends one delivery after another, so a run
// of several saves each of them a claim and a wait for the outcome before
// it; 64 is what the dispatcher sends at once.
const RunsPerClaim = 64

// RunShare is the most deliveries one of chats claimable chats gives a
// claim of limit: an even share, and at least limit/RunsPerClaim.
func RunShare(limit, chats int) int {
	return max((limit+chats-1)/chats, limit/RunsPerClaim)
}

// RunShareFrom is how many claimable chats decide RunShare: with that
// many or more, each gives RunShare(limit, limit).
func RunShareFrom(limit int) int {
	if least := limit / RunsPerClaim; least > 1 {
		return (limit + least - 1) / least
	}
	return limit
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

// Users are the people who sign in to the web UI, and their sessions.
// Only hashes are stored: a password's slow hash, a session token's
// SHA-256. Emails are unique across all workspaces and matched without
// regard to ASCII case.
type Users interface {
	// CreateUser adds a user to a workspace: chathook.ErrConflict if the
	// email is taken, chathook.ErrNotFound if the workspace is not there.
	CreateUser(ctx context.Context, u chathook.User, passwordHash []byte) (chathook.User, error)
	// UserByEmail returns a user and its password hash, or ErrNotFound.
	UserByEmail(ctx context.Context, email string) (chathook.User, []byte, error)
	// SetPassword replaces a user's password hash and ends every session
	// of the user, in one transaction; ErrNotFound if there is no such user.
	SetPassword(ctx context.Context, userID int64, passwordHash []byte) error

	// CreateSession starts a session for a user until expires. It also
	// deletes sessions that expired before created, so the table does not
	// grow without end.
	CreateSession(ctx context.Context, tokenHash []byte, userID int64, created, expires time.Time) error
	// Session returns the session whose token hashes to tokenHash, with its
	// user and workspace, or chathook.ErrUnauthorized when there is none or
	// it expired at or before now.
	Session(ctx context.Context, tokenHash []byte, now time.Time) (chathook.Session, error)
	// DeleteSession ends a session; ending one that is not there is no error.
	DeleteSession(ctx context.Context, tokenHash []byte) error

	// FailSignIn records one failed sign-in at f.At under each of f.Keys,
	// in one transaction, and keeps the table bounded: failures at or
	// before f.Forget are deleted, and of the rest at most f.Keep, the
	// newest, are kept. A flood of new keys so evicts the oldest failures;
	// it never leaves a new failure uncounted. Failures are shared by every
	// instance on the database.
	FailSignIn(ctx context.Context, f SignInFailure) error
	// SignInFailures returns, for each of keys, the times of its failures
	// after after, newest first, at most limit of them.
	SignInFailures(ctx context.Context, keys [][]byte, after time.Time, limit int) ([][]time.Time, error)
	// ForgetSignInFailures deletes key's failures; there being none is no
	// error.
	ForgetSignInFailures(ctx context.Context, key []byte) error

	// Teammates returns the users of a workspace, oldest first.
	Teammates(ctx context.Context, workspaceID string) ([]chathook.User, error)
	// DeleteUser removes a user of the workspace and, in the same
	// transaction, every session of the user (so each of them ends at
	// once, on every instance), its reset links and its read marks.
	// chathook.ErrNotFound when the user is not the workspace's.
	DeleteUser(ctx context.Context, workspaceID string, userID int64) error
	// CreateTeamLink stores a link by the SHA-256 of its token. It
	// replaces every older link of its kind for the same person (an
	// invitation of the same email, a reset of the same user), so only
	// the newest one works, and it deletes links that expired before
	// l.CreatedAt. An invitation of an email that already has a user is a
	// *chathook.ConflictError on field "email"; a reset of a user that is
	// not the workspace's is chathook.ErrNotFound. With l.MailLink set, it
	// queues the email of the link to l.Email in the same transaction; the
	// outbox keeps the link only until the email is sent (EmailDone).
	CreateTeamLink(ctx context.Context, tokenHash []byte, l chathook.TeamLink) (chathook.TeamLink, error)
	// TeamLink returns the link whose token hashes to tokenHash, or
	// chathook.ErrNotFound if there is none or it expired at or before
	// now.
	TeamLink(ctx context.Context, tokenHash []byte, now time.Time) (chathook.TeamLink, error)
	// UseTeamLink uses a link once, in one transaction: an invitation
	// creates the user of its email in its workspace with name and
	// passwordHash (chathook.ErrConflict if the email was taken since);
	// a reset sets the user's password (and name, unless name is "") and
	// ends every session of the user, as SetPassword does. Either way the link is deleted, so of
	// two uses at once exactly one succeeds. It returns the user;
	// chathook.ErrNotFound when the link is not there or expired at or
	// before now.
	UseTeamLink(ctx context.Context, tokenHash []byte, now time.Time, name string, passwordHash []byte) (chathook.User, error)
}

// SignInFailure is one failed sign-in, counted under each of Keys (which
// the caller derives, e.g. a hash of the client's address): see
// Users.FailSignIn.
type SignInFailure struct {
	Keys   [][]byte
	At     time.Time
	Forget time.Time // failures at or before it no longer count
	Keep   int       // the most failures kept in all
}

// Pages are the reads of the web UI's chat pages. Every one is scoped to
// a workspace: Chat and MessageByUUID answer chathook.ErrNotFound for a
// chat or message of another workspace, as if it did not exist, and Chats
// and Messages never return one. Each reads at most a page: a chat of 100,000
// messages costs no more to show than one of ten.
type Pages interface {
	// Chats returns up to q.Limit of a workspace's chats in order of
	// activity, newest first: see ChatQuery. Each comes with its latest
	// message, its account's phone and, for q.UserID, its unread count.
	Chats(ctx context.Context, workspaceID string, q ChatQuery) ([]chathook.ChatSummary, error)
	// MarkRead records that a user of the workspace has seen a chat up to
	// and including message messageID: the chat's unread count for the
	// user then counts only received messages stored after it. Marking
	// the chat's latest message (timeline order) marks all it has, also
	// those stored after it with an older time (history, late webhooks).
	// A mark never moves back (an older messageID changes nothing).
	// chathook.ErrNotFound when the chat or the user is not the
	// workspace's, or the message not the chat's (an id from elsewhere
	// could mark the chat read beyond what the user saw).
	MarkRead(ctx context.Context, workspaceID string, userID, chatID, messageID int64) error
	// Chat returns one chat of the workspace.
	Chat(ctx context.Context, workspaceID string, chatID int64) (chathook.Chat, error)
	// Messages returns up to p.Limit messages of a chat in timeline order
	// (Timestamp, then ID), oldest first: those just before p.Before, or
	// just after p.After, or, when neither is set, the latest.
	Messages(ctx context.Context, workspaceID string, chatID int64, p Page) ([]chathook.Message, error)
	// MessageByUUID returns the message a permalink names.
	MessageByUUID(ctx context.Context, workspaceID, uuid string) (chathook.Message, error)
}

// ChatQuery asks for one page of the chat list (see Pages.Chats).
//
// Chats are ordered by activity: by their latest message in timeline
// order (Timestamp, then ID), newest first. A chat's place in the list is
// so ActivityOf(summary), unique in the workspace, as every chat has a
// message (a chat is only ever made by storing one). A message from
// history, older than the chat's latest, never moves a chat up.
//
// Search, when not blank, keeps the chats that match it, still in
// activity order. Its words are the runs of letters and digits in it,
// compared without regard to case. A chat matches when
//   - every word begins a word of its FullName, or
//   - the search is a phone number (only digits, spaces, "+", "-", "(",
//     ")", ".", at least 3 digits) whose digits are in its Phone's, or
//   - every word begins a word of the text of one of its messages (not
//     deleted ones).
//
// ChatSummary.Match is the newest message whose text matched, also when
// the name or phone matched too (it shows why the chat was found); zero
// when no text did.
type ChatQuery struct {
	AccountID int64  // only this account's chats; 0: every account's
	Search    string // "" or blanks: every chat
	UserID    int64  // count unread messages for this user; 0: none counted
	// At most one of Before and After is set; neither includes its own
	// position. Before: the chats after it in the list (less recent).
	// After: the chats just before it in the list (more recent), the
	// ones nearest to it, still returned newest first.
	Before, After Position
	Limit         int
}

// ActivityOf is a chat's place in the chat list: its latest message's
// position in timeline order.
func ActivityOf(c chathook.ChatSummary) Position { return Of(c.Last) }

// SearchPhone returns the digits of a chat search that is a phone number
// as ChatQuery says (only digits, blanks and "+-().", at least 3 digits),
// else "": the one rule both stores match phones by.
func SearchPhone(search string) string {
	var digits strings.Builder
	for _, r := range search {
		switch {
		case r >= '0' && r <= '9':
			digits.WriteRune(r)
		case unicode.IsSpace(r) || strings.ContainsRune("+-().", r):
		default:
			return ""
		}
	}
	if digits.Len() < 3 {
		return ""
	}
	return digits.String()
}

// UnreadCap is the most unread messages Pages.Chats counts in a chat: the
// list shows "99+" beyond 99, and counting stops being free.
const UnreadCap = 100

// Position is a row's place in an order by time, then id: a message's in
// its chat's timeline (At is its Timestamp), an attempt's in the detailed
// log (At is when it was made).
type Position struct {
	At time.Time
	ID int64
}

// Of returns the position of m.
func Of(m chathook.Message) Position { return Position{At: m.Timestamp, ID: m.ID} }

// IsZero reports whether p is unset.
func (p Position) IsZero() bool { return p.ID == 0 }

// Page asks for part of a chat's timeline; see Pages.Messages. At most
// one of Before and After is set; neither includes its own position.
type Page struct {
	Before Position
	After  Position
	Limit  int
}

// EmailLease is how long an email handed out by DueEmails is not handed
// out again: far longer than one send may take, so that only a notifier
// that died sends it a second time.
const EmailLease = 10 * time.Minute

// HandOff is what a store with one writer (SQLite) offers besides Store:
// it leases a message's new delivery to a local dispatcher in the
// transaction that stores the message, when nothing else of its chat is
// pending, and hands it over once committed, so a message that finds its
// chat idle never waits for, nor costs, a claim. (With several writers at
// once, as on PostgreSQL, two transactions could each find a chat idle
// and send its messages side by side, so there only claims lease.)
type HandOff interface {
	// HandTo starts handing to r until stop is called. One receiver at a
	// time: a second HandTo replaces the first.
	HandTo(r Receiver) (stop func())
}

// Receiver is a dispatcher that takes deliveries as they are stored.
type Receiver struct {
	Owner string        // the leases' owner, as ClaimDue's
	Lease time.Duration // as ClaimDue's
	// Room is how many lanes' deliveries of an endpoint (by Key) the
	// receiver takes now (0: none). It is asked inside the writer's
	// transaction: it must be quick and never wait for the store.
	Room func(endpoint int64) int
	// Take is given the deliveries leased to Owner, loaded as ClaimDue
	// returns them, once their transaction committed and before the
	// ingest calls of that transaction return; began is when the
	// transaction read their webhooks enabled. It may use the store, but
	// should be quick: those calls wait for it.
	Take func(leased []chathook.Delivery, began time.Time)
}

// Finished is one attempt's outcome, and when to retry if it failed.
type Finished struct {
	chathook.Outcome
	RetryAt time.Time
	// Overlapped marks a failure of an attempt made while an earlier
	// failure of its endpoint was already known: the same outage, not
	// counted toward chathook.DisableAfter (it is still logged, still
	// retried, and still sets last_error). The zero value counts, so one
	// outage with many attempts in flight counts once, not once each.
	Overlapped bool
}

// LogFrom is where a page of the log asked for with since and after
// starts: rows after the returned position. Ids start at 1, so (since, 0)
// is just before since's first row; an after at or past it wins.
func LogFrom(since time.Time, after Position) Position {
	if !after.IsZero() && !after.At.Before(since) {
		return after
	}
	return Position{At: since}
}

// LogPage is how many log rows EachAttempt reads at a time: big enough
// that paging costs little, small enough (about 100 KB) that a page is
// soon read and soon written.
const LogPage = 500

// EachAttempt calls fn for each log row of an endpoint at or after since,
// oldest first, a page of LogPage rows at a time: fn runs between reads,
// never while a connection is held, and the log is never in memory whole.
func EachAttempt(ctx context.Context, st Store, workspaceID, endpointID string, since time.Time, fn func(chathook.Attempt) error) error {
	var after Position
	for {
		page, err := st.Attempts(ctx, workspaceID, endpointID, since, after, LogPage)
		if err != nil {
			return err
		}
		for _, a := range page {
			if err := fn(a); err != nil {
				return err
			}
		}
		if len(page) < LogPage {
			return nil
		}
		last := page[len(page)-1]
		after = Position{At: last.At, ID: last.ID}
	}
}

// Accounts are the WhatsApp accounts linked to workspaces by QR code
// (chathook.KindWeb), their pairings and the leases by which one instance
// at a time holds each one's connection. Two connections of one linked
// device make WhatsApp drop both, so a lease is exclusive across every
// instance on the database.
type Accounts interface {
	// LinkAccount records a newly paired device: it creates, or takes
	// over, the workspace's account with a.Phone as a KindWeb account with
	// a.JID, a.FullName and a.Email, in state connected, leased to owner
	// until leaseUntil (the instance that paired it holds its connection).
	// A Cloud API number taken over loses its Meta credentials.
	// Chats and messages an account of that phone already has stay its.
	// Endpoints that take whatsapp:account:connected are told, in the
	// same transaction, at a.CreatedAt (zero: now).
	LinkAccount(ctx context.Context, workspaceID string, a chathook.Account, owner string, leaseUntil time.Time) (chathook.Account, error)
	// Accounts returns a workspace's KindWeb and KindCloudAPI accounts,
	// oldest first. Accounts the ingest API created are not listed: they
	// are a program's, not a connection chathook holds.
	Accounts(ctx context.Context, workspaceID string) ([]chathook.Account, error)
	// Account returns one account of the workspace, of any kind, or
	// chathook.ErrNotFound.
	Account(ctx context.Context, workspaceID string, id int64) (chathook.Account, error)
	// SetAccountState records a KindWeb or KindCloudAPI account's state
	// at now. Moving to chathook.AccountLoggedOut from another state
	// queues exactly one "account_logged_out" owner email, in the same
	// transaction; a state that does not want a connection also releases
	// the account's lease. A Cloud API number moved to
	// chathook.AccountDisconnected loses its app secret, verify token and
	// access token in the same write: a removed number's signatures are
	// refused at once, on every instance, and nothing is sent through it.
	// A move to connected, or from connected to logged_out or replaced,
	// queues the account event it makes (tables.Announcement) for the
	// endpoints that take it, in the same transaction.
	SetAccountState(ctx context.Context, accountID int64, state chathook.AccountState, now time.Time) (chathook.Account, error)
	// AnnounceUnreachable queues whatsapp:account:disconnected (SPEC 7)
	// for every account that was announced connected and has been
	// reconnecting for tables.Unreachable at now, once per such spell;
	// SetAccountState and LinkAccount queue the other account events, in
	// their transactions. It returns how many accounts it announced.
	AnnounceUnreachable(ctx context.Context, now time.Time) (int, error)
	// BanAccount records that WhatsApp banned a KindWeb account until
	// until: state chathook.AccountBanned with StateUntil, its lease
	// released, one "account_banned" owner email (Reason: until, RFC
	// 3339) and, if it was announced connected, whatsapp:account:
	// disconnected with reason "banned until <until>", in one
	// transaction. A repeat for a banned account only moves until. Only
	// an account that wants a connection is banned: one disconnecting
	// (a teammate asked; a banned device cannot be logged out) becomes
	// disconnected, and one at rest (logged out, disconnected, ...) is
	// left as it is, so that the ban's end does not connect it again.
	// SetAccountState to chathook.AccountOutdated likewise queues one
	// "account_outdated" email and the disconnected event.
	BanAccount(ctx context.Context, accountID int64, until, now time.Time) (chathook.Account, error)
	// ClaimAccounts gives owner the lease, until until, of up to limit
	// KindWeb accounts whose state wants a connection and whose lease is
	// free, expired at now, or owner's already (those are renewed). A
	// chathook.AccountBanned account whose StateUntil is at or before now
	// is claimed too, moved to connecting in the same write. It
	// returns every account owner holds afterwards: one it held and is
	// not returned was taken over, and its connection must be closed.
	ClaimAccounts(ctx context.Context, owner string, now, until time.Time, limit int) ([]chathook.Account, error)
	// ReleaseAccounts gives back owner's leases of ids, so that another
	// instance may claim them at once.
	ReleaseAccounts(ctx context.Context, owner string, ids []int64) error

	// AddCloudAPINumber registers a Cloud API number: the workspace's
	// account of a.Phone becomes a KindCloudAPI account in state
	// connecting, with a.PhoneNumberID, a.FullName, a.Email,
	// a.VerifyToken, appSecret and accessToken ("": none, the number
	// can receive but not send), created at now. An account of that
	// phone that the ingest API created, or that was disconnected or
	// logged out, is taken over in place (its chats stay its); one still
	// connected by QR code, or a Cloud API number not removed with the
	// same phone or phone number id, is a *chathook.ConflictError naming
	// display_phone_number or phone_number_id.
	AddCloudAPINumber(ctx context.Context, workspaceID string, a chathook.Account, appSecret, accessToken string, now time.Time) (chathook.Account, error)
	// CloudAPINumbers returns the workspace's Cloud API numbers that are
	// not disconnected, with their app secrets and access tokens, oldest
	// first: what checks the signature of Meta's webhook POSTs.
	CloudAPINumbers(ctx context.Context, workspaceID string) ([]chathook.CloudAPINumber, error)
	// SetAccessToken sets or replaces the access token of a Cloud API
	// number of the workspace that is not disconnected, and returns the
	// number; chathook.ErrNotFound for any other id (another
	// workspace's, another kind, removed). The token is the caller's to
	// validate; "" unsets it.
	SetAccessToken(ctx context.Context, workspaceID string, accountID int64, token string) (chathook.Account, error)

	// SavePairing creates or updates a pairing.
	SavePairing(ctx context.Context, p chathook.Pairing) error
	// Pairing returns a pairing of the workspace, or chathook.ErrNotFound.
	Pairing(ctx context.Context, workspaceID, id string) (chathook.Pairing, error)

	// SessionDB is the database/sql handle and dialect ("sqlite3" or
	// "postgres") on which whatsmeow's sqlstore keeps the linked devices'
	// sessions, in its own whatsmeow_* tables of the same database. Not
	// closed by the caller: Close closes it.
	SessionDB() (*sql.DB, string)
}

// Media is what attachments need of the store (SPEC 8): their downloads,
// their links, and their retention. An attachment in
// chathook.MediaPending holds its message's deliveries (those of
// event-format endpoints; seed-format endpoints never get a message with
// attachments): Ingest queues them due at HeldDue, which no claim
// reaches and no flush or enable moves, and the FinishDownload that
// settles a message's last pending attachment makes them due, in its
// transaction. A lane's later deliveries wait behind a held one, so
// order per chat holds; other chats never wait for it.
type Media interface {
	// ClaimDownloads leases up to limit pending attachments due at now,
	// soonest due first, until now+lease, and counts the attempt: of
	// Cloud API numbers, of QR accounts (chathook.KindWeb) whose lease
	// owner is owner, as only the instance connected to an account can
	// download its files, and of QR accounts no instance holds (to fail
	// them). maxSize, when not 0, passes over files declared larger: a
	// downloader keeps a slot for small files that way.
	ClaimDownloads(ctx context.Context, owner string, now time.Time, lease time.Duration, limit int, maxSize int64) ([]chathook.Download, error)
	// FinishDownload records what became of a download owner claimed: a
	// holds its new State (MediaStored with Blob, MimeType, Size, SHA256
	// and the rest of what was learnt; MediaFailed with Error; or
	// MediaPending, to be tried again at retryAt, with Error saying why
	// it was not this time) and, when not nil, its new Source. When no
	// attachment of its message is pending any more, the message's held
	// deliveries become due at now. A download whose lease was lost is
	// not recorded (false), and its blob is the caller's to delete.
	FinishDownload(ctx context.Context, owner string, a chathook.Attachment, now, retryAt time.Time) (bool, error)
	// MediaFile returns an attachment by id with its workspace's id, for
	// its links; chathook.ErrNotFound if there is none.
	MediaFile(ctx context.Context, id int64) (chathook.Attachment, string, error)
	// ExpireMedia marks up to limit files stored before before as
	// chathook.MediaDeleted, and returns their blobs for the caller to
	// delete: a crash before they are deleted leaves orphans, which
	// DeleteOrphanBlobs finds.
	ExpireMedia(ctx context.Context, before time.Time, limit int) ([]string, error)
	// Blobs is the store's own blob store, in its database.
	Blobs() Blobs
}

// HeldDue is the due time, in unix milliseconds, of a delivery held for
// its message's attachments (see Media): later than any claim looks.
const HeldDue int64 = 1 << 62

// Blobs keeps files, chunk by chunk, so that no file is ever whole in
// memory. The store's own keeps them in its database (every instance
// on a shared PostgreSQL serves every file); an object store may take
// its place.
type Blobs interface {
	// Put stores r's bytes, up to EOF, and returns the new blob's
	// reference and size. A Put cut off by an error or a crash leaves no
	// blob that DeleteOrphans does not remove.
	Put(ctx context.Context, r io.Reader) (ref string, size int64, err error)
	// Open reads a blob from its start; chathook.ErrNotFound if it is
	// gone.
	Open(ctx context.Context, ref string) (Blob, error)
	// Delete removes a blob; deleting one that is gone is no error.
	Delete(ctx context.Context, ref string) error
	// DeleteOrphans removes blobs begun before before that no attachment
	// names, and returns how many it removed.
	DeleteOrphans(ctx context.Context, before time.Time) (int, error)
}

// Blob is an open blob: read and seek (for HTTP range requests), one
// chunk in memory at a time.
type Blob interface {
	io.ReadSeekCloser
	Size() int64
}
