package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/chathook/chathook/bench"
)

// TestBenchEndToEnd runs `chathook bench` as a user would, at a tiny size,
// for each workload: a real service process on a fresh SQLite file, real
// HTTP on loopback. It checks the report's shape and the counts that must
// be zero, never a speed.
func TestBenchEndToEnd(t *testing.T) {
	bin := chathookBinary(t)
	cases := []struct {
		name    string
		args    []string
		clients int
		check   func(t *testing.T, r bench.Report)
	}{
		{"none", []string{"--workload", "none", "--messages", "2000", "--chats", "50"}, 4, func(t *testing.T, r bench.Report) {
			if r.Messages != 2000 || r.WebhookPosts != 2000 || r.LatencyFrom != "ingest_202" || r.FlushSeconds != nil {
				t.Errorf("one POST a message from its 202: %+v", r)
			}
		}},
		{"bundles", []string{"--workload", "bundles", "--messages", "2000", "--chats", "50", "--loopback=false"}, 4, func(t *testing.T, r bench.Report) {
			// One bundle a chat, unless an hour ended mid-run and split a chat's messages over two windows.
			if r.Messages != 2000 || r.WebhookPosts < 50 || r.WebhookPosts > 100 || r.LatencyFrom != "flush_request" ||
				r.FlushSeconds == nil || r.FlushDeliveredPS == nil {
				t.Errorf("bundles from the flush: %+v", r)
			}
		}},
		{"steady", []string{"--workload", "steady", "--rate", "200", "--duration", "2s", "--chats", "50", "--loopback=false"}, 4, func(t *testing.T, r bench.Report) {
			if r.Messages != 400 || r.Rate != 200 || r.Batch != 10 || r.WebhookPosts != 400 {
				t.Errorf("200 a second for 2s: %+v", r)
			}
		}},
		{"steady single posts", []string{"--workload", "steady", "--rate", "100", "--duration", "1s", "--chats", "20", "--batch", "1", "--loopback=false"},
			4, func(t *testing.T, r bench.Report) {
				if r.Messages != 100 || r.Batch != 1 || r.WebhookPosts != 100 {
					t.Errorf("POST /api/v1/messages one at a time: %+v", r)
				}
			}},
		{"single", []string{"--workload", "single", "--messages", "300", "--clients", "8"}, 8, func(t *testing.T, r bench.Report) {
			if r.Messages != 300 || r.Chats != 1000 || r.Batch != 1 || r.WebhookPosts != 300 || r.LatencyFrom != "ingest_202" {
				t.Errorf("one message a request, one POST a message: %+v", r)
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			cmd := exec.Command(bin, append([]string{"bench"}, c.args...)...)
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Run(); err != nil {
				t.Fatalf("chathook bench: %v\nstdout: %s\nstderr: %s", err, stdout.String(), stderr.String())
			}
			r := decodeReport(t, stdout.Bytes())
			if r.Sent != r.Messages || r.Delivered != r.Messages || r.Lost != 0 || r.Duplicated != 0 ||
				r.OrderViolations != 0 || r.Unexpected != 0 || len(r.Failures) != 0 {
				t.Errorf("counts: %+v", r)
			}
			if r.Workload != c.args[1] || r.DB != "sqlite" || r.Clients != c.clients || r.CPUs < 1 || r.StartedAt == "" {
				t.Errorf("run description: %+v", r)
			}
			checkLoopback(t, r, !slices.Contains(c.args, "--loopback=false"), stderr.String())
			l := r.LatencyMS
			if !(0 <= l.P50 && l.P50 <= l.P95 && l.P95 <= l.P99 && l.P99 <= l.Max && l.Max > 0) {
				t.Errorf("latency percentiles out of order: %+v", l)
			}
			if r.IngestedPerS <= 0 || r.DeliveredPerS <= 0 || r.IngestSeconds <= 0 || r.EndToEndSeconds <= 0 {
				t.Errorf("rates and times: %+v", r)
			}
			if r.PeakRSSMiB == nil || *r.PeakRSSMiB <= 0 || r.ServiceCPUSeconds <= 0 {
				t.Errorf("the service's peak memory %v, CPU %vs", r.PeakRSSMiB, r.ServiceCPUSeconds)
			}
			if !strings.Contains(stderr.String(), `msg="chathook serving"`) || !strings.Contains(stderr.String(), "msg=stopped") {
				t.Errorf("the service's log, from start to a graceful stop, belongs on stderr:\n%s", stderr.String())
			}
			c.check(t, r)
		})
	}
}

// checkLoopback checks the loopback ceiling's fields: measured (a figure,
// whatever it is, and the fraction of it delivered, also on stderr), or
// null when skipped.
func checkLoopback(t *testing.T, r bench.Report, measured bool, stderr string) {
	t.Helper()
	if !measured {
		if r.LoopbackPostsPerS != nil || r.FractionOfLoopback != nil || strings.Contains(stderr, "loopback ceiling\" posts_per_s") {
			t.Errorf("--loopback=false measured the ceiling: %v %v", r.LoopbackPostsPerS, r.FractionOfLoopback)
		}
		return
	}
	if r.LoopbackPostsPerS == nil || *r.LoopbackPostsPerS <= 0 || r.LoopbackBodyBytes <= 0 || r.FractionOfLoopback == nil {
		t.Fatalf("no loopback ceiling: %v %d %v", r.LoopbackPostsPerS, r.LoopbackBodyBytes, r.FractionOfLoopback)
	}
	if want := math.Round(r.DeliveredPerS / *r.LoopbackPostsPerS * 1000) / 1000; *r.FractionOfLoopback != want || want <= 0 {
		t.Errorf("fraction_of_loopback %v, want %v = %v / %v", *r.FractionOfLoopback, want, r.DeliveredPerS, *r.LoopbackPostsPerS)
	}
	for _, s := range []string{
		fmt.Sprintf(`msg="bench: loopback ceiling" posts_per_s=%v`, *r.LoopbackPostsPerS),
		fmt.Sprintf(`fraction_of_loopback=%v`, *r.FractionOfLoopback),
	} {
		if !strings.Contains(stderr, s) {
			t.Errorf("no %s on stderr", s)
		}
	}
}

// decodeReport reads exactly one JSON object with every field of the
// report present and nothing else.
func decodeReport(t *testing.T, stdout []byte) bench.Report {
	t.Helper()
	var fields map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(stdout))
	if err := dec.Decode(&fields); err != nil {
		t.Fatalf("stdout is not a JSON object: %v\n%s", err, stdout)
	}
	if err := dec.Decode(&struct{}{}); !errors.Is(err, io.EOF) {
		t.Fatalf("more than one JSON value on stdout: %s", stdout)
	}
	for _, k := range []string{"workload", "db", "messages", "sent", "delivered", "duplicated", "lost", "order_violations",
		"ingested_per_s", "delivered_per_s", "latency_ms", "peak_rss_mib", "service_cpu_seconds", "failures",
		"loopback_posts_per_s", "fraction_of_loopback"} {
		if _, ok := fields[k]; !ok {
			t.Errorf("no %q in the report", k)
		}
	}
	var r bench.Report
	strict := json.NewDecoder(bytes.NewReader(stdout))
	strict.DisallowUnknownFields()
	if err := strict.Decode(&r); err != nil {
		t.Fatalf("report: %v", err)
	}
	return r
}

