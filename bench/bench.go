// Package bench is `chathook bench`: it measures the service end to end,
// as its users run it.
//
// A run starts `chathook serve` as a separate process (this binary,
// re-executed) on a fresh database, creates a workspace with `chathook
// workspace create`, points its webhook at a receiver in this process, and
// drives the public HTTP API with several concurrent clients. It reports
// one JSON object (Report): rates, latency from ingest to POST, the
// service's peak memory, and the counts that must be zero: lost,
// duplicated, out of order.
//
// The clients, the receiver and the service share the machine: figures
// are of the whole, not of the service alone.
package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// The workloads.
const (
	None    = "none"    // granularity none, as fast as the clients can send
	Steady  = "steady"  // granularity none, paced at Rate for Duration
	Bundles = "bundles" // granularity 1h, everything ingested, then one flush
	Single  = "single"  // granularity none, one message a request from 64 clients
)

// Config of a run. Zero values take the workload's defaults.
type Config struct {
	Workload string
	Messages int // none: 100,000; bundles: 1,000,000; single: 20,000; steady: Rate × Duration, not settable
	Chats    int // none, steady and single: 1,000; bundles: 100,000
	Clients  int // concurrent ingest clients: 4; single: 64
	Batch    int // messages per request, 1 to 1000 (1 uses POST /api/v1/messages): 1000; steady: 10; single: 1, not settable
	Rate     int // steady: messages per second, 1,000
	Duration time.Duration
	// Endpoints is how many endpoints get every message (1: outbound
	// alone). The others are in the event format, or with bundles in the
	// seed format at 1h, each with a URL of its own at the receiver.
	Endpoints int
	// NATS, when set, is a NATS server with JetStream
	// (nats://[user:pass@]host:port) and makes the last endpoint, of 2
	// or more, a NATS endpoint: the run creates a stream of its own on
	// that server, reads it into the tally, and deletes it at the end.
	NATS string
	// DB is the --db of the service: "" makes a fresh SQLite file in a
	// temporary folder. Any other must be empty: the run adds a workspace
	// and expects every message it sends to be new.
	DB string
	// Timeout ends the wait for deliveries once nothing new arrived for
	// this long (60s); what has not arrived by then is lost.
	Timeout time.Duration
	// NoLoopback skips the loopback ceiling; LoopbackFor is how long it is
	// measured, after a warm-up of a sixth of that (3s).
	NoLoopback  bool
	LoopbackFor time.Duration
	// CPUProfile, when set, is passed to the service as its --cpu-profile:
	// the service writes its CPU profile there when it stops.
	CPUProfile string
	// Executable is the chathook binary to run; "" is this one.
	Executable string
	Logger     *slog.Logger // progress
	ServiceLog io.Writer    // the service's own log lines
}

