package brokertest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// RabbitMQ is a RabbitMQ node of a test's own.
type RabbitMQ struct {
	// URL is amqp://guest:guest@127.0.0.1:<port>/, the same across
	// restarts.
	URL  string
	Addr string // 127.0.0.1:<port>

	bin, dir, node string
	port, dist     int
	mu             sync.Mutex
	cmd            *exec.Cmd
	exited         chan struct{} // closed when cmd has exited
}

// nodes numbers the nodes of one test binary, for unique node names.
var nodes atomic.Int64

// StartRabbitMQ starts a RabbitMQ node, storing in a temporary directory,
// and kills it when the test ends. A start takes seconds: start one only
// for a test that stops or restarts the broker, and use the machine's
// for the rest.
func StartRabbitMQ(t testing.TB) *RabbitMQ {
	t.Helper()
	// Not rabbitmq-server on PATH: Debian's /usr/sbin/rabbitmq-server
	// switches to the rabbitmq user, who cannot write the test's directory.
	bin := os.Getenv("CHATHOOK_RABBITMQ_SERVER")
	if bin == "" {
		bin = "/usr/lib/rabbitmq/bin/rabbitmq-server"
	}
	if _, err := os.Stat(bin); err != nil {
		missing(t, "RabbitMQ", fmt.Errorf("%v (set CHATHOOK_RABBITMQ_SERVER to the script that runs the node in the foreground)", err))
	}
	r := &RabbitMQ{bin: bin, dir: t.TempDir(), port: freePort(t), dist: freePort(t)}
	r.node = fmt.Sprintf("chathooktest%d_%d_%d@localhost", os.Getpid(), nodes.Add(1), r.port)
	r.Addr = "127.0.0.1:" + strconv.Itoa(r.port)
	r.URL = "amqp://guest:guest@" + r.Addr + "/"
	// The node's own config: /etc/rabbitmq sets the machine node's port.
	// guest may connect over 127.0.0.1 (loopback_users = none) so that
	// tests use the URL as a remote client would.
	conf := fmt.Sprintf("listeners.tcp.1 = %s\nloopback_users = none\n", r.Addr)
	if err := os.WriteFile(filepath.Join(r.dir, "r.conf"), []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	// A cookie of the node's own, in its HOME, so that it never reads or
	// writes the user's ~/.erlang.cookie.
	if err := os.WriteFile(filepath.Join(r.dir, ".erlang.cookie"), []byte(fmt.Sprintf("CHATHOOKTEST%d", r.port)), 0o400); err != nil {
		t.Fatal(err)
	}
	r.Start(t)
	t.Cleanup(func() { r.Kill(t) })
	return r
}

// Start starts the node again after Stop or Kill, on the same ports and
// data: durable exchanges, queues and persistent messages are back.
// It returns once the node accepts an AMQP connection.
func (r *RabbitMQ) Start(t testing.TB) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cmd != nil {
		t.Fatal("RabbitMQ is running")
	}
	d := r.dir
	out := outLog(t, d)
	defer out.Close()
	cmd := exec.Command(r.bin)
	cmd.Env = append(os.Environ(),
		"RABBITMQ_NODENAME="+r.node,
		"RABBITMQ_CONFIG_FILE="+filepath.Join(d, "r.conf"),
		"RABBITMQ_CONF_ENV_FILE=/dev/null",
		"RABBITMQ_DIST_PORT="+strconv.Itoa(r.dist),
		"RABBITMQ_MNESIA_BASE="+filepath.Join(d, "mnesia"),
		"RABBITMQ_LOG_BASE="+filepath.Join(d, "log"),
		"RABBITMQ_FEATURE_FLAGS_FILE="+filepath.Join(d, "ff"),
		"RABBITMQ_ENABLED_PLUGINS_FILE="+filepath.Join(d, "plugins"),
		"RABBITMQ_PID_FILE="+filepath.Join(d, "pid"),
		"HOME="+d,
		// The script then execs the Erlang VM rather than running it as
		// its child, so the VM is the process started here: Pdeathsig
		// and SIGTERM reach it, and a killed test binary leaves no VM.
		"RUNNING_UNDER_SYSTEMD=true",
	)
	cmd.Stdout, cmd.Stderr = out, out
	// A process group of its own lets Kill end the VM's helpers
	// (erl_child_setup) too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		missing(t, "RabbitMQ", err)
	}
	r.cmd, r.exited = cmd, make(chan struct{})
	go func(done chan struct{}) { _ = cmd.Wait(); close(done) }(r.exited)
	deadline := time.Now().Add(90 * time.Second)
	for {
		// A login, not a TCP connect: the node listens a while before
		// it accepts one.
		c, err := amqp.DialConfig(r.URL, amqp.Config{Dial: amqp.DefaultDial(2 * time.Second)})
		if err == nil {
			c.Close()
			return
		}
		select {
		case <-r.exited:
			r.cmd = nil
			t.Fatalf("RabbitMQ exited before accepting connections on %s:\n%s", r.Addr, r.log())
		default:
		}
		if time.Now().After(deadline) {
			r.endLocked(t, syscall.SIGKILL)
			t.Fatalf("RabbitMQ not accepting AMQP on %s after 90s: %v\n%s", r.Addr, err, r.log())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// log is what the node wrote to its standard output and error.
func (r *RabbitMQ) log() string { return readLog(r.dir) }

// Stop shuts the node down gracefully and waits for it: the Erlang VM
// turns SIGTERM into an orderly stop of RabbitMQ.
func (r *RabbitMQ) Stop(t testing.TB) { r.end(t, syscall.SIGTERM) }

// Kill ends the node as a crash would (SIGKILL to every process of it)
// and waits for it.
func (r *RabbitMQ) Kill(t testing.TB) { r.end(t, syscall.SIGKILL) }

func (r *RabbitMQ) end(t testing.TB, sig syscall.Signal) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.endLocked(t, sig)
}

func (r *RabbitMQ) endLocked(t testing.TB, sig syscall.Signal) {
	t.Helper()
	if r.cmd == nil {
		return
	}
	pid := r.cmd.Process.Pid
	if sig == syscall.SIGKILL {
		_ = syscall.Kill(-pid, sig) // the group: the VM and its helpers
	} else {
		_ = syscall.Kill(pid, sig) // the VM, which stops RabbitMQ in order
	}
	select {
	case <-r.exited:
	case <-time.After(60 * time.Second):
		t.Errorf("RabbitMQ did not end on %v within 60s", sig)
	}
	// Whatever of the group is left (the VM's helpers) goes too; the
	// group's leader has exited, so its id names only them.
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	r.cmd = nil
}

// Restart stops the node (gracefully) and starts it again.
func (r *RabbitMQ) Restart(t testing.TB) {
	t.Helper()
	r.Stop(t)
	r.Start(t)
}
