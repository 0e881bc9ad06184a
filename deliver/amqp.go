package deliver

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"sync"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/chathook/chathook"
)

// amqpTarget publishes an amqp[s]:// endpoint's deliveries to its
// RabbitMQ exchange: persistent messages, routing key the event type,
// message_id the event id, the signature headers in the headers table,
// each one confirmed by the broker before the delivery is done.
//
// RabbitMQ has no deduplication. A delivery is published again after a
// confirm that chathook did not see (a connection lost before it, which
// Send publishes again on the next connection; a timeout, which the
// dispatcher retries) or did not record (chathook killed between the
// confirm and its record): the stream holds every event at least once,
// in order per chat by first arrival, and a consumer that must see each
// once drops a message_id it has seen.
//
// One connection per endpoint, opened by the first Send and shared by
// all: each Send publishes on a channel of its own in confirm mode,
// taken from a pool, so it waits for its own confirm alone.
type amqpTarget struct {
	b     chathook.BrokerURL
	dial  dialFunc
	slots chan struct{} // one per Send in flight, up to maxAMQPChannels

	mu      sync.Mutex
	sess    *amqpSession  // nil until connected, or once lost
	dialing chan struct{} // closed when a connect under way ends; nil if none
	lastErr string        // why the last connect failed
	retryAt time.Time     // no connect before then (backoff)
	backoff time.Duration // the wait after the next failed connect
	closed  bool
}

// amqpSession is one connection and its idle channels.
type amqpSession struct {
	conn *amqp.Connection
	idle []*amqpChannel
}

// amqpChannel is a channel in confirm mode with what it tells.
type amqpChannel struct {
	ch      *amqp.Channel
	returns chan amqp.Return // basic.return: a mandatory message no queue took
	closes  chan *amqp.Error // the channel closed, and why
}

// maxAMQPChannels is the most Sends of one endpoint at once, each on a
// channel of its own: the dispatcher's default PerEndpoint. More wait.
const maxAMQPChannels = 64

// The reconnect backoff: after a failed connect the next one waits
// amqpBackoffMin, doubling to amqpBackoffMax, however many Sends wait.
// Capped at 5s, a third of the default 15s attempt timeout, so that a
// broker back from a restart is found within seconds, in the same attempt.
const (
	amqpBackoffMin = 250 * time.Millisecond
	amqpBackoffMax = 5 * time.Second
)

// newAMQPTarget returns the target of an amqp:// endpoint: RabbitMQ.
func newAMQPTarget(b chathook.BrokerURL, dial dialFunc) Target {
	return &amqpTarget{b: b, dial: dial, backoff: amqpBackoffMin, slots: make(chan struct{}, maxAMQPChannels)}
}

func (a *amqpTarget) Send(ctx context.Context, m Message) (out chathook.Outcome) {
	headers := amqp.Table{}
	for _, h := range m.Headers() {
		headers[h[0]] = h[1]
	}
	msg := amqp.Publishing{
		Headers:      headers,
		ContentType:  "application/json",
		DeliveryMode: amqp.Persistent,
		MessageId:    m.EventID,
		Timestamp:    m.Timestamp,
		Body:         m.Body,
	}
	select {
	case a.slots <- struct{}{}:
		defer func() { <-a.slots }()
	case <-ctx.Done():
		out.Err = fmt.Sprintf("%s waiting behind %d deliveries in flight to RabbitMQ", ended(ctx), maxAMQPChannels)
		return out
	}
	var lostErr string
	for try := 1; ; try++ {
		sess, c, err := a.channel(ctx)
		if err != nil {
			out.Err = err.Error()
			if lostErr != "" {
				out.Err = lostErr + ", and no new connection within the attempt: " + out.Err
			}
			return out
		}
		errText, connLost := a.publish(ctx, sess, c, m.Type, msg)
		// A connection lost before the confirm (a broker restarting, a
		// network blip) is published again on the next one within the
		// attempt, rather than failed: a restart would otherwise fail
		// every Send in flight at once, and ten of them disable the
		// endpoint. The message may have reached the queue already: a
		// consumer sees it twice, the same message_id, as after any retry.
		if connLost && try < amqpRepublish && ctx.Err() == nil {
			lostErr = errText
			continue
		}
		out.Err = errText
		return out
	}
}

// amqpRepublish is how many times one attempt publishes a message whose
// connection was lost before the confirm: enough for a restart, not a
// loop against a broker that drops every connection.
const amqpRepublish = 3

