package main

import (
	"bytes"
	"os/exec"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/chathook/chathook/chathooktest/brokertest"
)

// TestBenchNATSEndpoint runs `chathook bench --endpoints 3 --nats` at a
// tiny size against a NATS server of the test's own: outbound and an
// HTTP endpoint at the bench's receiver, and a NATS endpoint whose
// messages the bench reads from a stream it creates, and deletes after.
func TestBenchNATSEndpoint(t *testing.T) {
	srv := brokertest.StartNATS(t)
	bin := chathookBinary(t)
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(bin, "bench", "--messages", "300", "--chats", "20", "--endpoints", "3", "--nats", srv.URL,
		"--loopback=false", "--timeout", "5s")
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()
	r := decodeReport(t, stdout.Bytes())

	if len(r.PerEndpoint) != 3 {
		t.Fatalf("per_endpoint: %+v", r.PerEndpoint)
	}
	for k, want := range []struct{ target, format string }{{"http", "seed"}, {"http", "event"}, {"nats", "event"}} {
		e := r.PerEndpoint[k]
		if e.Target != want.target || e.Format != want.format || e.ID == "" {
			t.Errorf("endpoint %d: %+v, want a %s endpoint in the %s format", k+1, e, want.target, want.format)
		}
		if k < 2 && (e.Delivered != 300 || e.Lost != 0 || e.DeliveredPerS <= 0) {
			t.Errorf("HTTP endpoint %d: %+v, want every message", k+1, e)
		}
	}
	if r.PerEndpoint[0].ID != "outbound" {
		t.Errorf("the first endpoint is %q, want outbound", r.PerEndpoint[0].ID)
	}

	// The run's stream is gone, whatever the run's outcome.
	nc, err := nats.Connect(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	names := js.StreamNames(t.Context())
	for name := range names.Name() {
		t.Errorf("stream %s left on the server after the run", name)
	}
	if err := names.Err(); err != nil {
		t.Fatal(err)
	}

	if runErr != nil || len(r.Failures) != 0 {
		t.Fatalf("chathook bench: %v, failures %v\nstderr: %s", runErr, r.Failures, stderr.String())
	}
	if e := r.PerEndpoint[2]; e.Delivered != 300 || e.Lost != 0 || r.Duplicated != 0 || r.OrderViolations != 0 || r.Unexpected != 0 {
		t.Errorf("the NATS endpoint: %+v; report %+v", e, r)
	}
}
