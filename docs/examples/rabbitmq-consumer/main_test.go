package main

import (
	"bufio"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"io"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// The machine's RabbitMQ (.ci/run starts it); CHATHOOK_TEST_AMQP_URL for another.
func brokerURL(t *testing.T) string {
	u := os.Getenv("CHATHOOK_TEST_AMQP_URL")
	if u == "" {
		u = "amqp://guest:guest@127.0.0.1:5672/"
	}
	conn, err := amqp.Dial(u)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("RabbitMQ: %v", err)
		}
		t.Skipf("RabbitMQ not reachable (install Debian's rabbitmq-server, as .ci/run does): %v", err)
	}
	conn.Close()
	return u
}

// The example reads a queue bound as the docs tell a user to bind it,
// prints a signed event once though it was published twice (as after a
// crash of chathook) and skips a forged one.
func TestConsumerExample(t *testing.T) {
	url := brokerURL(t)
	var token [6]byte
	_, _ = rand.Read(token[:])
	name := "chathook-example-" + hex.EncodeToString(token[:])
	conn, err := amqp.Dial(url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	// Of this test alone, on a broker others use: both go when the test ends.
	if err := ch.ExchangeDeclare(name, "topic", false, true, false, false, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := ch.QueueDeclare(name, false, true, false, false, nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = ch.QueueDelete(name, false, false, false); _ = ch.ExchangeDelete(name, false, false) })
	if err := ch.QueueBind(name, "#", name, false, nil); err != nil {
		t.Fatal(err)
	}
	secret := "whsec_" + base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))
	publish := func(id, body, sig string) {
		ts := strconv.FormatInt(time.Now().Unix(), 10)
		if sig == "" {
			key, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
			mac := hmac.New(sha256.New, key)
			mac.Write([]byte(id + "." + ts + "." + body))
			sig = "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
		}
		err := ch.PublishWithContext(t.Context(), name, "message:received:new", true, false, amqp.Publishing{
			MessageId: id, DeliveryMode: amqp.Persistent, ContentType: "application/json", Body: []byte(body),
			Headers: amqp.Table{"webhook-id": id, "webhook-timestamp": ts, "webhook-signature": sig},
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	publish("evt_forged", `{"event_id":"evt_forged"}`, "v1,Zm9yZ2Vk")
	publish("evt_1", `{"event_id":"evt_1"}`, "")
	publish("evt_1", `{"event_id":"evt_1"}`, "") // published again after a crash
	publish("evt_2", `{"event_id":"evt_2"}`, "")

	r, w := io.Pipe()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		err := consume(ctx, url, name, secret, w)
		w.Close() // a consumer that failed ends the reading below
		done <- err
	}()
	lines := bufio.NewScanner(r)
	var got []string
	for len(got) < 2 && lines.Scan() {
		got = append(got, lines.Text())
	}
	cancel()
	go func() { _, _ = io.Copy(io.Discard, r) }() // a line printed late must not block the consumer's end
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	want := []string{`message:received:new evt_1 {"event_id":"evt_1"}`, `message:received:new evt_2 {"event_id":"evt_2"}`}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("printed\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
