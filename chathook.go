// Package chathook holds the domain of chathook: workspaces, WhatsApp
// accounts, chats, messages, the outbound webhook and its deliveries.
//
// It imports nothing of storage or transport; the packages that store,
// serve and deliver depend on it, never the other way round.
package chathook

import (
	"errors"
	"runtime/debug"
	"strings"
	"time"

	"github.com/chathook/chathook/event"
)

// Version is this build's version: every webhook POST sends it as
// User-Agent chathook/<Version>, and chathook version prints it. A release
// build sets it with -ldflags "-X github.com/chathook/chathook.Version=1.2.3";
// otherwise it is the module's version from the build info (go install
// ...@v1.2.3, or the commit's pseudo-version that go build stamps in a
// git checkout), or "dev" where there is none (go run, go test).
var Version = ""

func init() {
	if Version == "" {
		Version = buildVersion()
	}
}

func buildVersion() string {
	if info, ok := debug.ReadBuildInfo(); ok && info.Main.Version != "" && info.Main.Version != "(devel)" {
		return strings.TrimPrefix(info.Main.Version, "v")
	}
	return "dev"
}

// Sentinel errors shared by the store and its callers.
var (
	ErrNotFound     = errors.New("not found")
	ErrUnauthorized = errors.New("missing or invalid API token")
	// ErrConflict: what was to be created exists already (a user's email).
	ErrConflict = errors.New("already exists")
	// ErrLimit: a workspace has as many of a thing as it may (endpoints).
	ErrLimit = errors.New("limit reached")
	// ErrBodyBudget: a request body's read was stopped because the memory
	// that bodies may take at once, or its client's share of it, is spent.
	// It is answered 503 with Retry-After, as nothing is wrong with it.
	ErrBodyBudget = errors.New("the memory budget for request bodies is spent")
)

// ConflictError is an ErrConflict that names the field whose value is
// taken, in the words of the API ("phone_number_id").
type ConflictError struct {
	Field   string
	Problem string
}

func (e *ConflictError) Error() string { return e.Field + ": " + e.Problem }
func (e *ConflictError) Unwrap() error { return ErrConflict }

// InvalidError is a change that cannot be made as it is, naming the
// field at fault in the words of the API ("granularity"): found by the
// store, against the row as the change finds it.
type InvalidError struct {
	Field   string
	Problem string
}

func (e *InvalidError) Error() string { return e.Field + ": " + e.Problem }

// Workspace is a tenant. Nothing of one workspace is ever visible to another.
type Workspace struct {
	ID         string
	Name       string
	OwnerName  string
	OwnerEmail string
	CreatedAt  time.Time
}

// User is a person who signs in to a workspace's web UI: its owner or a
// teammate. An email belongs to one user of one workspace.
type User struct {
	ID          int64
	WorkspaceID string
	Email       string
	Name        string
	CreatedAt   time.Time
}

// Session is a signed-in user of the web UI, until ExpiresAt.
type Session struct {
	User      User
	Workspace Workspace
	CreatedAt time.Time
	ExpiresAt time.Time
}

// Account is a WhatsApp number connected to a workspace.
type Account struct {
	ID          int64
	WorkspaceID string
	Phone       string
	FullName    string
	Email       string // of the teammate who connected it

	Kind AccountKind
	// State is a KindWeb or KindCloudAPI account's connection; "" for a
	// KindAPI account. A Cloud API number is connecting until Meta has
	// called chathook (the verification handshake or a signed POST), then
	// connected; disconnected once removed.
	State AccountState
	// JID is a KindWeb account's linked device, as whatsmeow names it
	// ("972500000000:12@s.whatsapp.net"): the key of its session in the
	// database. Never a secret itself; the keys it names are.
	JID string
	// PhoneNumberID is a KindCloudAPI account's id at Meta: the
	// metadata.phone_number_id that Meta's webhook payloads name it by.
	PhoneNumberID string
	// VerifyToken is what a KindCloudAPI account's Meta app sends in its
	// verification handshake. Shown to the workspace, so that it can be
	// pasted into Meta's app; unlike the app secret, it signs nothing.
	VerifyToken string
	// LastMessageAt is when chathook last received one of its messages,
	// to the minute (see store.Store.Ingest); zero if never.
	LastMessageAt time.Time
	CreatedAt     time.Time
	// StateUntil is when an AccountBanned account's ban ends; zero in
	// every other state.
	StateUntil time.Time
}

