package tables

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/event"
)

// Lanes: a lane is one chat's deliveries to one endpoint, which go out
// one after the other (see chathook.Delivery.Lane). Its number is the
// chat's id plus the endpoint's slot (0 for outbound, below
// chathook.MaxEndpoints) times 2^SlotShift, so that outbound's lanes are
// its chats' ids, as before endpoints, and claims walk one integer.
const SlotShift = 44

// A lane's parts as SQL numerals, for the stores' queries (lanes_test
// holds them to SlotShift and AccountBit): a lane's slot is lane >>
// SQLSlotShift, its chat lane & SQLLaneChat; an account's lane has
// SQLAccountBit set, and its account is lane & SQLLaneAccount.
const (
	SQLSlotShift   = "44"
	SQLLaneChat    = "17592186044415"
	SQLAccountBit  = "8796093022208"
	SQLLaneAccount = "8796093022207"
)

// Lane returns the lane of a chat's deliveries to the endpoint in slot.
func Lane(chatID int64, slot int) int64 { return chatID | int64(slot)<<SlotShift }

// LaneChat returns the chat of a lane.
func LaneChat(lane int64) int64 { return lane & (1<<SlotShift - 1) }

// Target is an endpoint as ingest matches events to it.
type Target struct {
	Key         int64
	Slot        int
	Format      event.Format
	Granularity chathook.Granularity
	Events      []string
	Accounts    []int64
	Enabled     bool
}

// TargetColumns are read by ScanTarget, from endpoints; TargetsOf selects
// them for a workspace (one placeholder): the endpoints that get events.
const (
	TargetColumns = `id, slot, format, granularity, events, accounts, enabled`
	TargetsOf     = `SELECT ` + TargetColumns + ` FROM endpoints WHERE workspace_id = %s AND deleted_at = 0 AND url <> '' ORDER BY slot`
)

// Targets reads every row of TargetColumns.
func Targets(rows Rows) ([]Target, error) {
	return All(rows, func(row Scanner) (Target, error) { return ScanTarget(row) })
}

// ScanTarget reads a row of the columns into before, if any, then
// TargetColumns.
func ScanTarget(row Scanner, before ...any) (Target, error) {
	var t Target
	var format, granularity, events, accounts string
	dest := append(before[:len(before):len(before)], &t.Key, &t.Slot, &format, &granularity, &events, &accounts, &t.Enabled)
	if err := row.Scan(dest...); err != nil {
		return t, err
	}
	t.Format, t.Granularity = event.Format(format), chathook.Granularity(granularity)
	if err := json.Unmarshal([]byte(events), &t.Events); err != nil {
		return t, fmt.Errorf("endpoint %d: events: %w", t.Key, err)
	}
	if err := json.Unmarshal([]byte(accounts), &t.Accounts); err != nil {
		return t, fmt.Errorf("endpoint %d: accounts: %w", t.Key, err)
	}
	return t, nil
}

// Stored is what a stored message tells its endpoints.
type Stored struct {
	ChatID    int64
	AccountID int64
	UUID      string
	Direction chathook.Direction
	// Live: delivered at all (not history).
	Live bool
	// Skipped: it has a SkipReason (attachments), which the seed format
	// cannot carry: only endpoints in the event format get it.
	Skipped bool
	// NewChat: the message created its chat, live (a skipped message
	// too: the chat is there for a person to see).
	NewChat bool
}

// Queued is one delivery, or one wait for a bundle, that a stored
// message makes.
type Queued struct {
	Target  *Target
	Lane    int64
	Kind    string // chathook.KindMessage or chathook.KindEvent
	Type    string // KindEvent's type
	EventID string
	Bundle  bool // waits for the endpoint's next bundle instead
}

// FanOut appends to out what m makes for each of targets, in the order
// they go out in each lane: a chat's creation before its first message.
// One event goes to every endpoint it matches with one event id, made by
// newID when its type first comes up.
func FanOut(out []Queued, targets []Target, m Stored, newID func() string) []Queued {
	var ids map[string]string // by type; nil until an event endpoint matches
	idOf := func(typ string) string {
		id, ok := ids[typ]
		if !ok {
			if ids == nil {
				ids = make(map[string]string, 2)
			}
			id = newID()
			ids[typ] = id
		}
		return id
	}
	for i := range targets {
		t := &targets[i]
		if len(t.Accounts) > 0 && !slices.Contains(t.Accounts, m.AccountID) {
			continue
		}
		lane := Lane(m.ChatID, t.Slot)
		if t.Format == event.Envelope && m.NewChat {
			narrow := event.ChatReceivedNew
			if m.Direction == chathook.Sent {
				narrow = event.ChatSentNew
			}
			if typ := event.Subscribed(t.Events, event.ChatCreated, narrow); typ != "" {
				out = append(out, Queued{Target: t, Lane: lane, Kind: chathook.KindEvent, Type: typ, EventID: idOf(typ)})
			}
		}
		if !m.Live {
			continue
		}
		typ := event.Subscribed(t.Events, event.MessageNew, MessageType(m.Direction))
		switch {
		case typ == "", m.Skipped && t.Format != event.Envelope:
		case t.Format == event.Envelope:
			out = append(out, Queued{Target: t, Lane: lane, Kind: chathook.KindEvent, Type: typ, EventID: idOf(typ)})
		case t.Granularity != chathook.NoAggregation:
			out = append(out, Queued{Target: t, Lane: lane, Bundle: true})
		default:
			// The seed's webhook-id, the same for every seed endpoint.
			out = append(out, Queued{Target: t, Lane: lane, Kind: chathook.KindMessage, EventID: MessageEventID(m.UUID)})
		}
	}
	return out
}

// MessageEventID is the webhook-id of a message in the seed format.
func MessageEventID(uuid string) string { return "msg_" + strings.ReplaceAll(uuid, "-", "") }

// NewEventID is event.NewID at the real time.
func NewEventID() string { return event.NewID(time.Now()) }

// MessageType is the directional message:*:new type of a message.
func MessageType(d chathook.Direction) string {
	if d == chathook.Sent {
		return event.MessageSentNew
	}
	return event.MessageReceivedNew
}
