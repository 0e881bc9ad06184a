package deliver_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/app"
	"github.com/chathook/chathook/chathooktest"
	"github.com/chathook/chathook/chathooktest/brokertest"
	"github.com/chathook/chathook/deliver"
	"github.com/chathook/chathook/event"
	"github.com/chathook/chathook/payload"
	"github.com/chathook/chathook/store"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// natsStream creates a JetStream stream CHATHOOK taking subjects on n,
// with the default duplicate window (2 minutes: longer than any test
// here), and returns it.
func natsStream(t *testing.T, n *brokertest.NATS, subjects ...string) jetstream.Stream {
	t.Helper()
	return natsStreamAt(t, n.URL, subjects...)
}

// natsStreamAt is natsStream on the server of url, which may hold credentials.
func natsStreamAt(t *testing.T, url string, subjects ...string) jetstream.Stream {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	s, err := js.CreateStream(context.Background(), jetstream.StreamConfig{Name: "CHATHOOK", Subjects: subjects, Storage: jetstream.FileStorage})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// streamMsgs returns every message in s, in stream order.
func streamMsgs(t *testing.T, s jetstream.Stream) []*jetstream.RawStreamMsg {
	t.Helper()
	ctx := context.Background()
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out []*jetstream.RawStreamMsg
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if err != nil {
			t.Fatalf("message %d: %v", seq, err)
		}
		out = append(out, m)
	}
	return out
}

func natsTarget(t *testing.T, url string, allowPrivate bool) deliver.Target {
	t.Helper()
	tg, err := deliver.NewNATSTarget(url, allowPrivate)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tg.Close)
	return tg
}

// natsMessage is a delivery of event id as the dispatcher hands it to a
// target (the signature is not checked here; see TestNATSDeliversSignedEvents).
func natsMessage(id string) deliver.Message {
	return deliver.Message{Webhook: chathook.Webhook{WorkspaceID: "3f1c6c1e-0d2b-4c55-9e39-2b1f5a7c9d10"}, EventID: id,
		Type: event.MessageNew, Timestamp: time.Now(), Signature: "v1,sig", Body: []byte(`{"id":"` + id + `"}`)}
}

func sendOK(t *testing.T, tg deliver.Target, m deliver.Message) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if out := tg.Send(ctx, m); !out.OK() {
		t.Fatalf("send %s: %+v", m.EventID, out)
	}
}

