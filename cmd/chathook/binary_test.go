package main

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var built struct {
	once sync.Once
	dir  string
	bin  string
	err  error
	out  []byte
}

// chathookBinary builds the real binary once for the package's tests: the
// ones that run it as users do, as separate processes.
func chathookBinary(t testing.TB) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the binary")
	}
	built.once.Do(func() {
		if built.dir, built.err = os.MkdirTemp("", "chathook-test-"); built.err != nil {
			return
		}
		built.bin = filepath.Join(built.dir, "chathook")
		built.out, built.err = exec.Command("go", "build", "-o", built.bin, ".").CombinedOutput()
	})
	if built.err != nil {
		t.Fatalf("build: %v\n%s", built.err, built.out)
	}
	return built.bin
}

func TestMain(m *testing.M) {
	code := m.Run()
	if built.dir != "" {
		os.RemoveAll(built.dir)
	}
	os.Exit(code)
}

// createWorkspace runs `chathook workspace create` on db and returns the
// API token it printed.
func createWorkspace(t testing.TB, bin, db string) string {
	t.Helper()
	out, err := exec.Command(bin, "workspace", "create", "--db", db, "--name", "Acme", "--owner-email", "owner@example.com").Output()
	if err != nil {
		t.Fatalf("workspace create: %v", err)
	}
	var created struct {
		APIToken string `json:"api_token"`
	}
	if err := json.Unmarshal(out, &created); err != nil || created.APIToken == "" {
		t.Fatalf("workspace create printed %q: %v", out, err)
	}
	return created.APIToken
}

// servingAddr finds the address in serve's "serving" log line.
var servingAddr = regexp.MustCompile(`msg="chathook serving" addr=(\S+)`)

// serveProcess is `chathook serve` running as its own process.
type serveProcess struct {
	cmd    *exec.Cmd
	url    string
	exited chan struct{} // closed once cmd.Wait has returned
	err    error         // cmd.Wait's, once exited is closed

	mu   sync.Mutex
	tail []string // the last lines of its log, shown if the test fails
}

// startServe starts serve on db, on a free port, with flags and none of
// this process's CHATHOOK_* settings, and waits until it says where it
// listens. It is killed at the end of the test if still up.
func startServe(t testing.TB, bin, db string, flags ...string) *serveProcess {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"serve", "--db", db, "--addr", "127.0.0.1:0"}, flags...)...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "CHATHOOK_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	svc := &serveProcess{cmd: cmd, exited: make(chan struct{})}
	addr := make(chan string, 1)
	logDone := make(chan struct{})
	go func() {
		defer close(logDone)
		lines := bufio.NewScanner(stderr)
		for lines.Scan() {
			if m := servingAddr.FindStringSubmatch(lines.Text()); m != nil {
				select {
				case addr <- m[1]:
				default:
				}
			}
			svc.mu.Lock()
			svc.tail = append(svc.tail, lines.Text())
			if len(svc.tail) > 20 {
				svc.tail = svc.tail[1:]
			}
			svc.mu.Unlock()
		}
	}()
	go func() {
		<-logDone // Wait closes the pipe: read it to the end first
		svc.err = cmd.Wait()
		close(svc.exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-svc.exited
		if t.Failed() {
			svc.mu.Lock()
			t.Logf("the log of serve (pid %d) ends with:\n%s", cmd.Process.Pid, strings.Join(svc.tail, "\n"))
			svc.mu.Unlock()
		}
	})
	select {
	case a := <-addr:
		svc.url = "http://" + a
	case <-svc.exited:
		t.Fatalf("chathook serve exited before serving: %v", svc.err)
	case <-time.After(time.Minute):
		t.Fatal("chathook serve did not start within a minute")
	}
	return svc
}

// kill ends the service with SIGKILL: no shutdown, no last commit.
func (s *serveProcess) kill(t testing.TB) {
	t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("SIGKILL: %v", err)
	}
	<-s.exited
}

// stop ends the service with SIGTERM, as an operator would.
func (s *serveProcess) stop(t testing.TB) {
	t.Helper()
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
		if s.err != nil {
			t.Errorf("serve after SIGTERM: %v", s.err)
		}
	case <-time.After(time.Minute):
		t.Error("serve still running a minute after SIGTERM")
	}
}
