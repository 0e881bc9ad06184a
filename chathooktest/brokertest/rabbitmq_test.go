package brokertest

import (
	"fmt"
	"os"
	"strings"
	"testing"

	amqp "github.com/rabbitmq/amqp091-go"
)

// TestRabbitMQRestart: a node of the test's own starts, keeps a durable
// queue's persistent message across a graceful restart, and comes back
// after a kill. The process started is the Erlang VM itself, not a shell
// script whose child it is, after each start: Pdeathsig then reaches the
// VM, and a killed test binary leaves no node behind.
func TestRabbitMQRestart(t *testing.T) {
	r := StartRabbitMQ(t)
	isVM := func(when string) {
		t.Helper()
		comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", r.cmd.Process.Pid))
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.TrimSpace(string(comm)); got != "beam.smp" {
			t.Errorf("%s: the process started is %q, want the Erlang VM (beam.smp)", when, got)
		}
	}
	isVM("first start")
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
	isVM("after a restart")
	r.Kill(t)
	r.Start(t)
	isVM("after a kill")
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