// TestNATSDeliversSignedEvents: a message ingested into a workspace
// whose endpoint is a nats:// URL goes out through the dispatcher to
// <prefix>.<workspace id>.message.new, with Nats-Msg-Id the event id, the
// Standard Webhooks headers, a signature a consumer verifies with the
// endpoint's secret, and the envelope as the body.
func TestNATSDeliversSignedEvents(t *testing.T) {
	n := brokertest.StartNATS(t)
	stream := natsStream(t, n, "chathook.>")
	ctx := context.Background()
	st := openStore(t, "sqlite:"+filepath.Join(t.TempDir(), "chathook.db"))
	created, err := app.CreateWorkspace(ctx, st, "acme", "o@acme.example", "")
	if err != nil {
		t.Fatal(err)
	}
	ws := created.WorkspaceID
	ep, err := st.CreateWebhook(ctx, ws, chathook.Webhook{ID: "ep_0123456789abcdef", URL: n.URL + "/chathook",
		Events: []string{event.MessageNew}, Format: event.Envelope, Granularity: chathook.NoAggregation,
		Accounts: []int64{}, Enabled: true, Secret: payload.NewSecret()}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	ingestChats(t, st, ws, 3, 0)
	runDispatcher(t, deliver.Config{Store: st, AllowPrivateTargets: true, Logger: slog.New(slog.DiscardHandler)})
	eventuallyMsgs(t, stream, 3)

	key, err := payload.ParseSecret(ep.Secret)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, m := range streamMsgs(t, stream) {
		if want := "chathook." + ws + ".message.new"; m.Subject != want {
			t.Errorf("subject %q, want %q", m.Subject, want)
		}
		id := m.Header.Get("Nats-Msg-Id")
		if !strings.HasPrefix(id, "evt_") || m.Header.Get("webhook-id") != id || seen[id] {
			t.Errorf("Nats-Msg-Id %q, webhook-id %q: want one event id, once", id, m.Header.Get("webhook-id"))
		}
		seen[id] = true
		ts, err := strconv.ParseInt(m.Header.Get("webhook-timestamp"), 10, 64)
		if err != nil || !payload.Verify(key, id, ts, m.Data, m.Header.Get("webhook-signature")) {
			t.Errorf("signature %q of %s (timestamp %q) does not verify with the endpoint's secret",
				m.Header.Get("webhook-signature"), id, m.Header.Get("webhook-timestamp"))
		}
		if m.Header.Get("Content-Type") != "application/json" || m.Header.Get("User-Agent") != "chathook/"+chathook.Version {
			t.Errorf("headers %v", m.Header)
		}
		var env struct {
			Type        string `json:"type"`
			EventID     string `json:"event_id"`
			WorkspaceID string `json:"workspace_id"`
		}
		if err := json.Unmarshal(m.Data, &env); err != nil || env.Type != event.MessageNew || env.EventID != id || env.WorkspaceID != ws {
			t.Errorf("body %s: %+v %v", m.Data, env, err)
		}
	}
}

// runDispatcher runs a dispatcher until the test ends, or until stop,
// which returns once Run has.
func runDispatcher(t *testing.T, cfg deliver.Config) (d *deliver.Dispatcher, stop func()) {
	d = deliver.New(cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- d.Run(ctx) }()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(stop)
	return d, stop
}

func eventuallyMsgs(t *testing.T, s jetstream.Stream, n uint64) {
	t.Helper()
	eventually(t, fmt.Sprintf("%d messages in the stream", n), 30*time.Second, func() bool {
		info, err := s.Info(context.Background())
		return err == nil && info.State.Msgs >= n
	})
}

// TestNATSDuplicateWindowDropsRetry: 64 Sends at once on a new target
// (one connect, shared) all succeed; a retry of an event id already
// published is a success too, and the stream keeps one copy of each.
func TestNATSDuplicateWindowDropsRetry(t *testing.T) {
	n := brokertest.StartNATS(t)
	stream := natsStream(t, n, "chathook.>")
	tg := natsTarget(t, n.URL+"/chathook", true)
	var wg sync.WaitGroup
	for i := range 64 {
		wg.Go(func() { sendOK(t, tg, natsMessage(fmt.Sprintf("evt_%02d", i))) })
	}
	wg.Wait()
	sendOK(t, tg, natsMessage("evt_07")) // a retry
	sendOK(t, tg, natsMessage("evt_63"))
	msgs := streamMsgs(t, stream)
	if len(msgs) != 64 {
		t.Fatalf("%d messages in the stream, want 64: a retry was stored again", len(msgs))
	}
	seen := map[string]bool{}
	for _, m := range msgs {
		id := m.Header.Get("Nats-Msg-Id")
		if seen[id] || string(m.Data) != `{"id":"`+id+`"}` {
			t.Errorf("message %s: %s (seen before: %v)", id, m.Data, seen[id])
		}
		seen[id] = true
	}
}

// TestNATSNoStreamSaysWhat: a subject no stream takes is a failed
// attempt that says so, naming the subject and how to make a stream.
func TestNATSNoStreamSaysWhat(t *testing.T) {
	n := brokertest.StartNATS(t)
	natsStream(t, n, "other.>")
	tg := natsTarget(t, n.URL+"/chathook", true)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	out := tg.Send(ctx, natsMessage("evt_1"))
	want := "no JetStream stream takes subject chathook.3f1c6c1e-0d2b-4c55-9e39-2b1f5a7c9d10.message.new: create one (nats stream add --subjects 'chathook.>'"
	if out.OK() || !strings.Contains(out.Err, want) {
		t.Errorf("outcome %+v, want an error with %q", out, want)
	}
}

// TestNATSReconnectsAfterRestart: while the server is down every Send
// fails, saying NATS is not connected; once it is back the same target
// reconnects by itself and Sends succeed, into the stream the server
// kept.
func TestNATSReconnectsAfterRestart(t *testing.T) {
	n := brokertest.StartNATS(t)
	natsStream(t, n, "chathook.>")
	tg := natsTarget(t, n.URL+"/chathook", true)
	sendOK(t, tg, natsMessage("evt_before"))

	n.Stop(t)
	for i := range 5 {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		out := tg.Send(ctx, natsMessage(fmt.Sprintf("evt_down_%d", i)))
		cancel()
		if out.OK() {
			t.Fatalf("send %d with the server down: %+v, want a failure", i, out)
		}
		t.Logf("down, attempt %d: %s", i, out.Err)
		if i > 0 && !strings.Contains(out.Err, "not connected to NATS at "+n.Addr) {
			t.Errorf("attempt %d: %q, want it to say NATS is not connected", i, out.Err)
		}
	}

	n.Start(t)
	var out chathook.Outcome
	eventually(t, "a send after the restart", 60*time.Second, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		out = tg.Send(ctx, natsMessage("evt_after"))
		return out.OK()
	})
	stream := openStream(t, n) // the test's own connection was lost too
	var ids []string
	for _, m := range streamMsgs(t, stream) {
		ids = append(ids, m.Header.Get("Nats-Msg-Id"))
	}
	if strings.Join(ids, ",") != "evt_before,evt_after" {
		t.Errorf("stream holds %v, want evt_before, evt_after", ids)
	}
}