// AccountKind is where an account's messages come from.
type AccountKind string

const (
	// KindAPI: created by the ingest API on first sight of its phone.
	KindAPI AccountKind = "api"
	// KindWeb: linked by QR or pairing code as a WhatsApp linked device.
	KindWeb AccountKind = "web"
	// KindCloudAPI: a WhatsApp Business Platform number.
	KindCloudAPI AccountKind = "cloud_api"
)

// CloudAPINumber is a KindCloudAPI account with its Meta app secret, the
// key of the HMAC that signs Meta's webhook POSTs. The secret is
// write-only: it is read only to check a signature, and never shown.
type CloudAPINumber struct {
	Account
	AppSecret string
	// AccessToken authorises replies through Meta's Graph API; write-only
	// like AppSecret. "" until a teammate sets one: the number then
	// receives, but cannot send.
	AccessToken string
}

// AccountState is a KindWeb or KindCloudAPI account's connection as the
// accounts page shows it. Connecting, Connected and Disconnecting want an instance to
// hold the account; the others are at rest until a teammate acts.
type AccountState string

const (
	AccountConnecting    AccountState = "connecting"    // held or waiting for an instance, not yet online
	AccountConnected     AccountState = "connected"     // online, messages flow
	AccountDisconnecting AccountState = "disconnecting" // a teammate pressed Disconnect; its holder logs the device out
	AccountDisconnected  AccountState = "disconnected"  // logged out from chathook
	AccountLoggedOut     AccountState = "logged_out"    // the linked device was removed on the phone
	AccountReplaced      AccountState = "replaced"      // another client took the session over; not fought over
	// AccountBanned: WhatsApp banned the number for a while
	// (events.TemporaryBan); Account.StateUntil says until when. It is
	// not connected before then: connecting during a ban is what gets a
	// number banned for good. Once it has passed, ClaimAccounts takes the
	// account up again, as connecting.
	AccountBanned AccountState = "banned"
	// AccountOutdated: WhatsApp refuses this chathook's WhatsApp Web
	// client as too old (events.ClientOutdated). It rests until a
	// teammate presses Reconnect, after updating chathook.
	AccountOutdated AccountState = "outdated"
)

// WantsConnection reports whether an instance should hold an account in
// state s.
func (s AccountState) WantsConnection() bool {
	return s == AccountConnecting || s == AccountConnected || s == AccountDisconnecting
}

// Pairing is a QR-code or pairing-code linking under way, kept in the
// database so that any instance can show it while the one running it
// talks to WhatsApp.
type Pairing struct {
	ID          string // random, in the page's URL
	WorkspaceID string
	Email       string // of the teammate who started it
	Phone       string // set: link with a pairing code for this number instead of a QR code
	QR          string // the QR code's current content; rotates
	Code        string // the 8-character pairing code, with Phone, as WhatsApp gives it: "ABCD-EFGH"
	State       PairingState
	AccountID   int64  // once paired
	Err         string // why it failed, for a person
	UpdatedAt   time.Time
}

// PairingState is how far a Pairing got.
type PairingState string

const (
	PairingWaiting PairingState = "waiting" // a code is shown, the phone has not answered
	PairingPaired  PairingState = "paired"
	PairingFailed  PairingState = "failed" // timed out or refused: Err says which
)

// Chat is a direct chat or a group of one account. ID is chathook's own
// numeric id, the one in chat_url.
type Chat struct {
	ID               int64
	WorkspaceID      string
	AccountID        int64
	ExternalID       string
	FullName         string
	IsGroup          bool
	Phone            string
	ResponsibleName  string
	ResponsibleEmail string
	CreatedAt        time.Time
}