// publish publishes msg on c and waits for its confirm. It returns ""
// when the broker has it, else why not, and whether it was because the
// connection was lost.
func (a *amqpTarget) publish(ctx context.Context, sess *amqpSession, c *amqpChannel, key string, msg amqp.Publishing) (string, bool) {
	// mandatory: a message no queue is bound for comes back as a
	// basic.return, then is acked; without it, it would be acked and lost.
	if ctx.Err() != nil {
		a.put(sess, c)
		return ended(ctx) + " before publishing to RabbitMQ", false
	}
	dc, err := c.ch.PublishWithDeferredConfirm(a.b.Exchange, key, true, false, msg)
	if err != nil {
		// A write that failed (reset, closed) ends the connection, though
		// the library may not have noticed yet: the next try connects anew.
		a.drop(c)
		a.discard(sess)
		return a.lost(sess, c, err), true
	}
	select {
	case <-dc.Done():
	case <-ctx.Done():
		a.drop(c) // a late confirm or return must not be read as the next Send's
		return ended(ctx) + " waiting for RabbitMQ's confirm", false
	}
	if !dc.Acked() {
		a.drop(c)
		return a.lost(sess, c, nil), sess.conn.IsClosed()
	}
	// RabbitMQ sends the return before the ack, and the library hands it
	// over before it reads the ack: it is here now, or there was none.
	// (Closed without one, the channel closed after the ack: no return.)
	select {
	case r, ok := <-c.returns:
		a.put(sess, c)
		if !ok {
			return "", false
		}
		return fmt.Sprintf("unroutable: no queue is bound to exchange %q in vhost %q for routing key %q (%d %s)",
			a.b.Exchange, a.b.VHost, key, r.ReplyCode, r.ReplyText), false
	default:
	}
	a.put(sess, c)
	return "", false
}

// lost says why a publish was not confirmed: the channel's close (404:
// no such exchange), else a nack, else err.
func (a *amqpTarget) lost(sess *amqpSession, c *amqpChannel, err error) string {
	select {
	case e, ok := <-c.closes:
		switch {
		case !ok || e == nil:
			return "the channel to RabbitMQ closed before the confirm"
		case e.Code == amqp.NotFound:
			return fmt.Sprintf("exchange %q not found in vhost %q: declare it, or fix the URL's ?exchange=", a.b.Exchange, a.b.VHost)
		case sess.conn.IsClosed():
			return "the connection to RabbitMQ was lost before the confirm: " + e.Reason
		}
		return "RabbitMQ closed the channel: " + e.Reason
	default:
	}
	if err != nil {
		if errors.Is(err, amqp.ErrClosed) {
			return "the connection to RabbitMQ was lost"
		}
		return "publish failed: " + err.Error()
	}
	return "RabbitMQ refused the message (nack)"
}

// channel returns an idle channel of the connection, connecting first if
// there is none.
func (a *amqpTarget) channel(ctx context.Context) (*amqpSession, *amqpChannel, error) {
	sess, err := a.session(ctx)
	if err != nil {
		return nil, nil, err
	}
	a.mu.Lock()
	if n := len(sess.idle); n > 0 {
		c := sess.idle[n-1]
		sess.idle = sess.idle[:n-1]
		a.mu.Unlock()
		return sess, c, nil
	}
	a.mu.Unlock()
	c, err := openChannel(ctx, sess.conn)
	if err != nil {
		if sess.conn.IsClosed() {
			return nil, nil, errors.New("the connection to RabbitMQ was lost")
		}
		return nil, nil, fmt.Errorf("opening a channel: %w", err)
	}
	return sess, c, nil
}

// openChannel opens a channel in confirm mode, bounded by ctx: the
// library's calls to open it take no context, and wait for the broker's
// answer until the connection's heartbeat gives up on it.
func openChannel(ctx context.Context, conn *amqp.Connection) (*amqpChannel, error) {
	type opened struct {
		c   *amqpChannel
		err error
	}
	res := make(chan opened, 1)
	go func() {
		c, err := openChannelNow(conn)
		res <- opened{c, err}
	}()
	select {
	case r := <-res:
		return r.c, r.err
	case <-ctx.Done():
		go func() { // close it when it comes
			if r := <-res; r.c != nil {
				r.c.ch.Close()
			}
		}()
		return nil, errors.New(ended(ctx) + " opening a channel to RabbitMQ")
	}
}

