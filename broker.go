package chathook

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
)

// The kinds of receiver an endpoint's URL can point at, by its scheme.
const (
	TargetHTTP = "http" // http:// or https://: a signed POST (SPEC 4 and 7)
	// TargetNATS is nats://[user:pass@]host[:port]/<subject prefix>: each
	// delivery is published to NATS JetStream on the subject
	// <prefix>.<workspace id>.<event type with ':' as '.'>.
	TargetNATS = "nats"
	// TargetAMQP is amqp[s]://[user:pass@]host[:port]/<vhost>?exchange=<name>:
	// each delivery is published to a RabbitMQ exchange, routing key the
	// event type.
	TargetAMQP = "amqp"
)

// TargetOf returns the kind of receiver raw points at, by its scheme
// alone: TargetHTTP, TargetNATS, TargetAMQP, or "" for anything else.
func TargetOf(raw string) string {
	scheme, _, ok := strings.Cut(raw, "://")
	if !ok {
		return ""
	}
	switch strings.ToLower(scheme) {
	case "http", "https":
		return TargetHTTP
	case "nats":
		return TargetNATS
	case "amqp", "amqps":
		return TargetAMQP
	}
	return ""
}

// Redacted stands for a broker URL's credentials wherever the URL is
// shown: the API, the web UI, logs, emails and the delivery log. They are
// write-only: given with the URL, stored, used to connect, never shown.
const Redacted = "***"

// BrokerURL is a nats:// or amqp:// endpoint URL, read (see TargetNATS
// and TargetAMQP).
type BrokerURL struct {
	Kind     string // TargetNATS or TargetAMQP
	TLS      bool   // amqps://
	Host     string // the host alone, as in the URL
	Addr     string // host:port, the default port filled in (4222, 5672, 5671)
	User     string // "" for none; for NATS a user alone is a token
	Password string
	HasPass  bool   // a password was given, even an empty one
	Prefix   string // NATS: the subject prefix, one or more dot-separated tokens
	VHost    string // AMQP: the virtual host; "/" when the path is empty
	Exchange string // AMQP: the exchange to publish to
}

// ParseBrokerURL reads a nats:// or amqp[s]:// URL and says what is wrong
// with it, naming the part. It does not judge the host's address; see
// CheckWebhookURL.
func ParseBrokerURL(raw string) (BrokerURL, error) {
	kind := TargetOf(raw)
	if kind != TargetNATS && kind != TargetAMQP {
		return BrokerURL{}, fmt.Errorf("%q must start with nats://, amqp:// or amqps://", RedactURL(raw))
	}
	u, err := url.Parse(raw)
	if err != nil {
		return BrokerURL{}, fmt.Errorf("%q is not a URL", RedactURL(raw))
	}
	b := BrokerURL{Kind: kind, TLS: strings.EqualFold(u.Scheme, "amqps"), Host: u.Hostname()}
	if b.Host == "" {
		return BrokerURL{}, fmt.Errorf("%q has no host", RedactURL(raw))
	}
	if _, err := netip.ParseAddr(b.Host); err != nil && strings.Trim(b.Host, hostChars) != "" {
		// nats.go reads "a,b" as two servers: the host checked is the host dialled.
		return BrokerURL{}, fmt.Errorf("host %q: a name may hold letters, digits, '-', '_' and '.' only", b.Host)
	}
	if u.User == nil && strings.Contains(raw, "@") {
		// "user:pa/ss@host" reads as host "user", port "pa": refuse it rather than guess.
		return BrokerURL{}, fmt.Errorf("%q has an @ after the host: in a user name or password, write / ? # @ as %%2F %%3F %%23 %%40", RedactURL(raw))
	}
	if u.User != nil {
		b.User = u.User.Username()
		b.Password, b.HasPass = u.User.Password()
	}
	if u.Fragment != "" {
		return BrokerURL{}, errors.New("a #fragment means nothing in a broker URL: leave it out")
	}
	port := portOf(u)
	if err := checkPort(port); err != nil {
		return BrokerURL{}, err
	}
	b.Addr = net.JoinHostPort(b.Host, port)
	q := u.Query()
	if kind == TargetNATS {
		if len(q) > 0 {
			return BrokerURL{}, errors.New("a NATS URL takes no ?parameters: nats://host:4222/<subject prefix>")
		}
		b.Prefix = strings.TrimPrefix(u.Path, "/")
		if err := checkSubjectPrefix(b.Prefix); err != nil {
			return BrokerURL{}, err
		}
		return b, nil
	}
	for k := range q {
		if k != "exchange" {
			return BrokerURL{}, fmt.Errorf("?%s is not a parameter chathook reads: an AMQP URL takes ?exchange=<name> only", k)
		}
	}
	if len(q["exchange"]) > 1 {
		return BrokerURL{}, errors.New("?exchange= is given more than once: name one exchange")
	}
	b.Exchange = q.Get("exchange")
	if err := checkExchange(b.Exchange); err != nil {
		return BrokerURL{}, err
	}
	b.VHost = "/"
	if u.Path != "" && u.Path != "/" {
		b.VHost = strings.TrimPrefix(u.Path, "/") // url.Parse unescaped it: %2F is a slash
	}
	return b, nil
}

