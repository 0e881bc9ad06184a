package store

import (
	"context"
	"errors"
	"time"

	"github.com/chathook/chathook"
)

// Replies are the messages sent to chats from chathook (chathook.Reply):
// committed first, then sent by one instance at a time, each attempt
// leased like a delivery.
//
// Guarantees every implementation keeps:
//   - QueueReply commits the reply and its message in the chat's timeline
//     together, or neither. The message is not delivered to the outbound
//     webhook until ReplySent.
//   - A reply is held by one claimer at a time: ClaimReplies hands out a
//     reply only while no other lease on it runs.
//   - ReplySent marks the reply sent and queues its message's delivery (or
//     its bundle's wait) in one transaction, after every message of the
//     chat stored before it, so the chat's order holds on the wire. It is
//     idempotent: a second call for a sent reply changes nothing.
type Replies interface {
	// QueueReply stores r (ID, WorkspaceID, ChatID, WAID, Text, SentBy
	// set), queued and due at now: its message, direction sent, joins the
	// chat's timeline with r.SentBy as its sender, r.WAID (or r.ID when
	// "") as its message_id and r.ID as its UUID. chathook.ErrNotFound if
	// the chat is not the workspace's. It returns r as stored, its
	// AccountID set.
	QueueReply(ctx context.Context, r chathook.Reply, now time.Time) (chathook.Reply, error)
	// Reply returns a reply of a chat of the workspace, or
	// chathook.ErrNotFound.
	Reply(ctx context.Context, workspaceID string, chatID int64, id string) (chathook.Reply, error)
	// ClaimReplies leases to owner, until c.Until, up to c.Limit queued
	// replies due at c.Now whose lease is free or expired, oldest first:
	// those of Cloud API numbers, of the QR-linked accounts in c.Web (the
	// ones owner has online), and of any account that cannot send (its
	// state wants no connection, or it is the ingest API's), or queued
	// before c.Stale, for owner to give up; never those of the accounts
	// in c.Skip. A reply whose earlier attempt's end was never recorded
	// comes back InDoubt.
	ClaimReplies(ctx context.Context, owner string, c ReplyClaim) ([]chathook.Outgoing, error)
	// ReplySent records that WhatsApp took owner's claimed reply at at,
	// as waID: the reply is sent, its message takes waID as message_id
	// and at as its timestamp, and is queued for the outbound webhook as
	// an ingested message would be. It reports whether a delivery became
	// due (the dispatcher may start). A reply not claimed by owner, or
	// sent already, is left as it is and answered ErrNotOurs.
	ReplySent(ctx context.Context, owner, id, waID string, at time.Time) (queued bool, err error)
	// ReplyFailed records an attempt of owner's claimed reply that did not
	// get through: queued again, due at retryAt, with reason as its
	// Error; failed for good when retryAt is zero. The lease is released.
	// A reply not claimed by owner (or no longer queued) is left as it
	// is and answered ErrNotOurs.
	ReplyFailed(ctx context.Context, owner, id, reason string, retryAt, at time.Time) error
	// ReplyUncertain gives up owner's claimed reply whose attempt's end
	// is unknown (see chathook.ReplyUncertain): state uncertain with
	// reason as its Error, lease released, no message:status queued. A
	// reply not claimed by owner (or no longer queued) is left as it is
	// and answered ErrNotOurs.
	ReplyUncertain(ctx context.Context, owner, id, reason string, at time.Time) error
	// ReplyLater hands owner's claimed reply back unattempted, queued and
	// due at due (its account's turn to send comes then): no attempt is
	// counted, its Error is kept, and it is not in doubt at its next
	// claim. A reply not claimed by owner (or no longer queued) is left
	// as it is and answered ErrNotOurs.
	ReplyLater(ctx context.Context, owner, id string, due time.Time) error
}

// ErrNotOurs answers ReplySent, ReplyFailed, ReplyUncertain and
// ReplyLater for a reply that owner no longer holds (its lease ran out
// and another took it) or that is no longer queued (sent already, for
// instance by a status fact).
var ErrNotOurs = errors.New("store: the reply is not held by this owner")

// Facts are what sources tell about messages after they were stored
// (chathook.Fact): receipts and statuses, edits, deletes, reactions.
//
// Guarantees every implementation keeps:
//   - RecordFacts writes its facts in one transaction, in order, each
//     with the event it makes queued for the endpoints that take it
//     (type, accounts filter, event format only), in its chat's lane,
//     after every delivery of that chat queued before: a receiver gets
//     a message's message:sent:new before its message:status.
//   - A repeat changes nothing and queues nothing (chathook.FactRepeat),
//     so that a source may hand the same fact again (WhatsApp redelivers
//     what was not acknowledged; Meta resends a POST).
//   - A fact about a message chathook does not have (sent before the
//     account was linked, or from another system on a Cloud API number)
//     still queues its event, with message_uuid ""; only FactReaction,
//     FactEdited and FactDeleted repeats of it by ID are caught then.
type Facts interface {
	// RecordFacts records facts of one account at now and returns what
	// each did, in order. Per kind:
	//   - FactStatus: the message's status moves forward only (Rank); a
	//     failed status of a reply that was sent marks it failed with the
	//     Error. A status other than failed of a reply queued, in doubt
	//     or uncertain (found by ReplyID, else by MessageID) marks it sent
	//     as ReplySent would, as MessageID: its message takes that id and
	//     is queued for delivery once.
	//   - FactEdited: the message's text becomes Text; the one before is
	//     kept as an Edit. The seed format never hears of it.
	//   - FactDeleted: the message is marked deleted (its text kept).
	//   - FactReaction: the sender's reaction is set, or removed when
	//     Reaction is "".
	// queued reports whether any delivery became due.
	RecordFacts(ctx context.Context, accountID int64, now time.Time, facts []chathook.Fact) (results []chathook.FactResult, queued bool, err error)
}

// ReplyClaim is what ClaimReplies hands out; see there.
type ReplyClaim struct {
	Now, Until time.Time
	Web        []int64 // QR-linked accounts the claimer has online
	// Skip are accounts whose replies are not handed out now, whatever
	// else says so (the claimer paces them: their turn has not come).
	Skip  []int64
	Stale time.Time
	Limit int
}
