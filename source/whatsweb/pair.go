package whatsweb

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/ingest"
	"github.com/google/uuid"
	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"
)

// PairRequest asks to link a new device to a workspace.
type PairRequest struct {
	WorkspaceID string
	Email       string // the teammate connecting it; required
	// Phone, as a person types it (ingest.ParsePhone), links with a
	// pairing code instead of a QR code; the pairing keeps it as E.164.
	Phone string
	// OnUpdate is called with every saved change (new QR code, pairing
	// code, paired, failed); may be nil.
	OnUpdate func(chathook.Pairing)
}

// How long WhatsApp's QR codes last, as whatsmeow's GetQRChannel shows
// them: the first a minute, each next one 20 seconds.
const (
	firstQR = 60 * time.Second
	nextQR  = 20 * time.Second
)

// pairWait is how long Pair waits for WhatsApp's first code.
const pairWait = 30 * time.Second

// Pair starts linking a new device on this instance and returns the
// pairing as first saved: with its ID and first QR code, or, with Phone,
// once the pairing code is known. It goes on in the background until
// paired, failed (codes exhausted, refused, connection lost) or the
// Manager is closed; each step is saved with Store.SavePairing, so any
// instance can show it. Bad input is a *ingest.FieldError naming "phone"
// or "email"; an unknown workspace is chathook.ErrNotFound; WhatsApp out
// of reach is an error saying so.
//
// On PairSuccess the account is linked (Store.LinkAccount: kind web, JID
// the device's, Phone "+"+its number, FullName its push name, Email),
// leased to this instance, which keeps the connection.
func (m *Manager) Pair(ctx context.Context, req PairRequest) (chathook.Pairing, error) {
	req.Email = strings.TrimSpace(req.Email)
	req.Phone = strings.TrimSpace(req.Phone)
	if err := checkEmail(req.Email); err != nil {
		return chathook.Pairing{}, err
	}
	if req.Phone != "" {
		phone, err := ingest.ParsePhone("phone", req.Phone)
		if err != nil {
			return chathook.Pairing{}, err
		}
		req.Phone = phone
	}
	if _, err := m.cfg.Store.Workspace(ctx, req.WorkspaceID); err != nil {
		return chathook.Pairing{}, err
	}

	p := &pairing{
		m: m,
		p: chathook.Pairing{ID: uuid.NewString(), WorkspaceID: req.WorkspaceID, Email: req.Email, Phone: req.Phone,
			State: chathook.PairingWaiting},
		onUpdate: req.OnUpdate,
		first:    make(chan error, 1),
		done:     make(chan struct{}),
	}
	dev := m.container.NewDevice()
	c := &conn{m: m, pairing: p, dev: dev, groups: map[types.JID]string{}}
	m.mu.Lock()
	if m.stopped {
		m.mu.Unlock()
		return chathook.Pairing{}, errors.New("whatsweb: the manager is closed")
	}
	c.cli = m.cfg.Network.Client(dev)
	m.pairs[c] = struct{}{}
	m.mu.Unlock()
	c.cli.AddEventHandler(c.handle)
	go m.watchQR(c)

	if err := c.cli.Connect(m.ctx); err != nil {
		m.drop(c)
		p.finish()
		return chathook.Pairing{}, fmt.Errorf("WhatsApp cannot be reached: %w", err)
	}
	wait := time.NewTimer(pairWait)
	defer wait.Stop()
	var err error
	select {
	case err = <-p.first:
	case <-ctx.Done():
		err = ctx.Err()
	case <-wait.C:
		err = errors.New("WhatsApp sent no code to link with: try again")
	}
	if err != nil {
		m.drop(c)
		p.fail(context.WithoutCancel(ctx), err.Error())
		return chathook.Pairing{}, err
	}
	return p.get(), nil
}

// checkEmail is the ingest API's rule for an email; here it is required.
func checkEmail(v string) error {
	if v == "" {
		return &ingest.FieldError{Field: "email", Problem: "required: the email of the teammate connecting the account"}
	}
	return ingest.CheckEmail("email", v)
}

// pairing is a linking under way, as its conn sees it.
type pairing struct {
	m        *Manager
	onUpdate func(chathook.Pairing)
	first    chan error    // nil at the first save, or why there is none
	done     chan struct{} // closed when paired or failed

	mu      sync.Mutex
	p       chathook.Pairing
	codes   []string  // QR codes not yet shown
	expires time.Time // when the code shown expires; zero before the first
	asked   bool      // the pairing code was asked for
	saved   bool      // saved once: Pair has returned it
	ended   bool      // paired or failed
}

func (p *pairing) get() chathook.Pairing {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.p
}