// checkSubjectPrefix: NATS subjects are tokens separated by dots; the
// prefix is one or more whole tokens, without wildcards or spaces, which
// the server would refuse or read as patterns.
func checkSubjectPrefix(p string) error {
	if p == "" {
		return errors.New("the URL names no subject prefix: nats://host:4222/<prefix>, e.g. nats://nats.example.com:4222/whatsapp")
	}
	if len(p) > 200 {
		return fmt.Errorf("subject prefix too long: %d bytes, at most 200", len(p))
	}
	for _, tok := range strings.Split(p, ".") {
		if tok == "" {
			return fmt.Errorf("subject prefix %q has an empty token: no leading, trailing or double dots", p)
		}
		if strings.ContainsAny(tok, "*> \t\r\n/") {
			return fmt.Errorf("subject prefix %q may not hold *, >, / or spaces", p)
		}
	}
	return nil
}

// checkExchange: RabbitMQ exchange names are up to 255 bytes of letters,
// digits, hyphen, underscore, period and colon. The default exchange ("")
// is refused: it routes by queue name, so every event type would need a
// queue named after it.
func checkExchange(x string) error {
	if x == "" {
		return errors.New("the URL names no exchange: add ?exchange=<name>, e.g. amqp://user:pass@host:5672/?exchange=chathook")
	}
	if len(x) > 255 {
		return fmt.Errorf("exchange name too long: %d bytes, at most 255", len(x))
	}
	for _, r := range x {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_.:", r)) {
			return fmt.Errorf("exchange %q: only letters, digits, '-', '_', '.' and ':' are allowed", x)
		}
	}
	return nil
}

// RedactURL returns raw as it may be shown: a password replaced by
// Redacted, and a user name given alone in a nats:// URL (a token) too.
// A URL without credentials is returned as it is, byte for byte. What
// does not parse, or is a broker URL that parses without credentials but
// holds an '@' (a password with an unescaped '/', '?' or '#' makes the
// parser read the host from inside it), has everything between "://" and
// its last '@' replaced: a typo must never show a password.
func RedactURL(raw string) string {
	if !strings.Contains(raw, "@") {
		return raw // no credentials: the common case, on every delivery, without a parse
	}
	u, err := url.Parse(raw)
	// Misread credentials: a URL that does not parse, a broker URL that
	// parses without them, or one written without "//" ("amqp:user:pw@host",
	// which parses as opaque): cut them by hand.
	if err != nil || u.User == nil && (isBroker(raw) || !strings.Contains(raw, "://")) {
		return redactByHand(raw)
	}
	if u.User == nil {
		return raw // an http URL with '@' in its path or query: no credentials
	}
	// A placeholder of letters alone, which String does not escape, put
	// where the secret was and then replaced: '*' would come out as %2A.
	const hole = "chathookredactedcredentials"
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), hole)
	} else if TargetOf(raw) != TargetAMQP {
		u.User = url.User(hole) // a NATS token; in an http URL, refused, but maybe a token too
	} else {
		return raw // an AMQP user name alone: no secret
	}
	return strings.Replace(u.String(), hole, Redacted, 1)
}