func TestBenchUsage(t *testing.T) {
	for name, c := range map[string]struct {
		args []string
		env  map[string]string
	}{
		"unknown workload":          {args: []string{"--workload", "fast"}},
		"messages for steady":       {args: []string{"--workload", "steady", "--messages", "10"}},
		"batch over the limit":      {args: []string{"--batch", "5000"}},
		"batches for single":        {args: []string{"--workload", "single", "--batch", "10"}},
		"not a boolean in the env":  {env: map[string]string{"CHATHOOK_BENCH_LOOPBACK": "perhaps"}},
		"a database of no kind":     {args: []string{"--db", "chathook.db"}},
		"stray operand":             {args: []string{"now"}},
		"workload from the env":     {env: map[string]string{"CHATHOOK_BENCH_WORKLOAD": "fast"}},
		"not a number in the env":   {env: map[string]string{"CHATHOOK_BENCH_MESSAGES": "many"}},
		"not a duration in the env": {env: map[string]string{"CHATHOOK_BENCH_TIMEOUT": "soon"}},
		"NATS with one endpoint":    {args: []string{"--nats", "nats://127.0.0.1:4222"}},
		"NATS from the env, HTTP":   {args: []string{"--endpoints", "2"}, env: map[string]string{"CHATHOOK_BENCH_NATS": "http://127.0.0.1:4222"}},
	} {
		t.Run(name, func(t *testing.T) {
			// Cancelled: were the settings taken, the run must not start, since
			// in-process it would re-execute the test binary as the service.
			ctx, cancel := context.WithCancel(t.Context())
			cancel()
			var stdout, stderr bytes.Buffer
			if code := run(ctx, append([]string{"bench"}, c.args...), env(c.env), &stdout, &stderr); code != 2 {
				t.Errorf("exit %d, want 2; stderr %s", code, stderr.String())
			}
			if stdout.Len() != 0 {
				t.Errorf("stdout %q: a usage error prints no report", stdout.String())
			}
		})
	}
}
