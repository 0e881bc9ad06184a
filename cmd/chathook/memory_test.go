package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
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

// bigBatchesRound starts a service, posts every body at once and returns
// the service's VmHWM in MiB with the counts of 202 and 503 answers; any
// other answer fails the benchmark.
func bigBatchesRound(b *testing.B, bin string, bodies [][]byte) (peakMiB float64, accepted, refused int) {
	b.Helper()
	db := "sqlite:" + filepath.Join(b.TempDir(), "chathook.db")
	token := createWorkspace(b, bin, db)
	svc := startServe(b, bin, db)
	defer svc.stop(b)
	url := svc.url + "/api/v1/messages/batch"

	var mu sync.Mutex
	var wg sync.WaitGroup
	start := make(chan struct{})
	for _, body := range bodies {
		wg.Go(func() {
			<-start
			req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+token)
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
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", svc.cmd.Process.Pid))
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
