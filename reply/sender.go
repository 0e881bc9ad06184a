package reply

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
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
}

// Defaults of Config.
const (
	DefaultPoll  = time.Second
	DefaultLease = 2 * time.Minute
	// DefaultMaxWait: a customer waiting for an answer is better served
	// by a teammate who learns within minutes that it did not go out than
	// by a message that arrives hours late.
	DefaultMaxWait = 10 * time.Minute
	claimLimit     = 64
)

// DefaultBackoff waits 2 s after the first failed attempt, doubling up to
// a minute.
func DefaultBackoff(n int) time.Duration {
	return min(2*time.Second<<min(max(n-1, 0), 5), time.Minute)
}

// Sender sends the replies queued in the store: those of the QR-linked
// accounts this instance has online and of any Cloud API number.
type Sender struct {
	cfg    Config
	log    *slog.Logger
	kick   chan struct{}
	killed atomic.Bool
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
	return &Sender{cfg: cfg, log: cfg.Logger, kick: make(chan struct{}, 1)}
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
// are cut short; their replies are attempted again (QR) or failed as in
// doubt (Cloud API) once their leases run out.
func (s *Sender) Run(ctx context.Context) error {
	t := time.NewTicker(s.cfg.Poll)
	defer t.Stop()
	for {
		if s.killed.Load() {
			return nil
		}
		if n := s.Round(ctx); n == claimLimit {
			continue // more may be waiting
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-s.kick:
		}
	}
}

// Round claims the replies due now and attempts them, one goroutine per
// chat (a claim holds at most one reply of a chat, so each chat's
// replies go out in order). It returns how many it claimed.
func (s *Sender) Round(ctx context.Context) int {
	now := s.cfg.Now()
	web := s.cfg.WhatsApp.Online()
	online := make(map[int64]bool, len(web))
	for _, id := range web {
		online[id] = true
	}
	out, err := s.cfg.Store.ClaimReplies(ctx, s.cfg.Owner, store.ReplyClaim{
		Now: now, Until: now.Add(s.cfg.Lease), Web: web, Stale: now.Add(-s.cfg.MaxWait), Limit: claimLimit,
	})
	if err != nil {
		if ctx.Err() == nil {
			s.log.Error("replies not claimed", "err", err)
		}
		return 0
	}
	var wg sync.WaitGroup
	for _, o := range out {
		wg.Go(func() { s.attempt(ctx, o, now, online[o.AccountID]) })
	}
	wg.Wait()
	return len(out)
}

// attempt sends one claimed reply, or gives it up, and records how it
// ended. online: its account was connected here when it was claimed.
func (s *Sender) attempt(ctx context.Context, o chathook.Outgoing, now time.Time, online bool) {
	log := s.log.With("reply", o.ID, "account_id", o.AccountID, "chat_id", o.ChatID)
	if reason := s.cannotSend(o, now, online); reason != "" {
		s.failed(ctx, log, o, &chathook.SendError{Reason: reason})
		return
	}
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
	if err != nil {
		// The lease runs out and the reply is claimed again: a QR
		// account sends it under the same id; a Cloud API number's
		// comes back in doubt and is failed saying it may have gone out.
		log.Error("sent reply not recorded", "err", err)
		return
	}
	log.Info("reply sent", "attempts", o.Attempts+1)
	if queued {
		s.cfg.Queued()
	}
}

// cannotSend says why o is given up without an attempt, or "".
func (s *Sender) cannotSend(o chathook.Outgoing, now time.Time, online bool) string {
	a := o.Account
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
	case !online:
		if stale {
			return fmt.Sprintf("the account is not connected to WhatsApp: not sent within %s", s.cfg.MaxWait)
		}
		return "" // claimed since stale a moment ago, or online again: try
	}
	if stale {
		return cmp.Or(o.Error, "not sent") + fmt.Sprintf(" (gave up after %s)", s.cfg.MaxWait)
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
// backoff if the error is transient and MaxWait allows, else failed.
func (s *Sender) failed(ctx context.Context, log *slog.Logger, o chathook.Outgoing, err error) {
	if s.killed.Load() {
		return
	}
	now := s.cfg.Now()
	se := &chathook.SendError{Reason: err.Error(), Retry: true}
	errors.As(err, &se)
	var retryAt time.Time
	if se.Retry {
		retryAt = now.Add(s.cfg.Backoff(o.Attempts + 1))
		if giveUp := o.CreatedAt.Add(s.cfg.MaxWait); retryAt.After(giveUp) {
			retryAt = time.Time{}
		}
	}
	if err := s.cfg.Store.ReplyFailed(context.WithoutCancel(ctx), s.cfg.Owner, o.ID, se.Reason, retryAt, now); err != nil {
		log.Error("failed reply not recorded", "err", err)
		return
	}
	if retryAt.IsZero() {
		log.Warn("reply failed", "reason", se.Reason, "attempts", o.Attempts+1)
	} else {
		log.Info("reply not sent yet", "reason", se.Reason, "retry_at", retryAt)
	}
}
