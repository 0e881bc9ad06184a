package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// childEnv is this process's environment without CHATHOOK_* settings: the
// measured service runs on its defaults plus the flags the benchmark
// passes, whatever the shell that started the benchmark has set.
func childEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "CHATHOOK_") {
			env = append(env, kv)
		}
	}
	return env
}

// createWorkspace runs `chathook workspace create` and returns its API token.
func createWorkspace(ctx context.Context, exe, db string) (string, error) {
	cmd := exec.CommandContext(ctx, exe, "workspace", "create", "--db", db,
		"--name", "Benchmark", "--owner-email", "bench@example.com", "--owner-name", "Bench")
	cmd.Env = childEnv()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("chathook workspace create: %w: %s", err, bytes.TrimSpace(stderr.Bytes()))
	}
	var created struct {
		APIToken string `json:"api_token"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &created); err != nil || created.APIToken == "" {
		return "", fmt.Errorf("chathook workspace create printed %q, not its JSON object", stdout.String())
	}
	return created.APIToken, nil
}

// service is `chathook serve` running as a child process.
type service struct {
	cmd    *exec.Cmd
	URL    string
	exited chan struct{} // closed when the process has exited
	err    error         // its exit status, once exited is closed
}

var servingLine = regexp.MustCompile(`msg="chathook serving" addr=(\S+)`)

// answeredLine is the request log line of a request answered 1xx to 3xx:
// one per ingest request, tens of thousands a run, so the bench does not
// pass them on (the service still writes them: their cost is measured).
// Those answered 4xx or 5xx are passed on.
var answeredLine = regexp.MustCompile(` msg=request .* status=[123]\d\d `)

// startService runs `chathook serve` on a free loopback port and returns
// once it says where it listens. Its log lines go to logTo. A cpuProfile
// is passed on as its --cpu-profile.
func startService(ctx context.Context, exe, db, cpuProfile string, logTo io.Writer) (*service, error) {
	args := []string{"serve", "--db", db, "--addr", "127.0.0.1:0", "--allow-private-targets"}
	if cpuProfile != "" {
		args = append(args, "--cpu-profile", cpuProfile)
	}
	cmd := exec.Command(exe, args...)
	cmd.Env = childEnv()
	pipe, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start chathook serve: %w", err)
	}
	s := &service{cmd: cmd, exited: make(chan struct{})}
	addr := make(chan string, 1)
	go func() {
		lines := bufio.NewScanner(pipe)
		for lines.Scan() {
			if m := servingLine.FindStringSubmatch(lines.Text()); m != nil {
				select {
				case addr <- m[1]:
				default:
				}
			}
			if !answeredLine.MatchString(lines.Text()) {
				fmt.Fprintf(logTo, "service: %s\n", lines.Text())
			}
		}
		// The pipe is read to its end before Wait, as os/exec requires.
		s.err = cmd.Wait()
		close(s.exited)
	}()
	select {
	case a := <-addr:
		s.URL = "http://" + a
		return s, nil
	case <-s.exited:
		return nil, fmt.Errorf("chathook serve exited before serving: %v (its log is above)", s.err)
	case <-ctx.Done():
		_ = s.stop(10 * time.Second)
		return nil, ctx.Err()
	case <-time.After(time.Minute):
		_ = s.stop(10 * time.Second)
		return nil, errors.New("chathook serve did not start serving within a minute")
	}
}

// peakRSS is the process's peak resident memory (VmHWM) in MiB. It reads
// /proc, so it answers only on Linux and while the process lives.
func (s *service) peakRSS() (float64, error) {
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(status)) {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			if err != nil {
				return 0, fmt.Errorf("VmHWM: %q: %w", rest, err)
			}
			return kb / 1024, nil
		}
	}
	return 0, errors.New("no VmHWM in /proc/<pid>/status")
}

// cpu is the CPU time, user and system, the service used in its whole
// life; it is known once the process has exited.
func (s *service) cpu() time.Duration {
	<-s.exited
	if s.cmd.ProcessState == nil {
		return 0
	}
	return s.cmd.ProcessState.UserTime() + s.cmd.ProcessState.SystemTime()
}

// stop sends SIGTERM and waits for the exit, killing the process after
// timeout. It returns an error unless the service exited 0 in time.
func (s *service) stop(timeout time.Duration) error {
	select {
	case <-s.exited:
		return fmt.Errorf("chathook serve had already exited: %v", s.err)
	default:
	}
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return fmt.Errorf("SIGTERM: %w", err)
	}
	select {
	case <-s.exited:
		if s.err != nil {
			return fmt.Errorf("chathook serve after SIGTERM: %w", s.err)
		}
		return nil
	case <-time.After(timeout):
		_ = s.cmd.Process.Kill()
		<-s.exited
		return fmt.Errorf("chathook serve still running %s after SIGTERM; killed", timeout)
	}
}
