// Package notify sends owner emails, and the Team page's links to the
// teammates they are for, from the outbox the store fills.
//
// Guarantees: an email is queued in the same transaction that disabled the
// webhook, or that recorded a WhatsApp account's logout, ban or outdated
// client, so there is exactly one per such event; it is sent at least once.
// A mail server that is down delays only the email, never a delivery: the
// notifier runs on its own and retries on a schedule. With no SMTP server
// configured the email is written to the log and kept in the database.
package notify

import (
	"context"
	"fmt"
	"log/slog"
	netmail "net/mail"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/store"
	mail "github.com/wneessen/go-mail"
)

// Schedule is the wait before each retry of a send that failed: quick at
// first, then hourly for about three days, after which it is given up.
var Schedule = func() []time.Duration {
	s := []time.Duration{time.Minute, 5 * time.Minute, 15 * time.Minute}
	for range 72 {
		s = append(s, time.Hour)
	}
	return s
}()

// Config of the notifier.
type Config struct {
	Store    store.Store
	SMTPURL  string // smtp://[user:pass@]host[:port] (STARTTLS when offered) or smtps:// (TLS); "" logs mail
	From     string
	BaseURL  string // for the link to the settings page
	Logger   *slog.Logger
	Poll     time.Duration // 2s
	Schedule []time.Duration
	Now      func() time.Time
}

// Notifier sends what the outbox holds.
type Notifier struct {
	cfg    Config
	client *mail.Client // nil: log instead of sending
}

// New checks the SMTP URL and returns a notifier; Run starts it.
func New(cfg Config) (*Notifier, error) {
	if cfg.Poll <= 0 {
		cfg.Poll = 2 * time.Second
	}
	if cfg.Schedule == nil {
		cfg.Schedule = Schedule
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	n := &Notifier{cfg: cfg}
	if cfg.SMTPURL != "" {
		// A sender go-mail cannot parse would fail every email, one
		// retry at a time, for days: refuse it at start instead.
		if _, err := netmail.ParseAddress(cfg.From); err != nil {
			return nil, fmt.Errorf("--mail-from %q: %w", cfg.From, err)
		}
		c, err := client(cfg.SMTPURL)
		if err != nil {
			return nil, fmt.Errorf("--smtp-url: %w", err)
		}
		n.client = c
	}
	return n, nil
}

// client makes a go-mail client from an smtp:// or smtps:// URL.
func client(raw string) (*mail.Client, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, err
	}
	opts := []mail.Option{mail.WithTimeout(30 * time.Second)}
	port := 587
	switch u.Scheme {
	case "smtp":
		opts = append(opts, mail.WithTLSPolicy(mail.TLSOpportunistic))
	case "smtps":
		port = 465
		opts = append(opts, mail.WithSSL())
	default:
		return nil, fmt.Errorf("%q: use smtp://host:port or smtps://host:port", raw)
	}
	if u.Hostname() == "" {
		return nil, fmt.Errorf("%q has no host", raw)
	}
	if p := u.Port(); p != "" {
		if port, err = strconv.Atoi(p); err != nil {
			return nil, fmt.Errorf("%q: bad port", raw)
		}
	}
	opts = append(opts, mail.WithPort(port))
	if user := u.User.Username(); user != "" {
		pass, _ := u.User.Password()
		opts = append(opts, mail.WithSMTPAuth(mail.SMTPAuthAutoDiscover), mail.WithUsername(user), mail.WithPassword(pass))
	}
	return mail.NewClient(u.Hostname(), opts...)
}

