package whatsweb

import (
	"context"
	"os"
	"time"

	"go.mau.fi/whatsmeow"
	wastore "go.mau.fi/whatsmeow/store"
	"go.mau.fi/whatsmeow/types"
)

// Claim runs one round of lease claims now, as Run does every Lease/3.
func (m *Manager) Claim(ctx context.Context) { m.claim(ctx) }

// RotateQR moves every pairing whose QR code has expired by the
// Manager's clock to its next code, as the watcher does every second.
func (m *Manager) RotateQR() {
	m.mu.Lock()
	var cs []*conn
	for c := range m.pairs {
		cs = append(cs, c)
	}
	m.mu.Unlock()
	for _, c := range cs {
		c.pairing.nextCode(m.ctx, c, true, m.now())
	}
}

// SetQRPoll changes how often pairings look at the clock.
func SetQRPoll(m *Manager, d time.Duration) { m.qrPoll = d }

// SetMediaRetryWait changes how long a download waits for the phone.
func SetMediaRetryWait(m *Manager, d time.Duration) { m.mediaRetryWait = d }

// SetHandleTimeout changes how long one event may take to handle.
func SetHandleTimeout(m *Manager, d time.Duration) { m.handleTimeout = d }

// SetHistoryRetry changes the first wait before history is stored again.
func SetHistoryRetry(m *Manager, d time.Duration) { m.historyRetry = d }

// NewBoundedFile is the file a download writes into: f, refusing to
// grow past max plus WhatsApp's overhead.
func NewBoundedFile(f *os.File, max int64) whatsmeow.File { return newBoundedFile(f, max) }

// MediaOverhead is what a download may write past max.
const MediaOverhead = mediaOverhead

// RetryText is what m's production client of dev answers a retry receipt
// from requester for message id in chat with: the text it would send again,
// "" if none.
func RetryText(m *Manager, dev *wastore.Device, requester, chat types.JID, id string) string {
	cli := m.cfg.Network.Client(dev).(wmClient).cli
	return cli.GetMessageForRetry(requester, chat, id).GetConversation()
}
