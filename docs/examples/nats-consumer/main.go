// Command nats-consumer reads chathook's events from a JetStream stream,
// verifies each one's signature and prints it: NATS_URL (default
// nats://127.0.0.1:4222), STREAM (default WHATSAPP), WEBHOOK_SECRET (the
// endpoint's whsec_ secret; unset: no check).
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

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := consume(ctx, env("NATS_URL", nats.DefaultURL), env("STREAM", "WHATSAPP"), os.Getenv("WEBHOOK_SECRET"), os.Stdout); err != nil {
		log.Fatal(err)
	}
}

// consume prints "<subject> <webhook-id> <body>" for each event until ctx ends.
func consume(ctx context.Context, url, stream, secret string, out io.Writer) error {
	nc, err := nats.Connect(url)
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	// A durable consumer remembers where it is across restarts. One
	// message in flight at a time keeps each chat's order, even when a
	// message is redelivered.
	cons, err := js.CreateOrUpdateConsumer(ctx, stream, jetstream.ConsumerConfig{
		Durable: "example", AckPolicy: jetstream.AckExplicitPolicy, MaxAckPending: 1,
	})
	if err != nil {
		return err
	}
	cc, err := cons.Consume(func(m jetstream.Msg) {
		h := m.Headers()
		if secret != "" && !verify(secret, h.Get("webhook-id"), h.Get("webhook-timestamp"), h.Get("webhook-signature"), m.Data()) {
			_ = m.Term() // not from chathook: never redeliver it
			return
		}
		fmt.Fprintf(out, "%s %s %s\n", m.Subject(), h.Get("webhook-id"), m.Data())
		_ = m.Ack() // done with it: a crash before this redelivers it
	})
	if err != nil {
		return err
	}
	<-ctx.Done()
	cc.Stop()
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