// Run sends due emails until ctx is done.
func (n *Notifier) Run(ctx context.Context) error {
	t := time.NewTicker(n.cfg.Poll)
	defer t.Stop()
	for {
		n.sendDue(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

func (n *Notifier) sendDue(ctx context.Context) {
	due, err := n.cfg.Store.DueEmails(ctx, n.cfg.Now(), 20)
	if err != nil {
		if ctx.Err() == nil {
			n.cfg.Logger.Error("read outbox", "err", err)
		}
		return
	}
	for _, e := range due {
		if ctx.Err() != nil {
			return
		}
		n.send(ctx, e)
	}
}

func (n *Notifier) send(ctx context.Context, e chathook.Email) {
	subject, body := Compose(e, n.cfg.BaseURL)
	to := e.Workspace.OwnerEmail
	if e.To != "" {
		to = e.To
	}
	log := n.cfg.Logger.With("email", e.ID, "workspace", e.Workspace.ID, "to", to, "subject", subject)
	if n.client == nil {
		if e.To != "" {
			// A teammate's email holds a one-time link, which no log may show.
			body = "(not shown: it holds a one-time link)"
		}
		log.Info("owner email (no --smtp-url: logged and kept in the database)", "body", body)
		if err := n.cfg.Store.EmailDone(ctx, e.ID, n.cfg.Now(), true); err != nil {
			log.Error("record logged email", "err", err)
		}
		return
	}
	err := n.deliver(ctx, e, subject, body)
	if err == nil {
		log.Info("owner email sent")
		if err := n.cfg.Store.EmailDone(ctx, e.ID, n.cfg.Now(), false); err != nil {
			log.Error("record sent email", "err", err)
		}
		return
	}
	var retryAt time.Time
	if e.Attempts < len(n.cfg.Schedule) {
		retryAt = n.cfg.Now().Add(n.cfg.Schedule[e.Attempts])
	}
	log.Warn("owner email not sent", "attempt", e.Attempts+1, "err", err, "retry_at", retryAt)
	if err := n.cfg.Store.EmailFailed(context.WithoutCancel(ctx), e.ID, err.Error(), retryAt); err != nil {
		log.Error("record failed email", "err", err)
	}
}

func (n *Notifier) deliver(ctx context.Context, e chathook.Email, subject, body string) error {
	m := mail.NewMsg()
	if err := m.From(n.cfg.From); err != nil {
		return fmt.Errorf("from %q: %w", n.cfg.From, err)
	}
	to, err := ownerAddress(e.Workspace)
	if e.To != "" {
		to, err = netmail.ParseAddress(e.To)
	}
	if err != nil {
		return err
	}
	m.ToMailAddress(to)
	m.Subject(subject)
	m.SetMessageID()
	m.SetDate()
	m.SetBodyString(mail.TypeTextPlain, body)
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	return n.client.DialAndSendWithContext(ctx, m)
}

// ownerAddress is the owner as the To: header names them. The name is
// the owner's own, any characters: it is never pasted into the header,
// but set on a net/mail.Address, whose String (which go-mail writes)
// quotes it per RFC 5322 (O"Brien, Bob\) or encodes it per RFC 2047
// (non-ASCII, control characters), so every name arrives as it was typed.
func ownerAddress(ws chathook.Workspace) (*netmail.Address, error) {
	to, err := netmail.ParseAddress(ws.OwnerEmail) // the bare address only
	if err != nil {
		return nil, fmt.Errorf("to %q: %w", ws.OwnerEmail, err)
	}
	to.Name = ws.OwnerName
	return to, nil
}

// Compose writes an owner email of any kind: what happened, why, and
// the link to the page where the owner puts it right.
func Compose(e chathook.Email, baseURL string) (subject, body string) {
	switch e.Kind {
	case "account_logged_out":
		return composeLoggedOut(e, baseURL)
	case "account_banned":
		return composeBanned(e, baseURL)
	case "account_outdated":
		return composeOutdated(e, baseURL)
	case "team_invite", "team_reset":
		return composeTeamLink(e)
	}
	if e.Endpoint != "" && e.Endpoint != chathook.Outbound {
		return composeEndpointDisabled(e, baseURL)
	}
	subject = fmt.Sprintf("chathook: the outbound webhook of %s was disabled", e.Workspace.Name)
	var b strings.Builder
	fmt.Fprintf(&b, "Hello %s,\n\n", greeting(e))
	fmt.Fprintf(&b, "chathook disabled the outbound webhook of your workspace %q on %s UTC: it was %s.\n\n",
		e.Workspace.Name, e.CreatedAt.UTC().Format("2006-01-02 15:04"), e.Reason)
	fmt.Fprintf(&b, "The last error was:\n    %s\n\n", e.LastError)
	b.WriteString("Nothing is lost: chathook keeps collecting your WhatsApp messages while the webhook is disabled.\n")
	b.WriteString("When your receiver works again, enable the webhook in the settings and the waiting messages are\n")
	b.WriteString("delivered in order; you can also choose to discard them there.\n\n")
	fmt.Fprintf(&b, "    %s/settings/webhooks/outbound\n\n", strings.TrimSuffix(baseURL, "/"))
	b.WriteString("The detailed log of every delivery attempt is at the bottom of that page.\n\n-- chathook\n")
	return subject, b.String()
}

// composeEndpointDisabled is the webhook_disabled email of an endpoint
// other than outbound (SPEC 7): it names the endpoint, by its
// description (or URL) and id, and links to that endpoint's page.
func composeEndpointDisabled(e chathook.Email, baseURL string) (subject, body string) {
	name := oneLine(e.EndpointName)
	if name == "" {
		name = e.Endpoint
	}
	subject = fmt.Sprintf("chathook: the webhook %q of %s was disabled", short(name, 60), e.Workspace.Name)
	var b strings.Builder
	fmt.Fprintf(&b, "Hello %s,\n\n", greeting(e))
	fmt.Fprintf(&b, "chathook disabled the webhook endpoint %q (%s) of your workspace %q on %s UTC: it was %s.\n\n",
		name, e.Endpoint, e.Workspace.Name, e.CreatedAt.UTC().Format("2006-01-02 15:04"), e.Reason)
	fmt.Fprintf(&b, "The last error was:\n    %s\n\n", e.LastError)
	b.WriteString("Nothing is lost: chathook keeps the events this endpoint is subscribed to while it is disabled.\n")
	b.WriteString("When your receiver works again, enable the endpoint on its page and the waiting events are\n")
	b.WriteString("delivered in order; you can also choose to discard them there. Your other webhooks are not affected.\n\n")
	fmt.Fprintf(&b, "    %s/settings/webhooks/%s\n\n", strings.TrimSuffix(baseURL, "/"), url.PathEscape(e.Endpoint))
	b.WriteString("The detailed log of every delivery attempt is at the bottom of that page.\n\n-- chathook\n")
	return subject, b.String()
}

// oneLine is s with every run of white space (line breaks too) one
// space: an endpoint's description is the user's, and a line break in a
// subject would end the header.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

func short(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n]) + "…"
	}
	return s
}