// redactByHand replaces what stands between the scheme (and its "//", if
// any) and the last '@' with Redacted; it returns raw when there is none.
func redactByHand(raw string) string {
	colon := strings.Index(raw, ":")
	if colon < 0 {
		return raw
	}
	start := colon + 1
	for start < len(raw) && raw[start] == '/' {
		start++
	}
	// The last '@' anywhere: a password may hold '?' or '#', and such a
	// URL is refused or a broker's, whose query holds no '@'.
	at := strings.LastIndex(raw[start:], "@")
	if at < 0 {
		return raw
	}
	return raw[:start] + Redacted + raw[start+at:]
}

// hostChars are what a broker URL's host name may be made of.
const hostChars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_."

func isBroker(raw string) bool {
	k := TargetOf(raw)
	return k == TargetNATS || k == TargetAMQP
}

// KeepCredentials returns next, the URL a user saved, with the stored
// URL prev's credentials in place of Redacted: a form or an API client
// that sends back the URL as it was shown keeps the password without
// knowing it. The credentials are kept only for the same scheme, host and
// port, so an edit can never send them to another server; there, and
// where prev has none, a Redacted next is an error naming the URL.
func KeepCredentials(next, prev string) (string, error) {
	if !strings.Contains(next, Redacted) || !isBroker(next) {
		return next, nil // an http URL takes no credentials: CheckWebhookURL refuses them
	}
	n, err := url.Parse(next)
	if err != nil || n.User == nil {
		return next, nil // CheckWebhookURL says what is wrong with it
	}
	pass, hasPass := n.User.Password()
	user := n.User.Username()
	if pass != Redacted && user != Redacted {
		return next, nil
	}
	p, err := url.Parse(prev)
	same := err == nil && p.User != nil && strings.EqualFold(n.Scheme, p.Scheme) &&
		strings.EqualFold(n.Hostname(), p.Hostname()) && portOf(n) == portOf(p)
	if !same {
		return "", fmt.Errorf("%s stands for the stored password only on the same server (scheme, host and port): give the password for %s", Redacted, RedactURL(next))
	}
	prevPass, prevHas := p.User.Password()
	switch {
	case user == Redacted && !hasPass: // a NATS token
		if prevHas {
			return "", fmt.Errorf("there is no stored token for %s to keep: give the token or user:password in the URL", Redacted)
		}
		n.User = p.User
	case user != p.User.Username():
		// The stored password is for its user only: kept for another, an
		// editor who does not know it could try it on other accounts.
		// (The stored user name is not named: for NATS it may be a token.)
		return "", fmt.Errorf("%s keeps the stored password only for the same user name: give the password of %q", Redacted, user)
	case prevHas:
		n.User = url.UserPassword(user, prevPass)
	default:
		return "", fmt.Errorf("there is no stored password for %s to keep: give the password in the URL", Redacted)
	}
	return n.String(), nil
}

// portOf is a broker URL's port, or its scheme's default: 4222 for
// nats, 5672 for amqp, 5671 for amqps.
func portOf(u *url.URL) string {
	if p := u.Port(); p != "" {
		return p
	}
	switch strings.ToLower(u.Scheme) {
	case "nats":
		return "4222"
	case "amqps":
		return "5671"
	}
	return "5672"
}
