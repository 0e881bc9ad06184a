package chathook

import "time"

// Reply is a message sent to a chat from chathook, through the chat's own
// account: by a teammate from the chat page, or by a program through
// POST /api/v1/chats/{chat_id}/messages.
//
// It is committed before anything is sent: its message is in the chat's
// timeline at once, and reaches the outbound webhook, in the chat's order,
// only once WhatsApp took it.
type Reply struct {
	ID          string // the API's message_id, and the UUID of its message in the timeline
	WorkspaceID string
	ChatID      int64
	AccountID   int64
	// WAID is the message's id at WhatsApp. A QR-linked account's is
	// chosen before the first attempt, so that WhatsApp and the phones
	// recognise a second attempt as the same message. A Cloud API
	// number's (a wamid) is known once Meta took the message. The stored
	// message's message_id is WAID, or ID until a wamid is known.
	WAID     string
	Text     string
	SentBy   Teammate
	State    ReplyState
	Error    string // why it failed, for a person; while queued, why the latest attempt did not go through
	Attempts int    // attempts that ended, sent or not
	// CreatedAt is when it was queued; SentAt when WhatsApp took it.
	CreatedAt time.Time
	SentAt    time.Time
}

// Teammate is who wrote a reply: sender.full_name on the wire.
type Teammate struct {
	FullName string
	Email    string
}

// ReplyState is how far a Reply got.
type ReplyState string

const (
	ReplyQueued ReplyState = "queued" // committed, not yet taken by WhatsApp; retried while it is
	ReplySent   ReplyState = "sent"   // WhatsApp took it
	ReplyFailed ReplyState = "failed" // given up: Error says why
	// ReplyUncertain: given up while an attempt's end was unknown (its
	// instance stopped, or WhatsApp did not answer in time), so it may
	// have been delivered. Error says so. Never sent again by chathook:
	// a teammate looks at the chat on the phone first. A later receipt
	// or status of it makes it sent.
	ReplyUncertain ReplyState = "uncertain"
)

// Outgoing is a Reply claimed for sending, with what sending it needs.
type Outgoing struct {
	Reply
	Account Account // its kind, number, phone number id
	Chat    Chat    // its external id: who or which group to send to
	// AccessToken is a Cloud API number's token for Meta's Graph API;
	// "" for other accounts or when none is set.
	AccessToken string
	// InDoubt: an earlier attempt began and its end was never recorded
	// (its instance stopped). WhatsApp may have the message already.
	InDoubt bool
}

// SendError is why WhatsApp did not take a reply, in words for a person.
// Retry tells a transient failure (a 5xx, a dropped connection), worth
// another attempt, from a refusal that would only be refused again.
//
// MaybeSent: the attempt began and its end is unknown (WhatsApp did not
// answer in time, or the connection dropped after the message left), so
// WhatsApp may have it; a reply given up after such an attempt is
// ReplyUncertain, not ReplyFailed.
type SendError struct {
	Reason    string
	Retry     bool
	MaybeSent bool
}

func (e *SendError) Error() string { return e.Reason }
