package whatsweb_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/chathook/chathook/source/whatsweb"
	"go.mau.fi/whatsmeow/proto/waAdv"
	wastore "go.mau.fi/whatsmeow/store"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"
)

// fakeNet is WhatsApp for tests: its clients emit whatsmeow's own event
// values, which the test drives. It counts, per linked device, the
// clients connected at once: WhatsApp drops both of two connections of
// one device, so more than one is a failure of the leases.
type fakeNet struct {
	*tally
	mu      sync.Mutex
	clients []*fakeClient
	codes   []string // QR codes an unpaired device gets
	unreach bool     // Connect fails
	groups  map[types.JID]string
	phones  []string // numbers pairing codes were asked for
}

// tally is what every instance's connections add up to, at WhatsApp.
type tally struct {
	mu       sync.Mutex
	online   map[string]int // device JID → clients connected now
	overlaps []string       // devices seen connected twice at once
}

func newFakeNet() *fakeNet {
	return &fakeNet{
		tally:  &tally{online: map[string]int{}},
		codes:  []string{"2@qr-one", "2@qr-two", "2@qr-three", "2@qr-four", "2@qr-five", "2@qr-six"},
		groups: map[types.JID]string{},
	}
}

// sibling is the network as another instance reaches it: its own
// clients, the same WhatsApp.
func (n *fakeNet) sibling() *fakeNet {
	s := newFakeNet()
	s.tally = n.tally
	return s
}

func (n *fakeNet) Client(dev *wastore.Device) whatsweb.Client {
	n.mu.Lock()
	defer n.mu.Unlock()
	c := &fakeClient{net: n, dev: dev}
	n.clients = append(n.clients, c)
	return c
}

// connect counts a device online; jid "" is an unpaired one.
func (n *tally) connect(jid string) {
	if jid == "" {
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.online[jid]++
	if n.online[jid] > 1 {
		n.overlaps = append(n.overlaps, jid)
	}
}

func (n *tally) disconnect(jid string) {
	if jid == "" {
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.online[jid]--
}

// noOverlap fails the test if a device was ever connected twice at once.
func (n *tally) noOverlap(t *testing.T) {
	t.Helper()
	n.mu.Lock()
	defer n.mu.Unlock()
	if len(n.overlaps) > 0 {
		t.Errorf("devices connected twice at once: %v", n.overlaps)
	}
}

// all returns the clients made so far.
func (n *fakeNet) all() []*fakeClient {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]*fakeClient(nil), n.clients...)
}

// onlineClient waits for a client of device jid to be connected.
func (n *fakeNet) onlineClient(t *testing.T, jid string) *fakeClient {
	t.Helper()
	var found *fakeClient
	waitFor(t, "a connected client of "+jid, func() bool {
		for _, c := range n.all() {
			if c.jid() == jid && c.isOnline() {
				found = c
				return true
			}
		}
		return false
	})
	return found
}

// unpaired waits for the client of a pairing under way.
func (n *fakeNet) unpaired(t *testing.T) *fakeClient {
	t.Helper()
	var found *fakeClient
	waitFor(t, "a pairing client", func() bool {
		for _, c := range n.all() {
			if c.jid() == "" && c.isOnline() {
				found = c
				return true
			}
		}
		return false
	})
	return found
}

// fakeClient is one device's connection to fakeNet.
type fakeClient struct {
	net *fakeNet
	dev *wastore.Device

	mu       sync.Mutex
	handlers []func(any)
	on       bool
	logouts  int
}

func (c *fakeClient) jid() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.dev.ID == nil {
		return ""
	}
	return c.dev.ID.String()
}

func (c *fakeClient) isOnline() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.on
}

// Connect opens the socket; as WhatsApp does, an unpaired device then
// gets its QR codes and a paired one is logged in.
func (c *fakeClient) Connect(ctx context.Context) error {
	c.net.mu.Lock()
	unreach := c.net.unreach
	c.net.mu.Unlock()
	if unreach {
		return errors.New("dial tcp: lookup web.whatsapp.com: no such host")
	}
	c.mu.Lock()
	if c.on {
		c.mu.Unlock()
		return errors.New("already connected")
	}
	c.on = true
	c.mu.Unlock()
	jid := c.jid()
	c.net.connect(jid)
	if jid == "" {
		c.net.mu.Lock()
		codes := append([]string(nil), c.net.codes...)
		c.net.mu.Unlock()
		go c.emit(&events.QR{Codes: codes})
	} else {
		go c.emit(&events.Connected{})
	}
	return nil
}

func (c *fakeClient) Disconnect() {
	c.mu.Lock()
	was := c.on
	c.on = false
	c.mu.Unlock()
	if was {
		c.net.disconnect(c.jid())
	}
}

// Logout removes the device and deletes its session, as whatsmeow does.
func (c *fakeClient) Logout(ctx context.Context) error {
	if !c.isOnline() {
		return errors.New("not connected")
	}
	c.Disconnect()
	c.mu.Lock()
	c.logouts++
	c.mu.Unlock()
	return c.dev.Delete(ctx)
}

func (c *fakeClient) PairPhone(ctx context.Context, phone string) (string, error) {
	c.net.mu.Lock()
	defer c.net.mu.Unlock()
	c.net.phones = append(c.net.phones, phone)
	return "ABCD-EFGH", nil
}

func (c *fakeClient) AddEventHandler(fn func(evt any)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.handlers = append(c.handlers, fn)
}

func (c *fakeClient) GroupName(ctx context.Context, group types.JID) (string, error) {
	c.net.mu.Lock()
	defer c.net.mu.Unlock()
	if name, ok := c.net.groups[group]; ok {
		return name, nil
	}
	return "", fmt.Errorf("group %s: item-not-found", group)
}

// emit hands evt to the handlers, as whatsmeow's event loop does: one
// event at a time, the handler's work done when it returns.
func (c *fakeClient) emit(evt any) {
	c.mu.Lock()
	hs := append([]func(any){}, c.handlers...)
	c.mu.Unlock()
	for _, h := range hs {
		h(evt)
	}
}

// pair is the phone accepting the link: as whatsmeow's handlePairSuccess,
// the device gets its JID and is saved, then PairSuccess is emitted; then
// the socket restarts logged in (Connected).
func (c *fakeClient) pair(t *testing.T, jid, pushName string) {
	t.Helper()
	id, err := types.ParseJID(jid)
	if err != nil {
		t.Fatal(err)
	}
	c.mu.Lock()
	c.dev.ID = &id
	c.dev.PushName = pushName
	c.dev.Account = &waAdv.ADVSignedDeviceIdentity{
		Details: []byte{1}, AccountSignature: make([]byte, 64), AccountSignatureKey: make([]byte, 32), DeviceSignature: make([]byte, 64),
	}
	c.mu.Unlock()
	if err := c.dev.Save(context.Background()); err != nil {
		t.Fatal(err)
	}
	c.net.connect(jid)
	c.emit(&events.PairSuccess{ID: id, Platform: "android"})
	c.emit(&events.Connected{})
}

// waitFor polls cond until it holds, failing the test after 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