func greeting(e chathook.Email) string {
	if e.Workspace.OwnerName == "" {
		return "there"
	}
	return e.Workspace.OwnerName
}

// letter starts an email to e's workspace owner.
func letter(e chathook.Email) *strings.Builder {
	b := new(strings.Builder)
	fmt.Fprintf(b, "Hello %s,\n\n", greeting(e))
	return b
}

// signed ends an account email with the page where the owner acts.
func signed(b *strings.Builder, page string) string {
	fmt.Fprintf(b, "    %s\n\n-- chathook\n", page)
	return b.String()
}

// composeLoggedOut writes the email about a WhatsApp account whose linked
// device was removed on the phone: its messages stop until a teammate
// links it again on the accounts page.
func composeLoggedOut(e chathook.Email, baseURL string) (subject, body string) {
	subject = fmt.Sprintf("chathook: the WhatsApp account %s was logged out", phoneOf(e.Reason))
	b := letter(e)
	fmt.Fprintf(b, "On %s UTC %s (workspace %q).\n\n",
		e.CreatedAt.UTC().Format("2006-01-02 15:04"), e.Reason, e.Workspace.Name)
	b.WriteString("Someone removed chathook's linked device from the phone's list of linked devices in WhatsApp,\n")
	b.WriteString("or WhatsApp ended the session. chathook receives no more messages of this account, and your\n")
	b.WriteString("webhook gets none of them, until it is connected again. What was received before is kept.\n\n")
	b.WriteString("To connect it again, scan a new QR code with the phone on the WhatsApp accounts page:\n\n")
	return subject, signed(b, strings.TrimSuffix(baseURL, "/")+"/accounts/")
}

