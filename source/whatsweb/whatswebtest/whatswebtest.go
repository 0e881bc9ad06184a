// Package whatswebtest fakes WhatsApp for tests of code that links
// accounts by QR code, as net/http/httptest fakes a network peer: only
// tests import it; the product never does.
//
// It is the one fake chathook's tests allow, because WhatsApp's servers
// cannot be reached from a test machine (and must not be: pairing needs
// a phone). A Network stands behind whatsweb.Network; its Clients emit
// whatsmeow's own event values (*events.QR, *events.PairSuccess,
// *events.Connected, *events.Message, ...) when the test says WhatsApp
// or the phone acted, so the connector under test runs its production
// code on them. The devices it pairs are saved in whatsmeow's real
// sqlstore, as whatsmeow's handlePairSuccess saves them.
//
// Several instances of chathook on one database reach the same WhatsApp:
// give each a Sibling of one Network. The siblings share what WhatsApp
// knows (group subjects, QR codes handed out, which devices are online),
// so NoOverlap can tell whether a device was ever connected twice at
// once, which WhatsApp punishes by dropping both connections.
package whatswebtest

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net"
	"slices"
	"sync"
	"testing"

	"github.com/chathook/chathook/chathooktest"
	"github.com/chathook/chathook/source/whatsweb"
	wastore "go.mau.fi/whatsmeow/store"
	"go.mau.fi/whatsmeow/types"
)

// PairingCode is the code every Client's PairPhone hands out, with its
// dash, as whatsmeow formats one.
const PairingCode = "ABCD-EFGH"

// QRCount is how many QR codes an unpaired device gets when it connects,
// as many as WhatsApp sends (the sixth expires after 160 s).
const QRCount = 6

// Network is WhatsApp as one instance of chathook reaches it. It
// implements whatsweb.Network; the zero value is not usable, call New.
type Network struct {
	world *world

	mu          sync.Mutex
	clients     []*Client
	unreachable bool
	phones      []string
	sendFaults  []error // the next sends' errors
}

// world is WhatsApp itself, shared by sibling Networks.
type world struct {
	mu       sync.Mutex
	online   map[string]int // device JID → clients connected now
	overlaps []string       // devices seen connected twice at once
	groups   map[types.JID]string
	batches  int  // QR code batches handed out, so that each differs
	cdn      *cdn // media servers, started by the first PutMedia

	// unacked are the events Deliver handed a device's clients that
	// were not acknowledged, by device JID, in order.
	unacked map[string][]unacked
	seq     int // events recorded unacknowledged

	sent       []SentMessage // every send, in order
	beforeSend func(SentMessage) bool
	afterSend  func(SentMessage)
}

// New returns a WhatsApp of its own with no devices online.
func New() *Network {
	return &Network{world: &world{online: map[string]int{}, groups: map[types.JID]string{}, unacked: map[string][]unacked{}}}
}

// Sibling is the same WhatsApp as another instance reaches it: its own
// clients and reachability, shared devices, groups and overlap count.
func (n *Network) Sibling() *Network {
	return &Network{world: n.world}
}

// Client makes the connection of dev, not yet connected; it is what
// whatsweb.Manager calls.
func (n *Network) Client(dev *wastore.Device) whatsweb.Client {
	n.mu.Lock()
	defer n.mu.Unlock()
	c := &Client{net: n, dev: dev}
	n.clients = append(n.clients, c)
	return c
}

// SetUnreachable makes every later Connect of this network's clients
// fail as a DNS failure would (true), or succeed again (false).
func (n *Network) SetUnreachable(down bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.unreachable = down
}

// SetGroup gives a group (JID "…@g.us") its subject, which GroupName
// answers from then on; an unknown group answers an error, as
// WhatsApp's item-not-found.
func (n *Network) SetGroup(jid, subject string) {
	id, err := types.ParseJID(jid)
	if err != nil {
		panic(fmt.Sprintf("whatswebtest: group JID %q: %v", jid, err))
	}
	n.world.mu.Lock()
	defer n.world.mu.Unlock()
	n.world.groups[id] = subject
}

// Phones returns the numbers this network's clients asked pairing codes
// for, in order.
func (n *Network) Phones() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]string(nil), n.phones...)
}

// Clients returns every client this network made, in order, connected or
// not.
func (n *Network) Clients() []*Client {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]*Client(nil), n.clients...)
}

