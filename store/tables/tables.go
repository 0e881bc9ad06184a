// Package tables is what the SQL stores share of their schema: the column
// lists of the rows they read, and how such a row becomes a domain value.
// The schemas of store/sqlite and store/postgres hold the same columns
// with the same meaning (times in unix milliseconds, UTC), so a row reads
// the same from either; what differs (placeholders, locking, upserts)
// stays in each store.
package tables

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/event"
)

// Scanner is a row of either database driver.
type Scanner interface{ Scan(dest ...any) error }

// Time reads a unix-milliseconds column.
func Time(ms int64) time.Time { return time.UnixMilli(ms).UTC() }

// WorkspaceColumns are read by Workspace, from workspaces.
const WorkspaceColumns = `id, name, owner_name, owner_email, created_at`

// Workspace reads a row of WorkspaceColumns, then extra columns if any.
func Workspace(row Scanner, extra ...any) (chathook.Workspace, error) {
	var ws chathook.Workspace
	var created int64
	err := row.Scan(append([]any{&ws.ID, &ws.Name, &ws.OwnerName, &ws.OwnerEmail, &created}, extra...)...)
	ws.CreatedAt = Time(created)
	return ws, err
}

// Workspaces reads every row of WorkspaceColumns.
func Workspaces(rows Rows) ([]chathook.Workspace, error) {
	return All(rows, func(row Scanner) (chathook.Workspace, error) { return Workspace(row) })
}

// OptionalTime reads a unix-milliseconds column where 0 means never: the
// zero time.Time, so that IsZero tells.
func OptionalTime(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return Time(ms)
}

// AccountColumns are read by Account, from accounts.
const AccountColumns = `id, workspace_id, phone, full_name, email, kind, state, jid, phone_number_id, verify_token,
	last_message_at, created_at, state_until`

// WantsConnection is, in SQL, the linked-device accounts whose state
// chathook.AccountState.WantsConnection accepts: those an instance holds.
var WantsConnection = fmt.Sprintf(`kind = '%s' AND state IN ('%s', '%s', '%s')`,
	chathook.KindWeb, chathook.AccountConnecting, chathook.AccountConnected, chathook.AccountDisconnecting)

// WantsConnectionA is WantsConnection of accounts aliased a.
var WantsConnectionA = fmt.Sprintf(`a.kind = '%s' AND a.state IN ('%s', '%s', '%s')`,
	chathook.KindWeb, chathook.AccountConnecting, chathook.AccountConnected, chathook.AccountDisconnecting)

// Account reads a row of AccountColumns, and then into extra any
// columns the query selects after them.
func Account(row Scanner, extra ...any) (chathook.Account, error) {
	var a chathook.Account
	var last, created, until int64
	err := row.Scan(append([]any{&a.ID, &a.WorkspaceID, &a.Phone, &a.FullName, &a.Email, &a.Kind, &a.State, &a.JID,
		&a.PhoneNumberID, &a.VerifyToken, &last, &created, &until}, extra...)...)
	a.LastMessageAt, a.CreatedAt, a.StateUntil = OptionalTime(last), OptionalTime(created), OptionalTime(until)
	return a, err
}

// CloudAPINumberColumns are read by CloudAPINumbers, from accounts.
const CloudAPINumberColumns = AccountColumns + `, app_secret, access_token`

