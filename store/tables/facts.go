package tables

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/event"
)

// The schema of facts (store.Facts), the same in both stores:
//   - messages.status, status_at: how far a sent message got ("" and 0
//     while nothing came); deleted_at: when it was deleted for everyone
//     (0: not); edited: how many earlier texts message_edits keeps of it;
//     reacted: how many reactions rows it has. The counts let a page read
//     edits and reactions only for messages that have some, as
//     attachments (see Counted).
//   - message_edits (message_id → messages.id, text, at): an earlier text,
//     replaced at at.
//   - reactions (message_id, sender_key, sender_name, sender_phone,
//     reaction, at): one row per message and sender, the latest.
//   - fact_ids (account_id, fact_id): the ids of facts recorded (Fact.ID),
//     so that a repeat is known.
//   - accounts.state_until: when an AccountBanned account's ban ends.

// BanMove is the state a ban moves an account in state s to: banned from
// a state that wants a connection; disconnected from disconnecting (a
// teammate asked for it, and a banned device cannot be logged out); ""
// (no change) from a state at rest, which a ban must not bring back to
// life when it ends.
func BanMove(s chathook.AccountState) chathook.AccountState {
	switch s {
	case chathook.AccountConnecting, chathook.AccountConnected, chathook.AccountBanned:
		return chathook.AccountBanned
	case chathook.AccountDisconnecting:
		return chathook.AccountDisconnected
	}
	return ""
}

// CheckFact refuses a fact no source makes: an unknown kind, or a status
// fact without a status. Both stores check it before anything is written.
func CheckFact(f chathook.Fact) error {
	if FactType(f.Kind) == "" || (f.Kind == chathook.FactStatus && f.Status.Rank() == 0) {
		return fmt.Errorf("no such kind %q or status %q", f.Kind, f.Status)
	}
	return nil
}

// FactType is the event type a fact of kind k makes.
func FactType(k chathook.FactKind) string {
	switch k {
	case chathook.FactStatus:
		return event.MessageStatus
	case chathook.FactEdited:
		return event.MessageEdited
	case chathook.FactDeleted:
		return event.MessageDeleted
	case chathook.FactReaction:
		return event.MessageReaction
	}
	return ""
}

// factData is the data of a fact's event, but its chat, which is
// rendered as the chat is when the event is sent (as statusData's). Each
// kind has the fields SPEC gives it, and no other.
type factData struct {
	MessageID   string      `json:"message_id"`
	MessageUUID string      `json:"message_uuid"`
	Status      *string     `json:"status,omitempty"`
	Error       *string     `json:"error,omitempty"`
	Text        *string     `json:"text,omitempty"`
	Reaction    *string     `json:"reaction,omitempty"`
	Sender      *senderJSON `json:"sender,omitempty"`
	At          string      `json:"at"`
}

type senderJSON struct {
	FullName string `json:"full_name"`
	Phone    string `json:"phone"`
}

// FactAt is when a fact happened: its At, or now when the source gave
// none.
func FactAt(f chathook.Fact, now time.Time) time.Time {
	if f.At.IsZero() {
		return now.UTC()
	}
	return f.At.UTC()
}

// FactEvents returns the deliveries of the event fact f makes, about the
// message of uuid ("" when chathook does not have it) in a chat of an
// account, for each of targets that takes it (event format, subscribed,
// accounts filter), in the chat's lane, all with one event id; and the
// event's data. None when no target takes it.
func FactEvents(targets []Target, chatID, accountID int64, uuid string, f chathook.Fact, now time.Time) ([]Queued, []byte) {
	typ := FactType(f.Kind)
	if typ == "" {
		return nil, nil
	}
	var out []Queued
	id := ""
	for i := range targets {
		t := &targets[i]
		if !t.takes(typ, accountID) {
			continue
		}
		if id == "" {
			id = event.NewID(now)
		}
		out = append(out, Queued{Target: t, Lane: Lane(chatID, t.Slot), Kind: chathook.KindEvent, Type: typ, EventID: id})
	}
	if len(out) == 0 {
		return nil, nil
	}
	d := factData{MessageID: f.MessageID, MessageUUID: uuid, At: FactAt(f, now).Format(time.RFC3339)}
	switch f.Kind {
	case chathook.FactStatus:
		status, failure := string(f.Status), ""
		if f.Status == chathook.StatusFailed {
			failure = f.Error
		}
		d.Status, d.Error = &status, &failure
	case chathook.FactEdited:
		d.Text = &f.Text
	case chathook.FactReaction:
		d.Reaction = &f.Reaction
		d.Sender = &senderJSON{FullName: f.Sender.FullName, Phone: f.Sender.Phone}
	}
	data, err := json.Marshal(d)
	if err != nil {
		panic("tables: " + err.Error()) // strings only
	}
	return out, data
}

