package deliver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/chathook/chathook"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// natsTarget publishes deliveries to NATS JetStream, on one connection
// per endpoint shared by all of its Sends.
//
// Guarantees: a Send succeeds only once JetStream has acked the message
// (stored it in a stream); a retry carries the same Nats-Msg-Id, so the
// stream's duplicate window drops it, and its duplicate ack is a success.
// Nothing is buffered while disconnected: a Send then fails at once, and
// the connection comes back on its own, with backoff (natsBackoff).
type natsTarget struct {
	b    chathook.BrokerURL
	dial dialFunc

	life context.Context // cancelled by Close: ends a dial under way
	end  context.CancelFunc

	once  sync.Once     // starts the connect, in the first Send
	ready chan struct{} // closed once the first connect attempt ended: nc is set
	nc    *nats.Conn
	js    jetstream.JetStream

	// mu is never held while calling nc: nats.go calls the dialer, which
	// takes mu, with its own lock held, for as long as a dial takes.
	mu     sync.Mutex
	closed bool
	// connected follows nats.go's callbacks, rather than nc.IsConnected,
	// which waits for a reconnect's dial: a Send must fail fast then.
	connected bool
	why       string        // why the connection is down, in words
	lost      chan struct{} // closed when the connection drops; a new one on reconnect
	async     string        // the server's last asynchronous error (a permission refused, say)
}

// newNATSTarget returns the target of a nats:// endpoint: NATS JetStream.
// It does not connect: the first Send does.
func newNATSTarget(b chathook.BrokerURL, dial dialFunc) Target {
	life, end := context.WithCancel(context.Background())
	return &natsTarget{b: b, dial: dial, life: life, end: end, ready: make(chan struct{}), lost: make(chan struct{})}
}

// natsBackoff is the wait before the nth reconnect attempt: 100 ms
// doubling to 30 s, so a broker back after a blip is found at once and a
// broker down for long costs one dial per 30 s per endpoint.
func natsBackoff(n int) time.Duration {
	if n > 10 { // 100ms << 9 is already past 30s
		return 30 * time.Second
	}
	return min(100*time.Millisecond<<max(n-1, 0), 30*time.Second)
}

// natsTimeout bounds one dial and one handshake, in the first connect and
// in every reconnect.
const natsTimeout = 10 * time.Second

func (t *natsTarget) connect() {
	defer close(t.ready)
	opts := []nats.Option{
		nats.Name("chathook"),
		nats.SetCustomDialer(natsDialer{t}),
		nats.SkipHostLookup(),          // the dialer resolves, so that its address check sees every address
		nats.IgnoreDiscoveredServers(), // a server may not send chathook to other hosts
		nats.Timeout(natsTimeout),
		nats.RetryOnFailedConnect(true), // a broker down at the first Send is retried as after a loss
		nats.MaxReconnects(-1),
		nats.IgnoreAuthErrorAbort(), // credentials fixed on the server are picked up; a URL edit makes a new target
		nats.CustomReconnectDelay(natsBackoff),
		nats.ReconnectBufSize(-1), // never buffer: a publish while disconnected fails, and is retried
		nats.NoCallbacksAfterClientClose(),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) { t.down("connection lost", err) }),
		nats.ReconnectErrHandler(func(_ *nats.Conn, err error) { t.down("", err) }),
		nats.ReconnectHandler(func(*nats.Conn) { t.up() }),
		nats.ConnectHandler(func(*nats.Conn) { t.up() }), // the first connect, when made by a retry
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			t.mu.Lock()
			t.async = err.Error()
			t.mu.Unlock()
		}),
	}
	// Credentials go as options, never in the URL nats.go is given, so
	// that no error of it can show them.
	switch {
	case t.b.HasPass:
		opts = append(opts, nats.UserInfo(t.b.User, t.b.Password))
	case t.b.User != "":
		opts = append(opts, nats.Token(t.b.User))
	}
	nc, err := nats.Connect("nats://"+t.b.Addr, opts...)
	var js jetstream.JetStream
	if err == nil {
		if js, err = jetstream.New(nc); err != nil {
			nc.Close()
		}
	}
	if err != nil {
		t.mu.Lock()
		t.why = describeNATS(err)
		t.mu.Unlock()
		return
	}
	// Connected now, or left to a retry whose ConnectHandler says when;
	// why not, a refusal of the credentials say, is told now, as the
	// handlers tell only of the retries.
	up := nc.IsConnected()
	first := nc.LastError()
	t.mu.Lock()
	closed := t.closed
	if !closed {
		t.nc, t.js = nc, js
		t.connected = t.connected || up
		if !t.connected && first != nil && t.why == "" {
			t.why = describeNATS(first)
		}
	}
	t.mu.Unlock()
	if closed {
		nc.Close()
	}
}

// natsDialer dials for nats.go through the dispatcher's dialer, so that
// the private-address rules hold for the first connect and every
// reconnect, and keeps why a dial failed: nats.go reports a refused
// connection only as "no servers available".
type natsDialer struct{ t *natsTarget }

func (d natsDialer) Dial(network, addr string) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(d.t.life, natsTimeout)
	defer cancel()
	conn, err := d.t.dial(ctx, network, addr)
	if err != nil {
		d.t.down("", err)
	}
	return conn, err
}

// down records why the connection is down; a lost one ends the waits
// for acks of publishes made on it.
func (t *natsTarget) down(what string, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	switch {
	case err != nil && what != "":
		t.why = what + ": " + describeNATS(err)
	case err != nil:
		t.why = describeNATS(err)
	case what != "":
		t.why = what
	}
	if what != "" {
		t.connected = false
		select {
		case <-t.lost:
		default:
			close(t.lost)
		}
	}
}