// ChatSummary is a chat as the chat list shows it.
type ChatSummary struct {
	Chat
	AccountPhone string
	Last         Message // the latest message in timeline order (Timestamp, then ID)
	// Unread counts the received messages stored since the user last
	// opened the chat (all of them if never), up to store.UnreadCap.
	Unread int
	// Match is, in a search, the newest message whose text matched; zero
	// when only the chat's name or phone did.
	Match Message
}

// Direction tells whether the account sent or received a message.
type Direction string

const (
	Sent     Direction = "sent"
	Received Direction = "received"
)

// Person is a sender or recipient as it appears on the wire.
type Person struct {
	FullName string
	Phone    string
}

// Message is one stored WhatsApp message.
type Message struct {
	ID         int64
	UUID       string // the permalink id
	ChatID     int64
	MessageID  string // the id the source gave it, unique per account
	Direction  Direction
	Timestamp  time.Time // when it was sent or received, per the source
	ReceivedAt time.Time // when chathook received it
	Sender     Person
	Recipient  Person
	Text       string
	IsNewChat  bool   // this message created its chat
	SkipReason string // not empty: kept but never delivered in the seed format (it has attachments)
	// Attachments are its files, locations and contact cards (SPEC 8),
	// in the order the source gave them; nil for a text message. Read
	// where the message is shown or sent in the event format: the chat
	// pages, MessageByUUID, and claimed KindEvent deliveries.
	Attachments []Attachment
	// Reply is the state of a message sent from chathook (see Reply), ""
	// for any other; ReplyError says why it failed. Read for the chat
	// pages only.
	Reply      ReplyState
	ReplyError string
	// Status is how far a sent message got (receipts, Meta's statuses);
	// "" for a received one, or while none came. Deleted: deleted for
	// everyone (its Text is kept, for the chat page to hide). Edits are
	// its earlier texts, oldest first (Text is the latest); Reactions
	// one per sender, oldest first. Read for the chat pages and
	// MessageByUUID only.
	Status    MessageStatus
	StatusAt  time.Time
	Deleted   bool
	DeletedAt time.Time
	Edits     []Edit
	Reactions []Reaction
}

// Incoming is one validated message from the ingest API, ready to store.
// Account and chat are created on first sight and updated by later messages.
type Incoming struct {
	Account    Account // Phone, FullName, Email
	Chat       Chat    // ExternalID, FullName, IsGroup, Phone
	MessageID  string
	UUID       string
	Direction  Direction
	Timestamp  time.Time
	Sender     *Person // nil: derived from account, chat and SentBy
	Recipient  *Person // nil: derived
	SentByName string  // the teammate who sent it from chathook, if any
	Text       string
	SkipReason string
	// Attachments are stored with the message. One in MediaPending is
	// downloaded after the message is stored; the message's event
	// deliveries wait for it (see Attachment).
	Attachments []Attachment
	// History: a message from before the account was connected (a QR
	// account's history sync). Stored, shown in its chat, never delivered.
	History bool
	// ChatFormerID is another external id the chat may be stored under:
	// a contact's LID, before its phone number was known. A chat found by
	// it takes Chat.ExternalID (and Chat.Phone), keeping its chathook id.
	ChatFormerID string
}

// Participants returns the sender and recipient of in, deriving what the
// source left out from the account and chat as stored. Phones are "" in a
// group chat, as the wire format wants.
func (in *Incoming) Participants(acc Account, chat Chat) (sender, recipient Person) {
	contact := Person{FullName: chat.FullName, Phone: chat.Phone}
	self := Person{FullName: acc.FullName, Phone: acc.Phone}
	if in.SentByName != "" {
		self.FullName = in.SentByName
	}
	if in.Direction == Sent {
		sender, recipient = self, contact
	} else {
		sender, recipient = contact, self
	}
	if in.Sender != nil {
		sender = *in.Sender
	}
	if in.Recipient != nil {
		recipient = *in.Recipient
	}
	if chat.IsGroup {
		sender.Phone, recipient.Phone = "", ""
	}
	return sender, recipient
}