// CloudAPINumbers reads every row of CloudAPINumberColumns.
func CloudAPINumbers(rows Rows) ([]chathook.CloudAPINumber, error) {
	var out []chathook.CloudAPINumber
	for rows.Next() {
		var n chathook.CloudAPINumber
		var err error
		if n.Account, err = Account(rows, &n.AppSecret, &n.AccessToken); err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, rows.Err()
}

// CloudAPIRivals is, in SQL with the placeholders phone and phone
// number id (in that order, as the dialect writes them), the accounts of
// a workspace that a new Cloud API number of that phone or phone number
// id may collide with; CloudAPIConflict says which do.
const CloudAPIRivals = `phone = %s OR (kind = 'cloud_api' AND state <> 'disconnected' AND phone_number_id = %s)`

// CloudAPIConflict is the *chathook.ConflictError, or nil, of registering
// a as a Cloud API number beside the accounts found by CloudAPIRivals.
// An account the ingest API created, or one disconnected or logged out,
// is no rival: the number takes it over.
func CloudAPIConflict(rivals []chathook.Account, a chathook.Account) error {
	for _, r := range rivals {
		if r.Kind != chathook.KindCloudAPI || r.State == chathook.AccountDisconnected {
			continue
		}
		if r.PhoneNumberID == a.PhoneNumberID {
			return &chathook.ConflictError{Field: "phone_number_id",
				Problem: fmt.Sprintf("%s is registered already, as %s: remove that one first", a.PhoneNumberID, r.Phone)}
		}
		return &chathook.ConflictError{Field: "display_phone_number",
			Problem: fmt.Sprintf("%s is registered already, with phone number id %s: remove that one first", a.Phone, r.PhoneNumberID)}
	}
	for _, r := range rivals {
		if r.Kind == chathook.KindWeb && r.State != chathook.AccountDisconnected && r.State != chathook.AccountLoggedOut {
			return &chathook.ConflictError{Field: "display_phone_number",
				Problem: fmt.Sprintf("%s is connected by QR code: disconnect it on the WhatsApp accounts page first", a.Phone)}
		}
	}
	return nil
}

// AddCloudAPINumber is, in SQL with eleven placeholders, the upsert of
// store.Accounts.AddCloudAPINumber: workspace_id, phone, full_name,
// email, kind, state, phone_number_id, verify_token, app_secret,
// access_token, created_at. A number registered again takes the new
// access token, or none: the old one may be another Meta app's.
const AddCloudAPINumber = `INSERT INTO accounts
		(workspace_id, phone, full_name, email, kind, state, phone_number_id, verify_token, app_secret, access_token, created_at)
	VALUES (%s)
	ON CONFLICT (workspace_id, phone) DO UPDATE SET
		full_name = CASE WHEN excluded.full_name <> '' THEN excluded.full_name ELSE accounts.full_name END,
		email = CASE WHEN excluded.email <> '' THEN excluded.email ELSE accounts.email END,
		kind = excluded.kind, state = excluded.state, phone_number_id = excluded.phone_number_id,
		verify_token = excluded.verify_token, app_secret = excluded.app_secret, access_token = excluded.access_token,
		created_at = excluded.created_at, lease_owner = '', lease_until = 0
	RETURNING ` + AccountColumns

// RemovedCloudAPINumber reports whether SetAccountState must refuse to
// move a to state: a removed Cloud API number comes back only through
// AddCloudAPINumber, with credentials. Checked in the transaction of the
// move, it keeps a Meta call that began before a removal from marking the
// removed number connected after it.
func RemovedCloudAPINumber(a chathook.Account, state chathook.AccountState) bool {
	return a.Kind == chathook.KindCloudAPI && a.State == chathook.AccountDisconnected && state != chathook.AccountDisconnected
}

// DropCloudAPICredentials is, in SQL, what a Cloud API number's removal
// and LinkAccount set: no Meta credentials, neither to check Meta's calls
// nor to send through Meta. The phone number id stays for the accounts
// page to show; nothing is found by it once removed.
const DropCloudAPICredentials = `verify_token = '', app_secret = '', access_token = ''`

// SetAccessToken is, in SQL with the placeholders token, id and
// workspace id (in that order, as the dialect writes them), the update
// of store.Accounts.SetAccessToken: it matches no row unless the id is a
// Cloud API number of the workspace not removed, so a removed number
// never gets a credential back but by a new registration.
const SetAccessToken = `UPDATE accounts SET access_token = %s
	WHERE id = %s AND workspace_id = %s AND kind = 'cloud_api' AND state <> 'disconnected'
	RETURNING ` + AccountColumns

// Accounts reads every row of AccountColumns.
func Accounts(rows Rows) ([]chathook.Account, error) {
	return All(rows, func(row Scanner) (chathook.Account, error) { return Account(row) })
}

// PairingColumns are read by Pairing, from pairings.
const PairingColumns = `id, workspace_id, email, phone, qr, code, state, account_id, err, updated_at`

// Pairing reads a row of PairingColumns.
func Pairing(row Scanner) (chathook.Pairing, error) {
	var p chathook.Pairing
	var updated int64
	err := row.Scan(&p.ID, &p.WorkspaceID, &p.Email, &p.Phone, &p.QR, &p.Code, &p.State, &p.AccountID, &p.Err, &updated)
	p.UpdatedAt = OptionalTime(updated)
	return p, err
}

// AccountLoggedOutReason is the reason of the "account_logged_out" email
// of account a, in words: whose linked device was removed.
func AccountLoggedOutReason(a chathook.Account) string {
	who := a.Phone
	if a.FullName != "" {
		who += " (" + a.FullName + ")"
	}
	return "the WhatsApp account " + who + " was logged out: its linked device was removed on the phone"
}

// MessageColumns are read by Message, from messages aliased m.
const MessageColumns = `m.id, m.uuid, m.chat_id, m.message_id, m.direction, m.sent_at, m.received_at,
	m.sender_name, m.sender_phone, m.recipient_name, m.recipient_phone, m.text, m.is_new_chat, m.skip_reason`

// Message reads a row of MessageColumns.
func Message(row Scanner) (chathook.Message, error) {
	var m chathook.Message
	var sent, received int64
	err := row.Scan(&m.ID, &m.UUID, &m.ChatID, &m.MessageID, &m.Direction, &sent, &received,
		&m.Sender.FullName, &m.Sender.Phone, &m.Recipient.FullName, &m.Recipient.Phone, &m.Text, &m.IsNewChat, &m.SkipReason)
	m.Timestamp, m.ReceivedAt = Time(sent), Time(received)
	return m, err
}

// ChatColumns are read by Chat.
const ChatColumns = `id, workspace_id, account_id, external_id, full_name, is_group, phone, responsible_name, responsible_email, created_at`

// Chat reads a row of ChatColumns followed by the columns of extra.
func Chat(row Scanner, extra ...any) (chathook.Chat, error) {
	var c chathook.Chat
	var created int64
	err := row.Scan(append([]any{&c.ID, &c.WorkspaceID, &c.AccountID, &c.ExternalID, &c.FullName, &c.IsGroup, &c.Phone,
		&c.ResponsibleName, &c.ResponsibleEmail, &created}, extra...)...)
	c.CreatedAt = Time(created)
	return c, err
}

// WebhookColumns are read by Webhook, from endpoints.
const WebhookColumns = `id, public_id, workspace_id, url, description, events, format, accounts, enabled, granularity, secret,
	consecutive_failures, disabled_reason, disabled_at, last_error, previous_secret, previous_secret_until, created_at`

// Webhook reads a row of WebhookColumns.
func Webhook(row Scanner) (chathook.Webhook, error) {
	var w chathook.Webhook
	var granularity, format, events, accounts string
	var disabledAt, previousUntil, created int64
	err := row.Scan(&w.Key, &w.ID, &w.WorkspaceID, &w.URL, &w.Description, &events, &format, &accounts, &w.Enabled, &granularity,
		&w.Secret, &w.ConsecutiveFailures, &w.DisabledReason, &disabledAt, &w.LastError, &w.PreviousSecret, &previousUntil, &created)
	if err != nil {
		return w, err
	}
	w.Granularity, w.Format = chathook.Granularity(granularity), event.Format(format)
	w.PreviousSecretUntil, w.DisabledAt, w.CreatedAt = OptionalTime(previousUntil), OptionalTime(disabledAt), OptionalTime(created)
	if err := json.Unmarshal([]byte(events), &w.Events); err != nil {
		return w, fmt.Errorf("endpoint %s: events: %w", w.ID, err)
	}
	if err := json.Unmarshal([]byte(accounts), &w.Accounts); err != nil {
		return w, fmt.Errorf("endpoint %s: accounts: %w", w.ID, err)
	}
	return w, nil
}

// Webhooks reads every row of WebhookColumns.
func Webhooks(rows Rows) ([]chathook.Webhook, error) { return All(rows, Webhook) }

// JSONList encodes an endpoint's events or accounts for their column.
func JSONList[T any](v []T) string {
	if len(v) == 0 {
		return "[]"
	}
	b, err := json.Marshal(v)
	if err != nil {
		panic("tables: " + err.Error()) // strings and integers always encode
	}
	return string(b)
}

// UserColumns are read by User, from users aliased u.
const UserColumns = `u.id, u.workspace_id, u.email, u.name, u.created_at`

// User reads a row of UserColumns followed by the columns of extra.
func User(row Scanner, extra ...any) (chathook.User, error) {
	var u chathook.User
	var created int64
	err := row.Scan(append([]any{&u.ID, &u.WorkspaceID, &u.Email, &u.Name, &created}, extra...)...)
	u.CreatedAt = Time(created)
	return u, err
}

// DeliveryColumns are read by Delivery, from deliveries d joined with its
// webhook w, chat c, account a and, left joined, message m: a bundle has
// no message of its own (COALESCE fills in zeros); its messages are read
// when it is sent. They are DeliveryOwnColumns then ChatContextColumns.
const DeliveryColumns = DeliveryOwnColumns + ",\n" + ChatContextColumns

// DeliveryOwnColumns are what is a delivery's own, read by DeliveryOwn:
// deliveries d, left joined with its message m, and its chat's id. The
// message's attachments are counted (see Counted), for the store to read
// them in one more query when any has some.
const DeliveryOwnColumns = `
d.id, d.event_id, d.kind, d.type, d.data, d.created_at, d.lane, d.attempts - d.retry_from, d.messages, d.window_start, d.window_end,
d.is_new_chat, d.chat_id,
COALESCE(m.id, 0), COALESCE(m.uuid, ''), COALESCE(m.message_id, ''), COALESCE(m.direction, ''),
COALESCE(m.sent_at, 0), COALESCE(m.received_at, 0), COALESCE(m.sender_name, ''), COALESCE(m.sender_phone, ''),
COALESCE(m.recipient_name, ''), COALESCE(m.recipient_phone, ''), COALESCE(m.text, ''), m.is_new_chat IS TRUE,
COALESCE(m.attachments, 0)`

// ChatContextColumns are what a delivery shares with the other deliveries
// of its lane, read by LaneContext: its endpoint w, chat c and account a.
const ChatContextColumns = endpointAccountColumns + `c.id, c.external_id, c.full_name, c.is_group, c.phone, c.responsible_name, c.responsible_email, c.created_at`

// endpointAccountColumns are the endpoint w and account a of a lane.
const endpointAccountColumns = `
w.id, w.public_id, w.format, w.workspace_id, w.url, w.enabled, w.granularity, w.secret, w.consecutive_failures, w.disabled_reason,
w.previous_secret, w.previous_secret_until,
a.id, a.phone, a.full_name, a.email, a.kind, a.state, a.jid, a.last_message_at, a.created_at,
`

// Delivery reads a row of DeliveryColumns.
func Delivery(row Scanner) (chathook.Delivery, error) {
	var d chathook.Delivery
	own, fillOwn := deliveryOwn(&d)
	shared, fillShared := chatContext(&d)
	if err := row.Scan(append(own, shared...)...); err != nil {
		return d, err
	}
	fillOwn()
	fillShared()
	return d, nil
}

// DeliveryOwn reads a row of DeliveryOwnColumns into a delivery whose
// webhook, account and chat are still to be filled in by LaneContext,
// except the chat's id.
func DeliveryOwn(row Scanner) (chathook.Delivery, error) {
	var d chathook.Delivery
	own, fill := deliveryOwn(&d)
	if err := row.Scan(own...); err != nil {
		return d, err
	}
	fill()
	return d, nil
}

// AccountContextColumns are ChatContextColumns of an account's lane,
// which has no chat: its columns are zeros.
const AccountContextColumns = endpointAccountColumns + `0, '', '', false, '', '', '', 0`

// OptionalChatContextColumns are ChatContextColumns where the chat c may
// be missing (left joined: an account's event): zeros then.
const OptionalChatContextColumns = endpointAccountColumns + `COALESCE(c.id, 0), COALESCE(c.external_id, ''),
COALESCE(c.full_name, ''), COALESCE(c.is_group, false), COALESCE(c.phone, ''), COALESCE(c.responsible_name, ''),
COALESCE(c.responsible_email, ''), COALESCE(c.created_at, 0)`

// deliveryOwn returns the scan destinations of DeliveryOwnColumns in d and
// what to do once they are scanned.
func deliveryOwn(d *chathook.Delivery) ([]any, func()) {
	var sentAt, receivedAt, windowStart, windowEnd, created int64
	var direction, data string
	var attachments int
	m := &d.Message
	return []any{&d.ID, &d.EventID, &d.Kind, &d.Type, &data, &created, &d.Lane, &d.Attempts, &d.Bundle.Count, &windowStart, &windowEnd,
			&d.Bundle.IsNewChat, &d.Chat.ID,
			&m.ID, &m.UUID, &m.MessageID, &direction, &sentAt, &receivedAt,
			&m.Sender.FullName, &m.Sender.Phone, &m.Recipient.FullName, &m.Recipient.Phone, &m.Text, &m.IsNewChat, &attachments,
		}, func() {
			Counted(m, attachments)
			m.Direction = chathook.Direction(direction)
			d.CreatedAt = Time(created)
			if data != "" {
				d.Data = []byte(data)
			}
			m.Timestamp, m.ReceivedAt = Time(sentAt), Time(receivedAt)
			m.ChatID = d.Chat.ID
			if d.Kind == chathook.KindBundle {
				d.Bundle.WindowStart, d.Bundle.WindowEnd = Time(windowStart), Time(windowEnd)
			}
		}
}

// chatContext returns the scan destinations of ChatContextColumns in d and
// what to do once they are scanned.
func chatContext(d *chathook.Delivery) ([]any, func()) {
	var chatCreated, accLast, accCreated, previousUntil int64
	var granularity, format string
	return []any{&d.Webhook.Key, &d.Webhook.ID, &format, &d.Webhook.WorkspaceID, &d.Webhook.URL, &d.Webhook.Enabled, &granularity, &d.Webhook.Secret,
			&d.Webhook.ConsecutiveFailures, &d.Webhook.DisabledReason, &d.Webhook.PreviousSecret, &previousUntil,
			&d.Account.ID, &d.Account.Phone, &d.Account.FullName, &d.Account.Email,
			&d.Account.Kind, &d.Account.State, &d.Account.JID, &accLast, &accCreated,
			&d.Chat.ID, &d.Chat.ExternalID, &d.Chat.FullName, &d.Chat.IsGroup, &d.Chat.Phone,
			&d.Chat.ResponsibleName, &d.Chat.ResponsibleEmail, &chatCreated,
		}, func() {
			d.Webhook.Granularity, d.Webhook.Format = chathook.Granularity(granularity), event.Format(format)
			d.Webhook.PreviousSecretUntil = OptionalTime(previousUntil)
			d.Account.WorkspaceID, d.Chat.WorkspaceID = d.Webhook.WorkspaceID, d.Webhook.WorkspaceID
			d.Chat.AccountID = d.Account.ID
			d.Account.LastMessageAt, d.Account.CreatedAt = OptionalTime(accLast), OptionalTime(accCreated)
			d.Chat.CreatedAt = Time(chatCreated)
		}
}

// AttemptColumns are read by Attempt, from attempts.
const AttemptColumns = `id, at, event_id, delivery_id, kind, chat_id, messages, attempt, url, outcome, status, error, duration_ms`

// Attempt reads a row of AttemptColumns.
func Attempt(row Scanner) (chathook.Attempt, error) {
	var a chathook.Attempt
	var at, duration int64
	err := row.Scan(&a.ID, &at, &a.EventID, &a.DeliveryID, &a.Kind, &a.ChatID, &a.Messages, &a.Attempt, &a.URL, &a.Outcome,
		&a.Status, &a.Err, &duration)
	a.At, a.Duration = Time(at), time.Duration(duration)*time.Millisecond
	return a, err
}

// Email reads an email's id, kind, reason, last_error, created_at,
// attempts, endpoint and endpoint_name, then its workspace's id, name,
// owner_name, owner_email and created_at.
func Email(row Scanner) (chathook.Email, error) {
	var e chathook.Email
	var created, wsCreated int64
	err := row.Scan(&e.ID, &e.Kind, &e.Reason, &e.LastError, &created, &e.Attempts, &e.Endpoint, &e.EndpointName,
		&e.Workspace.ID, &e.Workspace.Name, &e.Workspace.OwnerName, &e.Workspace.OwnerEmail, &wsCreated, &e.To)
	e.CreatedAt, e.Workspace.CreatedAt = Time(created), Time(wsCreated)
	return e, err
}

// Rows is a result set of either database driver.
type Rows interface {
	Scanner
	Next() bool
	Err() error
}

// Attempts reads every row of AttemptColumns: one page of the detailed
// log (see store.Store.Attempts), so the caller can let the connection go
// before it does anything slow with them.
func Attempts(rows Rows) ([]chathook.Attempt, error) { return All(rows, Attempt) }

// All reads every row of rows with read, which reads one.
func All[T any](rows Rows, read func(Scanner) (T, error)) ([]T, error) {
	var out []T
	for rows.Next() {
		v, err := read(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// LaneContext reads a lane, then a row of ChatContextColumns (or
// AccountContextColumns), into d's endpoint, account and chat: a row read
// once and copied into each delivery of its lane.
func LaneContext(row Scanner, d *chathook.Delivery) error {
	shared, fill := chatContext(d)
	if err := row.Scan(append([]any{&d.Lane}, shared...)...); err != nil {
		return err
	}
	fill()
	return nil
}

// EmailEndpoint is what a "webhook_disabled" email records of the
// endpoint it is about (see chathook.Email): nothing for Outbound, whose
// email says "the outbound webhook" as it always did; else its id, and its
// description or, without one, its URL as it may be shown.
func EmailEndpoint(id, description, url string) (endpoint, name string) {
	if id == chathook.Outbound {
		return "", ""
	}
	if description != "" {
		return id, description
	}
	return id, chathook.RedactURL(url) // the email shows it: never a password
}

// ErrDeleteOutbound is the answer to deleting chathook.Outbound.
var ErrDeleteOutbound = &chathook.ConflictError{Field: "id",
	Problem: "the outbound webhook cannot be deleted: disable it, or set its URL to \"\""}

// FreeSlot is, in SQL with the placeholder p of a workspace id, the
// lowest slot none of the workspace's endpoints holds: outbound holds 0,
// so it is one above a held slot whose next is free.
func FreeSlot(p string) string {
	return `SELECT coalesce(min(s.slot + 1), 0) FROM endpoints s
		WHERE s.workspace_id = ` + p + ` AND s.deleted_at = 0 AND NOT EXISTS (
			SELECT 1 FROM endpoints t WHERE t.workspace_id = ` + p + ` AND t.deleted_at = 0 AND t.slot = s.slot + 1)`
}

// WebhookSets returns the "column = placeholder" assignments of the fields
// u sets, and their values; next gives each placeholder in turn.
func WebhookSets(u chathook.WebhookUpdate, next func() string) (sets []string, args []any) {
	set := func(col string, v any) {
		sets, args = append(sets, col+" = "+next()), append(args, v)
	}
	if u.URL != nil {
		set("url", *u.URL)
	}
	if u.Granularity != nil {
		set("granularity", string(*u.Granularity))
	}
	if u.Secret != nil {
		set("secret", *u.Secret)
		sets = append(sets, "previous_secret = ''", "previous_secret_until = 0")
	}
	if u.Description != nil {
		set("description", *u.Description)
	}
	if u.Events != nil {
		set("events", JSONList(*u.Events))
	}
	if u.Format != nil {
		set("format", string(*u.Format))
	}
	if u.Accounts != nil {
		set("accounts", JSONList(*u.Accounts))
	}
	if u.Enabled != nil {
		set("enabled", *u.Enabled)
		if *u.Enabled {
			sets = append(sets, "disabled_reason = ''", "disabled_at = 0", "consecutive_failures = 0")
		}
	}
	return sets, args
}
