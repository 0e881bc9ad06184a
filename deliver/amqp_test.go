package deliver_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/app"
	"github.com/chathook/chathook/chathooktest"
	"github.com/chathook/chathook/chathooktest/brokertest"
	"github.com/chathook/chathook/deliver"
	"github.com/chathook/chathook/event"
	"github.com/chathook/chathook/payload"
)

// machineRabbitMQ is the machine's RabbitMQ, which the tests that do not
// stop the broker share, each with exchanges and queues of its own.
const machineRabbitMQ = "amqp://guest:guest@127.0.0.1:5672/"

// rabbit connects to the machine's RabbitMQ, or skips the test (fails
// it under CI) when there is none.
func rabbit(t *testing.T, url string) *amqp.Channel {
	t.Helper()
	conn, err := amqp.Dial(url)
	if err != nil {
		msg := fmt.Sprintf("RabbitMQ at %s: %v", url, err)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	t.Cleanup(func() { conn.Close() })
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	return ch
}

// topology declares a topic exchange of the test's own and, when bind,
// a queue bound to it for every routing key; both are deleted when the
// test ends. durable is for a broker that restarts.
func topology(t *testing.T, ch *amqp.Channel, bind, durable bool) (exchange, queue string) {
	t.Helper()
	suffix := make([]byte, 4)
	_, _ = rand.Read(suffix)
	name := "chathooktest." + t.Name() + "." + hex.EncodeToString(suffix)
	if err := ch.ExchangeDeclare(name, amqp.ExchangeTopic, durable, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ch.ExchangeDelete(name, false, false) })
	if !bind {
		return name, ""
	}
	if _, err := ch.QueueDeclare(name, durable, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = ch.QueueDelete(name, false, false, false) })
	if err := ch.QueueBind(name, "#", name, false, nil); err != nil {
		t.Fatal(err)
	}
	return name, name
}

// target is an AMQP target for url, through the dispatcher's dialer.
func target(t *testing.T, url string, allowPrivate bool) deliver.Target {
	t.Helper()
	b, err := chathook.ParseBrokerURL(url)
	if err != nil {
		t.Fatal(err)
	}
	tg := deliver.NewAMQPTarget(b, deliver.NewDialer(allowPrivate).DialContext)
	t.Cleanup(tg.Close)
	return tg
}

// send sends one message numbered n and returns its outcome.
func send(tg deliver.Target, n int, within time.Duration) chathook.Outcome {
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	return tg.Send(ctx, deliver.Message{EventID: "evt_" + strconv.Itoa(n), Type: event.MessageReceivedNew,
		Timestamp: time.Unix(1_800_000_000, 0), Signature: "v1,x", Body: []byte(`{"n":` + strconv.Itoa(n) + `}`)})
}

// drain returns the message ids in queue now, taking them off.
func drain(t *testing.T, ch *amqp.Channel, queue string) []string {
	t.Helper()
	var ids []string
	for {
		d, ok, err := ch.Get(queue, true)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			return ids
		}
		ids = append(ids, d.MessageId)
	}
}

