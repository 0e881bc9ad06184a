package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/chathook/chathook/bench"
)

// benchCommand runs `chathook bench`: one JSON report on stdout, progress
// and the service's log on stderr. It exits 1 when the run could not be
// made or the report lists failures (lost, duplicated, out of order).
//
// Its settings read CHATHOOK_BENCH_* and never CHATHOOK_DB: a benchmark
// must not write into the database a shell has set for the service.
func benchCommand(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	var cfg bench.Config
	s := newSettings("bench", getenv, stdout)
	s.string(&cfg.Workload, "workload", "CHATHOOK_BENCH_WORKLOAD", bench.None,
		"none (100,000 messages in batches, as fast as possible), steady (--rate a second for --duration), bundles (1h bundles, 1,000,000 messages, one flush) or single (20,000 messages one a request from 64 clients)")
	s.int(&cfg.Messages, "messages", "CHATHOOK_BENCH_MESSAGES", 0, "messages to send (default: the workload's; steady sends rate × duration)")
	s.int(&cfg.Chats, "chats", "CHATHOOK_BENCH_CHATS", 0, "chats they are spread over (default 1000; bundles 100000)")
	s.int(&cfg.Clients, "clients", "CHATHOOK_BENCH_CLIENTS", 0, "concurrent ingest clients (default 4; single 64)")
	s.int(&cfg.Batch, "batch", "CHATHOOK_BENCH_BATCH", 0, "messages per ingest request, 1 to 1000; 1 posts single messages (default 1000; steady 10; single 1)")
	s.int(&cfg.Endpoints, "endpoints", "CHATHOOK_BENCH_ENDPOINTS", 1,
		"endpoints that get every message: outbound, and more in the event format (bundles: the seed format at 1h), 1 to 20")
	s.string(&cfg.NATS, "nats", "CHATHOOK_BENCH_NATS", "",
		"a NATS server with JetStream, nats://[user:pass@]host:4222: the last endpoint (--endpoints 2 or more) publishes there, to a file stream the run creates and deletes (default: none, every endpoint HTTP)")
	s.int(&cfg.Rate, "rate", "CHATHOOK_BENCH_RATE", 0, "steady: messages per second (default 1000)")
	s.duration(&cfg.Duration, "duration", "CHATHOOK_BENCH_DURATION", 0, "steady: how long to send (default 1m)")
	s.string(&cfg.DB, "db", "CHATHOOK_BENCH_DB", "",
		"database for the service: an EMPTY sqlite:<path> or postgres://... the run may fill (default: a fresh SQLite file in a temporary folder)")
	loopback := true
	s.bool(&loopback, "loopback", "CHATHOOK_BENCH_LOOPBACK", true,
		"measure the loopback ceiling first (a bare Go client and server, 3s) and report delivered/s as a fraction of it")
	s.string(&cfg.CPUProfile, "cpu-profile", "CHATHOOK_BENCH_CPU_PROFILE", "",
		"write the service's CPU profile (pprof) for the run to this file; read it with go tool pprof -top FILE (default: none)")
	s.duration(&cfg.Timeout, "timeout", "CHATHOOK_BENCH_TIMEOUT", 0, "stop waiting for deliveries after this long without one; what is missing is lost (default 1m)")
	if err := s.parse(args); err != nil {
		return usageError(err, stderr)
	}
	cfg.NoLoopback = !loopback
	if _, err := cfg.WithDefaults(); err != nil {
		return usageError(err, stderr)
	}
	if cfg.CPUProfile != "" {
		// The service writes it; a path it cannot write is told now, not
		// as a service that did not start.
		var err error
		if cfg.CPUProfile, err = writable(cfg.CPUProfile); err != nil {
			return usageError(fmt.Errorf("--cpu-profile: %w", err), stderr)
		}
	}
	cfg.Logger = slog.New(slog.NewTextHandler(stderr, nil))
	cfg.ServiceLog = stderr
	r, err := bench.Run(ctx, cfg)
	if err != nil {
		cfg.Logger.Error("bench", "err", err)
		return 1
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		return 1
	}
	if len(r.Failures) > 0 {
		cfg.Logger.Error("bench: failed", "failures", r.Failures)
		return 1
	}
	return 0
}

// writable returns path made absolute, once it has checked that the file
// can be created or written (it is created empty if it did not exist).
func writable(path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	f, err := os.OpenFile(abs, os.O_WRONLY|os.O_CREATE, 0o644)
	if err != nil {
		return "", err
	}
	return abs, f.Close()
}