// save records a change of the pairing and tells OnUpdate; the first
// save lets Pair return. Nothing changes once it ended.
func (p *pairing) save(ctx context.Context, change func(*chathook.Pairing)) {
	p.mu.Lock()
	if p.ended {
		p.mu.Unlock()
		return
	}
	change(&p.p)
	p.p.UpdatedAt = p.m.now()
	cur := p.p
	p.ended = cur.State != chathook.PairingWaiting
	p.saved = true
	p.mu.Unlock()
	if err := p.m.cfg.Store.SavePairing(ctx, cur); err != nil {
		p.m.log.Error("whatsapp pairing not saved", "pairing", cur.ID, "err", err)
	}
	if p.onUpdate != nil {
		p.onUpdate(cur)
	}
	select {
	case p.first <- nil:
	default:
	}
	if cur.State != chathook.PairingWaiting {
		p.finish()
	}
}

func (p *pairing) finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.done:
	default:
		close(p.done)
	}
}

// fail records why the pairing ended without a device. Before its first
// save, Pair returns the reason as its error.
func (p *pairing) fail(ctx context.Context, why string) {
	p.mu.Lock()
	if !p.saved {
		select {
		case p.first <- errors.New(why):
		default:
		}
	}
	p.mu.Unlock()
	p.save(ctx, func(x *chathook.Pairing) {
		x.State, x.Err, x.QR, x.Code = chathook.PairingFailed, why, "", ""
	})
}

func (p *pairing) isEnded() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.ended
}

// handle takes the events of linking; it answers false for the others,
// which after PairSuccess are the account's.
func (p *pairing) handle(ctx context.Context, c *conn, evt any) bool {
	switch e := evt.(type) {
	case *events.QR:
		p.mu.Lock()
		p.codes, p.expires = slices.Clone(e.Codes), time.Time{}
		ask := p.p.Phone != "" && !p.asked
		p.asked = true
		p.mu.Unlock()
		p.nextCode(ctx, c, false, p.m.now())
		if ask {
			go p.askCode(ctx, c)
		}
		return true
	case *events.PairSuccess:
		p.paired(ctx, c, e)
		return true
	case *events.PairError:
		p.m.log.Warn("whatsapp pairing refused", "pairing", p.get().ID, "err", e.Error)
		p.end(ctx, c, "WhatsApp refused to link the device: start again")
		return true
	case *events.QRScannedWithoutMultidevice:
		p.m.log.Info("whatsapp QR code scanned by a phone without multi-device", "pairing", p.get().ID)
		return true
	case *events.ClientOutdated:
		// Once paired, the account's: conn.handle rests it outdated.
		if !p.isEnded() {
			p.end(ctx, c, "WhatsApp no longer accepts this version of chathook: update it")
			return true
		}
	case *events.Disconnected, *events.LoggedOut, *events.StreamReplaced, *events.ConnectFailure, *events.TemporaryBan:
		if !p.isEnded() {
			p.end(ctx, c, "the connection to WhatsApp closed before the phone answered: start again")
			return true
		}
	}
	return false
}

// end fails the pairing and closes its connection.
func (p *pairing) end(ctx context.Context, c *conn, why string) {
	p.m.drop(c)
	p.fail(ctx, why)
}

// nextCode shows the next QR code (with Phone, keeps time only: the
// socket closes when the codes run out, which ends the pairing code
// too), or fails the pairing when there is none left. With due, only if
// the code shown has expired at now: the check and the move are one step,
// so two callers never skip a code.
func (p *pairing) nextCode(ctx context.Context, c *conn, due bool, now time.Time) {
	p.mu.Lock()
	if p.ended || due && (p.expires.IsZero() || now.Before(p.expires)) {
		p.mu.Unlock()
		return
	}
	withPhone := p.p.Phone != ""
	if len(p.codes) == 0 {
		p.expires = time.Time{} // a concurrent due caller finds nothing to do
		p.mu.Unlock()
		why := "the QR code expired: start again"
		if withPhone {
			why = "the pairing code expired: start again"
		}
		p.end(ctx, c, why)
		return
	}
	code := p.codes[0]
	p.codes = p.codes[1:]
	life := nextQR
	if p.expires.IsZero() {
		life = firstQR
	}
	p.expires = now.Add(life)
	p.mu.Unlock()
	if !withPhone {
		p.save(ctx, func(x *chathook.Pairing) { x.QR = code })
	}
}

// watchQR rotates a pairing's QR codes as they expire by the Manager's
// clock, looking every qrPoll.
func (m *Manager) watchQR(c *conn) {
	t := time.NewTicker(m.qrPoll)
	defer t.Stop()
	for {
		select {
		case <-c.pairing.done:
			return
		case <-m.ctx.Done():
			return
		case <-t.C:
			c.pairing.nextCode(m.ctx, c, true, m.now())
		}
	}
}

