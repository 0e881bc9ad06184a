package brokertest

import (
	"testing"

	amqp "github.com/rabbitmq/amqp091-go"
)

// TestRabbitMQRestart: a node of the test's own starts, keeps a durable
// queue's persistent message across a graceful restart, and comes back
// after a kill.
func TestRabbitMQRestart(t *testing.T) {
	r := StartRabbitMQ(t)
	c, err := amqp.Dial(r.URL)
	if err != nil {
		t.Fatal(err)
	}
	ch, err := c.Channel()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ch.QueueDeclare("kept", true, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	if err := ch.Publish("", "kept", false, false, amqp.Publishing{DeliveryMode: amqp.Persistent, Body: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	c.Close()
	r.Restart(t)
	r.Kill(t)
	r.Start(t)
	c, err = amqp.Dial(r.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ch, err = c.Channel()
	if err != nil {
		t.Fatal(err)
	}
	d, ok, err := ch.Get("kept", true)
	if err != nil || !ok || string(d.Body) != "x" {
		t.Fatalf("after restarts: %q %v %v", d.Body, ok, err)
	}
}