// TestAMQPEventArrivesSigned: an endpoint whose url is amqp:// gets each
// event as a persistent message on its exchange, routing key the event
// type, message_id the event id, the Standard Webhooks headers set, the
// body as an HTTP endpoint gets it, and a signature that verifies with
// the endpoint's secret.
func TestAMQPEventArrivesSigned(t *testing.T) {
	ch := rabbit(t, machineRabbitMQ)
	exchange, queue := topology(t, ch, true, false)
	msgs, err := ch.Consume(queue, "", true, true, false, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	svc := chathooktest.Start(t, chathooktest.Options{})
	ws := svc.NewWorkspace(t, "acme")
	url := machineRabbitMQ + "?exchange=" + exchange
	status, body := ws.Do(t, http.MethodPost, "/api/v1/webhooks", map[string]any{"url": url, "events": []string{event.MessageReceivedNew}})
	var ep struct{ Secret string }
	if status != http.StatusCreated || json.Unmarshal(body, &ep) != nil {
		t.Fatalf("add endpoint: %d %s", status, body)
	}
	post(t, ws, message(1, 1))

	var d amqp.Delivery
	select {
	case d = <-msgs:
	case <-time.After(20 * time.Second):
		t.Fatal("no message reached the queue")
	}
	var env struct {
		Type    string `json:"type"`
		EventID string `json:"event_id"`
		Data    struct {
			Message struct{ Text string }
		}
	}
	if err := json.Unmarshal(d.Body, &env); err != nil {
		t.Fatalf("body %s: %v", d.Body, err)
	}
	if d.Exchange != exchange || d.RoutingKey != event.MessageReceivedNew || env.Type != d.RoutingKey ||
		d.DeliveryMode != amqp.Persistent || d.ContentType != "application/json" ||
		d.MessageId == "" || d.MessageId != env.EventID || env.Data.Message.Text != "message 1" {
		t.Errorf("delivery %+v, envelope %+v", d, env)
	}
	h := func(k string) string { s, _ := d.Headers[k].(string); return s }
	if h("webhook-id") != d.MessageId || h("webhook-timestamp") != strconv.FormatInt(d.Timestamp.Unix(), 10) ||
		h("Content-Type") != "application/json" || h("User-Agent") != "chathook/"+chathook.Version {
		t.Errorf("headers %v, timestamp %v", d.Headers, d.Timestamp)
	}
	if time.Since(d.Timestamp) > time.Hour || d.Timestamp.After(time.Now().Add(time.Minute)) {
		t.Errorf("timestamp %v is not now", d.Timestamp)
	}
	key, err := payload.ParseSecret(ep.Secret)
	if err != nil {
		t.Fatal(err)
	}
	ts, _ := strconv.ParseInt(h("webhook-timestamp"), 10, 64)
	if !payload.Verify(key, h("webhook-id"), ts, d.Body, h("webhook-signature")) {
		t.Errorf("signature %q does not verify for the body as it arrived", h("webhook-signature"))
	}
}

// TestAMQPUnroutableIsAFailedAttempt: a message no queue is bound for
// is a failed attempt saying so, not an ack of a message that is lost;
// once a queue is bound the same target delivers.
func TestAMQPUnroutableIsAFailedAttempt(t *testing.T) {
	ch := rabbit(t, machineRabbitMQ)
	exchange, _ := topology(t, ch, false, false)
	tg := target(t, machineRabbitMQ+"?exchange="+exchange, true)
	out := send(tg, 1, 10*time.Second)
	if out.OK() || !strings.Contains(out.Err, "unroutable") || !strings.Contains(out.Err, exchange) ||
		!strings.Contains(out.Err, event.MessageReceivedNew) {
		t.Fatalf("unroutable message: %+v", out)
	}
	if _, err := ch.QueueDeclare(exchange, false, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = ch.QueueDelete(exchange, false, false, false) })
	if err := ch.QueueBind(exchange, "#", exchange, false, nil); err != nil {
		t.Fatal(err)
	}
	if out := send(tg, 2, 10*time.Second); !out.OK() {
		t.Fatalf("once bound: %+v", out)
	}
	if ids := drain(t, ch, exchange); len(ids) != 1 || ids[0] != "evt_2" {
		t.Errorf("queue holds %v, want [evt_2]", ids)
	}
}

// TestAMQPMissingExchangeNamesIt: publishing to an exchange that does not
// exist closes the channel (404); each attempt fails naming the exchange
// and the vhost.
func TestAMQPMissingExchangeNamesIt(t *testing.T) {
	rabbit(t, machineRabbitMQ)
	tg := target(t, machineRabbitMQ+"?exchange=chathooktest.none", true)
	for n := 1; n <= 2; n++ {
		out := send(tg, n, 10*time.Second)
		if out.OK() || !strings.Contains(out.Err, `exchange "chathooktest.none" not found in vhost "/"`) {
			t.Errorf("attempt %d: %+v", n, out)
		}
	}
}

