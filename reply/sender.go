package reply

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/store"
)

// WhatsApp is how replies of QR-linked accounts are sent: through the
// connections this instance holds (whatsweb.Manager).
type WhatsApp interface {
	// Online returns the accounts connected here now.
	Online() []int64
	// Send sends o under o.WAID and returns when WhatsApp took it; errors
	// are *chathook.SendError.
	Send(ctx context.Context, o chathook.Outgoing) (time.Time, error)
}

// CloudAPI is how replies of Cloud API numbers are sent: Meta's Graph
// API (cloudapi.Graph).
type CloudAPI interface {
	// Send sends o and returns its wamid; errors are *chathook.SendError.
	Send(ctx context.Context, o chathook.Outgoing) (string, error)
}

// Config is what a Sender needs.
type Config struct {
	Store    store.Store
	Owner    string   // this instance's name on reply leases
	WhatsApp WhatsApp // nil: no QR-linked account is ever online here
	CloudAPI CloudAPI // nil: Cloud API replies fail, saying so
	// Queued is called after a sent reply's delivery became due (kicks
	// the dispatcher); may be nil.
	Queued func()
	Logger *slog.Logger
	Now    func() time.Time
	// Poll is how often the store is looked at for replies queued on
	// other instances (0: DefaultPoll); replies queued here start at once.
	Poll time.Duration
	// Lease is how long one attempt holds a reply (0: DefaultLease): an
	// instance that dies mid-attempt gives it up then.
	Lease time.Duration
	// MaxWait is how long after it was queued a reply that could not be
	// sent is given up (0: DefaultMaxWait).
	MaxWait time.Duration
	// Backoff is the wait before the next attempt after the n-th failed
	// one (nil: DefaultBackoff).
	Backoff func(n int) time.Duration
	// SendRate paces each account's attempts: one every minute/SendRate
	// at most (20: one every 3 s), evenly, so that a burst is smoothed,
	// not refused (0: no limit; the service's default is
	// DefaultSendRate). A reply whose account's turn has not come waits
	// in the store, due at that turn, not here. The turns are this
	// instance's: a QR-linked account is held by one instance at a time,
	// so they are the account's; a Cloud API number's replies are sent by
	// whichever instance claims them, so with n instances it may send up
	// to n × SendRate a minute.
	SendRate int
}

// Defaults of Config.
const (
	DefaultPoll  = time.Second
	DefaultLease = 2 * time.Minute
	// DefaultMaxWait: a customer waiting for an answer is better served
	// by a teammate who learns within minutes that it did not go out than
	// by a message that arrives hours late.
	DefaultMaxWait = 10 * time.Minute
	// DefaultSendRate: a teammate answering chats seldom sends more than
	// one message every 3 s, while a linked device that sends faster
	// looks like the automated bulk sending WhatsApp bans numbers for.
	DefaultSendRate = 20
	// claimLimit is how many replies an instance holds at once.
	claimLimit = 64
)

// DefaultBackoff waits 2 s after the first failed attempt, doubling up to
// a minute.
func DefaultBackoff(n int) time.Duration {
	return min(2*time.Second<<min(max(n-1, 0), 5), time.Minute)
}

// Sender sends the replies queued in the store: those of the QR-linked
// accounts this instance has online and of any Cloud API number.
//
// It claims while attempts run, up to claimLimit replies at once, so a
// slow send holds up its own chat only; the store hands out one reply
// of a chat at a time, so each chat's replies still go out in order.
type Sender struct {
	cfg    Config
	log    *slog.Logger
	kick   chan struct{}
	killed atomic.Bool

	running sync.WaitGroup // attempts and records under way
	mu      sync.Mutex
	claimed int // replies held here: being attempted, given up or handed back
	// turns is, per account that attempted a reply within the last
	// interval, when its next turn comes; an account not in it may send
	// now.
	turns map[int64]time.Time
}

