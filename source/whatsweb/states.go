package whatsweb

import (
	"fmt"
	"time"

	"github.com/chathook/chathook"
	"go.mau.fi/whatsmeow/types/events"
)

// UnknownBanWait is how long an account rests after a TemporaryBan that
// does not say when it ends: one try an hour is no hammering, and a ban
// still running answers with its own expiry.
const UnknownBanWait = time.Hour

// BannedError answers Reconnect for an account whose temporary ban has
// not ended: connecting before Until is what gets a number banned for
// good.
type BannedError struct{ Until time.Time }

func (e *BannedError) Error() string {
	return fmt.Sprintf("WhatsApp banned this number until %s: chathook connects it again by itself then",
		e.Until.UTC().Format(time.RFC3339))
}

// banned rests an account WhatsApp banned for a while: recorded banned
// until the ban's end (the store releases the lease, emails the owner
// and tells the endpoints), its connection dropped. Nothing connects it
// before then: this instance keeps it off its claims until then even if
// the store could not record the ban, and no instance claims a banned
// account before its end (ClaimAccounts).
func (m *Manager) banned(c *conn, e *events.TemporaryBan) {
	a := c.account()
	now := m.now()
	wait := e.Expire
	if wait <= 0 {
		wait = UnknownBanWait
	}
	until := now.Add(wait)
	m.mu.Lock()
	m.retry[a.ID] = backoff{at: until}
	m.mu.Unlock()
	m.log.Warn("whatsapp account temporarily banned by WhatsApp: not connected before the ban ends",
		"account_id", a.ID, "until", until, "reason", e.Code.String())
	saved, err := m.cfg.Store.BanAccount(m.ctx, a.ID, until, now)
	if err != nil {
		m.log.Error("whatsapp account ban not saved", "account_id", a.ID, "until", until, "err", err)
	}
	m.drop(c)
	if err == nil && saved.State == chathook.AccountDisconnected {
		// A teammate had asked to disconnect it: a banned device cannot
		// be logged out, so its session is deleted here, as Disconnect
		// does for a banned account.
		if err := m.deleteSession(m.ctx, a.JID); err != nil {
			m.log.Error("whatsapp session of a disconnected account not deleted", "account_id", a.ID, "err", err)
		}
	}
}

// outdated rests an account WhatsApp refused because this chathook's
// WhatsApp Web client is too old: every try would be refused alike, so
// it waits, recorded outdated (the store emails the owner and tells the
// endpoints), until a teammate updates chathook and presses Reconnect.
// The state is saved before the connection is dropped, so that no claim
// in between connects it again.
func (m *Manager) outdated(c *conn) {
	a := c.account()
	if _, err := m.cfg.Store.SetAccountState(m.ctx, a.ID, chathook.AccountOutdated, m.now()); err != nil {
		m.failed(c, fmt.Errorf("WhatsApp refused the client as outdated, and the state was not saved: %w", err))
		return
	}
	m.log.Error("whatsapp refused this chathook as outdated: update chathook, then press Reconnect", "account_id", a.ID)
	m.drop(c)
}