// WithDefaults fills in the workload's defaults and checks the result.
func (c Config) WithDefaults() (Config, error) {
	def := func(p *int, v int) {
		if *p == 0 {
			*p = v
		}
	}
	switch c.Workload {
	case None:
		def(&c.Messages, 100_000)
		def(&c.Chats, 1_000)
	case Steady:
		if c.Messages != 0 {
			return c, errors.New("the steady workload sends --rate messages a second for --duration; --messages does not apply")
		}
		def(&c.Rate, 1_000)
		if c.Duration == 0 {
			c.Duration = time.Minute
		}
		c.Messages = int(math.Round(float64(c.Rate) * c.Duration.Seconds()))
		def(&c.Chats, 1_000)
		def(&c.Batch, 10)
	case Bundles:
		def(&c.Messages, 1_000_000)
		def(&c.Chats, 100_000)
	case Single:
		if c.Batch > 1 {
			return c, errors.New("the single workload posts one message a request; --batch does not apply")
		}
		def(&c.Messages, 20_000)
		def(&c.Chats, 1_000)
		def(&c.Clients, 64)
		def(&c.Batch, 1)
	default:
		return c, fmt.Errorf("--workload %q: one of none, steady, bundles, single", c.Workload)
	}
	def(&c.Clients, 4)
	def(&c.Batch, 1_000)
	def(&c.Endpoints, 1)
	c.Clients = min(c.Clients, c.Chats) // a client with no chat would send nothing
	if c.Timeout == 0 {
		c.Timeout = time.Minute
	}
	if c.LoopbackFor == 0 {
		c.LoopbackFor = 3 * time.Second
	}
	switch {
	case c.Messages < 1 || c.Chats < 1 || c.Clients < 1 || c.Rate < 0 || c.Timeout < 0:
		return c, errors.New("--messages, --chats, --clients, --rate and --timeout must be positive")
	case c.LoopbackFor < 0:
		return c, errors.New("the loopback ceiling's duration must be positive")
	case c.Endpoints < 1 || c.Endpoints > 20:
		return c, fmt.Errorf("--endpoints %d: from 1 to 20, the most a workspace has", c.Endpoints)
	case c.Batch < 1 || c.Batch > 1000:
		return c, fmt.Errorf("--batch %d: from 1 to 1000, the most a batch request holds", c.Batch)
	}
	if c.NATS != "" {
		if c.Endpoints < 2 {
			return c, errors.New("--nats makes the last endpoint a NATS endpoint, beside outbound: give --endpoints 2 or more")
		}
		if err := checkNATS(c.NATS); err != nil {
			return c, err
		}
	}
	if _, err := dbKind(c.DB); c.DB != "" && err != nil {
		return c, err
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.ServiceLog == nil {
		c.ServiceLog = io.Discard
	}
	return c, nil
}

func dbKind(db string) (string, error) {
	switch {
	case strings.HasPrefix(db, "sqlite:"):
		return "sqlite", nil
	case strings.HasPrefix(db, "postgres://"), strings.HasPrefix(db, "postgresql://"):
		return "postgres", nil
	}
	// Not %q of db: a mistyped PostgreSQL URL may hold a password.
	return "", errors.New("--db: use sqlite:<path> or postgres://user:password@host:port/database")
}

// clock stamps events in nanoseconds since a run began; never 0, which
// the tally keeps for "not yet".
type clock struct{ start time.Time }

func (c clock) now() int64 { return max(1, int64(time.Since(c.start))) }

// Run performs one run. An error means the run could not be made (the
// service did not start, an ingest request failed); a run that was made
// returns its Report, whose Failures say what went wrong in the service.
func Run(ctx context.Context, cfg Config) (Report, error) {
	cfg, err := cfg.WithDefaults()
	if err != nil {
		return Report{}, err
	}
	if cfg.Executable == "" {
		if cfg.Executable, err = os.Executable(); err != nil {
			return Report{}, err
		}
	}
	if cfg.DB == "" {
		dir, err := os.MkdirTemp("", "chathook-bench-")
		if err != nil {
			return Report{}, err
		}
		defer os.RemoveAll(dir)
		cfg.DB = "sqlite:" + filepath.Join(dir, "bench.db")
	}
	kind, _ := dbKind(cfg.DB)
	log := cfg.Logger
	log.Info("bench: starting", "workload", cfg.Workload, "messages", cfg.Messages, "chats", cfg.Chats, "clients", cfg.Clients,
		"batch", cfg.Batch, "db", kind)
	p := plan{messages: cfg.Messages, chats: cfg.Chats, clients: cfg.Clients, batch: cfg.Batch}

	// The ceiling first, while nothing else of the run is running.
	var loop *ceiling
	if !cfg.NoLoopback {
		// One message a POST, whatever the run's batch: every POST of the
		// delivery side carries one message, so this is that side's
		// ceiling, and batches are measured against it too.
		one := p
		one.batch = 1
		loop = &ceiling{clients: cfg.Clients, path: one.path(), body: one.body(p.share(0)[:1]),
			warmUp: cfg.LoopbackFor / 6, measure: cfg.LoopbackFor}
		log.Info("bench: measuring the loopback ceiling", "clients", loop.clients, "body_bytes", len(loop.body),
			"seconds", loop.measure.Seconds())
		if err := loop.run(ctx, log); err != nil {
			return Report{}, err
		}
		log.Info("bench: loopback ceiling", "posts_per_s", math.Round(loop.postsPerS), "connections", loop.conns)
	}

	token, err := createWorkspace(ctx, cfg.Executable, cfg.DB)
	if err != nil {
		return Report{}, err
	}
	svc, err := startService(ctx, cfg.Executable, cfg.DB, cfg.CPUProfile, cfg.ServiceLog)
	if err != nil {
		return Report{}, err
	}
	stopped := false
	defer func() {
		if !stopped {
			_ = svc.stop(30 * time.Second)
		}
	}()
	clk := clock{start: time.Now()}
	t := newTally(p, cfg.Endpoints)
	sk, err := startSink(t, clk, log)
	if err != nil {
		return Report{}, err
	}
	defer sk.close()

	a := newAPI(svc.URL, token, cfg.Clients+1)
	granularity := "none"
	if cfg.Workload == Bundles {
		granularity = "1h"
	}
	setting := fmt.Sprintf(`{"url":%q,"enabled":true,"granularity":%q}`, sk.URL, granularity)
	if err := a.call(ctx, http.MethodPut, "/api/v1/webhooks/outbound", []byte(setting), http.StatusOK, nil); err != nil {
		return Report{}, err
	}
	var ns *natsSink
	if cfg.NATS != "" {
		if ns, err = startNATSSink(ctx, cfg.NATS, t, clk, log); err != nil {
			return Report{}, err
		}
		defer ns.close()
	}
	eps := []endpoint{{id: "outbound", target: "http", format: "seed"}}
	for k := 1; k < cfg.Endpoints; k++ {
		e := endpoint{target: "http", format: "event"}
		url := sk.base + endpointPath(k)
		if ns != nil && k == cfg.Endpoints-1 {
			e.target, url = "nats", ns.endpointURL(k)
		}
		add := fmt.Sprintf(`{"url":%q,"events":["message:new"],"format":"event"}`, url)
		if cfg.Workload == Bundles {
			e.format = "seed"
			add = fmt.Sprintf(`{"url":%q,"events":["message:new"],"format":"seed","granularity":"1h"}`, url)
		}
		var created struct{ ID string }
		if err := a.call(ctx, http.MethodPost, "/api/v1/webhooks", []byte(add), http.StatusCreated, &created); err != nil {
			// The answer may quote the URL: the API redacts it, as it must.
			return Report{}, fmt.Errorf("add endpoint %d: %w", k+1, err)
		}
		e.id = created.ID
		eps = append(eps, e)
		log.Info("bench: endpoint added", "endpoint", e.id, "target", e.target, "format", e.format)
	}

	l := &loader{plan: p, api: a, clock: clk, logger: log}
	if cfg.Workload == Steady {
		l.rate = float64(cfg.Rate)
	}
	ing, err := l.run(ctx)
	if err != nil {
		return Report{}, fmt.Errorf("ingest: %w", err)
	}
	log.Info("bench: ingested", "messages", p.messages, "seconds", secs(ing.last-ing.first))
	latencyFrom := func(i int) int64 { return l.ackAt[i] }
	var flushAt int64
	if cfg.Workload == Bundles {
		if flushAt, err = flush(ctx, a, eps, p.messages, log, clk); err != nil {
			return Report{}, err
		}
		latencyFrom = func(int) int64 { return flushAt }
	}
	if err := waitForDeliveries(ctx, t, p.messages*cfg.Endpoints, cfg.Timeout, log); err != nil {
		return Report{}, err
	}

	peak, peakErr := svc.peakRSS()
	if peakErr != nil {
		log.Warn("bench: peak memory unknown", "err", peakErr)
	}
	stopErr := svc.stop(30 * time.Second)
	stopped = true
	r := report(cfg, kind, t, ing, flushAt, latencyFrom)
	r.setLoopback(loop)
	r.setEndpoints(eps, t, ing, latencyFrom)
	r.StartedAt = clk.start.UTC().Format(time.RFC3339)
	r.ServiceCPUSeconds = math.Round(svc.cpu().Seconds()*100) / 100
	if peakErr == nil {
		peak = math.Round(peak*10) / 10
		r.PeakRSSMiB = &peak
	}
	if stopErr != nil {
		r.Failures = append(r.Failures, stopErr.Error())
	} else if cfg.CPUProfile != "" {
		log.Info("bench: the service's CPU profile", "file", cfg.CPUProfile, "pprof", "go tool pprof -top "+cfg.CPUProfile)
	}
	done := []any{"delivered_per_s", r.DeliveredPerS, "ingested_per_s", r.IngestedPerS}
	if r.FractionOfLoopback != nil {
		done = append(done, "loopback_posts_per_s", *r.LoopbackPostsPerS, "fraction_of_loopback", *r.FractionOfLoopback)
	}
	log.Info("bench: done", done...)
	return r, nil
}

// flush sends POST /api/v1/webhooks/{id}/flush for each endpoint, one
// after the other, and returns when the first was sent. The service
// answers once every bundle is queued; deliveries start while it works.
func flush(ctx context.Context, a *api, eps []endpoint, want int, log *slog.Logger, clk clock) (int64, error) {
	log.Info("bench: flushing bundles")
	at := clk.now()
	for _, e := range eps {
		id := e.id
		var out struct{ Bundles, Messages int }
		if err := a.call(ctx, http.MethodPost, "/api/v1/webhooks/"+id+"/flush", nil, http.StatusOK, &out); err != nil {
			return 0, err
		}
		log.Info("bench: flush answered", "endpoint", id, "bundles", out.Bundles, "messages", out.Messages, "seconds", secs(clk.now()-at))
		if out.Messages != want {
			// An hour's boundary (UTC) passed during the ingest: the service
			// bundled that window by itself, before the flush.
			log.Warn("bench: the flush bundled fewer messages than were sent; a window ended during the run",
				"flushed", out.Messages, "sent", want)
		}
	}
	return at, nil
}

// waitForDeliveries returns when want messages were delivered, or when
// none arrived for idle.
func waitForDeliveries(ctx context.Context, t *tally, want int, idle time.Duration, log *slog.Logger) error {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	seen, changed, logged := -1, time.Now(), time.Now()
	for {
		c := t.counts()
		if c.delivered >= want {
			return nil
		}
		if c.delivered != seen {
			seen, changed = c.delivered, time.Now()
		}
		if time.Since(changed) > idle {
			log.Warn("bench: giving up waiting", "delivered", c.delivered, "of", want, "idle", idle)
			return nil
		}
		if time.Since(logged) >= 5*time.Second {
			log.Info("bench: delivering", "delivered", c.delivered, "of", want)
			logged = time.Now()
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.progress:
		case <-tick.C:
		}
	}
}