// AttachmentType is what an attachment is (SPEC 8).
type AttachmentType string

const (
	AttachImage    AttachmentType = "image"
	AttachVideo    AttachmentType = "video"
	AttachAudio    AttachmentType = "audio"
	AttachVoice    AttachmentType = "voice" // a voice note (WhatsApp's ptt)
	AttachDocument AttachmentType = "document"
	AttachSticker  AttachmentType = "sticker"
	AttachLocation AttachmentType = "location" // Latitude, Longitude, Name, Address; no file
	AttachContact  AttachmentType = "contact"  // VCard; no file
)

// AttachmentTypes are the types an attachment may have, in the order
// SPEC 8 lists them.
var AttachmentTypes = []AttachmentType{AttachImage, AttachVideo, AttachAudio, AttachVoice, AttachDocument, AttachSticker,
	AttachLocation, AttachContact}

// HasFile reports whether an attachment of type t is a file.
func (t AttachmentType) HasFile() bool { return t != AttachLocation && t != AttachContact }

// MediaState is where an attachment's file is.
type MediaState string

const (
	// MediaNone: chathook keeps no file of it: a location, a contact
	// card, or an ingest API attachment, whose URL is forwarded as given.
	MediaNone MediaState = ""
	// MediaPending: to be downloaded from its source. The message's
	// event deliveries are held until none of its attachments is.
	MediaPending MediaState = "pending"
	MediaStored  MediaState = "stored"  // in the blob store, under Blob
	MediaFailed  MediaState = "failed"  // not downloaded: Error says why
	MediaDeleted MediaState = "deleted" // its retention passed: links answer 410
)

// Attachment is one file, location or contact card of a message (SPEC 8).
type Attachment struct {
	ID        int64
	Type      AttachmentType
	MimeType  string // of a stored file: checked against its bytes; else as the source gave it
	Size      int64  // bytes
	FileName  string // a document's, as sent
	SHA256    string // hex, of the stored bytes
	Width     int
	Height    int
	DurationS int
	Latitude  float64
	Longitude float64
	Name      string // a location's
	Address   string // a location's
	VCard     string // a contact card's
	URL       string // an ingest API attachment's, forwarded as given and never fetched
	State     MediaState
	Error     string // why the file is missing, for a person: too large, expired at WhatsApp, no access token, ...
	// Source is what the attachment's source needs to download its file,
	// again if need be (whatsweb: media key, hashes and direct path; the
	// Cloud API: the media id), in the source's own JSON, opaque to
	// everyone else; nil when there is nothing to download.
	Source []byte
	// Blob is the stored file's reference in the blob store; "" unless
	// MediaStored.
	Blob string
	// LinkKey signs the attachment's links (see media.Link): random, made
	// when it is stored, never shown.
	LinkKey  []byte
	StoredAt time.Time // when its file was stored; zero if not
}

// Download is a pending attachment claimed to be downloaded, with what
// its source needs: the account whose connection or token fetches it.
type Download struct {
	Attachment
	Message     int64 // the message's store id (Message.ID)
	MessageID   string
	WorkspaceID string
	Account     Account
	Attempts    int // made before this one
	// AccessToken is a Cloud API number's Graph API token; "" if none.
	AccessToken string
}

// IngestStatus is the answer to one ingested message.
type IngestStatus string

const (
	Accepted  IngestStatus = "accepted"
	Duplicate IngestStatus = "duplicate"
	Skipped   IngestStatus = "skipped"
)

// IngestResult is what the store did with one Incoming.
type IngestResult struct {
	Status IngestStatus
	ChatID int64
	Reason string
}

// Granularity is how the outbound webhook gathers messages.
type Granularity string

const (
	NoAggregation Granularity = "none"
	Hourly        Granularity = "1h"
	SixHourly     Granularity = "6h"
	TwelveHourly  Granularity = "12h"
	Daily         Granularity = "24h"
)

