// Package brokertest runs real message brokers for tests: a NATS server
// with JetStream (nats.go) and a RabbitMQ node (rabbitmq.go), each a
// process of the test's own, on a free loopback port, with its data in
// the test's temporary directory, so that a test may stop, kill and
// restart it without disturbing any other test or the machine's own
// brokers.
//
// The brokers come from Debian's packages nats-server and rabbitmq-server
// (`.ci/run` installs them when they are missing). When one is not
// installed the test is skipped, saying why; with CI=true it fails
// instead, so that CI never passes by skipping a broker.
package brokertest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// missing skips t, or fails it under CI, for a broker that cannot run.
func missing(t testing.TB, what string, err error) {
	t.Helper()
	msg := fmt.Sprintf("%s: %v (install Debian's package, as .ci/run does)", what, err)
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// binary finds a broker's program: env's path, then PATH, then where
// Debian puts it.
func binary(env, name string, debian ...string) (string, error) {
	if p := os.Getenv(env); p != "" {
		return p, nil
	}
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, p := range debian {
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found (set %s to its path)", name, env)
}

// outLog opens dir's out.log, where a broker's standard output and error
// go, appended across restarts: a file, which the process writes while a
// failure message reads it. Close it once the process has started.
func outLog(t testing.TB, dir string) *os.File {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(dir, "out.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// readLog is what a broker wrote to dir's out.log.
func readLog(dir string) string {
	b, _ := os.ReadFile(filepath.Join(dir, "out.log"))
	return string(b)
}

// freePort returns a loopback TCP port nothing listens on now.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// waitListening waits until addr accepts connections, or fails t after
// within, with what the broker wrote.
func waitListening(t testing.TB, addr string, within time.Duration, log func() string) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("broker not listening on %s after %s: %v\n%s", addr, within, err, log())
		}
		time.Sleep(50 * time.Millisecond)
	}
}
