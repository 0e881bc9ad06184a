package main

import (
	"bufio"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/chathook/chathook/chathooktest/brokertest"
)

// The example reads a stream as the docs tell a user to create it,
// prints a signed event once (its retry dropped by the stream's
// duplicate window) and skips a forged one.
func TestConsumerExample(t *testing.T) {
	srv := brokertest.StartNATS(t)
	ctx := t.Context()
	nc, err := nats.Connect(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "WHATSAPP", Subjects: []string{"whatsapp.>"}, Duplicates: 10 * time.Minute}); err != nil {
		t.Fatal(err)
	}
	secret := "whsec_" + base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))
	publish := func(id, body, sig string) {
		m := nats.NewMsg("whatsapp.ws1.message.received.new")
		m.Data = []byte(body)
		ts := strconv.FormatInt(time.Now().Unix(), 10)
		if sig == "" {
			key, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
			mac := hmac.New(sha256.New, key)
			mac.Write([]byte(id + "." + ts + "." + body))
			sig = "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
		}
		m.Header.Set("Nats-Msg-Id", id)
		m.Header.Set("webhook-id", id)
		m.Header.Set("webhook-timestamp", ts)
		m.Header.Set("webhook-signature", sig)
		if _, err := js.PublishMsg(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	publish("evt_forged", `{"event_id":"evt_forged"}`, "v1,Zm9yZ2Vk")
	publish("evt_1", `{"event_id":"evt_1"}`, "")
	publish("evt_1", `{"event_id":"evt_1"}`, "") // a retry
	publish("evt_2", `{"event_id":"evt_2"}`, "")

	r, w := io.Pipe()
	cctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		err := consume(cctx, srv.URL, "WHATSAPP", secret, w)
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
	want := []string{`whatsapp.ws1.message.received.new evt_1 {"event_id":"evt_1"}`, `whatsapp.ws1.message.received.new evt_2 {"event_id":"evt_2"}`}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("printed\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