// askCode asks WhatsApp for the pairing code of the pairing's phone.
func (p *pairing) askCode(ctx context.Context, c *conn) {
	ctx, cancel := context.WithTimeout(ctx, pairWait)
	defer cancel()
	code, err := c.cli.PairPhone(ctx, p.get().Phone)
	if err != nil {
		p.m.log.Warn("whatsapp pairing code refused", "pairing", p.get().ID, "err", err)
		p.end(ctx, c, "WhatsApp gave no pairing code for this number: check it, or link with the QR code")
		return
	}
	p.save(ctx, func(x *chathook.Pairing) { x.Code = code })
}

// paired links the account of a device the phone just accepted, leased
// to this instance, whose connection the conn becomes.
func (p *pairing) paired(ctx context.Context, c *conn, e *events.PairSuccess) {
	m := p.m
	cur := p.get()
	acc := chathook.Account{
		Phone: phoneOf(normalize(e.ID)), FullName: ingest.CleanName(c.dev.PushName), Email: cur.Email,
		JID: e.ID.String(), Kind: chathook.KindWeb,
	}
	if acc.Phone == "" {
		p.end(ctx, c, fmt.Sprintf("WhatsApp linked %s, which is not a phone number", e.ID.String()))
		return
	}
	prev := m.linkedDevice(ctx, cur.WorkspaceID, acc)
	m.mu.Lock()
	if m.stopped {
		m.mu.Unlock()
		return // Close fails the pairing
	}
	// Under m.mu, so that no claim round starts a second connection for
	// the account between its lease and this conn taking it.
	saved, err := m.cfg.Store.LinkAccount(ctx, cur.WorkspaceID, acc, m.cfg.Owner, m.now().Add(m.cfg.Lease))
	var old *conn
	if err == nil {
		if old = m.conns[saved.ID]; old != nil {
			// Closed, its socket left open for unlink to log it out.
			old.mu.Lock()
			old.closed = true
			old.mu.Unlock()
			delete(m.conns, saved.ID)
		}
		c.mu.Lock()
		c.acc, c.until, c.round = saved, m.now().Add(m.cfg.Lease), m.round
		c.parser = whatsmeow.NewClient(c.dev, nil)
		c.mu.Unlock()
		m.conns[saved.ID] = c
		delete(m.pairs, c)
		delete(m.retry, saved.ID)
	}
	m.mu.Unlock()
	if err != nil {
		m.log.Error("whatsapp account not linked", "pairing", cur.ID, "err", err)
		p.end(ctx, c, "the account could not be saved: start again")
		return
	}
	if old != nil || prev != "" {
		go m.unlink(old, prev)
	}
	m.log.Info("whatsapp account linked", "pairing", cur.ID, "account_id", saved.ID, "workspace", saved.WorkspaceID)
	p.save(ctx, func(x *chathook.Pairing) {
		x.State, x.AccountID, x.QR, x.Code = chathook.PairingPaired, saved.ID, "", ""
	})
}

// linkedDevice returns the device JID of the workspace's account that
// phone a.Phone already has linked by QR code, other than a.JID: "" if
// none.
func (m *Manager) linkedDevice(ctx context.Context, workspaceID string, a chathook.Account) string {
	accs, err := m.cfg.Store.Accounts(ctx, workspaceID)
	if err != nil {
		m.log.Warn("whatsapp accounts not read: a former device of the phone may stay linked", "err", err)
		return ""
	}
	for _, x := range accs {
		if x.Kind == chathook.KindWeb && x.Phone == a.Phone && x.JID != "" && x.JID != a.JID {
			return x.JID
		}
	}
	return ""
}

// unlink removes the device that a new link of the same phone replaced,
// so that the phone lists no stale linked device and the database keeps
// no stale keys: old (its conn here, closed, or nil) is logged out on
// WhatsApp if connected, then the keys of jid (old's device, or the one
// the account had) are deleted. A device another instance has connected
// is dropped there at its next claim; only the phone can remove it then.
func (m *Manager) unlink(old *conn, jid string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(m.ctx), 30*time.Second)
	defer cancel()
	if old != nil {
		old.mu.Lock()
		cli, online := old.cli, old.online
		jid = cmp.Or(old.acc.JID, jid)
		old.mu.Unlock()
		if cli != nil && online {
			if err := cli.Logout(ctx); err != nil {
				m.log.Warn("whatsapp former device of a relinked phone not logged out", "account_id", old.account().ID, "err", err)
			} else {
				m.log.Info("whatsapp former device of a relinked phone logged out", "account_id", old.account().ID)
			}
		}
		if cli != nil {
			cli.Disconnect()
		}
	}
	if err := m.deleteSession(ctx, jid); err != nil {
		m.log.Warn("whatsapp former device's keys not deleted", "err", err)
	}
}
