package whatsweb

import (
	"context"
	"fmt"

	"github.com/chathook/chathook"
	"go.mau.fi/whatsmeow/types"
)

// webAccount returns a workspace's account linked by QR code, or
// chathook.ErrNotFound (also for an account of another kind: it has no
// linked device to act on).
func (m *Manager) webAccount(ctx context.Context, workspaceID string, id int64) (chathook.Account, error) {
	a, err := m.cfg.Store.Account(ctx, workspaceID, id)
	if err != nil {
		return a, err
	}
	if a.Kind != chathook.KindWeb {
		return a, fmt.Errorf("account %d is not linked by QR code: %w", id, chathook.ErrNotFound)
	}
	return a, nil
}

// Disconnect asks for an account to be logged out: its state becomes
// disconnecting, and the instance holding it (this one or another)
// removes the linked device on the phone (Logout) and records it
// disconnected. An account whose device is already gone (logged out on
// the phone) is recorded disconnected at once. chathook.ErrNotFound for
// another workspace's account.
func (m *Manager) Disconnect(ctx context.Context, workspaceID string, accountID int64) error {
	a, err := m.webAccount(ctx, workspaceID, accountID)
	if err != nil {
		return err
	}
	switch a.State {
	case chathook.AccountDisconnected, chathook.AccountDisconnecting:
		return nil
	case chathook.AccountLoggedOut, chathook.AccountBanned, chathook.AccountOutdated:
		// The phone removed the device already; only its session may be
		// left here. A banned or outdated account is not connected to be
		// logged out (WhatsApp refuses it, and connecting during a ban
		// gets the number banned for good): its session is deleted here,
		// and the phone's list of linked devices keeps it until removed
		// there.
		if err := m.deleteSession(ctx, a.JID); err != nil {
			return err
		}
		_, err = m.cfg.Store.SetAccountState(ctx, a.ID, chathook.AccountDisconnected, m.now())
		return err
	}
	// Connecting, connected, and replaced: a replaced session still
	// stands on the phone, so it is connected once more to be removed.
	if _, err := m.cfg.Store.SetAccountState(ctx, a.ID, chathook.AccountDisconnecting, m.now()); err != nil {
		return err
	}
	m.poke()
	return nil
}

// Reconnect puts a replaced account back to connecting, so that an
// instance connects it again (and the other client is the one replaced);
// likewise an outdated one (chathook was updated) and a banned one whose
// ban has ended. A banned account before then answers *BannedError. An
// account already connecting or connected is left alone; one whose
// device is gone answers ErrNeedsPairing.
func (m *Manager) Reconnect(ctx context.Context, workspaceID string, accountID int64) error {
	a, err := m.webAccount(ctx, workspaceID, accountID)
	if err != nil {
		return err
	}
	switch a.State {
	case chathook.AccountConnecting, chathook.AccountConnected:
		return nil
	case chathook.AccountBanned:
		if m.now().Before(a.StateUntil) {
			return &BannedError{Until: a.StateUntil}
		}
		fallthrough
	case chathook.AccountReplaced, chathook.AccountOutdated:
		m.mu.Lock()
		delete(m.retry, a.ID) // a teammate asked: no backoff holds it back
		m.mu.Unlock()
		if _, err := m.cfg.Store.SetAccountState(ctx, a.ID, chathook.AccountConnecting, m.now()); err != nil {
			return err
		}
		m.poke()
		return nil
	}
	return ErrNeedsPairing
}

// deleteSession deletes a device's keys from the sqlstore, if they are
// still there.
func (m *Manager) deleteSession(ctx context.Context, jid string) error {
	j, err := types.ParseJID(jid)
	if err != nil || j.IsEmpty() {
		return nil // no device was ever recorded
	}
	dev, err := m.container.GetDevice(ctx, j)
	if err != nil || dev == nil {
		return err
	}
	return dev.Delete(ctx)
}
