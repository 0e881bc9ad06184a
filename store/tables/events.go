package tables

import (
	"encoding/json"
	"slices"
	"strconv"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/event"
)

// Account lanes: an account's events (whatsapp:account:*) go out in
// order in a lane of their own per endpoint, apart from its chats':
// AccountBit is set in them, and no chat id reaches it.
const AccountBit = 1 << 43

// AccountLane returns the lane of an account's events to the endpoint in
// slot.
func AccountLane(accountID int64, slot int) int64 {
	return AccountBit | accountID | int64(slot)<<SlotShift
}

// Unreachable is how long a connected account may stay unreachable
// (reconnecting) before endpoints are told it is disconnected.
const Unreachable = 5 * time.Minute

// Announced values: what endpoints were last told of an account.
const (
	AnnouncedConnected    = "connected"
	AnnouncedDisconnected = "disconnected"
)

// Announcement returns the account event that a's move to its state
// makes, given what was announced before, and what is announced after;
// "" when there is nothing to tell. A move to connected is told once; a
// move away from it to a state a person must act on is told at once,
// one to reconnecting only after Unreachable (see UnreachableReason).
func Announcement(announced string, a chathook.Account) (typ, reason, after string) {
	switch {
	case a.State == chathook.AccountConnected && announced != AnnouncedConnected:
		return event.AccountConnected, "", AnnouncedConnected
	case announced == AnnouncedConnected && a.State == chathook.AccountLoggedOut:
		return event.AccountLost, "the linked device was removed on the phone", AnnouncedDisconnected
	case announced == AnnouncedConnected && a.State == chathook.AccountReplaced:
		return event.AccountLost, "another WhatsApp client took the session over", AnnouncedDisconnected
	case announced == AnnouncedConnected && a.State == chathook.AccountBanned:
		return event.AccountLost, BannedReason(a.StateUntil), AnnouncedDisconnected
	case announced == AnnouncedConnected && a.State == chathook.AccountOutdated:
		return event.AccountLost, OutdatedReason, AnnouncedDisconnected
	}
	return "", "", announced
}

// UnreachableReason is the reason of the disconnected event of an account
// that stayed unreachable.
const UnreachableReason = "unreachable for 5 minutes"

// accountData is an account event's data.
type accountData struct {
	WhatsAppAccount accountJSON `json:"whatsapp_account"`
}

type accountJSON struct {
	ID       string `json:"id"`
	Kind     string `json:"kind"`
	State    string `json:"state"`
	Reason   string `json:"reason"`
	Phone    string `json:"phone"`
	FullName string `json:"full_name"`
	Email    string `json:"email"`
}

// AccountEvents returns the deliveries of an account event for each of
// targets that takes it, all with one event id, and the event's data.
func AccountEvents(targets []Target, a chathook.Account, typ, reason string, id string) ([]Queued, []byte) {
	var out []Queued
	for i := range targets {
		t := &targets[i]
		if !t.takes(typ, a.ID) {
			continue
		}
		out = append(out, Queued{Target: t, Lane: AccountLane(a.ID, t.Slot), Kind: chathook.KindEvent, Type: typ, EventID: id})
	}
	if len(out) == 0 {
		return nil, nil
	}
	data, err := json.Marshal(accountData{WhatsAppAccount: accountJSON{ID: strconv.FormatInt(a.ID, 10), Kind: string(a.Kind), State: string(a.State),
		Reason: reason, Phone: a.Phone, FullName: a.FullName, Email: a.Email}})
	if err != nil {
		panic("tables: " + err.Error()) // strings only
	}
	return out, data
}

// StatusEvents returns the deliveries of a message:status event of a
// message of a chat for each of targets that takes it, and the event's
// data: the event of a status fact (FactEvents). messageID is WhatsApp's
// id of the message, uuid chathook's; failure is why it failed.
func StatusEvents(targets []Target, chatID, accountID int64, messageID, uuid, status, failure string, at time.Time) ([]Queued, []byte) {
	return FactEvents(targets, chatID, accountID, uuid, chathook.Fact{Kind: chathook.FactStatus, MessageID: messageID,
		Status: chathook.MessageStatus(status), Error: failure, At: at}, at)
}

// takes reports whether the endpoint t gets events of type typ about
// account: in the event format, subscribed to it, and not limited to
// other accounts.
func (t *Target) takes(typ string, account int64) bool {
	return t.Format == event.Envelope && event.Has(t.Events, typ) && (len(t.Accounts) == 0 || slices.Contains(t.Accounts, account))
}
