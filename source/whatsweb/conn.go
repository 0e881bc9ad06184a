package whatsweb

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/chathook/chathook"
	"go.mau.fi/whatsmeow"
	wastore "go.mau.fi/whatsmeow/store"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"
)

// conn is one device's connection: an account this instance leases, or
// a pairing under way (pairing set, acc zero until PairSuccess).
type conn struct {
	m       *Manager
	pairing *pairing

	mu         sync.Mutex
	acc        chathook.Account
	until      time.Time // lease
	round      int64     // the claim round that started it
	dev        *wastore.Device
	cli        Client
	parser     *whatsmeow.Client // offline: parses history sync messages
	online     bool              // Connected and not since disconnected
	loggingOut bool
	closed     bool
	groups     map[types.JID]string // subjects
	// retries are the downloads waiting for the phone to upload a file
	// again, by message id (see reupload).
	retries map[string]chan *events.MediaRetry
}

func (c *conn) jid() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.acc.JID
}

func (c *conn) leaseUntil() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.until
}

func (c *conn) account() chathook.Account {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.acc
}

func (c *conn) isClosed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}

// renew records a renewed lease and the account as stored now; an
// account a teammate asked to disconnect is logged out.
func (c *conn) renew(a chathook.Account, until time.Time) {
	c.mu.Lock()
	c.acc, c.until = a, until
	logout := a.State == chathook.AccountDisconnecting && c.online && !c.loggingOut
	if logout {
		c.loggingOut = true
	}
	c.mu.Unlock()
	if logout {
		go c.logout()
	}
}

// start loads the account's device from the sqlstore and connects it.
func (c *conn) start() {
	ctx := c.m.ctx
	a := c.account()
	jid, err := types.ParseJID(a.JID)
	if err != nil {
		c.m.failed(c, fmt.Errorf("account's device %q: %w", a.JID, err))
		return
	}
	dev, err := c.m.container.GetDevice(ctx, jid)
	if err != nil {
		c.m.failed(c, fmt.Errorf("load the session: %w", err))
		return
	}
	if dev == nil {
		c.gone(ctx)
		return
	}
	cli := c.m.cfg.Network.Client(dev)
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.dev, c.cli, c.parser = dev, cli, whatsmeow.NewClient(dev, nil)
	c.mu.Unlock()
	cli.AddEventHandler(c.handle)
	if err := cli.Connect(ctx); err != nil {
		c.m.failed(c, err)
		return
	}
	if c.isClosed() { // dropped while connecting
		cli.Disconnect()
	}
}

// gone handles an account whose session is not in the database (removed
// with its device): nothing to connect, and the phone no longer has it.
func (c *conn) gone(ctx context.Context) {
	a := c.account()
	state := chathook.AccountLoggedOut
	if a.State == chathook.AccountDisconnecting {
		state = chathook.AccountDisconnected
	}
	c.m.log.Warn("whatsapp account has no session in the database", "account_id", a.ID, "state", state)
	c.m.drop(c)
	if _, err := c.m.cfg.Store.SetAccountState(ctx, a.ID, state, c.m.now()); err != nil {
		c.m.log.Error("whatsapp account state not saved", "account_id", a.ID, "state", state, "err", err)
	}
}

// close disconnects; events still on their way are ignored.
func (c *conn) close() {
	c.mu.Lock()
	already, cli := c.closed, c.cli
	c.closed = true
	c.mu.Unlock()
	if !already && cli != nil {
		cli.Disconnect()
	}
}