// Valid reports whether g is one of the five granularities.
func (g Granularity) Valid() bool {
	switch g {
	case NoAggregation, Hourly, SixHourly, TwelveHourly, Daily:
		return true
	}
	return false
}

// Window is how long one bundle window lasts; 0 for NoAggregation.
func (g Granularity) Window() time.Duration {
	switch g {
	case Hourly:
		return time.Hour
	case SixHourly:
		return 6 * time.Hour
	case TwelveHourly:
		return 12 * time.Hour
	case Daily:
		return 24 * time.Hour
	}
	return 0
}

// WindowStart returns the start of the window that holds t. Windows are
// aligned to the clock in UTC: the Unix epoch is a UTC midnight, so
// truncating to the window's length gives 00:00, 06:00, 12:00, 18:00 for
// 6h and so on. With NoAggregation it returns t.
func (g Granularity) WindowStart(t time.Time) time.Time {
	w := g.Window()
	if w == 0 {
		return t
	}
	return t.UTC().Truncate(w)
}

// Outbound is the id of the seed's webhook (SPEC 2): the first endpoint
// of every workspace, always in the seed format and subscribed to
// message:new. It cannot be deleted.
const Outbound = "outbound"

// MaxEndpoints is how many endpoints a workspace may have, outbound
// included.
const MaxEndpoints = 20

// Webhook is one of a workspace's endpoints (SPEC 7): the outbound
// webhook, or another URL subscribed to event types.
type Webhook struct {
	// Key is the store's own id of the endpoint, unique across
	// workspaces and never reused.
	Key int64
	// ID is the endpoint's id in the API and the UI: Outbound, or "ep_"
	// and 16 hex digits.
	ID                  string
	WorkspaceID         string
	Description         string
	Events              []string // event types, or event.All; normalised by event.Check
	Format              event.Format
	Accounts            []int64 // the account ids it is limited to; empty for all
	CreatedAt           time.Time
	URL                 string
	Enabled             bool
	Granularity         Granularity
	Secret              string // whsec_ + base64 key
	ConsecutiveFailures int
	DisabledReason      string    // why it was disabled automatically; "" otherwise
	DisabledAt          time.Time // when; zero unless disabled automatically
	LastError           string    // of the latest failed attempt

	// PreviousSecret is the secret a rotation replaced: it still signs
	// every POST, beside Secret, until PreviousSecretUntil, so that
	// receivers switch keys without a failed delivery. "" when none.
	PreviousSecret      string
	PreviousSecretUntil time.Time
}

// Apply returns the endpoint w becomes with u, and u with its events
// normalised for the format w will have (event.Check), or an
// *InvalidError naming the field at fault: the one u sets, or, when u
// leaves it as it is, the one u changes that no longer fits it. Its rules
// are the combinations no field checks alone: an endpoint in the event
// format does not bundle, its events fit its format, and Outbound stays
// in the seed format subscribed to message:new. The API checks a request
// with it, and each store again as it changes the row, so that two
// changes at once never save what neither was checked against.
func (w Webhook) Apply(u WebhookUpdate) (Webhook, WebhookUpdate, error) {
	next := w
	if u.Format != nil {
		next.Format = *u.Format
	}
	if u.Granularity != nil {
		next.Granularity = *u.Granularity
	}
	if u.Events != nil {
		next.Events = *u.Events
	}
	either := func(set bool, field, otherwise string) string {
		if set {
			return field
		}
		return otherwise
	}
	outbound := w.ID == Outbound
	if outbound && next.Format != event.Seed {
		return w, u, &InvalidError{Field: "format", Problem: `the outbound webhook is always in the "seed" format: add an endpoint for events`}
	}
	if next.Format == event.Envelope && next.Granularity != NoAggregation {
		return w, u, &InvalidError{Field: either(u.Granularity != nil, "granularity", "format"),
			Problem: `only the "seed" format bundles messages: an endpoint in the "event" format takes granularity "none"`}
	}
	events, err := event.Check(next.Events, next.Format)
	if err != nil {
		problem := err.Error()
		if u.Events == nil {
			problem = "the endpoint's events do not fit it: " + problem
		}
		return w, u, &InvalidError{Field: either(u.Events != nil, "events", "format"), Problem: problem}
	}
	if outbound && (len(events) != 1 || events[0] != event.MessageNew) {
		return w, u, &InvalidError{Field: "events",
			Problem: `the outbound webhook is always subscribed to ["message:new"]: add an endpoint for other events`}
	}
	if u.Events != nil || u.Format != nil {
		u.Events, next.Events = &events, events
	}
	if u.URL != nil {
		next.URL = *u.URL
	}
	if u.Description != nil {
		next.Description = *u.Description
	}
	if u.Accounts != nil {
		next.Accounts = *u.Accounts
	}
	if u.Enabled != nil {
		next.Enabled = *u.Enabled
	}
	return next, u, nil
}