// composeBanned writes the email about a WhatsApp account that WhatsApp
// banned for a while (Reason: its number, a space, when the ban ends, RFC
// 3339): which one, what it
// means, that chathook waits it out, and that nothing is to be done but
// wait, without bulk messages from the number.
func composeBanned(e chathook.Email, baseURL string) (subject, body string) {
	phone, ends, _ := strings.Cut(e.Reason, " ")
	if until, err := time.Parse(time.RFC3339, ends); err == nil {
		ends = until.UTC().Format("2006-01-02 15:04") + " UTC"
	}
	subject = fmt.Sprintf("chathook: WhatsApp banned the account %s until %s", phone, ends)
	b := letter(e)
	fmt.Fprintf(b, "On %s UTC WhatsApp banned the WhatsApp account %s, linked to your workspace %q, for a while.\n",
		e.CreatedAt.UTC().Format("2006-01-02 15:04"), phone, e.Workspace.Name)
	fmt.Fprintf(b, "The ban ends on %s.\n\n", ends)
	b.WriteString("WhatsApp does this when a number looks like it sends spam: many messages to people who do not have\n")
	b.WriteString("it in their contacts, the same message to many people, or many people blocking it. Until the ban\n")
	b.WriteString("ends, the number receives nothing through chathook and your webhook gets none of its messages.\n")
	b.WriteString("chathook does not connect it before then: connecting during a ban can get a number banned for good.\n\n")
	b.WriteString("What to do: nothing but wait. chathook connects the account again by itself when the ban ends.\n")
	b.WriteString("Meanwhile, and after, do not send bulk messages from this number, or the next ban may be for good.\n\n")
	return subject, signed(b, strings.TrimSuffix(baseURL, "/")+"/accounts/")
}

// composeOutdated writes the email about a WhatsApp account whose
// connection WhatsApp refuses because this chathook is too old: it waits
// until chathook is updated and a teammate presses Reconnect.
func composeOutdated(e chathook.Email, baseURL string) (subject, body string) {
	subject = fmt.Sprintf("chathook: WhatsApp refuses the account %s: update chathook", phoneOf(e.Reason))
	b := letter(e)
	fmt.Fprintf(b, "On %s UTC %s (workspace %q).\n\n",
		e.CreatedAt.UTC().Format("2006-01-02 15:04"), e.Reason, e.Workspace.Name)
	b.WriteString("WhatsApp only lets recent versions of WhatsApp Web connect, and the version built into this\n")
	b.WriteString("chathook is too old. The account stays linked, but chathook receives none of its messages, and\n")
	b.WriteString("your webhook gets none of them, until it is connected again. chathook does not try by itself:\n")
	b.WriteString("every try would be refused the same way.\n\n")
	b.WriteString("What to do: update chathook to its latest release (whoever runs it), then press Reconnect next to\n")
	b.WriteString("the account on the WhatsApp accounts page:\n\n")
	return subject, signed(b, strings.TrimSuffix(baseURL, "/")+"/accounts/")
}

// phoneOf finds the account's number in an account_logged_out or
// account_outdated reason (the store names it, as "+N"); it is what the
// subject names.
func phoneOf(reason string) string {
	for _, f := range strings.Fields(reason) {
		if len(f) > 1 && f[0] == '+' {
			return f
		}
	}
	return "of your workspace"
}

// composeTeamLink writes the email of a Team page link to the teammate it
// is for (e.To): an invitation to the workspace, or a password reset.
// Reason is the link.
func composeTeamLink(e chathook.Email) (subject, body string) {
	b := new(strings.Builder)
	b.WriteString("Hello,\n\n")
	if e.Kind == "team_reset" {
		subject = fmt.Sprintf("chathook: set a new password for %s", e.Workspace.Name)
		fmt.Fprintf(b, "A teammate made you a link to set a new password for %s in the chathook workspace %q.\n", e.To, e.Workspace.Name)
		b.WriteString("It works once, for 1 hour; your current password works until you use it.\n\n")
	} else {
		subject = fmt.Sprintf("chathook: you are invited to %s", e.Workspace.Name)
		fmt.Fprintf(b, "A teammate invited %s to the chathook workspace %q.\n", e.To, e.Workspace.Name)
		b.WriteString("Open the link to choose your password; it works once, for 7 days.\n\n")
	}
	b.WriteString("If you did not expect this email, ignore it.\n\n")
	fmt.Fprintf(b, "    %s\n\n-- chathook\n", e.Reason)
	return subject, b.String()
}
