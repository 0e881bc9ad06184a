package whatswebtest

import (
	"context"
	"database/sql"
	"errors"
	"sync"
	"testing"

	"go.mau.fi/whatsmeow/proto/waAdv"
	wastore "go.mau.fi/whatsmeow/store"
	"go.mau.fi/whatsmeow/store/sqlstore"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"
)

// Client is one device's connection to the fake WhatsApp. It implements
// whatsweb.Client; the test drives it with Emit, Deliver and Pair.
type Client struct {
	net *Network
	dev *wastore.Device

	mu       sync.Mutex
	handlers []func(any) bool
	on       bool
	codes    []string
	logouts  int
}

// Device is the whatsmeow device the client connects, with its stores
// (Contacts, LIDs, ...) for the test to fill as WhatsApp would.
func (c *Client) Device() *wastore.Device { return c.dev }

// JID is the device's JID, "" while it is not paired.
func (c *Client) JID() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.dev.ID == nil {
		return ""
	}
	return c.dev.ID.String()
}

// Connected reports whether the socket is open.
func (c *Client) Connected() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.on
}

// QRCodes are the codes the client got when it connected unpaired; nil
// for a paired device.
func (c *Client) QRCodes() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.codes...)
}

// Logouts counts the client's successful Logout calls.
func (c *Client) Logouts() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.logouts
}

// Connect opens the socket; as WhatsApp does, an unpaired device then
// gets its QR codes (*events.QR), and a paired one is logged in
// (*events.Connected), then gets again, in order, the events Deliver
// handed any earlier client of the device that its handlers did not
// acknowledge (see Unacked). It fails when the network is unreachable, or the
// socket is open already (as whatsmeow's ErrAlreadyConnected).
func (c *Client) Connect(ctx context.Context) error {
	if err := c.net.reachable(); err != nil {
		return err
	}
	c.mu.Lock()
	if c.on {
		c.mu.Unlock()
		return errors.New("websocket is already connected")
	}
	// The codes are known before the client shows as connected, so that
	// a test that found it by Network.Unpaired can read them.
	paired := c.dev.ID != nil
	if !paired {
		c.codes = c.net.world.qrBatch()
	}
	c.on = true
	codes := c.codes
	c.mu.Unlock()
	if paired {
		c.net.world.connect(c.JID())
		go func() {
			c.Emit(&events.Connected{})
			c.redeliver()
		}()
	} else {
		go c.Emit(&events.QR{Codes: codes})
	}
	return nil
}

// Disconnect closes the socket, if open.
func (c *Client) Disconnect() {
	c.mu.Lock()
	was := c.on
	c.on = false
	c.mu.Unlock()
	if was {
		c.net.world.disconnect(c.JID())
	}
}

// Logout removes the linked device and deletes its session from the
// sqlstore, as whatsmeow's does; it needs the socket open.
func (c *Client) Logout(ctx context.Context) error {
	if !c.Connected() {
		return errors.New("websocket not connected")
	}
	c.Disconnect()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.logouts++
	return c.dev.Delete(ctx)
}

// PairPhone records the number (see Network.Phones) and returns
// PairingCode.
func (c *Client) PairPhone(ctx context.Context, phone string) (string, error) {
	c.net.askedCode(phone)
	return PairingCode, nil
}

// AddEventHandler registers fn for every event the client emits.
func (c *Client) AddEventHandler(fn func(evt any) bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.handlers = append(c.handlers, fn)
}

// GroupName answers the subject Network.SetGroup gave the group, or an
// error for a group WhatsApp does not know.
func (c *Client) GroupName(ctx context.Context, group types.JID) (string, error) {
	return c.net.groupName(group)
}

// Emit hands evt (one of whatsmeow's event values) to the handlers as
// whatsmeow's event loop does: one event at a time, the handlers' work
// done when Emit returns. It reports whether every handler handled it:
// false is a message whatsmeow would not acknowledge, so that WhatsApp
// sends it again.
func (c *Client) Emit(evt any) bool {
	c.mu.Lock()
	hs := append([]func(any) bool{}, c.handlers...)
	c.mu.Unlock()
	for _, h := range hs {
		if !h(evt) {
			return false
		}
	}
	return true
}

// Deliver hands evt to the handlers as Emit does, and records the
// acknowledgement as WhatsApp keeps it: an event the handlers answered
// false for (whatsmeow sends no ack for it) stays with the device, and
// WhatsApp sends it again to the device's next connection, through this
// client or another of any sibling network, after Connected; one answered
// true is acknowledged and never comes again. It models an event already
// on its way, so it reaches the handlers whether or not the socket is
// still open (whatsmeow handles what it read before a Disconnect). Use it
// for what WhatsApp sends again when not acknowledged: messages and
// receipts.
func (c *Client) Deliver(evt any) bool {
	ok := c.Emit(evt)
	if !ok {
		c.net.world.keepUnacked(c.JID(), evt)
	}
	return ok
}

// redeliver sends the device's unacknowledged events again, in order,
// while the socket stays open; each stays unacknowledged until the
// handlers answer true.
func (c *Client) redeliver() {
	jid := c.JID()
	for _, p := range c.net.world.pendingUnacked(jid) {
		if !c.Connected() {
			return
		}
		if c.Emit(p.evt) {
			c.net.world.acked(jid, p.seq)
		}
	}
}

// Pair is the phone accepting the link of an unpaired, connected
// client: as whatsmeow's handlePairSuccess, the device gets its JID (a
// device JID, "972500000001:7@s.whatsapp.net") and push name and is
// saved in the sqlstore, then *events.PairSuccess is emitted; then the
// socket restarts logged in (*events.Connected).
func (c *Client) Pair(t testing.TB, jid, pushName string) {
	t.Helper()
	id := parseJID(t, jid)
	c.mu.Lock()
	paired(c.dev, id, pushName)
	c.mu.Unlock()
	if err := c.dev.Save(context.Background()); err != nil {
		t.Fatalf("whatswebtest: save the paired device: %v", err)
	}
	c.net.world.connect(jid)
	c.Emit(&events.PairSuccess{ID: id, Platform: "android"})
	c.Emit(&events.Connected{})
}

// SaveDevice saves a paired device of jid in whatsmeow's session tables
// on db (a store's SessionDB, its tables upgraded), as pairing it on
// another instance would have left it; the connector that is given the
// account then connects it through its Network.
func SaveDevice(t testing.TB, db *sql.DB, dialect, jid, pushName string) *wastore.Device {
	t.Helper()
	dev := sqlstore.NewWithDB(db, dialect, nil).NewDevice()
	paired(dev, parseJID(t, jid), pushName)
	if err := dev.Save(context.Background()); err != nil {
		t.Fatalf("whatswebtest: save a paired device: %v", err)
	}
	return dev
}

// paired gives dev what pairing gives a device: its JID, push name and
// the account's signed identity.
func paired(dev *wastore.Device, id types.JID, pushName string) {
	dev.ID = &id
	dev.PushName = pushName
	dev.Account = &waAdv.ADVSignedDeviceIdentity{
		Details: []byte{1}, AccountSignature: make([]byte, 64), AccountSignatureKey: make([]byte, 32), DeviceSignature: make([]byte, 64),
	}
}

func parseJID(t testing.TB, jid string) types.JID {
	t.Helper()
	id, err := types.ParseJID(jid)
	if err != nil || id.IsEmpty() {
		t.Fatalf("whatswebtest: JID %q: %v", jid, err)
	}
	return id
}