// SigningSecrets returns the secrets that sign a POST made at now: Secret,
// then PreviousSecret while it is still valid.
func (w Webhook) SigningSecrets(now time.Time) []string {
	if _, ok := w.PreviousSecretValid(now); ok {
		return []string{w.Secret, w.PreviousSecret}
	}
	return []string{w.Secret}
}

// PreviousSecretValid reports whether the previous secret still signs at
// now, and until when.
func (w Webhook) PreviousSecretValid(now time.Time) (time.Time, bool) {
	if w.PreviousSecret != "" && now.Before(w.PreviousSecretUntil) {
		return w.PreviousSecretUntil, true
	}
	return time.Time{}, false
}

// SecretOverlap is how long the previous secret still signs after a
// rotation.
const SecretOverlap = 24 * time.Hour

// DisableAfter consecutive failed attempts, a webhook is disabled
// automatically and its owner is emailed.
const DisableAfter = 10

// WebhookUpdate changes the fields that are not nil. A Secret set so
// replaces the secret at once: the previous secret of a rotation stops
// signing too (a secret set by hand is usually one that leaked; rotation
// is the switch without downtime).
type WebhookUpdate struct {
	URL         *string
	Enabled     *bool
	Granularity *Granularity
	Secret      *string
	Description *string
	Events      *[]string // checked by event.Check
	Format      *event.Format
	Accounts    *[]int64
	// DiscardPending drops every delivery waiting, each recorded as
	// discarded in the log, instead of sending it. One whose POST is under
	// way stays discarded unless that POST gets through.
	DiscardPending bool
}

// ChatUpdate changes the fields that are not nil.
type ChatUpdate struct {
	FullName         *string
	ResponsibleName  *string
	ResponsibleEmail *string
}

// Delivery kinds.
const (
	KindMessage = "message" // one message, SPEC 4.1
	KindBundle  = "bundle"  // a chat's messages of one window, SPEC 4.2
	KindEvent   = "event"   // one event in SPEC 7's envelope
)

// Delivery is one payload to POST, claimed by a dispatcher together with
// everything needed to render and sign it.
type Delivery struct {
	ID      int64
	EventID string // the webhook-id header: stable across retries
	Kind    string // KindMessage, KindBundle or KindEvent
	Type    string // KindEvent's event type
	// Lane is the chat and endpoint whose deliveries go out one after
	// the other, in order: deliveries of one lane are never in flight
	// side by side.
	Lane     int64
	Attempts int // attempts made before this one, since queued or last recovered
	// CreatedAt is when it was queued: when its event happened.
	CreatedAt time.Time
	// Data is a KindEvent's data when its facts were fixed as it was
	// queued (an account's state, a reply's status), as JSON; nil when
	// it is read from its chat and message as they are when it is sent.
	Data    []byte
	Webhook Webhook
	Account Account
	Chat    Chat
	Message Message // KindMessage only
	Bundle  Bundle  // KindBundle only; its Messages are loaded when it is sent
}