func (t *natsTarget) up() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.why, t.connected = "", true
	select {
	case <-t.lost:
		t.lost = make(chan struct{})
	default:
	}
}

// conn returns the connection's JetStream context, waiting for the first
// connect at most until ctx ends, and a channel closed when it drops.
func (t *natsTarget) conn(ctx context.Context) (jetstream.JetStream, <-chan struct{}, error) {
	t.once.Do(func() { go t.connect() })
	select {
	case <-t.ready:
	case <-ctx.Done():
		return nil, nil, fmt.Errorf("timed out connecting to NATS at %s", t.b.Addr)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	switch {
	case t.closed:
		return nil, nil, errors.New("the NATS connection was closed")
	case t.nc == nil:
		return nil, nil, fmt.Errorf("cannot connect to NATS at %s: %s", t.b.Addr, t.why)
	case !t.connected:
		why := t.why
		if why == "" {
			why = "connecting"
		}
		return nil, nil, fmt.Errorf("not connected to NATS at %s (%s): reconnecting in the background", t.b.Addr, why)
	}
	return t.js, t.lost, nil
}

// Send publishes m to its subject and waits for JetStream's ack.
func (t *natsTarget) Send(ctx context.Context, m Message) (out chathook.Outcome) {
	js, lost, err := t.conn(ctx)
	if err != nil {
		out.Err = err.Error()
		return out
	}
	subject := natsSubject(t.b.Prefix, m.Webhook.WorkspaceID, m.Type)
	msg := nats.NewMsg(subject)
	msg.Data = m.Body
	msg.Header.Set(jetstream.MsgIDHeader, m.EventID)
	for _, h := range m.Headers() {
		msg.Header.Set(h[0], h[1])
	}
	pubCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	go func() {
		select {
		case <-lost:
			cancel(errNATSLost)
		case <-pubCtx.Done():
		}
	}()
	began := time.Now()
	_, err = js.PublishMsg(pubCtx, msg) // a duplicate's ack is a success too: the stream has it
	if err != nil {
		out.Err = t.publishError(pubCtx, subject, err, time.Since(began))
	}
	return out
}

var errNATSLost = errors.New("connection lost")

// publishError puts a failed publish in words a person understands.
func (t *natsTarget) publishError(ctx context.Context, subject string, err error, waited time.Duration) string {
	var apiErr *jetstream.APIError
	switch {
	case errors.Is(context.Cause(ctx), errNATSLost):
		return fmt.Sprintf("the connection to NATS at %s was lost before the publish ack", t.b.Addr)
	case errors.Is(err, jetstream.ErrNoStreamResponse), errors.Is(err, nats.ErrNoResponders):
		return fmt.Sprintf("no JetStream stream takes subject %s: create one (nats stream add --subjects '%s.>' ...), "+
			"or enable JetStream on the server", subject, t.b.Prefix)
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, nats.ErrTimeout):
		t.mu.Lock()
		async := t.async
		t.mu.Unlock()
		text := fmt.Sprintf("no publish ack from NATS at %s after %s", t.b.Addr, waited.Round(time.Millisecond))
		if async != "" {
			text += " (the server's last error: " + async + ")"
		}
		return text
	case errors.As(err, &apiErr):
		return "JetStream refused the message: " + apiErr.Description
	case errors.Is(err, nats.ErrConnectionClosed):
		return "the NATS connection was closed"
	case errors.Is(err, nats.ErrReconnectBufExceeded), errors.Is(err, nats.ErrConnectionReconnecting):
		return fmt.Sprintf("not connected to NATS at %s: reconnecting in the background", t.b.Addr)
	}
	return describeNATS(err)
}

// describeNATS puts a connection error in words: those of an HTTP
// receiver's (describe), and the broker's refusals.
func describeNATS(err error) string {
	switch {
	case errors.Is(err, nats.ErrAuthorization):
		return "NATS refused the credentials (authorization violation)"
	case errors.Is(err, nats.ErrAuthExpired), errors.Is(err, nats.ErrAuthRevoked):
		return "NATS refused the credentials: " + strings.TrimPrefix(err.Error(), "nats: ")
	case errors.Is(err, nats.ErrNoServers):
		return "no NATS server answered"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "the server closed the connection"
	}
	return describe(err, natsTimeout)
}

// natsSubject is <prefix>.<workspace id>.<event type, ':' as '.'>. The
// workspace id and each part of the type become one subject token each:
// letters, digits and '-' stay (a UUID, message:new stay as they are);
// any other byte, '_' too, becomes '_' and its two hex digits, so that a
// dot, a space, '*' or '>' can never split a token or make a wildcard,
// and two different ids never share a subject.
func natsSubject(prefix, workspace, typ string) string {
	var b strings.Builder
	b.WriteString(prefix)
	for _, tok := range append([]string{workspace}, strings.Split(typ, ":")...) {
		b.WriteByte('.')
		if tok == "" {
			b.WriteByte('_') // an empty token is no subject; "_" alone is never an escape
			continue
		}
		for i := 0; i < len(tok); i++ {
			c := tok[i]
			if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' {
				b.WriteByte(c)
			} else {
				fmt.Fprintf(&b, "_%02X", c)
			}
		}
	}
	return b.String()
}

// Close ends the connection; a connect under way is abandoned.
func (t *natsTarget) Close() {
	t.once.Do(func() { close(t.ready) }) // never sent: never connects
	t.end()
	t.mu.Lock()
	t.closed = true
	nc := t.nc
	t.mu.Unlock()
	if nc != nil {
		nc.Close()
	}
}