// handle is the device's event handler. whatsmeow calls it for one event
// at a time for messages (in the order WhatsApp sent them), concurrently
// for some connection events. It answers false only for a live message
// it could not store, which whatsmeow then leaves unacknowledged for
// WhatsApp to send again.
//
// whatsmeow (SynchronousAck, EnableDecryptedEventBuffer) acknowledges a
// message, and clears its decrypted plaintext from the event buffer in
// the sqlstore, only once every handler answered true. Answered false,
// the message is neither: WhatsApp sends it again to the device's next
// connection (here or on another instance, which finds the plaintext in
// the shared sqlstore, as the Signal session cannot decrypt it twice).
// Answered true, a repeat is ignored as processed: true must mean stored.
//
// Each event but a history sync is handled under handleTimeout, so that
// a hanging database write ends, answered false, before whatsmeow, after
// five minutes, goes on to the next event alongside and out of order.
func (c *conn) handle(evt any) bool {
	if c.isClosed() {
		return c.handleClosed(evt)
	}
	if c.pairing != nil && c.pairing.handle(c.m.ctx, c, evt) {
		return true
	}
	ctx, cancel := context.WithTimeout(c.m.ctx, c.m.handleTimeout)
	defer cancel()
	switch e := evt.(type) {
	case *events.Connected:
		c.m.connected(c.account().ID)
		c.mu.Lock()
		c.online = true
		logout := c.acc.State == chathook.AccountDisconnecting && !c.loggingOut
		c.loggingOut = c.loggingOut || logout
		c.mu.Unlock()
		if logout {
			go c.logout()
			return true
		}
		c.setState(ctx, chathook.AccountConnected, chathook.AccountConnecting)
	case *events.Disconnected:
		// whatsmeow reconnects by itself (EnableAutoReconnect).
		c.mu.Lock()
		c.online = false
		c.mu.Unlock()
		c.setState(ctx, chathook.AccountConnecting, chathook.AccountConnected)
	case *events.KeepAliveTimeout:
		// WhatsApp has not answered pings for a while: whatsmeow goes on
		// waiting (and reconnects after 3 min), but the account is
		// shown connecting meanwhile.
		if e.ErrorCount >= keepAliveFailures {
			c.mu.Lock()
			c.online = false
			c.mu.Unlock()
			c.setState(ctx, chathook.AccountConnecting, chathook.AccountConnected)
		}
	case *events.KeepAliveRestored:
		c.mu.Lock()
		c.online = true
		c.mu.Unlock()
		c.setState(ctx, chathook.AccountConnected, chathook.AccountConnecting)
	case *events.UndecryptableMessage:
		// whatsmeow asked the sender's device, and the phone
		// (AutomaticMessageRerequestFromPhone), to send it again; it
		// comes back as *events.Message.
		c.m.log.Warn("whatsapp message not decrypted: asked again", "account_id", c.account().ID,
			"message_id", safeID(e.Info.ID), "unavailable", e.IsUnavailable, "fail_mode", string(e.DecryptFailMode))
	case *events.LoggedOut:
		c.m.log.Info("whatsapp account logged out on the phone", "account_id", c.account().ID, "reason", e.Reason.String())
		c.m.drop(c)
		c.setState(ctx, chathook.AccountLoggedOut)
	case *events.StreamReplaced:
		c.m.log.Info("whatsapp account replaced by another client", "account_id", c.account().ID)
		c.m.drop(c)
		c.setState(ctx, chathook.AccountReplaced)
	case *events.TemporaryBan:
		c.m.banned(c, e)
	case *events.ClientOutdated:
		c.m.outdated(c)
	case *events.ConnectFailure, *events.CATRefreshError:
		// whatsmeow does not reconnect after these: try again later.
		c.m.failed(c, fmt.Errorf("%T: %v", e, e))
	case *events.Message:
		if isFact, ok := c.messageFact(ctx, e); isFact {
			return ok
		}
		return c.message(ctx, e)
	case *events.Receipt:
		return c.receipt(ctx, e)
	case *events.HistorySync:
		c.history(c.m.ctx, e)
	case *events.MediaRetry:
		c.mediaRetried(e)
	case *events.GroupInfo:
		if e.Name != nil {
			c.mu.Lock()
			c.groups[e.JID.ToNonAD()] = e.Name.Name
			c.mu.Unlock()
		}
	}
	return true
}

// handleClosed answers an event that reaches a closed connection (the
// Manager stopping, the lease lost or handed over, the phone linked
// again): whatsmeow still hands over what it read before Disconnect. A
// message or a receipt is answered false, so that WhatsApp sends it to
// the device's next connection, whose holder stores it in order; true
// would lose it. A history sync is stored all the same: whatsmeow
// acknowledged its notification before handing it over and never hands
// it again, and history, stored once by id and never delivered, does
// not depend on which instance holds the account. Connection events are
// the next connection's to tell.
func (c *conn) handleClosed(evt any) bool {
	switch e := evt.(type) {
	case *events.Message, *events.Receipt:
		return false
	case *events.HistorySync:
		ctx, cancel := context.WithTimeout(context.WithoutCancel(c.m.ctx), c.m.handleTimeout)
		defer cancel()
		c.history(ctx, e)
	}
	return true
}

// keepAliveFailures is how many pings in a row WhatsApp leaves
// unanswered before the account shows connecting.
const keepAliveFailures = 3

