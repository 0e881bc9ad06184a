// Command rabbitmq-consumer reads chathook's events from a RabbitMQ
// queue, drops a second copy of an event, verifies each one's signature
// and prints it: AMQP_URL (default amqp://guest:guest@127.0.0.1:5672/),
// QUEUE (default whatsapp), WEBHOOK_SECRET (the endpoint's whsec_ secret;
// unset: no check).
package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"log"
	"os"
	"os/signal"
	"strings"

	amqp "github.com/rabbitmq/amqp091-go"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := consume(ctx, env("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/"), env("QUEUE", "whatsapp"), os.Getenv("WEBHOOK_SECRET"), os.Stdout); err != nil {
		log.Fatal(err)
	}
}

// consume prints "<routing key> <message id> <body>" for each event until ctx ends.
func consume(ctx context.Context, url, queue, secret string, out io.Writer) error {
	conn, err := amqp.Dial(url)
	if err != nil {
		return err
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		return err
	}
	// One unacknowledged message at a time keeps each chat's order.
	if err := ch.Qos(1, 0, false); err != nil {
		return err
	}
	msgs, err := ch.ConsumeWithContext(ctx, queue, "", false, false, false, false, nil)
	if err != nil {
		return err
	}
	// chathook publishes at least once: after a crash an event may come
	// twice, with the same message_id. Keep the ids seen (in production:
	// in your database, in the transaction that handles the event).
	seen := map[string]bool{}
	for m := range msgs {
		header := func(k string) string { s, _ := m.Headers[k].(string); return s }
		switch {
		case secret != "" && !verify(secret, header("webhook-id"), header("webhook-timestamp"), header("webhook-signature"), m.Body):
			_ = m.Reject(false) // not from chathook: never requeue it
			continue
		case !seen[m.MessageId]:
			seen[m.MessageId] = true
			fmt.Fprintf(out, "%s %s %s\n", m.RoutingKey, m.MessageId, m.Body)
		}
		_ = m.Ack(false) // done with it: a crash before this redelivers it
	}
	return nil
}

// verify checks a Standard Webhooks signature: any one of the
// space-separated "v1,<base64 HMAC-SHA256 of id.timestamp.body>".
func verify(secret, id, timestamp, signatures string, body []byte) bool {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		return false
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + timestamp + "."))
	mac.Write(body)
	want := "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
	for _, s := range strings.Fields(signatures) {
		if hmac.Equal([]byte(s), []byte(want)) {
			return true
		}
	}
	return false
}

func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