// New returns a Sender; Run starts it.
func New(cfg Config) *Sender {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Poll <= 0 {
		cfg.Poll = DefaultPoll
	}
	if cfg.Lease <= 0 {
		cfg.Lease = DefaultLease
	}
	if cfg.MaxWait <= 0 {
		cfg.MaxWait = DefaultMaxWait
	}
	if cfg.Backoff == nil {
		cfg.Backoff = DefaultBackoff
	}
	if cfg.Queued == nil {
		cfg.Queued = func() {}
	}
	if cfg.WhatsApp == nil {
		cfg.WhatsApp = offline{}
	}
	if cfg.CloudAPI == nil {
		cfg.CloudAPI = noGraph{}
	}
	return &Sender{cfg: cfg, log: cfg.Logger, kick: make(chan struct{}, 1), turns: map[int64]time.Time{}}
}

// Queue validates and commits a reply (see Queue) and wakes the sender.
func (s *Sender) Queue(ctx context.Context, workspaceID string, chatID int64, text string, by chathook.Teammate) (chathook.Reply, error) {
	r, err := Queue(ctx, s.cfg.Store, workspaceID, chatID, text, by, s.cfg.Now())
	if err == nil {
		s.Kick()
	}
	return r, err
}

// Kill stops the Sender as a crash would, for tests: from now on no
// outcome of an attempt is recorded, and Run returns at its next look.
func (s *Sender) Kill() { s.killed.Store(true); s.Kick() }

// Kick makes Run look for replies now rather than at its next poll.
func (s *Sender) Kick() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// Run sends replies until ctx is done. Attempts under way when it ends
// are cut short; their replies are attempted again (QR) or given up as
// uncertain (Cloud API) once their leases run out.
func (s *Sender) Run(ctx context.Context) error {
	t := time.NewTimer(s.cfg.Poll)
	defer t.Stop()
	for !s.killed.Load() && ctx.Err() == nil {
		if n, asked := s.pass(ctx, nil); n > 0 && n == asked {
			continue // more may be waiting
		}
		t.Reset(s.sleep())
		select {
		case <-ctx.Done():
		case <-t.C:
		case <-s.kick:
		}
	}
	s.running.Wait()
	return nil
}

// Round claims the replies due now and starts them, and waits for what
// it started; replies whose account's turn has not come are handed back,
// due then (a later Round). It returns how many it claimed. For tests:
// Run does not wait.
func (s *Sender) Round(ctx context.Context) int {
	var wg sync.WaitGroup
	n, _ := s.pass(ctx, &wg)
	wg.Wait()
	return n
}

// interval is the least time between two attempts of an account; 0: no
// limit.
func (s *Sender) interval() time.Duration {
	if s.cfg.SendRate <= 0 {
		return 0
	}
	return time.Minute / time.Duration(s.cfg.SendRate)
}

// sleep is how long Run waits before its next look: the poll, or less
// when an account's turn comes sooner (its replies handed back are due
// then).
func (s *Sender) sleep() time.Duration {
	d := s.cfg.Poll
	now := s.cfg.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, at := range s.turns {
		d = min(d, max(at.Sub(now), 0))
	}
	return d
}

