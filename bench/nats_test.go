package bench

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/chathooktest/brokertest"
)

// TestNATSSinkTallies runs the NATS side of a run on a NATS server of
// the test's own: the run's stream, its consumer feeding the tally from
// messages published as chathook's NATS target publishes them, and the
// stream deleted at the end.
func TestNATSSinkTallies(t *testing.T) {
	srv := brokertest.StartNATS(t)
	ctx := t.Context()
	tl := newTally(plan{messages: 4, chats: 2, clients: 1, batch: 4}, 3)
	s, err := startNATSSink(ctx, srv.URL, tl, clock{start: time.Now()}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	closed := false
	defer func() {
		if !closed {
			s.close()
		}
	}()

	info, err := s.js.Stream(ctx, s.stream)
	if err != nil {
		t.Fatal(err)
	}
	if c := info.CachedInfo().Config; c.Storage != jetstream.FileStorage || c.Duplicates <= 0 || len(c.Subjects) != 1 || c.Subjects[0] != s.run+".>" {
		t.Errorf("stream config: storage %v, duplicate window %v, subjects %v", c.Storage, c.Duplicates, c.Subjects)
	}

	// Endpoint 2's URL is the server's with the subject prefix run.ep2:
	// a URL the service takes as a NATS endpoint's.
	b, err := chathook.ParseBrokerURL(s.endpointURL(2))
	if err != nil || b.Prefix != s.run+".ep2" || b.Addr != srv.Addr {
		t.Fatalf("endpoint URL %s: %+v, %v", s.endpointURL(2), b, err)
	}

	// A client of its own publishes, as the target will.
	nc, err := nats.Connect(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	publish := func(prefix, eventID, msgID, body string) {
		t.Helper()
		m := nats.NewMsg(prefix + ".ws_1.message.new")
		m.Data = []byte(body)
		m.Header.Set("webhook-id", eventID)
		m.Header.Set("webhook-timestamp", "1700000000")
		m.Header.Set("webhook-signature", "v1,x")
		m.Header.Set("Content-Type", "application/json")
		if msgID != "" {
			m.Header.Set(jetstream.MsgIDHeader, msgID)
		}
		if _, err := js.PublishMsg(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	event := func(id, message string) string {
		return fmt.Sprintf(`{"type":"message:new","event_id":%q,"timestamp":"2026-12-05T10:00:00Z","workspace_id":"ws_1",`+
			`"data":{"whatsapp_account":{},"chat":{},"message":{"message_id":%q}}}`, id, message)
	}
	ep1, ep2 := b.Prefix[:len(b.Prefix)-1]+"1", b.Prefix
	publish(ep2, "evt_0", "evt_0", event("evt_0", "bench-0"))
	publish(ep2, "evt_0", "evt_0", event("evt_0", "bench-0")) // a retry: the stream's duplicate window drops it
	publish(ep2, "evt_3", "evt_3", event("evt_3", "bench-3"))
	publish(ep2, "evt_1", "evt_1", event("evt_1", "bench-1"))                                                    // chat 1 after its bench-3: out of order
	publish(ep1, "evt_b", "evt_b", `{"chat":{},"messages":[{"message_id":"bench-0"},{"message_id":"bench-2"}]}`) // a seed bundle
	publish(ep1, "evt_9", "evt_9", event("evt_9", "bench-2"))                                                    // the same message under another id: a duplicate
	publish(ep1, "evt_5", "", event("evt_5", "bench-1"))                                                         // no Nats-Msg-Id: unexpected
	publish(ep1, "evt_6", "evt_x", event("evt_6", "bench-1"))                                                    // Nats-Msg-Id not its webhook-id: unexpected
	publish(s.run+".ep7", "evt_7", "evt_7", event("evt_7", "bench-1"))                                           // no such endpoint: unexpected
	publish(ep1, "evt_8", "evt_8", `not json`)                                                                   // unexpected

	// Nine messages reach the stream (one retry dropped); wait until the
	// consumer has read them all, then check what the tally made of them.
	deadline := time.After(30 * time.Second)
	for tl.counts().posts < 9 {
		select {
		case <-tl.progress:
		case <-time.After(100 * time.Millisecond):
		case <-deadline:
			t.Fatalf("the consumer read %d of 9 messages", tl.counts().posts)
		}
	}
	if c := tl.counts(); c.posts != 9 || c.delivered != 5 || c.duplicated != 1 || c.unexpected != 4 || c.outOfOrder != 1 {
		t.Errorf("counts = %+v: want 9 read; bench-0, 3, 1 on endpoint 2, bench-1 out of order; bench-0, 2 on endpoint 1, bench-2 again; 4 unexpected", c)
	}
	if d, _, _ := tl.endpoint(2, func(int) int64 { return 0 }); d != 3 {
		t.Errorf("endpoint 2 delivered %d, want 3", d)
	}

	s.close()
	closed = true
	if _, err := js.Stream(ctx, s.stream); !errors.Is(err, jetstream.ErrStreamNotFound) {
		t.Errorf("after close, the run's stream: %v, want it deleted", err)
	}
}

// TestNATSSinkNeedsAServer: a server that cannot be reached is a run
// that cannot be made, said at once, without the URL's password.
func TestNATSSinkNeedsAServer(t *testing.T) {
	srv := brokertest.StartNATS(t)
	srv.Kill(t)
	u, _ := url.Parse(srv.URL)
	u.User = url.UserPassword("bench", "s3cret-pass")
	_, err := startNATSSink(context.Background(), u.String(), newTally(plan{messages: 1, chats: 1, clients: 1, batch: 1}, 2),
		clock{start: time.Now()}, slog.New(slog.DiscardHandler))
	if err == nil {
		t.Fatal("no error for a server that is down")
	}
	if strings.Contains(err.Error(), "s3cret-pass") || !strings.Contains(err.Error(), "--nats") {
		t.Errorf("error %q: want it to name --nats and not show the password", err)
	}
}

func TestNATSConfig(t *testing.T) {
	if _, err := (Config{Workload: None, Endpoints: 2, NATS: "nats://127.0.0.1:4222"}).WithDefaults(); err != nil {
		t.Errorf("a NATS server and 2 endpoints: %v", err)
	}
	for name, c := range map[string]Config{
		"one endpoint":      {Workload: None, NATS: "nats://127.0.0.1:4222"},
		"an http URL":       {Workload: None, Endpoints: 2, NATS: "http://127.0.0.1:4222"},
		"a subject prefix":  {Workload: None, Endpoints: 2, NATS: "nats://u:s3cret-pass@127.0.0.1:4222/events"},
		"a query":           {Workload: None, Endpoints: 2, NATS: "nats://u:s3cret-pass@127.0.0.1:4222?x=1"},
		"not a port number": {Workload: None, Endpoints: 2, NATS: "nats://u:s3cret-pass@127.0.0.1:http"},
	} {
		_, err := c.WithDefaults()
		if err == nil {
			t.Errorf("%s: accepted", name)
			continue
		}
		if strings.Contains(err.Error(), "s3cret-pass") || !strings.Contains(err.Error(), "-nats") && !strings.Contains(err.Error(), "--endpoints") {
			t.Errorf("%s: %q: want it to name the flag and not show the password", name, err)
		}
	}
}