// setState records the account's state, unless it is no longer one of
// from as stored (a teammate may have asked to disconnect meanwhile).
func (c *conn) setState(ctx context.Context, to chathook.AccountState, from ...chathook.AccountState) {
	a := c.account()
	if len(from) > 0 {
		cur, err := c.m.cfg.Store.Account(ctx, a.WorkspaceID, a.ID)
		if err != nil {
			c.m.log.Error("whatsapp account not read", "account_id", a.ID, "err", err)
			return
		}
		if cur.State == to || !isOneOf(cur.State, from) {
			return
		}
	}
	saved, err := c.m.cfg.Store.SetAccountState(ctx, a.ID, to, c.m.now())
	if err != nil {
		c.m.log.Error("whatsapp account state not saved", "account_id", a.ID, "state", to, "err", err)
		return
	}
	c.mu.Lock()
	c.acc.State = saved.State
	c.mu.Unlock()
	c.m.log.Info("whatsapp account state", "account_id", a.ID, "state", to)
}

func isOneOf(s chathook.AccountState, set []chathook.AccountState) bool {
	for _, x := range set {
		if s == x {
			return true
		}
	}
	return false
}

// logout removes the linked device on the phone, as a teammate asked, and
// records the account disconnected (which releases its lease). A failure
// is tried again at the next claim.
func (c *conn) logout() {
	ctx, cancel := context.WithTimeout(c.m.ctx, 30*time.Second)
	defer cancel()
	a := c.account()
	c.mu.Lock()
	cli := c.cli
	c.mu.Unlock()
	if err := cli.Logout(ctx); err != nil {
		c.m.log.Warn("whatsapp logout failed", "account_id", a.ID, "err", err)
		c.mu.Lock()
		c.loggingOut = false
		c.mu.Unlock()
		return
	}
	c.m.drop(c)
	if _, err := c.m.cfg.Store.SetAccountState(ctx, a.ID, chathook.AccountDisconnected, c.m.now()); err != nil {
		c.m.log.Error("whatsapp account state not saved", "account_id", a.ID, "state", chathook.AccountDisconnected, "err", err)
		return
	}
	c.m.log.Info("whatsapp account logged out from chathook", "account_id", a.ID)
}

// mapper is the mapping of this connection's messages.
func (c *conn) mapper() *mapper {
	c.mu.Lock()
	defer c.mu.Unlock()
	return &mapper{dev: c.dev, acc: c.acc, group: c.groupName, log: c.m.log}
}

// groupName returns a group's subject, from the cache or WhatsApp; "" if
// WhatsApp cannot say now (the chat keeps the name it has).
func (c *conn) groupName(ctx context.Context, jid types.JID) string {
	c.mu.Lock()
	name, ok := c.groups[jid]
	cli := c.cli
	c.mu.Unlock()
	if ok {
		return name
	}
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	name, err := cli.GroupName(ctx, jid)
	if err != nil {
		c.m.log.Warn("whatsapp group subject unknown", "account_id", c.account().ID, "group", jid.String(), "err", err)
		return ""
	}
	c.mu.Lock()
	c.groups[jid] = name
	c.mu.Unlock()
	return name
}

// message stores one live message, in an Ingest of its own, and kicks
// the dispatcher. It reports whether the message is dealt with: stored
// (or a duplicate), or not one chathook keeps. A store that fails answers
// false, so that whatsmeow does not acknowledge the message and WhatsApp
// sends it again.
func (c *conn) message(ctx context.Context, evt *events.Message) bool {
	now := c.m.now()
	mp := c.mapper()
	in, ok := mp.incoming(ctx, evt, types.EmptyJID, now, false)
	if !ok {
		return true
	}
	// Once: refused, WhatsApp sends it again. But the phone's copy of a
	// message this device could not decrypt is acknowledged by whatsmeow
	// whatever the answer, so it is tried again while its handling lasts.
	attempts := 1
	if evt.UnavailableRequestID != "" {
		attempts = 0
	}
	var res []chathook.IngestResult
	_, err := c.retried(ctx, attempts, func() (err error) {
		res, err = c.m.cfg.Store.Ingest(ctx, mp.acc.WorkspaceID, now, []chathook.Incoming{in})
		return err
	}, func(err error, wait time.Duration) {
		c.m.log.Warn("whatsapp message from the phone not stored: trying again", "account_id", mp.acc.ID,
			"message_id", safeID(in.MessageID), "retry_in", wait, "err", err)
	})
	if err != nil {
		c.m.log.Error("whatsapp message not stored: WhatsApp will send it again", "account_id", mp.acc.ID,
			"message_id", safeID(in.MessageID), "err", err)
		return false
	}
	c.m.log.Debug("whatsapp message stored", "account_id", mp.acc.ID, "message_id", safeID(in.MessageID),
		"chat_id", res[0].ChatID, "status", res[0].Status)
	if res[0].Status == chathook.Accepted && c.m.cfg.Queued != nil {
		c.m.cfg.Queued()
	}
	return true
}