// pass claims and starts as many replies as there is room for, without
// waiting for any attempt, and returns how many it claimed and how many
// it asked for. Accounts whose turn has not come are not claimed for. A
// claimed reply is attempted at once if its account's turn has come
// (taking it), else handed back to the store, due at the account's next
// turn free in this pass. What it starts joins wg when not nil.
func (s *Sender) pass(ctx context.Context, wg *sync.WaitGroup) (claimed, asked int) {
	if ctx.Err() != nil || s.killed.Load() {
		return 0, 0 // stopping: no attempt starts with a cancelled ctx
	}
	now := s.cfg.Now()
	up := s.cfg.WhatsApp.Online()
	var skip []int64 // accounts whose turn has not come
	s.mu.Lock()
	for id, at := range s.turns {
		if at.After(now) {
			skip = append(skip, id)
		} else {
			delete(s.turns, id) // its turn has come
		}
	}
	asked = claimLimit - s.claimed
	s.mu.Unlock()
	if asked <= 0 {
		return 0, 0
	}
	online := make(map[int64]bool, len(up))
	var web []int64
	for _, id := range up {
		online[id] = true
		if !slices.Contains(skip, id) {
			web = append(web, id)
		}
	}
	out, err := s.cfg.Store.ClaimReplies(ctx, s.cfg.Owner, store.ReplyClaim{
		Now: now, Until: now.Add(s.cfg.Lease), Web: web, Skip: skip, Stale: now.Add(-s.cfg.MaxWait), Limit: asked,
	})
	if err != nil {
		if ctx.Err() == nil {
			s.log.Error("replies not claimed", "err", err)
		}
		return 0, asked
	}
	s.mu.Lock()
	s.claimed += len(out)
	s.mu.Unlock()
	later := map[int64]time.Time{} // per account, the next turn free in this pass
	for _, o := range out {
		if ctx.Err() != nil {
			// Stopping since the claim: hand it back unattempted.
			s.start(wg, func() { s.later(ctx, o, now) })
			continue
		}
		if reason := s.cannotSend(o, now, online[o.AccountID]); reason != "" {
			// Failed, or uncertain if an earlier attempt may have
			// reached WhatsApp.
			s.start(wg, func() { s.failed(ctx, s.logger(o), o, &chathook.SendError{Reason: reason}) })
			continue
		}
		if at, ok := later[o.AccountID]; ok {
			later[o.AccountID] = at.Add(s.interval())
			s.start(wg, func() { s.later(ctx, o, at) })
			continue
		}
		if iv := s.interval(); iv > 0 {
			s.mu.Lock()
			s.turns[o.AccountID] = now.Add(iv)
			s.mu.Unlock()
			later[o.AccountID] = now.Add(iv)
		}
		s.start(wg, func() { s.attempt(ctx, o) })
	}
	return len(out), asked
}

// start runs fn, one claimed reply's handling, on a goroutine of its
// own; when it ends the reply's room is free and Run looks again.
func (s *Sender) start(wg *sync.WaitGroup, fn func()) {
	s.running.Add(1)
	if wg != nil {
		wg.Add(1)
	}
	go func() {
		defer func() {
			s.mu.Lock()
			s.claimed--
			s.mu.Unlock()
			s.running.Done()
			if wg != nil {
				wg.Done()
			}
			s.Kick()
		}()
		fn()
	}()
}

// later hands a claimed reply back to the store unattempted, due at at
// (its account's turn): no attempt is counted and it is not in doubt.
// One claimed in doubt had an attempt whose end was never recorded:
// that attempt is recorded now, as maybe sent, so that the doubt
// outlives the hand-back.
func (s *Sender) later(ctx context.Context, o chathook.Outgoing, at time.Time) {
	if s.killed.Load() {
		return
	}
	log := s.logger(o)
	ctx = context.WithoutCancel(ctx)
	var err error
	if o.InDoubt {
		err = s.cfg.Store.ReplyFailed(ctx, s.cfg.Owner, o.ID, maybeSent+"an attempt's end is unknown (chathook stopped during it); "+
			"it is sent again under the same id at the account's turn", at, s.cfg.Now())
	} else {
		err = s.cfg.Store.ReplyLater(ctx, s.cfg.Owner, o.ID, at)
	}
	switch {
	case errors.Is(err, store.ErrNotOurs):
		log.Info("reply not handed back: another instance holds it, or it was sent meanwhile")
	case err != nil:
		log.Error("reply not handed back", "err", err)
	default:
		log.Debug("reply waits for its account's turn", "due_at", at)
	}
}

func (s *Sender) logger(o chathook.Outgoing) *slog.Logger {
	return s.log.With("reply", o.ID, "account_id", o.AccountID, "chat_id", o.ChatID)
}

