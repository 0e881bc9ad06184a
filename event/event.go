// Package event is the catalogue of what chathook tells endpoints about
// (SPEC 7): one row per event type, the rules an endpoint's subscription
// follows, and event ids. Adding a type is a row in Types, its data in
// the envelope (see Envelope) and a JSON Schema in docs/schemas; matching,
// queueing, order, retries and the log need nothing new.
package event

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
	"time"
)

// The event types of this version.
const (
	MessageNew         = "message:new"
	MessageReceivedNew = "message:received:new"
	MessageSentNew     = "message:sent:new"
	MessageStatus      = "message:status"
	MessageEdited      = "message:edited"
	MessageDeleted     = "message:deleted"
	MessageReaction    = "message:reaction"
	ChatCreated        = "chat:created"
	ChatReceivedNew    = "chat:received:created"
	ChatSentNew        = "chat:sent:created"
	AccountConnected   = "whatsapp:account:connected"
	AccountLost        = "whatsapp:account:disconnected"
	WebhookTest        = "webhook:test"
)

// All is the subscription to every type: each message once (as
// message:new), each chat once (as chat:created), and every other type,
// including those later versions add.
const All = "*"

// Type is one row of the catalogue.
type Type struct {
	Name  string
	Group string // how the add-endpoint form groups it
	When  string // when it happens, for a person
	// Seed: a seed-format endpoint may subscribe to it; its payload is
	// then SPEC 4's message, not the envelope.
	Seed bool
	// Within names a broader type that includes this one (message:new
	// includes message:received:new): an endpoint subscribes to one or
	// the other, never both, so that nothing reaches it twice. All
	// gives the broader one.
	Within string
}

// Types is the catalogue, in the order the docs and the form list it.
var Types = []Type{
	{Name: MessageNew, Group: "Messages", Seed: true,
		When: "a message is received or sent (live, not history)"},
	{Name: MessageReceivedNew, Group: "Messages", Seed: true, Within: MessageNew,
		When: "a message is received"},
	{Name: MessageSentNew, Group: "Messages", Seed: true, Within: MessageNew,
		When: "a message is sent, from the phone or from chathook"},
	{Name: MessageStatus, Group: "Messages",
		When: "a message the account sent is sent, delivered, read, played, or fails"},
	{Name: MessageEdited, Group: "Messages",
		When: "a message's text was changed"},
	{Name: MessageDeleted, Group: "Messages",
		When: "a message was deleted for everyone"},
	{Name: MessageReaction, Group: "Messages",
		When: "someone reacted to a message, or took the reaction back"},
	{Name: ChatCreated, Group: "Chats",
		When: "a chat is created by its first live message"},
	{Name: ChatReceivedNew, Group: "Chats", Within: ChatCreated,
		When: "a chat is created by a received message"},
	{Name: ChatSentNew, Group: "Chats", Within: ChatCreated,
		When: "a chat is created by a sent message"},
	{Name: AccountConnected, Group: "WhatsApp accounts",
		When: "a WhatsApp account becomes connected"},
	{Name: AccountLost, Group: "WhatsApp accounts",
		When: "a WhatsApp account is logged out, replaced, banned, outdated, or unreachable for 5 minutes"},
	{Name: WebhookTest, Group: "Webhooks",
		When: "the endpoint's test button, or POST /api/v1/webhooks/{id}/test"},
}

// Lookup returns the catalogue's row of name.
func Lookup(name string) (Type, bool) {
	for _, t := range Types {
		if t.Name == name {
			return t, true
		}
	}
	return Type{}, false
}

// Names returns every type's name, in catalogue order.
func Names() []string {
	out := make([]string, len(Types))
	for i, t := range Types {
		out[i] = t.Name
	}
	return out
}

// Format is how an endpoint's POSTs look.
type Format string

const (
	// Seed is SPEC 4's wire format, byte for byte: messages only, one per
	// POST or bundled per chat.
	Seed Format = "seed"
	// Envelope is SPEC 7's: one event per POST, in an envelope with its
	// type and id. The default for new endpoints.
	Envelope Format = "event"
)

// Check returns the subscription events normalised (sorted, without
// repeats), or an error for a person: an empty list, an unknown type, All
// beside other types, a type beside the one it is within, or, in the
// seed format, a type that is not a message.
func Check(events []string, f Format) ([]string, error) {
	if len(events) == 0 {
		return nil, fmt.Errorf("name at least one event type, or %q for all", All)
	}
	out := slices.Clone(events)
	slices.Sort(out)
	out = slices.Compact(out)
	if slices.Contains(out, All) {
		if len(out) > 1 {
			return nil, fmt.Errorf("%q already means every type: name it alone", All)
		}
		if f == Seed {
			return []string{MessageNew}, nil // every type a seed endpoint can take
		}
		return out, nil
	}
	for _, name := range out {
		t, ok := Lookup(name)
		if !ok {
			return nil, fmt.Errorf("%q is not an event type; the types are %s", name, strings.Join(Names(), ", "))
		}
		if t.Within != "" && slices.Contains(out, t.Within) {
			return nil, fmt.Errorf("%q already includes %q: name one of them", t.Within, name)
		}
		if f == Seed && !t.Seed {
			return nil, fmt.Errorf("%q cannot be sent in the seed format, which carries messages only: use the event format", name)
		}
	}
	return out, nil
}

// Subscribed returns which of the types of one happening an endpoint
// subscribed to events gets, or "": candidates are the broad type, then
// the narrower one (message:new, message:received:new). An endpoint is
// subscribed to at most one of them (see Check); All gets the broad one.
func Subscribed(events []string, broad, narrow string) string {
	for _, e := range events {
		switch e {
		case All, broad:
			return broad
		case narrow:
			return narrow
		}
	}
	return ""
}

// Has reports whether an endpoint subscribed to events gets type name,
// which is within no other type.
func Has(events []string, name string) bool {
	return slices.Contains(events, name) || slices.Contains(events, All)
}

// NewID returns a new event id: "evt_" and 26 characters of Crockford's
// base32, a ULID (48 bits of milliseconds, then 80 random bits), so that
// ids sort by when they were made.
func NewID(now time.Time) string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(now.UnixMilli())<<16)
	_, _ = rand.Read(b[6:])
	const digits = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
	out := make([]byte, 4, 30)
	copy(out, "evt_")
	hi, lo := binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])
	// 128 bits as 26 digits of 5 bits, the first digit holding 3.
	for i := 25; i >= 0; i-- {
		shift := uint(i * 5)
		var v uint64
		switch {
		case shift >= 64:
			v = hi >> (shift - 64)
		case shift > 59:
			v = lo>>shift | hi<<(64-shift)
		default:
			v = lo >> shift
		}
		out = append(out, digits[v&31])
	}
	return string(out)
}