// openStream finds the stream CHATHOOK on n, on a new connection.
func openStream(t *testing.T, n *brokertest.NATS) jetstream.Stream {
	t.Helper()
	nc, err := nats.Connect(n.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	s, err := js.Stream(context.Background(), "CHATHOOK")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestNATSDownDisablesEndpoint: an endpoint whose NATS server is down
// fails like an HTTP endpoint that answers 500: it is disabled after
// chathook.DisableAfter consecutive failures, with the reason, and its
// owner's email is queued.
func TestNATSDownDisablesEndpoint(t *testing.T) {
	onEveryStore(t, func(t *testing.T, st store.Store) {
		n := brokertest.StartNATS(t)
		n.Stop(t)
		ctx := context.Background()
		created, err := app.CreateWorkspace(ctx, st, "acme", "o@acme.example", "")
		if err != nil {
			t.Fatal(err)
		}
		ws := created.WorkspaceID
		if _, err := st.CreateWebhook(ctx, ws, chathook.Webhook{ID: "ep_0123456789abcdef", URL: n.URL + "/chathook",
			Description: "events bus", Events: []string{event.MessageNew}, Format: event.Envelope, Granularity: chathook.NoAggregation,
			Accounts: []int64{}, Enabled: true, Secret: payload.NewSecret()}, time.Now()); err != nil {
			t.Fatal(err)
		}
		ingestChats(t, st, ws, 20, 0)
		var schedule []time.Duration // the real one, a thousand times quicker
		for _, wait := range deliver.Schedule {
			schedule = append(schedule, wait/1000)
		}
		runDispatcher(t, deliver.Config{Store: st, AllowPrivateTargets: true, Schedule: schedule, Logger: slog.New(slog.DiscardHandler)})
		var wh chathook.Webhook
		eventually(t, "the disable", 60*time.Second, func() bool {
			wh, err = st.Webhook(ctx, ws, "ep_0123456789abcdef")
			return err == nil && !wh.Enabled
		})
		if wh.ConsecutiveFailures != chathook.DisableAfter {
			t.Errorf("disabled after %d failures, want %d", wh.ConsecutiveFailures, chathook.DisableAfter)
		}
		t.Logf("disabled: %q", wh.DisabledReason)
		emails, err := st.DueEmails(ctx, time.Now().Add(time.Hour), 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(emails) != 1 || emails[0].Kind != "webhook_disabled" || emails[0].Endpoint != "ep_0123456789abcdef" ||
			!strings.Contains(emails[0].LastError, "NATS at "+n.Addr) {
			t.Errorf("emails queued: %+v, want one webhook_disabled for ep_0123456789abcdef saying NATS is down", emails)
		}
	})
}

// TestNATSPrivateAddressRefused: without --allow-private-targets a
// nats:// URL on loopback is refused when the target connects, as an
// HTTP one is, and the test button says why; with it, the same URL works.
func TestNATSPrivateAddressRefused(t *testing.T) {
	n := brokertest.StartNATS(t)
	stream := natsStream(t, n, "chathook.>")
	wh := chathook.Webhook{Key: 1, ID: "ep_0123456789abcdef", WorkspaceID: "ws", URL: n.URL + "/chathook",
		Format: event.Envelope, Secret: payload.NewSecret()}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	refused := deliver.New(deliver.Config{Logger: slog.New(slog.DiscardHandler)})
	out := refused.Test(ctx, wh)
	if out.OK() || !strings.Contains(out.Err, "refused: the URL points at a reserved, loopback, private") {
		t.Errorf("without --allow-private-targets: %+v, want the private address refused", out)
	}
	allowed := deliver.New(deliver.Config{AllowPrivateTargets: true, Logger: slog.New(slog.DiscardHandler)})
	if out := allowed.Test(ctx, wh); !out.OK() {
		t.Errorf("with --allow-private-targets: %+v, want it sent", out)
	}
	if msgs := streamMsgs(t, stream); len(msgs) != 1 || msgs[0].Subject != "chathook.ws.webhook.test" {
		t.Errorf("stream holds %d messages, want the one test event on chathook.ws.webhook.test", len(msgs))
	}
}

// TestNATSSubjectTokens: a workspace id or an event type holding what a
// subject token may not hold (a dot, a space, '*', '>') still makes one
// token each, and different ones make different subjects.
func TestNATSSubjectTokens(t *testing.T) {
	for _, c := range []struct{ ws, typ, want string }{
		{"3f1c6c1e-0d2b-4c55-9e39-2b1f5a7c9d10", "message:received:new", "p.q.3f1c6c1e-0d2b-4c55-9e39-2b1f5a7c9d10.message.received.new"},
		{"a.b", "message:new", "p.q.a_2Eb.message.new"},
		{"a b*>", "x", "p.q.a_20b_2A_3E.x"},
		{"a_2Eb", "x", "p.q.a_5F2Eb.x"},
		{"", "a::b", "p.q._.a._.b"},
		{"é", "x", "p.q._C3_A9.x"},
	} {
		if got := deliver.NATSSubject("p.q", c.ws, c.typ); got != c.want {
			t.Errorf("subject of %q, %q: %q, want %q", c.ws, c.typ, got, c.want)
		}
	}
}

// TestNATSTwoInstancesKeepChatOrder: two dispatchers on one PostgreSQL
// database, each with its own NATS connection, publish one workspace's
// messages to one stream while they are ingested: every event is in the
// stream once, and each chat's are in ingest order, whichever instance
// published them.
func TestNATSTwoInstancesKeepChatOrder(t *testing.T) {
	n := brokertest.StartNATS(t)
	stream := natsStream(t, n, "chathook.>")
	db := chathooktest.Postgres(t)
	st := openStore(t, db)
	ctx := context.Background()
	created, err := app.CreateWorkspace(ctx, st, "acme", "o@acme.example", "")
	if err != nil {
		t.Fatal(err)
	}
	ws := created.WorkspaceID
	if _, err := st.CreateWebhook(ctx, ws, chathook.Webhook{ID: "ep_0123456789abcdef", URL: n.URL + "/chathook",
		Events: []string{event.MessageNew}, Format: event.Envelope, Granularity: chathook.NoAggregation,
		Accounts: []int64{}, Enabled: true, Secret: payload.NewSecret()}, time.Now()); err != nil {
		t.Fatal(err)
	}
	// On PostgreSQL deliveries are only claimed (see store.HandOff): after
	// each round both instances are kicked, one then the other, as two
	// processes' ingests would wake them, and the store gives each chat to
	// one claimer at a time.
	var sent [2]atomic.Int64 // deliveries each instance published
	var stops [2]func()
	var ds [2]*deliver.Dispatcher
	for i := range ds {
		ds[i], stops[i] = runDispatcher(t, deliver.Config{Store: openStore(t, db), AllowPrivateTargets: true, Logger: slog.New(slog.DiscardHandler),
			Recorded: func(r deliver.Recorded) {
				if r.OK() {
					sent[i].Add(1)
				}
			}})
	}
	const chats, rounds = 16, 40
	for r := range rounds {
		ingestChats(t, st, ws, chats, r) // message "r<r>-m<chat>"
		ds[r%2].Kick()
		ds[1-r%2].Kick()
	}
	eventuallyMsgs(t, stream, chats*rounds)

	last := map[int]int{} // chat → the last round read
	ids := map[string]bool{}
	for _, m := range streamMsgs(t, stream) {
		var env struct {
			Data struct {
				Message struct {
					MessageID string `json:"message_id"`
				} `json:"message"`
			} `json:"data"`
		}
		var r, c int
		if err := json.Unmarshal(m.Data, &env); err != nil {
			t.Fatal(err)
		}
		if _, err := fmt.Sscanf(env.Data.Message.MessageID, "r%d-m%d", &r, &c); err != nil {
			t.Fatalf("message_id %q: %v", env.Data.Message.MessageID, err)
		}
		if prev, ok := last[c]; ok && r <= prev {
			t.Errorf("chat %d: round %d after round %d", c, r, prev)
		}
		last[c] = r
		id := m.Header.Get("Nats-Msg-Id")
		if ids[id] {
			t.Errorf("event %s twice", id)
		}
		ids[id] = true
	}
	if len(ids) != chats*rounds {
		t.Errorf("%d events in the stream, want %d", len(ids), chats*rounds)
	}
	stops[0]()
	stops[1]() // every outcome is recorded, and counted
	t.Logf("published by the two instances: %d and %d", sent[0].Load(), sent[1].Load())
	if sent[0].Load() == 0 || sent[1].Load() == 0 {
		t.Error("one instance published everything: the order across instances was not tested")
	}
}

// TestNATSCredentials: the URL's user and password, or its token, are
// what the target connects with; credentials the server refuses fail
// every attempt saying so, and no error holds the password.
func TestNATSCredentials(t *testing.T) {
	for _, c := range []struct {
		name       string
		server     []string
		good, bad  string // userinfo
		secretWord string // must never show
	}{
		{"password", []string{"--user", "chathook", "--pass", "s3cret-pa55"}, "chathook:s3cret-pa55", "chathook:wr0ng-pa55", "pa55"},
		{"token", []string{"--auth", "t0ken-s3cret"}, "t0ken-s3cret", "t0ken-wr0ng", "t0ken"},
	} {
		t.Run(c.name, func(t *testing.T) {
			n := brokertest.StartNATS(t, c.server...)
			stream := natsStreamAt(t, "nats://"+c.good+"@"+n.Addr, "chathook.>")
			sendOK(t, natsTarget(t, "nats://"+c.good+"@"+n.Addr+"/chathook", true), natsMessage("evt_good"))

			bad := natsTarget(t, "nats://"+c.bad+"@"+n.Addr+"/chathook", true)
			for i := range 3 {
				ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
				out := bad.Send(ctx, natsMessage(fmt.Sprintf("evt_bad_%d", i)))
				cancel()
				t.Logf("attempt %d: %s", i, out.Err)
				if out.OK() || strings.Contains(out.Err, c.secretWord) {
					t.Errorf("attempt %d with wrong credentials: %+v", i, out)
				}
				if !strings.Contains(out.Err, "NATS refused the credentials") {
					t.Errorf("attempt %d: %q, want it to say the credentials were refused", i, out.Err)
				}
			}
			if msgs := streamMsgs(t, stream); len(msgs) != 1 {
				t.Errorf("%d messages in the stream, want the one sent with good credentials", len(msgs))
			}
		})
	}
}