// Bundle is one chat's messages of one window, or a part of them when
// they are too many for one POST.
type Bundle struct {
	WindowStart time.Time
	WindowEnd   time.Time
	// IsNewChat: the chat was created inside the window. Only the first
	// part of a split bundle says so, so a receiver that creates a contact
	// on is_new_chat creates it once.
	IsNewChat bool
	Count     int       // messages in the bundle
	Messages  []Message // in timestamp order
}

// Outcome is the result of one attempt at a Delivery.
type Outcome struct {
	DeliveryID int64
	URL        string // where it was sent, as it may be shown (RedactURL)
	At         time.Time
	// Status is the HTTP status, 0 when there was no response, and for
	// a broker, which answers with an ack (or Err), not a status.
	Status   int
	Err      string
	Duration time.Duration
}

// OK reports whether the attempt succeeded: any 2xx, or a broker's ack
// (no error and no status).
func (o Outcome) OK() bool {
	return o.Err == "" && (o.Status == 0 || o.Status >= 200 && o.Status < 300)
}

// Delivery states, as the activity log and the detailed log show them.
const (
	StatePending   = "pending"
	StateRetrying  = "retrying" // in the log: failed, another attempt will follow
	StateDelivered = "delivered"
	StateFailed    = "failed" // no attempts left
	StateDiscarded = "discarded"
)

// Activity is one delivery as the activity log shows it.
type Activity struct {
	DeliveryID int64
	EventID    string
	Kind       string // KindMessage, KindBundle or KindEvent
	ChatName   string // the chat's name; an account's event: the account's
	ChatID     int64
	Messages   int
	State      string
	Attempts   int
	At         time.Time // of the latest attempt, or of the discard
	Status     int       // HTTP status of the latest attempt, 0 if none
	Err        string
	Duration   time.Duration
}

// Attempt is one row of the detailed log: an attempt, or a discard.
type Attempt struct {
	ID         int64 // the row's; with At, its place in the log, which is ordered by (At, ID)
	At         time.Time
	EventID    string
	DeliveryID int64
	Kind       string
	ChatID     int64
	Messages   int
	Attempt    int
	URL        string
	Outcome    string // delivered, retrying, failed, discarded
	Status     int
	Err        string
	Duration   time.Duration
}

// Email is an owner notice waiting in the outbox.
type Email struct {
	ID        int64
	Workspace Workspace
	Kind      string // "webhook_disabled", "account_logged_out", "account_banned" (Reason: the number, a space, until when), "account_outdated", "team_invite" and "team_reset" (Reason: the link; see To)
	// Endpoint is the id of the endpoint a "webhook_disabled" email is
	// about, EndpointName how it is named to a person: "" for Outbound.
	Endpoint     string
	EndpointName string
	Reason       string
	LastError    string
	CreatedAt    time.Time
	Attempts     int
	// To is who a "team_invite" or "team_reset" email goes to (Reason:
	// the link); "" for every other kind, which goes to the owner.
	To string
}

// TeamLink is a one-time link that lets a person into a workspace: an
// invitation, which makes a new user of Email and Name, or a password
// reset of the user UserID. Only the SHA-256 of its token is stored.
type TeamLink struct {
	Kind        TeamLinkKind
	WorkspaceID string
	Email       string // invitation: who is invited; reset: the user's
	Name        string // invitation: as the inviter typed it; reset: the user's
	UserID      int64  // reset only
	CreatedAt   time.Time
	ExpiresAt   time.Time
	// MailLink, when not "", is the link to email to Email: the store
	// queues that email (kind "team_" and Kind) with the link.
	MailLink string
}

// TeamLinkKind says what a TeamLink does when it is used.
type TeamLinkKind string

// The kinds of TeamLink.
const (
	LinkInvite TeamLinkKind = "invite"
	LinkReset  TeamLinkKind = "reset"
)

// InviteLifetime is how long an invitation can be accepted: a week, so
// that it survives a weekend in the invitee's inbox.
const InviteLifetime = 7 * 24 * time.Hour

// ResetLifetime is how long a password reset link works: an hour, as it
// signs its holder in as someone who already has data to lose.
const ResetLifetime = time.Hour
