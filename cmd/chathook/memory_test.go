package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// BenchmarkBigBatchesPeakRSS measures the service's peak resident memory
// (VmHWM) while 16 clients each POST a valid batch of 1000 messages that
// is just under the 32 MiB body limit, all at once: the load of issue 10
// that took an unbounded service from 20 MB to 1 GB. The service runs as
// its own process (`chathook serve`, as in production) on a fresh SQLite
// file; each round is a fresh process, so its VmHWM is the round's peak.
// It reports the peak and how many batches were accepted (202) or asked
// to come back later (503).
func BenchmarkBigBatchesPeakRSS(b *testing.B) {
	bin := chathookBinary(b)
	const clients = 16
	bodies := make([][]byte, clients)
	for c := range bodies {
		bodies[c] = bigBatch(c)
	}
	b.ResetTimer()
	var peak float64
	var accepted, refused int
	for range b.N {
		p, a, r := bigBatchesRound(b, bin, bodies)
		peak, accepted, refused = max(peak, p), accepted+a, refused+r
	}
	b.ReportMetric(peak, "peak-RSS-MiB")
	b.ReportMetric(float64(accepted)/float64(b.N), "accepted/op")
	b.ReportMetric(float64(refused)/float64(b.N), "refused/op")
}

// bigBatch is a valid batch of 1000 messages of 33,000 characters each
// (WhatsApp's cap is 65,536): 31.5 MiB, under api.MaxBatchBody.
func bigBatch(client int) []byte {
	text := strings.Repeat("a", 33000)
	var buf bytes.Buffer
	buf.WriteString(`{"messages":[`)
	for i := range 1000 {
		if i > 0 {
			buf.WriteByte(',')
		}
		fmt.Fprintf(&buf, `{"account":{"phone":"+15550000000"},"chat":{"external_id":"+1555100%04d"},`+
			`"message_id":"c%d-m%d","direction":"received","text":%q}`, i%100, client, i, text)
	}
	buf.WriteString(`]}`)
	return buf.Bytes()
}

var servingAddr = regexp.MustCompile(`msg="chathook serving" addr=(\S+)`)

// bigBatchesRound starts a service, posts every body at once and returns
// the service's VmHWM in MiB with the counts of 202 and 503 answers; any
// other answer fails the benchmark.
func bigBatchesRound(b *testing.B, bin string, bodies [][]byte) (peakMiB float64, accepted, refused int) {
	b.Helper()
	db := "sqlite:" + filepath.Join(b.TempDir(), "chathook.db")
	out, err := exec.Command(bin, "workspace", "create", "--db", db, "--name", "Big", "--owner-email", "big@example.com").Output()
	if err != nil {
		b.Fatalf("workspace create: %v", err)
	}
	var created struct {
		APIToken string `json:"api_token"`
	}
	if err := json.Unmarshal(out, &created); err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(bin, "serve", "--db", db, "--addr", "127.0.0.1:0")
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "CHATHOOK_") {
			env = append(env, kv)
		}
	}
	cmd.Env = env
	stderr, err := cmd.StderrPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	}()
	addr := make(chan string, 1)
	go func() {
		lines := bufio.NewScanner(stderr)
		for lines.Scan() {
			if m := servingAddr.FindStringSubmatch(lines.Text()); m != nil {
				select {
				case addr <- m[1]:
				default:
				}
			}
		}
	}()
	var url string
	select {
	case a := <-addr:
		url = "http://" + a + "/api/v1/messages/batch"
	case <-time.After(time.Minute):
		b.Fatal("chathook serve did not start within a minute")
	}

	var mu sync.Mutex
	var wg sync.WaitGroup
	start := make(chan struct{})
	for _, body := range bodies {
		wg.Go(func() {
			<-start
			req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+created.APIToken)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				b.Errorf("POST: %v", err)
				return
			}
			msg, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			mu.Lock()
			defer mu.Unlock()
			switch resp.StatusCode {
			case http.StatusAccepted:
				accepted++
			case http.StatusServiceUnavailable:
				refused++
			default:
				b.Errorf("POST: %d %.200s", resp.StatusCode, msg)
			}
		})
	}
	close(start)
	wg.Wait()
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", cmd.Process.Pid))
	if err != nil {
		b.Fatal(err)
	}
	for line := range strings.Lines(string(status)) {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			if err != nil {
				b.Fatal(err)
			}
			return kb / 1024, accepted, refused
		}
	}
	b.Fatal("no VmHWM in /proc/<pid>/status")
	return 0, 0, 0
}