// attempt sends one claimed reply and records how it ended.
func (s *Sender) attempt(ctx context.Context, o chathook.Outgoing) {
	log := s.logger(o)
	var waID string
	var at time.Time
	var err error
	switch o.Account.Kind {
	case chathook.KindWeb:
		if o.InDoubt {
			log.Info("reply attempted again under its id: an earlier attempt's end is unknown")
		}
		waID = o.WAID
		at, err = s.cfg.WhatsApp.Send(ctx, o)
	case chathook.KindCloudAPI:
		waID, err = s.cfg.CloudAPI.Send(ctx, o)
		at = s.cfg.Now()
	}
	if err != nil {
		s.failed(ctx, log, o, err)
		return
	}
	if s.killed.Load() {
		return
	}
	queued, err := s.cfg.Store.ReplySent(context.WithoutCancel(ctx), s.cfg.Owner, o.ID, waID, at)
	if errors.Is(err, store.ErrNotOurs) {
		// Its lease ran out during the attempt and another attempt took
		// it, or sent it: this one's outcome is not the record.
		log.Info("reply sent by another instance's attempt, or its lease was lost")
		return
	}
	if err != nil {
		// The lease runs out and the reply is claimed again: a QR
		// account sends it under the same id; a Cloud API number's
		// comes back in doubt and is given up as uncertain.
		log.Error("sent reply not recorded", "err", err)
		return
	}
	log.Info("reply sent", "attempts", o.Attempts+1)
	if queued {
		s.cfg.Queued()
	}
}

// maybeSent begins the Error of a reply an attempt of which may have
// reached WhatsApp: while it is queued, it tells the next attempt (on
// any instance) that giving up makes it uncertain, not failed; once
// uncertain, it tells a person.
const maybeSent = "may have been sent: "

// doubtful reports whether an earlier attempt of o may have reached
// WhatsApp: its end was never recorded, or it ended maybe sent.
func doubtful(o chathook.Outgoing) bool {
	return o.InDoubt || strings.HasPrefix(o.Error, maybeSent)
}

// cannotSend says why o is given up without an attempt, or "".
func (s *Sender) cannotSend(o chathook.Outgoing, now time.Time, online bool) string {
	a := o.Account
	// The store's chat may hold any id (the ingest API makes chats):
	// never a status, broadcast list or newsletter, even if one was
	// queued before Queue refused them, nor (Graph would read its
	// digits as a number) a Cloud API number's chat of no phone.
	if reason := recipientOf(a.Kind, o.Chat.ExternalID); reason != "" {
		return reason
	}
	stale := o.CreatedAt.Before(now.Add(-s.cfg.MaxWait))
	switch {
	case a.Kind == chathook.KindCloudAPI && a.State == chathook.AccountDisconnected:
		return "this Cloud API number was removed from chathook"
	case a.Kind == chathook.KindCloudAPI && o.InDoubt:
		return "chathook stopped while Meta was taking this message, so it may have gone out; Meta cannot tell a second " +
			"attempt from a second message, so chathook does not send it again: look at the chat on the phone before you send it again"
	case a.Kind == chathook.KindCloudAPI:
	case a.Kind != chathook.KindWeb:
		return "this chat's account is not connected to chathook: its messages come from the ingest API"
	case a.State == chathook.AccountLoggedOut:
		return "the account was logged out on the phone: connect it again with a new QR code"
	case a.State == chathook.AccountDisconnected, a.State == chathook.AccountDisconnecting:
		return "the account was disconnected from chathook"
	case a.State == chathook.AccountReplaced:
		return "another WhatsApp Web session took the account over: connect it again"
	case a.State == chathook.AccountBanned:
		until := "for a while"
		if !a.StateUntil.IsZero() {
			until = "until " + a.StateUntil.UTC().Format("2006-01-02 15:04 MST")
		}
		return "WhatsApp banned this number " + until + ": chathook does not connect it before then, " +
			"since connecting during a ban gets a number banned for good; send it again once the account is connected"
	case a.State == chathook.AccountOutdated:
		return "WhatsApp refuses this chathook as outdated: update it, then press Reconnect"
	case stale && doubtful(o):
		return fmt.Sprintf("an attempt's end is unknown (chathook stopped, or WhatsApp did not answer in time), and it was not "+
			"sent again within %s: look at the chat on the phone before you send it again", s.cfg.MaxWait)
	case !online:
		if stale {
			return fmt.Sprintf("the account is not connected to WhatsApp: not sent within %s", s.cfg.MaxWait)
		}
		return "" // claimed since stale a moment ago, or online again: try
	}
	if stale {
		why := "not sent"
		if iv := s.interval(); iv > 0 {
			why = fmt.Sprintf("not sent: this account sends one message every %s, and the ones queued before it took the turns", iv)
		}
		return cmp.Or(o.Error, why) + fmt.Sprintf(" (gave up after %s)", s.cfg.MaxWait)
	}
	return ""
}