// TestAMQPRefusedLoginHidesPassword: a wrong password or a vhost that does
// not exist is a failed attempt saying what is wrong, without the
// password, after one connect: a refusal is not tried again within the
// attempt (it would be, until the attempt times out, if it were taken
// for a broker that is starting).
func TestAMQPRefusedLoginHidesPassword(t *testing.T) {
	rabbit(t, machineRabbitMQ)
	const password = "Secret-Pa55word"
	for _, c := range []struct{ url, want string }{
		{"amqp://guest:" + password + "@127.0.0.1:5672/?exchange=x", `refused the login of user "guest"`},
		{"amqp://guest:guest@127.0.0.1:5672/nowhere?exchange=x", `vhost "nowhere"`},
	} {
		b, err := chathook.ParseBrokerURL(c.url)
		if err != nil {
			t.Fatal(err)
		}
		// The dispatcher's dialer, counting its dials: one per connect.
		var dials atomic.Int64
		dial := deliver.NewDialer(true).DialContext
		tg := deliver.NewAMQPTarget(b, func(ctx context.Context, network, addr string) (net.Conn, error) {
			dials.Add(1)
			return dial(ctx, network, addr)
		})
		t.Cleanup(tg.Close)
		// A failure taken for a passing one is dialled again after 250 ms,
		// then backing off to 5 s: many times within 20 s.
		out := send(tg, 1, 20*time.Second)
		if out.OK() || !strings.Contains(out.Err, c.want) || strings.Contains(out.Err, password) {
			t.Errorf("%s: %+v, want an error with %q and no password", chathook.RedactURL(c.url), out, c.want)
		}
		if n := dials.Load(); n != 1 {
			t.Errorf("%s: %d dials in one Send, want 1: a refusal was tried again", chathook.RedactURL(c.url), n)
		}
	}
}

// TestAMQPPrivateAddressRefused: without --allow-private-targets the
// dialer refuses the broker's loopback address at connect time, as it
// does for HTTP; with it the same URL is delivered to.
func TestAMQPPrivateAddressRefused(t *testing.T) {
	ch := rabbit(t, machineRabbitMQ)
	exchange, queue := topology(t, ch, true, false)
	url := machineRabbitMQ + "?exchange=" + exchange
	out := send(target(t, url, false), 1, 10*time.Second)
	if out.OK() || !strings.Contains(out.Err, "--allow-private-targets") {
		t.Errorf("private address: %+v", out)
	}
	if out := send(target(t, url, true), 2, 10*time.Second); !out.OK() {
		t.Errorf("with private targets allowed: %+v", out)
	}
	if ids := drain(t, ch, queue); len(ids) != 1 || ids[0] != "evt_2" {
		t.Errorf("queue holds %v, want [evt_2]", ids)
	}
}

// TestAMQPConcurrentSends: 64 Sends at once on one target, each waiting
// for its own confirm, deliver every message once.
func TestAMQPConcurrentSends(t *testing.T) {
	ch := rabbit(t, machineRabbitMQ)
	exchange, queue := topology(t, ch, true, false)
	tg := target(t, machineRabbitMQ+"?exchange="+exchange, true)
	const senders, each = 64, 8
	var wg sync.WaitGroup
	for s := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				if out := send(tg, s*each+i, 30*time.Second); !out.OK() {
					t.Errorf("send %d: %+v", s*each+i, out)
				}
			}
		}()
	}
	wg.Wait()
	seen := map[string]bool{}
	for _, id := range drain(t, ch, queue) {
		if seen[id] {
			t.Errorf("%s twice", id)
		}
		seen[id] = true
	}
	if len(seen) != senders*each {
		t.Errorf("%d messages in the queue, want %d", len(seen), senders*each)
	}
}

