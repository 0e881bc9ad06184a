package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/chathook/chathook/chathooktest"
	"github.com/chathook/chathook/chathooktest/brokertest"
)

// The AMQP crash test's traffic: amqpChats chats, amqpPerPhase messages
// each per phase, four phases: before the kill of chathook, before the
// restart of the broker, before the kill of the broker, and after.
const (
	amqpChats    = 20
	amqpPerPhase = 100
	amqpBatch    = 100 // messages per ingest request
)

// TestAMQPCrashAndBrokerRestartLoseNothing is issue 30's "Done when" for
// RabbitMQ: `chathook serve` (its own process, SQLite) publishes the
// events of many chats to a RabbitMQ node of the test's own; chathook is
// killed with SIGKILL while publishing and started again, then the
// broker is restarted while chathook publishes, then the broker is
// killed (SIGKILL, a crash: what it confirmed must be on its disk) and
// started again while chathook publishes. A consumer then reads
// the durable queue: every event is there, in order per chat by first
// arrival. RabbitMQ does not deduplicate, so an event published before
// a disruption and not yet recorded as delivered may be there
// twice: such copies must be a replay, in order, of the newest events of
// their chat, and none may come before the kill. The test reports how
// many it saw.
func TestAMQPCrashAndBrokerRestartLoseNothing(t *testing.T) {
	bin := chathookBinary(t)
	db := "sqlite:" + filepath.Join(t.TempDir(), "amqp.db")
	token := createWorkspace(t, bin, db)
	r := brokertest.StartRabbitMQ(t)

	conn, err := amqp.Dial(r.URL)
	if err != nil {
		t.Fatal(err)
	}
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	const exchange, queue = "chathook", "events"
	if err := ch.ExchangeDeclare(exchange, amqp.ExchangeTopic, true, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := ch.QueueDeclare(queue, true, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	if err := ch.QueueBind(queue, "#", exchange, false, nil); err != nil {
		t.Fatal(err)
	}
	conn.Close()

	svc := startServe(t, bin, db, "--allow-private-targets")
	status, body := chathooktest.Do(t, http.MethodPost, svc.url+"/api/v1/webhooks", token,
		map[string]any{"url": r.URL + "?exchange=" + exchange, "events": []string{"message:received:new"}})
	if status != http.StatusCreated {
		t.Fatalf("add endpoint: %d %s", status, body)
	}

	posted := 0
	postPhase := func(phase int) {
		var msgs []string
		for n := phase * amqpPerPhase; n < (phase+1)*amqpPerPhase; n++ {
			for c := range amqpChats {
				msgs = append(msgs, fmt.Sprintf(`{"account":{"phone":"+15550000002"},"chat":{"external_id":"+1555400%04d"},`+
					`"message_id":"amqp-c%d-m%d","direction":"received","text":"message %d"}`, c, c, n, n))
			}
		}
		for len(msgs) > 0 {
			k := min(amqpBatch, len(msgs))
			status, body := chathooktest.Do(t, http.MethodPost, svc.url+"/api/v1/messages/batch", token, `{"messages":[`+strings.Join(msgs[:k], ",")+`]}`)
			if status != http.StatusAccepted {
				t.Fatalf("ingest: %d %s", status, body)
			}
			msgs = msgs[k:]
			posted += k
		}
	}

	// Phase 1, then SIGKILL once part of it is in the queue.
	postPhase(0)
	waitDepth(t, r, queue, 200)
	svc.kill(t)
	killedAt := depth(t, r, queue) // nothing publishes now: the exact boundary
	if killedAt >= posted {
		t.Fatalf("all %d events were published before the kill: it did not catch chathook mid-run", posted)
	}
	t.Logf("chathook killed with %d of %d events in the queue", killedAt, posted)

	// Phase 2 on a new process, then a broker restart once more of it is in.
	svc = startServe(t, bin, db, "--allow-private-targets")
	postPhase(1)
	waitDepth(t, r, queue, killedAt+200)
	before := depth(t, r, queue)
	if before >= posted {
		t.Fatalf("all %d events were published before the broker restart: it did not catch chathook mid-run", posted)
	}
	r.Restart(t)
	t.Logf("broker restarted with about %d of %d events in the queue", before, posted)

	// Phase 3, then a crash of the broker once more of it is in.
	postPhase(2)
	waitDepth(t, r, queue, depth(t, r, queue)+200)
	crashed := depth(t, r, queue)
	if crashed >= posted {
		t.Fatalf("all %d events were published before the broker kill: it did not catch chathook mid-run", posted)
	}
	r.Kill(t)
	t.Logf("broker killed with about %d of %d events in the queue", crashed, posted)
	r.Start(t)

	// Phase 4, and the rest: the killed process's claims wait for their
	// lease (60s) to end.
	postPhase(3)
	got := consumeAll(t, r, queue, posted, 5*time.Minute)
	svc.stop(t)

	// Every event, in order per chat by first arrival. A repeat is a
	// replay: after a disruption a chat's events that were published and
	// not yet recorded go again, in order, up to its newest, before
	// anything new of it; none before the kill.
	first := map[string]int{}       // message_id → position of its first copy
	ingestOf := map[string]string{} // message_id → the ingest message id it carries
	last := map[int]int{}           // chat → number of its newest event
	replay := map[int]int{}         // chat → the number its replay repeats next; absent if none
	atKill, atBroker := 0, 0
	for i, m := range got {
		var c, n int
		if _, err := fmt.Sscanf(m.ingest, "amqp-c%d-m%d", &c, &n); err != nil {
			t.Fatalf("message %d carries %q", i, m.ingest)
		}
		if prev, ok := ingestOf[m.id]; ok && prev != m.ingest {
			t.Fatalf("message_id %s carries %s and %s", m.id, prev, m.ingest)
		}
		ingestOf[m.id] = m.ingest
		if at, seen := first[m.id]; seen {
			switch next, in := replay[c]; {
			case i < killedAt:
				t.Errorf("%s again at %d, before the kill: no disruption had happened", m.ingest, i)
			case in && n != next:
				t.Errorf("%s again at %d, in a replay of chat %d that was at %d", m.ingest, i, c, next)
			}
			replay[c] = n + 1
			if at < killedAt {
				atKill++
			} else {
				atBroker++
			}
			continue
		}
		if next, in := replay[c]; in && next != n {
			t.Errorf("chat %d: its replay ended at %d, before its newest %d", c, next-1, last[c])
		}
		delete(replay, c)
		first[m.id] = i
		if l, ok := last[c]; ok && n != l+1 || !ok && n != 0 {
			t.Errorf("chat %d: message %d arrived after message %d", c, n, last[c])
		}
		last[c] = n
	}
	if len(first) != posted {
		t.Errorf("%d distinct events in the queue, %d posted", len(first), posted)
	}
	t.Logf("%d events posted, %d messages in the queue: %d repeated, %d across the kill of chathook, %d across the broker's restart and kill",
		posted, len(got), len(got)-len(first), atKill, atBroker)
}

// amqpMessage is one message the consumer read.
type amqpMessage struct {
	id     string // message_id
	ingest string // data.message.message_id: the message as posted
}

// depth is how many messages queue holds now.
func depth(t *testing.T, r *brokertest.RabbitMQ, queue string) int {
	t.Helper()
	conn, err := amqp.Dial(r.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	q, err := ch.QueueDeclarePassive(queue, true, false, false, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	return q.Messages
}

// waitDepth waits until queue holds at least n messages.
func waitDepth(t *testing.T, r *brokertest.RabbitMQ, queue string, n int) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for depth(t, r, queue) < n {
		if time.Now().After(deadline) {
			t.Fatalf("the queue never held %d messages", n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// consumeAll reads queue until it has seen want distinct message ids and
// nothing more came for a second, or within ends.
func consumeAll(t *testing.T, r *brokertest.RabbitMQ, queue string, want int, within time.Duration) []amqpMessage {
	t.Helper()
	conn, err := amqp.Dial(r.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	deliveries, err := ch.Consume(queue, "", true, true, false, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []amqpMessage
	ids := map[string]bool{}
	deadline := time.After(within)
	for {
		quiet := time.After(time.Second)
		if len(ids) < want {
			quiet = nil
		}
		select {
		case d, ok := <-deliveries:
			if !ok {
				t.Fatal("the consumer's channel closed")
			}
			var env struct {
				Data struct {
					Message struct {
						MessageID string `json:"message_id"`
					} `json:"message"`
				} `json:"data"`
			}
			if err := json.Unmarshal(d.Body, &env); err != nil {
				t.Fatalf("body %s: %v", d.Body, err)
			}
			got = append(got, amqpMessage{id: d.MessageId, ingest: env.Data.Message.MessageID})
			ids[d.MessageId] = true
		case <-quiet:
			return got
		case <-deadline:
			t.Fatalf("%d distinct events of %d after %s", len(ids), want, within)
		}
	}
}