// offline is the WhatsApp of a Sender without one: no account is
// online, and a reply claimed meanwhile waits for one.
type offline struct{}

func (offline) Online() []int64 { return nil }
func (offline) Send(context.Context, chathook.Outgoing) (time.Time, error) {
	return time.Time{}, &chathook.SendError{Retry: true, Reason: "the account is not connected to WhatsApp right now"}
}

// noGraph is the CloudAPI of a Sender without one.
type noGraph struct{}

func (noGraph) Send(context.Context, chathook.Outgoing) (string, error) {
	return "", &chathook.SendError{Reason: "this chathook cannot reach Meta's Graph API"}
}

// failed records an attempt that did not get through: again after the
// backoff if the error is transient and MaxWait allows; else given up,
// uncertain when this or an earlier attempt may have reached WhatsApp
// (a second message beats none only if a person decides so), failed
// otherwise.
func (s *Sender) failed(ctx context.Context, log *slog.Logger, o chathook.Outgoing, err error) {
	if s.killed.Load() {
		return
	}
	now := s.cfg.Now()
	se := &chathook.SendError{Reason: err.Error(), Retry: true}
	errors.As(err, &se)
	doubt := se.MaybeSent || doubtful(o)
	reason := se.Reason
	if doubt {
		reason = maybeSent + strings.TrimPrefix(reason, maybeSent)
	}
	var retryAt time.Time
	if se.Retry {
		retryAt = now.Add(s.cfg.Backoff(o.Attempts + 1))
		if giveUp := o.CreatedAt.Add(s.cfg.MaxWait); retryAt.After(giveUp) {
			retryAt = time.Time{}
		}
	}
	switch {
	case retryAt.IsZero() && doubt:
		err = s.cfg.Store.ReplyUncertain(context.WithoutCancel(ctx), s.cfg.Owner, o.ID, reason, now)
	default:
		err = s.cfg.Store.ReplyFailed(context.WithoutCancel(ctx), s.cfg.Owner, o.ID, reason, retryAt, now)
	}
	if errors.Is(err, store.ErrNotOurs) {
		// As in attempt: another instance's attempt holds it now, or a
		// status of it told it was sent meanwhile.
		log.Info("reply's outcome not recorded: another instance's attempt holds it, or it was sent meanwhile",
			"reason", reason)
		return
	}
	if err != nil {
		log.Error("reply's attempt not recorded", "err", err)
		return
	}
	switch {
	case !retryAt.IsZero():
		log.Info("reply not sent yet", "reason", reason, "retry_at", retryAt)
	case doubt:
		log.Warn("reply uncertain: it may have been sent", "reason", reason, "attempts", o.Attempts+1)
	default:
		log.Warn("reply failed", "reason", reason, "attempts", o.Attempts+1)
	}
}
