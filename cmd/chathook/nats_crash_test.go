package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chathook/chathook/chathooktest"
	"github.com/chathook/chathook/chathooktest/brokertest"
	"github.com/chathook/chathook/store/postgres/pgtest"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// NATS crash test settings. natsChats is above chathook.DisableAfter:
// when the broker goes away every chat's attempt in flight fails, and the
// endpoint must stay enabled, as failures in flight together count once.
const (
	natsChats   = 20
	natsPerPost = 125 // messages per chat in one posting: 1000, the most a batch takes
	natsDupes   = 5 * time.Minute
)

// TestNATSExactlyOnceAcrossCrashes is issue 30's "Done when" for NATS: a
// real `chathook serve` publishes message:new events of many messages in
// natsChats chats to a NATS server of the test's own. Mid-run the NATS
// server is killed (SIGKILL, a crash: JetStream must have written what
// it acked) and started again, and later chathook is killed and started
// again, both while deliveries are under way. A JetStream
// consumer then reads the stream: every event is in it exactly once (by
// Nats-Msg-Id and by message), and each chat's messages are in the order
// they were posted.
//
// It takes a little over a minute: the killed instance's claims wait for
// their lease (60 s) to end before the new one sends them. The stream's
// duplicate window is natsDupes, longer than the whole test, so any retry
// of an event already stored is dropped.
func TestNATSExactlyOnceAcrossCrashes(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		testNATSCrash(t, chathookBinary(t), "sqlite:"+filepath.Join(t.TempDir(), "nats.db"))
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		bin := chathookBinary(t)
		testNATSCrash(t, bin, pgtest.URL(t))
	})
}

