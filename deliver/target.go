package deliver

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/event"
)

// A Target sends deliveries to one kind of receiver: an HTTP receiver
// (httpTarget), a NATS JetStream stream (natsTarget) or a RabbitMQ
// exchange (amqpTarget). The dispatcher does the rest the same for all:
// claims, order per chat, retries, the log, auto-disable.
type Target interface {
	// Send sends one message and says how it went. Outcome.Err is ""
	// only when the receiver has it: a 2xx, a JetStream publish ack, a
	// RabbitMQ confirm. Every failure is retried on the schedule, and
	// counts toward auto-disable. Send returns when ctx ends (the
	// dispatcher's Timeout). The dispatcher sets DeliveryID, URL, At and
	// Duration; Send sets Status (HTTP only) and Err.
	Send(ctx context.Context, m Message) chathook.Outcome
	// Close ends the target's connections. Send is not called after.
	Close()
}

// Message is one delivery as it goes out, signed.
type Message struct {
	Webhook chathook.Webhook
	// EventID is the webhook-id header, and a broker's deduplication id
	// (Nats-Msg-Id, AMQP message_id): the same for every retry.
	EventID string
	// Type is the event type (see EventType): a NATS subject's last
	// tokens, a RabbitMQ routing key.
	Type      string
	Timestamp time.Time // the webhook-timestamp header, in seconds
	Signature string    // the webhook-signature header
	Body      []byte    // JSON
}

// Headers are the headers every target sets on a message, in this order:
// the Standard Webhooks trio, so that a consumer of a broker verifies a
// message as a receiver of a POST does, and what the body is and who
// sent it. NATS and AMQP carry them as message headers.
func (m Message) Headers() [][2]string {
	return [][2]string{
		{"webhook-id", m.EventID},
		{"webhook-timestamp", strconv.FormatInt(m.Timestamp.Unix(), 10)},
		{"webhook-signature", m.Signature},
		{"Content-Type", "application/json"},
		{"User-Agent", "chathook/" + chathook.Version},
	}
}

// EventType is the event type a delivery carries: the event's own, or,
// for the seed format (SPEC 4), message:received:new or message:sent:new
// for one message and message:new for a bundle, whose messages may go
// either way.
func EventType(del chathook.Delivery) string {
	switch del.Kind {
	case chathook.KindEvent:
		return del.Type
	case chathook.KindMessage:
		if del.Message.Direction == chathook.Sent {
			return event.MessageSentNew
		}
		return event.MessageReceivedNew
	}
	return event.MessageNew
}

// httpTarget POSTs: SPEC 4's request, to the endpoint's URL.
type httpTarget struct {
	client  *http.Client
	timeout time.Duration // the dispatcher's, for describe
}

func (h httpTarget) Send(ctx context.Context, m Message) (out chathook.Outcome) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, m.Webhook.URL, bytes.NewReader(m.Body))
	if err != nil {
		out.Err = "invalid URL: " + err.Error()
		return out
	}
	for _, h := range m.Headers() {
		req.Header.Set(h[0], h[1])
	}
	resp, err := h.client.Do(req)
	if err != nil {
		out.Err = describe(err, h.timeout)
		return out
	}
	drain(resp.Body)
	out.Status = resp.StatusCode
	if !out.OK() {
		out.Err = statusError(resp)
	}
	return out
}

func (h httpTarget) Close() { h.client.CloseIdleConnections() }

// dialFunc opens a connection for a broker target. The dispatcher's
// refuses private addresses after DNS as its HTTP client does (see
// newDialer), unless --allow-private-targets.
type dialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// targets are the dispatcher's targets: one HTTP client for every HTTP
// endpoint, and one broker target, holding one connection, per broker
// endpoint and URL, reused until it is idle for idleTarget.
//
// Keyed by URL too, not replaced when the URL is edited: runs claimed
// before and after an edit go out side by side for a while, and each
// switch closing the other's connection would fail its Sends in flight.
// The old URL's target goes once idle (closeIdle).
type targets struct {
	http Target
	dial dialFunc
	// open makes a broker target; the real ones but in tests of the registry.
	open    func(kind string, b chathook.BrokerURL, dial dialFunc) Target
	mu      sync.Mutex
	held    map[heldKey]*heldTarget
	reaping atomic.Bool // a closeIdle is under way (see reap)
}

type heldKey struct {
	ep  int64 // Webhook.Key
	url string
}

type heldTarget struct {
	t    Target
	used time.Time
}

// idleTarget is how long a broker endpoint's connection is kept without a
// delivery: an endpoint with traffic keeps it, one disabled or deleted
// lets it go.
const idleTarget = 5 * time.Minute

func newTargets(client *http.Client, timeout time.Duration, allowPrivate bool) *targets {
	return &targets{http: httpTarget{client: client, timeout: timeout}, dial: newDialer(allowPrivate).DialContext,
		open: openBroker, held: map[heldKey]*heldTarget{}}
}

// openBroker returns the target of a broker URL of kind; it never connects.
func openBroker(kind string, b chathook.BrokerURL, dial dialFunc) Target {
	if kind == chathook.TargetNATS {
		return newNATSTarget(b, dial)
	}
	return newAMQPTarget(b, dial)
}

// get returns the target of wh's URL. It never connects: a broker
// target connects in Send, so that a slow or dead broker costs only its
// own endpoint's attempts.
func (ts *targets) get(wh chathook.Webhook) Target {
	kind := chathook.TargetOf(wh.URL)
	if kind != chathook.TargetNATS && kind != chathook.TargetAMQP {
		return ts.http
	}
	ts.mu.Lock()
	defer ts.mu.Unlock()
	key := heldKey{wh.Key, wh.URL}
	h := ts.held[key]
	if h == nil {
		h = &heldTarget{}
		if b, err := chathook.ParseBrokerURL(wh.URL); err != nil {
			h.t = brokenTarget(err.Error())
		} else {
			h.t = ts.open(kind, b, ts.dial)
		}
		ts.held[key] = h
	}
	h.used = time.Now()
	return h.t
}

// reap closes the broker targets not used since before, in a goroutine
// of its own, so that the caller (the lease renewal) never waits for a
// broker's close, which may take seconds; one at a time: a reap still
// under way is not doubled.
func (ts *targets) reap(before time.Time) {
	if !ts.reaping.CompareAndSwap(false, true) {
		return
	}
	go func() {
		defer ts.reaping.Store(false)
		ts.closeIdle(before)
	}()
}

// closeIdle closes the broker targets not used since before.
func (ts *targets) closeIdle(before time.Time) {
	ts.mu.Lock()
	var idle []Target
	for key, h := range ts.held {
		if h.used.Before(before) {
			idle = append(idle, h.t)
			delete(ts.held, key)
		}
	}
	ts.mu.Unlock()
	for _, t := range idle {
		t.Close()
	}
}

// closeAll closes every target, when Run ends.
func (ts *targets) closeAll() {
	ts.closeIdle(time.Now().Add(time.Hour))
	ts.http.Close()
}

// brokenTarget fails every attempt with the reason its URL cannot be
// used (a URL stored before a rule was added, say), so the endpoint's log
// says why and auto-disable ends it.
type brokenTarget string

func (b brokenTarget) Send(context.Context, Message) chathook.Outcome {
	return chathook.Outcome{Err: "invalid URL: " + string(b)}
}

func (brokenTarget) Close() {}