// Online waits for a connected client of the device jid on this network,
// failing the test after 10 s.
func (n *Network) Online(t testing.TB, jid string) *Client {
	t.Helper()
	return n.await(t, "a connected client of "+jid, func(c *Client) bool { return c.JID() == jid })
}

// Unpaired waits for a connected client of a device not paired yet (a
// pairing under way) on this network, failing the test after 10 s.
func (n *Network) Unpaired(t testing.TB) *Client {
	t.Helper()
	return n.await(t, "a connected client of a pairing", func(c *Client) bool { return c.JID() == "" })
}

// await polls for a connected client that match accepts.
func (n *Network) await(t testing.TB, what string, match func(*Client) bool) *Client {
	t.Helper()
	var found *Client
	chathooktest.Eventually(t, what, func() bool {
		for _, c := range n.Clients() {
			if c.Connected() && match(c) {
				found = c
				return true
			}
		}
		return false
	})
	return found
}

// NoOverlap fails the test if a device was ever connected twice at once,
// by any clients of this network and its siblings.
func (n *Network) NoOverlap(t testing.TB) {
	t.Helper()
	n.world.mu.Lock()
	defer n.world.mu.Unlock()
	if len(n.world.overlaps) > 0 {
		t.Errorf("whatswebtest: devices connected twice at once: %v", n.world.overlaps)
	}
}

// Unacked returns the events Deliver handed clients of the device jid
// that are still not acknowledged, in order: WhatsApp sends them again
// at the device's next connection.
func (n *Network) Unacked(jid string) []any {
	n.world.mu.Lock()
	defer n.world.mu.Unlock()
	var evts []any
	for _, p := range n.world.unacked[jid] {
		evts = append(evts, p.evt)
	}
	return evts
}

// unacked is an event WhatsApp keeps for a device until acknowledged.
type unacked struct {
	seq int
	evt any
}

func (w *world) keepUnacked(jid string, evt any) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.seq++
	w.unacked[jid] = append(w.unacked[jid], unacked{seq: w.seq, evt: evt})
}

func (w *world) pendingUnacked(jid string) []unacked {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]unacked(nil), w.unacked[jid]...)
}

// acked forgets the device's event seq: acknowledged at last.
func (w *world) acked(jid string, seq int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.unacked[jid] = slices.DeleteFunc(w.unacked[jid], func(p unacked) bool { return p.seq == seq })
}

func (n *Network) reachable() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.unreachable {
		// As the resolver answers, so that callers can tell it apart.
		return &net.OpError{Op: "dial", Net: "tcp", Err: &net.DNSError{Err: "no such host", Name: "web.whatsapp.com", IsNotFound: true}}
	}
	return nil
}

// connect counts a device online; jid "" is an unpaired one.
func (w *world) connect(jid string) {
	if jid == "" {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.online[jid]++
	if w.online[jid] > 1 {
		w.overlaps = append(w.overlaps, jid)
	}
}

func (w *world) disconnect(jid string) {
	if jid == "" {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.online[jid]--
}

// qrBatch is the next batch of QR codes, unlike any other handed out.
func (w *world) qrBatch() []string {
	w.mu.Lock()
	w.batches++
	batch := w.batches
	w.mu.Unlock()
	codes := make([]string, QRCount)
	for i := range codes {
		codes[i] = qrCode(batch, i)
	}
	return codes
}

// qrCode is a QR code's content as long as WhatsApp's, so that rendered
// codes are as dense as real ones: a ref, then the noise key, identity
// key and adv secret in base64, comma-separated.
func qrCode(batch, i int) string {
	part := func(what string, n int) string {
		sum := sha256.Sum256(fmt.Appendf(nil, "%s %d %d", what, batch, i))
		return base64.StdEncoding.EncodeToString(append(sum[:], sum[:]...))[:n]
	}
	return "2@" + part("ref", 80) + "," + part("noise", 43) + "=," + part("identity", 43) + "=," + part("adv", 43) + "="
}

func (n *Network) groupName(group types.JID) (string, error) {
	n.world.mu.Lock()
	defer n.world.mu.Unlock()
	if name, ok := n.world.groups[group]; ok {
		return name, nil
	}
	return "", fmt.Errorf("group %s: item-not-found", group)
}

func (n *Network) askedCode(phone string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.phones = append(n.phones, phone)
}

var _ whatsweb.Network = (*Network)(nil)