func openChannelNow(conn *amqp.Connection) (*amqpChannel, error) {
	ch, err := conn.Channel()
	if err != nil {
		return nil, err
	}
	if err := ch.Confirm(false); err != nil {
		ch.Close()
		return nil, err
	}
	return &amqpChannel{
		ch: ch,
		// Room for one each: one message at a time is published on a
		// channel, and the library never blocks on a full one for long.
		returns: ch.NotifyReturn(make(chan amqp.Return, 1)),
		closes:  ch.NotifyClose(make(chan *amqp.Error, 1)),
	}, nil
}

// put gives a channel back to its session's idle ones.
func (a *amqpTarget) put(sess *amqpSession, c *amqpChannel) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.sess == sess && !c.ch.IsClosed() {
		sess.idle = append(sess.idle, c)
		return
	}
	go c.ch.Close()
}

// discard stops handing out sess, whose connection failed, and closes it.
func (a *amqpTarget) discard(sess *amqpSession) {
	a.mu.Lock()
	if a.sess == sess {
		a.sess = nil
	}
	a.mu.Unlock()
	go sess.conn.CloseDeadline(time.Now().Add(time.Second))
}

// drop closes a channel whose state is unknown (a publish failed or was
// not confirmed in time), rather than reuse it.
func (a *amqpTarget) drop(c *amqpChannel) {
	go func() {
		c.ch.Close()
		for range c.returns { // until the library closes it
		}
	}()
}

// session returns the connection, connecting when there is none. One
// connect at a time: concurrent Sends wait for it. A connect that fails
// for a reason that may pass (the broker refuses, resets, is starting or
// stopping) is tried again after the backoff while ctx lasts, so that a
// broker restarted within the attempt's timeout costs no attempt that
// starts while it is down; what ctx's end leaves is the last failure.
func (a *amqpTarget) session(ctx context.Context) (*amqpSession, error) {
	for {
		a.mu.Lock()
		if a.closed {
			a.mu.Unlock()
			return nil, errors.New("the endpoint's RabbitMQ connection was closed")
		}
		if a.sess != nil && !a.sess.conn.IsClosed() {
			s := a.sess
			a.mu.Unlock()
			return s, nil
		}
		a.sess = nil
		wait, until, lastErr := a.dialing, a.retryAt, a.lastErr
		if wait == nil && time.Now().Before(until) {
			if d, ok := ctx.Deadline(); ok && d.Before(until) {
				a.mu.Unlock()
				return nil, errors.New(lastErr) // no connect can be made in time
			}
			timer := time.NewTimer(time.Until(until))
			a.mu.Unlock()
			select {
			case <-timer.C:
				continue
			case <-ctx.Done():
				timer.Stop()
				return nil, errors.New(lastErr)
			}
		}
		if wait != nil {
			a.mu.Unlock()
			select {
			case <-wait:
				continue
			case <-ctx.Done():
				if lastErr != "" {
					return nil, errors.New(lastErr)
				}
				return nil, fmt.Errorf("%s waiting for the connection to RabbitMQ at %s", ended(ctx), a.b.Addr)
			}
		}
		done := make(chan struct{})
		a.dialing = done
		a.mu.Unlock()

		sess, lasting, err := a.connect(ctx)

		a.mu.Lock()
		a.dialing = nil
		close(done)
		if err == nil {
			a.backoff, a.lastErr, a.retryAt = amqpBackoffMin, "", time.Time{}
			if a.closed {
				a.mu.Unlock()
				_ = sess.conn.CloseDeadline(time.Now().Add(5 * time.Second))
				return nil, errors.New("the endpoint's RabbitMQ connection was closed")
			}
			a.sess = sess
			a.mu.Unlock()
			return sess, nil
		}
		a.lastErr = err.Error()
		a.retryAt = time.Now().Add(a.backoff)
		a.backoff = min(2*a.backoff, amqpBackoffMax)
		a.mu.Unlock()
		if lasting || ctx.Err() != nil {
			return nil, err
		}
	}
}