// FactMessageColumns are read by FactMessage, from messages: what
// recording a fact needs of the message it is about, found by account
// and WhatsApp's id.
const FactMessageColumns = `id, uuid, chat_id, status, deleted_at, text`

// FactMessage is a message as FactMessageColumns read it.
type FactMessage struct {
	ID        int64
	UUID      string
	ChatID    int64
	Status    chathook.MessageStatus
	DeletedAt int64
	Text      string
}

// ScanFactMessage reads a row of FactMessageColumns.
func ScanFactMessage(row Scanner) (FactMessage, error) {
	var m FactMessage
	err := row.Scan(&m.ID, &m.UUID, &m.ChatID, &m.Status, &m.DeletedAt, &m.Text)
	return m, err
}

// Ahead reports whether status s moves a message's status forward from
// stored (see chathook.MessageStatus.Rank): anything else is a repeat.
func Ahead(s, stored chathook.MessageStatus) bool { return s.Rank() > stored.Rank() }

// EditsOf and ReactionsOf are, in SQL, the earlier texts and the
// reactions of the messages whose ids in selects (as AttachmentsOf),
// each with its message's id first, oldest first, as FillEdits and
// FillReactions read them.
func EditsOf(in string) string {
	return `SELECT message_id, text, at FROM message_edits WHERE message_id ` + in + ` ORDER BY message_id, at, id`
}

func ReactionsOf(in string) string {
	return `SELECT message_id, sender_name, sender_phone, reaction, at FROM reactions WHERE message_id ` + in +
		` ORDER BY message_id, at, sender_key`
}

// WithEdits and WithReactions return the distinct ids of msgs that
// PageMessage found edits, or reactions, in: nil when none has any, and
// no query is needed.
func WithEdits(msgs []*chathook.Message) []int64 {
	return withCounted(msgs, func(m *chathook.Message) bool { return len(m.Edits) > 0 })
}

func WithReactions(msgs []*chathook.Message) []int64 {
	return withCounted(msgs, func(m *chathook.Message) bool { return len(m.Reactions) > 0 })
}

func withCounted(msgs []*chathook.Message, has func(*chathook.Message) bool) []int64 {
	var ids []int64
	for _, m := range msgs {
		if has(m) && !slices.Contains(ids, m.ID) {
			ids = append(ids, m.ID)
		}
	}
	return ids
}

// FillEdits reads the rows of EditsOf into those of msgs that have edits.
func FillEdits(rows Rows, msgs []*chathook.Message) error {
	by := map[int64][]chathook.Edit{}
	for rows.Next() {
		var message, at int64
		var e chathook.Edit
		if err := rows.Scan(&message, &e.Text, &at); err != nil {
			return err
		}
		e.At = Time(at)
		by[message] = append(by[message], e)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	for _, m := range msgs {
		if len(m.Edits) > 0 {
			m.Edits = by[m.ID]
		}
	}
	return nil
}

// FillReactions reads the rows of ReactionsOf into those of msgs that
// have reactions.
func FillReactions(rows Rows, msgs []*chathook.Message) error {
	by := map[int64][]chathook.Reaction{}
	for rows.Next() {
		var message, at int64
		var r chathook.Reaction
		if err := rows.Scan(&message, &r.Sender.FullName, &r.Sender.Phone, &r.Reaction, &at); err != nil {
			return err
		}
		r.At = Time(at)
		by[message] = append(by[message], r)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	for _, m := range msgs {
		if len(m.Reactions) > 0 {
			m.Reactions = by[m.ID]
		}
	}
	return nil
}

// BanEnded is, in SQL with one placeholder (now), the KindWeb accounts
// whose ban has run out: ClaimAccounts takes them up again, as
// connecting.
var BanEnded = `kind = '` + string(chathook.KindWeb) + `' AND state = '` + string(chathook.AccountBanned) + `' AND state_until <= %s`

// BannedReason is the reason of the disconnected event of an account
// banned until until.
func BannedReason(until time.Time) string { return "banned until " + until.UTC().Format(time.RFC3339) }

// OutdatedReason is the reason of the disconnected event of an account
// whose client WhatsApp refuses as outdated.
const OutdatedReason = "WhatsApp refuses this chathook's version as outdated: update chathook"

// AccountBannedReason is the Reason of the "account_banned" email of
// account a: its number, a space, and until when, RFC 3339.
func AccountBannedReason(a chathook.Account, until time.Time) string {
	return a.Phone + " " + until.UTC().Format(time.RFC3339)
}

// AccountOutdatedReason is the reason of the "account_outdated" email of
// account a, in words, naming its number first (as
// AccountLoggedOutReason does).
func AccountOutdatedReason(a chathook.Account) string {
	who := a.Phone
	if a.FullName != "" {
		who += " (" + a.FullName + ")"
	}
	return "the WhatsApp account " + who + " was disconnected: " + OutdatedReason
}