// TestAMQPReconnectsAfterBrokerRestart: Sends in flight while the broker
// restarts (gracefully, closing their connection) publish again on the
// next connection within their attempt and succeed, none lost; with the
// broker stopped for longer than an attempt, attempts fail naming it;
// started again, the same target connects again and delivers.
func TestAMQPReconnectsAfterBrokerRestart(t *testing.T) {
	r := brokertest.StartRabbitMQ(t)
	ch := rabbit(t, r.URL)
	exchange, queue := topology(t, ch, true, true)
	tg := target(t, r.URL+"?exchange="+exchange, true)

	var (
		stop   atomic.Bool
		sent   atomic.Int64
		mu     sync.Mutex
		acked  []string
		failed []string
		wg     sync.WaitGroup
	)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; !stop.Load(); i++ {
				n := 1000 + g*100000 + i
				// Longer than a restart: a node may take up to 90 s to
				// start on a busy machine (brokertest's limit).
				out := send(tg, n, 3*time.Minute)
				mu.Lock()
				if out.OK() {
					acked = append(acked, "evt_"+strconv.Itoa(n))
				} else {
					failed = append(failed, out.Err)
				}
				mu.Unlock()
				sent.Add(1)
			}
		}()
	}
	waitSent := func(n int64) {
		deadline := time.Now().Add(time.Minute)
		for sent.Load() < n && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitSent(50)
	r.Restart(t)
	waitSent(sent.Load() + 50)
	stop.Store(true)
	wg.Wait()
	if len(failed) > 0 {
		t.Errorf("%d Sends failed across a restart, e.g. %s", len(failed), failed[0])
	}
	ch = rabbit(t, r.URL)
	copies := map[string]int{}
	for _, id := range drain(t, ch, queue) {
		copies[id]++
	}
	twice := 0
	for _, id := range acked {
		switch copies[id] {
		case 0:
			t.Errorf("%s was confirmed and is not in the queue", id)
		case 1:
		default:
			twice++
		}
	}
	t.Logf("%d messages confirmed across a restart, %d of them in the queue twice", len(acked), twice)

	r.Stop(t)
	out := send(tg, 2, time.Second)
	if out.OK() || !strings.Contains(out.Err, r.Addr) {
		t.Errorf("broker stopped: %+v, want a failure naming %s", out, r.Addr)
	}
	r.Start(t)
	if out := send(tg, 3, 30*time.Second); !out.OK() {
		t.Fatalf("broker started again: %+v", out)
	}
	ch = rabbit(t, r.URL)
	if ids := drain(t, ch, queue); strings.Join(ids, ",") != "evt_3" {
		t.Errorf("queue holds %v, want [evt_3]", ids)
	}
}

// TestAMQPDownBrokerDisablesEndpoint: an endpoint whose RabbitMQ does not
// answer (a closed port) is disabled after 10 consecutive failed
// attempts, and its owner gets the email; neither the email nor the
// endpoint's last error shows the password. (The url the API shows is
// redacted by the API, not tested here.)
func TestAMQPDownBrokerDisablesEndpoint(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()

	smtp := chathooktest.NewSMTPServer(t, nil)
	sched := make([]time.Duration, 30)
	for i := range sched {
		sched[i] = 5 * time.Millisecond
	}
	svc := chathooktest.Start(t, chathooktest.Options{Config: app.Config{
		BaseURL: "https://chathook.example.com", RetrySchedule: sched, DeliveryTimeout: 500 * time.Millisecond,
		SMTPURL: smtp.URL, MailFrom: "alerts@chathook.example.com",
		MailPoll: 20 * time.Millisecond, MailSchedule: []time.Duration{20 * time.Millisecond},
	}})
	ws := svc.NewWorkspace(t, "acme")
	const password = "Secret-Pa55word"
	ws.PointAt(t, "amqp://guest:"+password+"@"+closed+"/?exchange=chathook")
	post(t, ws, message(1, 1), message(2, 1))

	mail := smtp.WaitFor(t, 1, 30*time.Second)[0]
	status, body := ws.Do(t, http.MethodGet, "/api/v1/webhooks/outbound", nil)
	var s struct {
		URL                 string `json:"url"`
		Enabled             bool   `json:"enabled"`
		ConsecutiveFailures int    `json:"consecutive_failures"`
		LastError           string `json:"last_error"`
	}
	if status != http.StatusOK || json.Unmarshal(body, &s) != nil {
		t.Fatalf("GET webhook: %d %s", status, body)
	}
	if s.Enabled || s.ConsecutiveFailures < chathook.DisableAfter || !strings.Contains(s.LastError, "connection refused") {
		t.Errorf("after the disable: %+v", s)
	}
	for what, text := range map[string]string{"the last error": s.LastError, "the email": mail.Subject + mail.Body} {
		if strings.Contains(text, password) {
			t.Errorf("%s shows the password: %s", what, text)
		}
	}
	if !strings.Contains(mail.Body, "connection refused") {
		t.Errorf("the email does not say why:\n%s", mail.Body)
	}
}