// connect opens the connection, bounded by ctx: the dial, TLS and AMQP
// handshakes. lasting is true for a failure that trying again will not
// mend: a refused login, a missing vhost, a private address.
func (a *amqpTarget) connect(ctx context.Context) (_ *amqpSession, lasting bool, _ error) {
	// The URL the library reads has no credentials: they go in SASL, so
	// no error of it can show them.
	scheme := "amqp"
	if a.b.TLS {
		scheme = "amqps"
	}
	cfg := amqp.Config{
		Vhost:      a.b.VHost,
		Properties: amqp.Table{"product": "chathook", "version": chathook.Version},
		Dial: func(network, addr string) (net.Conn, error) {
			conn, err := a.dial(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			conn = writeBounded(conn, amqpWriteTimeout)
			// The handshakes are bounded by ctx too; the library clears
			// the deadline once the connection is open.
			if d, ok := ctx.Deadline(); ok {
				_ = conn.SetDeadline(d)
			}
			return conn, nil
		},
	}
	if a.b.User != "" {
		cfg.SASL = []amqp.Authentication{&amqp.PlainAuth{Username: a.b.User, Password: a.b.Password}}
	}
	u := (&url.URL{Scheme: scheme, Host: a.b.Addr, Path: "/"}).String()
	conn, err := amqp.DialConfig(u, cfg)
	if err != nil {
		return nil, lastingError(err), a.connectError(err)
	}
	return &amqpSession{conn: conn}, false, nil
}

// lastingError: a failure to connect that trying again within the same
// attempt will not mend.
func lastingError(err error) bool {
	var ae *amqp.Error
	var dnsErr *net.DNSError
	var certErr *tls.CertificateVerificationError
	return errors.As(err, &ae) && (ae.Code == amqp.AccessRefused || ae.Code == amqp.NotAllowed) ||
		errors.Is(err, amqp.ErrCredentials) || errors.Is(err, amqp.ErrSASL) ||
		errors.Is(err, errPrivateTarget) || errors.As(err, &dnsErr) && dnsErr.IsNotFound ||
		errors.As(err, &certErr)
}

// connectError says why a connect failed, naming the broker but never
// its credentials.
func (a *amqpTarget) connectError(err error) error {
	var ae *amqp.Error
	where := "RabbitMQ at " + a.b.Addr
	switch {
	case errors.As(err, &ae) && ae.Code == amqp.AccessRefused:
		return fmt.Errorf("%s refused the login of user %q: check the URL's user and password", where, a.b.User)
	case errors.As(err, &ae) && ae.Code == amqp.NotAllowed:
		return fmt.Errorf("%s: vhost %q does not exist or user %q may not use it", where, a.b.VHost, a.b.User)
	case errors.Is(err, amqp.ErrCredentials), errors.Is(err, amqp.ErrSASL):
		return fmt.Errorf("%s refused the login of user %q: check the URL's user and password", where, a.b.User)
	case errors.As(err, &ae):
		return fmt.Errorf("%s: %s", where, ae.Reason)
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) {
		return fmt.Errorf("%s: timed out connecting", where)
	}
	return fmt.Errorf("%s: %s", where, describe(err, 0))
}

// Close ends the connection; Sends in flight fail.
func (a *amqpTarget) Close() {
	a.mu.Lock()
	a.closed = true
	sess := a.sess
	a.sess = nil
	a.mu.Unlock()
	if sess != nil {
		// Bounded: Close waits for the broker's close-ok.
		_ = sess.conn.CloseDeadline(time.Now().Add(5 * time.Second))
	}
}

// ended says how ctx ended: "timed out" or "stopped".
func ended(ctx context.Context) string {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return "timed out"
	}
	return "stopped"
}

// amqpWriteTimeout bounds each write to a RabbitMQ connection. The
// library writes with no deadline (a publish takes no context), and a
// broker under a memory or disk alarm stops reading: a write would then
// block forever, and with it the Send and the dispatcher's shutdown. The
// default attempt Timeout: a frame that makes no progress that long is
// a broker that stopped reading, and the attempt has failed by then.
const amqpWriteTimeout = 15 * time.Second

// writeBounded wraps conn so that each Write ends within limit, or by a
// deadline set on it before, if earlier (the handshake's, a close's). A
// write that times out fails the connection, which the library then
// closes: Sends see it lost.
func writeBounded(conn net.Conn, limit time.Duration) net.Conn {
	return &boundedConn{Conn: conn, limit: limit}
}

type boundedConn struct {
	net.Conn
	limit time.Duration
	mu    sync.Mutex
	set   time.Time // the write deadline set by SetDeadline or SetWriteDeadline; zero: none
}

func (c *boundedConn) Write(p []byte) (int, error) {
	c.mu.Lock() // held while setting, so a deadline set meanwhile is not overwritten
	dl := time.Now().Add(c.limit)
	if !c.set.IsZero() && c.set.Before(dl) {
		dl = c.set
	}
	err := c.Conn.SetWriteDeadline(dl)
	c.mu.Unlock()
	if err != nil {
		return 0, err
	}
	return c.Conn.Write(p)
}

func (c *boundedConn) SetDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.set = t
	return c.Conn.SetDeadline(t)
}

func (c *boundedConn) SetWriteDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.set = t
	return c.Conn.SetWriteDeadline(t)
}
