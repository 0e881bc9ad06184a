package whatswebtest

import (
	"context"
	"time"

	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/types"
)

// SentMessage is one attempt of a client to send a text message.
type SentMessage struct {
	From string // the sending device's JID
	To   string // the user's or group's JID
	ID   string // the message id the client chose
	Text string
}

// SendText records the message as WhatsApp's server taking it, unless
// the socket is closed (whatsmeow.ErrNotConnected) or FailSends says to
// fail. The time it answers is when the message was recorded.
func (c *Client) SendText(ctx context.Context, to types.JID, id types.MessageID, text string) (time.Time, error) {
	if !c.Connected() {
		return time.Time{}, whatsmeow.ErrNotConnected
	}
	if err := c.net.fault(); err != nil {
		return time.Time{}, err
	}
	m := SentMessage{From: c.JID(), To: to.String(), ID: id, Text: text}
	c.net.world.mu.Lock()
	before := c.net.world.beforeSend
	c.net.world.mu.Unlock()
	if before != nil && !before(m) {
		return time.Time{}, context.Canceled
	}
	c.net.world.mu.Lock()
	c.net.world.sent = append(c.net.world.sent, m)
	hook := c.net.world.afterSend
	c.net.world.mu.Unlock()
	if hook != nil {
		hook(m)
	}
	return time.Now().UTC(), nil
}

// FailSends makes the next n sends of this network's clients fail with
// err, as whatsmeow's SendMessage would.
func (n *Network) FailSends(count int, err error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for range count {
		n.sendFaults = append(n.sendFaults, err)
	}
}

func (n *Network) fault() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if len(n.sendFaults) == 0 {
		return nil
	}
	err := n.sendFaults[0]
	n.sendFaults = n.sendFaults[1:]
	return err
}

// BeforeSend calls fn with every message a client is about to send, on
// any sibling network; when fn answers false, WhatsApp never gets it and
// the client is answered context.Canceled: where a test stops an
// instance in the middle of an attempt.
func (n *Network) BeforeSend(fn func(SentMessage) bool) {
	n.world.mu.Lock()
	defer n.world.mu.Unlock()
	n.world.beforeSend = fn
}

// AfterSend calls fn with every message WhatsApp's server took, on any
// sibling network, before the sending client is answered: where a test
// stops an instance between a send and its record.
func (n *Network) AfterSend(fn func(SentMessage)) {
	n.world.mu.Lock()
	defer n.world.mu.Unlock()
	n.world.afterSend = fn
}

// Sent returns every message sent through this network and its
// siblings, in order, each attempt once: a message sent again under its
// id is in it twice, but is one message to WhatsApp (see Messages).
func (n *Network) Sent() []SentMessage {
	n.world.mu.Lock()
	defer n.world.mu.Unlock()
	return append([]SentMessage(nil), n.world.sent...)
}

// Messages returns the messages the phones show, in the order first
// sent: WhatsApp takes a message sent again by a device under the same
// id as the one it has, as the phones do.
func (n *Network) Messages() []SentMessage {
	seen := map[[2]string]bool{}
	var out []SentMessage
	for _, m := range n.Sent() {
		key := [2]string{m.From, m.ID}
		if !seen[key] {
			seen[key] = true
			out = append(out, m)
		}
	}
	return out
}
