package brokertest

import (
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

// NATS is a nats-server with JetStream of a test's own.
type NATS struct {
	// URL is nats://127.0.0.1:<port>, the same across restarts.
	URL  string
	Addr string // 127.0.0.1:<port>

	bin, dir string
	args     []string // the test's own, e.g. --user and --pass
	port     int
	mu       sync.Mutex
	cmd      *exec.Cmd
}

// StartNATS starts a NATS server with JetStream, storing in a temporary
// directory, with args added to its command line (e.g. "--user", "u",
// "--pass", "p"), and stops it when the test ends.
func StartNATS(t testing.TB, args ...string) *NATS {
	t.Helper()
	bin, err := binary("CHATHOOK_NATS_SERVER", "nats-server", "/usr/sbin/nats-server", "/usr/bin/nats-server")
	if err != nil {
		missing(t, "NATS", err)
	}
	n := &NATS{bin: bin, dir: t.TempDir(), args: args, port: freePort(t)}
	n.Addr = "127.0.0.1:" + strconv.Itoa(n.port)
	n.URL = "nats://" + n.Addr
	n.Start(t)
	t.Cleanup(func() { n.Kill(t) })
	return n
}

// Start starts the server again after Stop or Kill, on the same port and
// store: JetStream recovers its streams, and their duplicate windows.
func (n *NATS) Start(t testing.TB) {
	t.Helper()
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd != nil {
		t.Fatal("NATS is running")
	}
	out := outLog(t, n.dir)
	defer out.Close()
	cmd := exec.Command(n.bin, append([]string{"-a", "127.0.0.1", "-p", strconv.Itoa(n.port), "-js", "-sd", filepath.Join(n.dir, "js")}, n.args...)...)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // never outlive a killed test binary
	if err := cmd.Start(); err != nil {
		missing(t, "NATS", err)
	}
	n.cmd = cmd
	waitListening(t, n.Addr, 30*time.Second, func() string { return readLog(n.dir) })
}

// Stop shuts the server down gracefully (SIGTERM) and waits for it.
func (n *NATS) Stop(t testing.TB) { n.end(t, syscall.SIGTERM) }

// Kill ends the server as a crash would (SIGKILL) and waits for it.
func (n *NATS) Kill(t testing.TB) { n.end(t, syscall.SIGKILL) }

func (n *NATS) end(t testing.TB, sig syscall.Signal) {
	t.Helper()
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd == nil {
		return
	}
	_ = n.cmd.Process.Signal(sig)
	done := make(chan error, 1)
	go func() { done <- n.cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		_ = n.cmd.Process.Kill()
		<-done
		t.Errorf("NATS did not end on %v within 30s", sig)
	}
	n.cmd = nil
}