func testNATSCrash(t *testing.T, bin, db string) {
	n := brokertest.StartNATS(t)
	js := natsConsumerSide(t, n)
	ctx := context.Background()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "CHATHOOK", Subjects: []string{"chathook.>"},
		Storage: jetstream.FileStorage, Duplicates: natsDupes}); err != nil {
		t.Fatal(err)
	}
	count := func() uint64 {
		s, err := js.Stream(ctx, "CHATHOOK")
		if err != nil {
			return 0 // reconnecting after the kill
		}
		info, err := s.Info(ctx)
		if err != nil {
			return 0
		}
		return info.State.Msgs
	}
	token := createWorkspace(t, bin, db)
	svc := startServe(t, bin, db, "--allow-private-targets")
	status, body := natsAPI(t, svc.url, token, "/api/v1/webhooks",
		`{"url": "`+n.URL+`/chathook", "events": ["message:new"], "format": "event"}`)
	if status != http.StatusCreated {
		t.Fatalf("create the NATS endpoint: %d %s", status, body)
	}

	// waitCount waits until the stream holds at least want messages.
	waitCount := func(what string, want uint64, within time.Duration) uint64 {
		t.Helper()
		end := time.Now().Add(within)
		for {
			if got := count(); got >= want {
				return got
			}
			if time.Now().After(end) {
				_, eps := chathooktest.Do(t, http.MethodGet, svc.url+"/api/v1/webhooks", token, nil)
				t.Fatalf("%s: the stream holds %d messages after %s, want %d; the endpoint: %s", what, count(), within, want, eps)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}

	posted := 0 // messages per chat so far
	post := func(svc *serveProcess) {
		t.Helper()
		natsPost(t, svc.url, token, posted, posted+natsPerPost)
		posted += natsPerPost
	}

	// The broker crashes while a backlog is being published.
	post(svc)
	before := waitCount("before the NATS kill", 20, time.Minute)
	n.Kill(t)
	t.Logf("NATS killed with %d of %d events in the stream", before, posted*natsChats)
	if before >= uint64(posted*natsChats) {
		t.Fatal("every event was in the stream before the NATS kill: the kill was not mid-run")
	}
	n.Start(t)

	// chathook is killed while another backlog is being published.
	post(svc)
	at := waitCount("before the kill", uint64(natsPerPost*natsChats)+20, 2*time.Minute)
	svc.kill(t)
	t.Logf("chathook killed with %d of %d events in the stream", at, posted*natsChats)
	if at >= uint64(posted*natsChats) {
		t.Fatal("every event was in the stream before the kill: the kill was not mid-run")
	}
	svc = startServe(t, bin, db, "--allow-private-targets")
	post(svc)
	total := uint64(posted * natsChats)
	waitCount("after the kills", total, 3*time.Minute)
	svc.stop(t) // what was on the wire is finished, so a late duplicate would be in the stream now

	checkNATSStream(t, js, total)
}

// natsConsumerSide is the test's own NATS connection, reconnecting
// quickly and forever, so it outlives the restart.
func natsConsumerSide(t *testing.T, n *brokertest.NATS) jetstream.JetStream {
	t.Helper()
	nc, err := nats.Connect(n.URL, nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

// checkNATSStream reads the whole stream with an ordered consumer and
// checks every message is there once and each chat's are in order.
func checkNATSStream(t *testing.T, js jetstream.JetStream, total uint64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cons, err := js.OrderedConsumer(ctx, "CHATHOOK", jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]int{}     // Nats-Msg-Id → times seen
	msgs := map[string]int{}    // message_id → times seen
	last := map[int]int{}       // chat → the last message number read
	var disorder, read []string // examples
	for ctx.Err() == nil {
		batch, err := cons.Fetch(500, jetstream.FetchMaxWait(2*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		got := 0
		for m := range batch.Messages() {
			got++
			id := m.Headers().Get("Nats-Msg-Id")
			ids[id]++
			var env struct {
				EventID string `json:"event_id"`
				Data    struct {
					Message struct {
						MessageID string `json:"message_id"`
					} `json:"message"`
				} `json:"data"`
			}
			if err := json.Unmarshal(m.Data(), &env); err != nil || env.EventID != id {
				t.Fatalf("message %s: %v, event_id %q: %s", id, err, env.EventID, m.Data())
			}
			var chat, k int
			if _, err := fmt.Sscanf(env.Data.Message.MessageID, "nats-c%d-m%d", &chat, &k); err != nil {
				t.Fatalf("message_id %q: %v", env.Data.Message.MessageID, err)
			}
			msgs[env.Data.Message.MessageID]++
			c := chat // the message's own: posted as chat +1555400<c>
			if prev, ok := last[c]; ok && k <= prev && len(disorder) < 10 {
				disorder = append(disorder, fmt.Sprintf("chat %d: message %d after %d", c, k, prev))
			}
			last[c] = k
			read = append(read, id)
		}
		if batch.Error() != nil {
			t.Fatal(batch.Error())
		}
		if got == 0 {
			break // FetchMaxWait with nothing more
		}
	}
	t.Logf("read %d events from the stream, %d distinct ids, %d distinct messages, %d chats", len(read), len(ids), len(msgs), len(last))
	if uint64(len(read)) != total || uint64(len(ids)) != total || uint64(len(msgs)) != total {
		var dup []string
		for id, k := range ids {
			if k > 1 && len(dup) < 10 {
				dup = append(dup, fmt.Sprintf("%s ×%d", id, k))
			}
		}
		t.Errorf("read %d events, %d ids, %d messages, want %d of each (duplicated: %v)", len(read), len(ids), len(msgs), total, dup)
	}
	if len(disorder) > 0 {
		t.Errorf("out of order:\n%s", strings.Join(disorder, "\n"))
	}
}

// natsPost posts messages from..to-1 of every chat, in batches, each
// chat's in order.
func natsPost(t *testing.T, base, token string, from, to int) {
	t.Helper()
	var msgs []string
	flush := func() {
		status, body := natsAPI(t, base, token, "/api/v1/messages/batch", `{"messages": [`+strings.Join(msgs, ",")+`]}`)
		if status != http.StatusAccepted || strings.Count(string(body), `"accepted"`) != len(msgs) {
			t.Fatalf("post %d messages: %d %.300s", len(msgs), status, body)
		}
		msgs = msgs[:0]
	}
	for k := from; k < to; k++ {
		for c := range natsChats {
			msgs = append(msgs, fmt.Sprintf(`{"account":{"phone":"+15550000001"},"chat":{"external_id":"+1555400%04d"},`+
				`"message_id":"nats-c%d-m%d","direction":"received","text":"message %d"}`, c, c, k, k))
			if len(msgs) == 1000 {
				flush()
			}
		}
	}
	if len(msgs) > 0 {
		flush()
	}
}

// natsAPI POSTs body to the API and returns the answer.
func natsAPI(t *testing.T, base, token, path, body string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, base+path, bytes.NewReader([]byte(body)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, raw
}
