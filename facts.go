package chathook

import "time"

// FactKind is what happened to a message after it was sent (SPEC 5.1,
// 5.2 and 7): each kind is one event type.
type FactKind string

const (
	FactStatus   FactKind = "status"   // message:status: sent, delivered, read, played or failed
	FactEdited   FactKind = "edited"   // message:edited: its text was changed
	FactDeleted  FactKind = "deleted"  // message:deleted: deleted for everyone
	FactReaction FactKind = "reaction" // message:reaction: a reaction, or one taken back
)

// MessageStatus is how far a message the account sent got, as WhatsApp's
// receipts and Meta's statuses say. Statuses only go forward (sent,
// delivered, read, played); failed ends any of them.
type MessageStatus string

const (
	StatusNone      MessageStatus = ""
	StatusSent      MessageStatus = "sent"
	StatusDelivered MessageStatus = "delivered"
	StatusRead      MessageStatus = "read"
	StatusPlayed    MessageStatus = "played" // a voice note or video was played
	StatusFailed    MessageStatus = "failed"
)

// Rank orders statuses: a status may replace one of a lower rank only.
// Failed outranks every other, since nothing follows it.
func (s MessageStatus) Rank() int {
	switch s {
	case StatusSent:
		return 1
	case StatusDelivered:
		return 2
	case StatusRead:
		return 3
	case StatusPlayed:
		return 4
	case StatusFailed:
		return 5
	}
	return 0
}

// Fact is one thing a source tells about a message of one of its
// account's chats, by WhatsApp's id of the message: a receipt or status,
// an edit, a delete for everyone, a reaction. See store.Facts.
type Fact struct {
	Kind FactKind
	// Chat is the chat's external id, as Incoming.Chat.ExternalID
	// spells it; ChatFormerID another it may be stored under (a LID),
	// as Incoming.ChatFormerID.
	Chat         string
	ChatFormerID string
	MessageID    string // WhatsApp's id of the message it is about (a wamid for Cloud API numbers)
	// ID is the source's own id of the fact where it has one (the id of
	// an edit's, a revoke's or a reaction's own message): a fact whose ID
	// was recorded before is a repeat and changes nothing. "" for
	// receipts and statuses, whose repeats Rank catches.
	ID string
	At time.Time // when it happened, per the source

	Status MessageStatus // FactStatus
	// Error is why a FactStatus failed, for a person: Meta's code and
	// title ("131047: Re-engagement message").
	Error string
	// ReplyID is chathook's id of the reply the fact is about, when the
	// source carries it back (Meta's biz_opaque_callback_data): a reply
	// still queued, in doubt or uncertain is found by it even before its
	// wamid was recorded.
	ReplyID string

	Text string // FactEdited: the new text

	// Reaction is a FactReaction's emoji, "" when taken back; Sender who
	// reacted (in a group, the participant), SenderKey who that is
	// uniquely (a JID or a number): each sender has one reaction per
	// message, the latest.
	Reaction  string
	Sender    Person
	SenderKey string
}

// FactResult is what recording one Fact did.
type FactResult string

const (
	// FactApplied: recorded, and its event queued for the endpoints that
	// take it.
	FactApplied FactResult = "applied"
	// FactRepeat: known already (the same ID, a status not ahead of the
	// stored one, the same reaction, a message deleted already): nothing
	// changed, nothing queued.
	FactRepeat FactResult = "repeat"
	// FactNoChat: the account has no such chat: nothing recorded.
	FactNoChat FactResult = "no_chat"
)

// Edit is an earlier text of an edited message, as the chat page shows
// it on hover.
type Edit struct {
	Text string
	At   time.Time // when it was replaced
}

// Reaction is one sender's reaction to a message.
type Reaction struct {
	Sender   Person
	Reaction string
	At       time.Time
}
