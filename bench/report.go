package bench

import (
	"fmt"
	"math"
	"runtime"
	"slices"
)

// Report is the JSON object a run prints.
type Report struct {
	Workload string `json:"workload"`
	DB       string `json:"db"` // sqlite or postgres
	Messages int    `json:"messages"`
	Chats    int    `json:"chats"`
	Clients  int    `json:"clients"`
	Batch    int    `json:"batch"`
	Rate     int    `json:"rate,omitempty"` // steady: the paced rate asked for
	// Endpoints is how many endpoints got every message; with more than
	// one, Delivered, Lost and the rates count a message once per
	// endpoint.
	Endpoints int `json:"endpoints"`

	// PerEndpoint is each endpoint's share, outbound first: which kind
	// of receiver it was (with --nats, the last is a NATS endpoint) and
	// how fast its messages arrived.
	PerEndpoint []EndpointFigures `json:"per_endpoint"`

	Sent            int `json:"sent"`      // accepted by the ingest API
	Delivered       int `json:"delivered"` // distinct messages that reached the sink, per endpoint
	Duplicated      int `json:"duplicated"`
	Lost            int `json:"lost"`
	OrderViolations int `json:"order_violations"`
	Unexpected      int `json:"unexpected"`    // message ids never sent, or POSTs that were not a payload
	WebhookPosts    int `json:"webhook_posts"` // POSTs the sink received, and messages the NATS consumer read

	IngestSeconds    float64  `json:"ingest_seconds"` // the clients started → last 202 read
	IngestedPerS     float64  `json:"ingested_per_s"`
	EndToEndSeconds  float64  `json:"end_to_end_seconds"` // the clients started → last message received
	DeliveredPerS    float64  `json:"delivered_per_s"`
	FlushSeconds     *float64 `json:"flush_seconds,omitempty"` // bundles: flush request sent → last message received
	FlushDeliveredPS *float64 `json:"flush_delivered_per_s,omitempty"`

	LatencyFrom string      `json:"latency_from"` // "ingest_202" or "flush_request"
	LatencyMS   Percentiles `json:"latency_ms"`   // → the POST carrying the message reached the sink
	PeakRSSMiB  *float64    `json:"peak_rss_mib"` // the service's VmHWM; null where /proc has none
	// ServiceCPUSeconds is the CPU time (user + system) the service used
	// from its start to its exit; the rest of the machine's went to this
	// process (clients and receiver) and to the kernel's disk work.
	ServiceCPUSeconds float64 `json:"service_cpu_seconds"`

	// LoopbackPostsPerS is the loopback ceiling, measured before the
	// service started: POSTs a second that a bare net/http client and
	// server in the bench's process reach with Clients concurrent clients
	// and bodies of LoopbackBodyBytes (one of the run's messages, alone).
	// FractionOfLoopback is DeliveredPerS / LoopbackPostsPerS, the figure
	// to compare between machines. Both null with --loopback=false.
	LoopbackPostsPerS  *float64 `json:"loopback_posts_per_s"`
	LoopbackBodyBytes  int      `json:"loopback_body_bytes,omitempty"`
	FractionOfLoopback *float64 `json:"fraction_of_loopback"`

	StartedAt string   `json:"started_at"`
	CPUs      int      `json:"cpus"`
	Failures  []string `json:"failures"` // empty when the run passed
}

func report(cfg Config, kind string, t *tally, ing ingested, flushAt int64, from func(int) int64) Report {
	c := t.counts()
	r := Report{
		Workload: cfg.Workload, DB: kind, Messages: cfg.Messages, Chats: cfg.Chats, Clients: cfg.Clients, Batch: cfg.Batch,
		Endpoints: max(1, cfg.Endpoints),
		Sent:      ing.sent, Delivered: c.delivered, Duplicated: c.duplicated, Lost: ing.sent*max(1, cfg.Endpoints) - c.delivered,
		OrderViolations: c.outOfOrder, Unexpected: c.unexpected, WebhookPosts: c.posts,
		IngestSeconds: secs(ing.last - ing.first), IngestedPerS: perS(ing.sent, ing.last-ing.first),
		EndToEndSeconds: secs(c.last - ing.first), DeliveredPerS: perS(c.delivered, c.last-ing.first),
		LatencyFrom: "ingest_202", LatencyMS: percentiles(t.latencies(from)),
		CPUs: runtime.NumCPU(), Failures: []string{}, PerEndpoint: []EndpointFigures{},
	}
	if cfg.Workload == Steady {
		r.Rate = cfg.Rate
	}
	if cfg.Workload == Bundles {
		fs, fps := secs(c.last-flushAt), perS(c.delivered, c.last-flushAt)
		r.FlushSeconds, r.FlushDeliveredPS, r.LatencyFrom = &fs, &fps, "flush_request"
	}
	r.Failures = append(r.Failures, failures(r)...)
	return r
}

// EndpointFigures are one endpoint's figures in a Report.
type EndpointFigures struct {
	ID            string      `json:"id"`     // "outbound", or the ep_… the API gave it
	Target        string      `json:"target"` // "http" or "nats"
	Format        string      `json:"format"` // "seed" or "event"
	Delivered     int         `json:"delivered"`
	Lost          int         `json:"lost"`
	DeliveredPerS float64     `json:"delivered_per_s"` // the clients started → its last message arrived
	LatencyMS     Percentiles `json:"latency_ms"`
}

// endpoint is what the run made of one endpoint.
type endpoint struct{ id, target, format string }

// setEndpoints adds each endpoint's figures from the tally.
func (r *Report) setEndpoints(eps []endpoint, t *tally, ing ingested, from func(int) int64) {
	r.PerEndpoint = []EndpointFigures{}
	for k, e := range eps {
		delivered, last, lat := t.endpoint(k, from)
		r.PerEndpoint = append(r.PerEndpoint, EndpointFigures{ID: e.id, Target: e.target, Format: e.format,
			Delivered: delivered, Lost: ing.sent - delivered, DeliveredPerS: perS(delivered, last-ing.first), LatencyMS: percentiles(lat)})
	}
}

// setLoopback adds the ceiling c, if it was measured, and the fraction of
// it the run delivered, from the rounded figures the report shows.
func (r *Report) setLoopback(c *ceiling) {
	if c == nil {
		return
	}
	posts := math.Round(c.postsPerS)
	r.LoopbackPostsPerS, r.LoopbackBodyBytes = &posts, len(c.body)
	if posts > 0 {
		f := math.Round(r.DeliveredPerS/posts*1000) / 1000
		r.FractionOfLoopback = &f
	}
}

// failures says which of the counts that must be zero are not.
func failures(r Report) []string {
	var out []string
	for _, f := range []struct {
		n    int
		what string
	}{{r.Lost, "messages lost"}, {r.Duplicated, "messages delivered again"}, {r.OrderViolations, "messages delivered after a later one of their chat"},
		{r.Unexpected, "deliveries of messages never sent"}} {
		if f.n != 0 {
			out = append(out, fmt.Sprintf("%s: %d", f.what, f.n))
		}
	}
	return out
}

func secs(ns int64) float64 { return math.Round(float64(ns)/1e6) / 1e3 }

func perS(n int, ns int64) float64 {
	if ns <= 0 {
		return 0
	}
	return math.Round(float64(n) / (float64(ns) / 1e9))
}

// Percentiles of a latency distribution, in milliseconds.
type Percentiles struct {
	P50 float64 `json:"p50"`
	P95 float64 `json:"p95"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
}

// percentiles uses the nearest-rank method: the p-th percentile is the
// smallest value that at least p% of the values are at or below. It sorts
// ns in place. No values give zeros.
func percentiles(ns []int64) Percentiles {
	if len(ns) == 0 {
		return Percentiles{}
	}
	slices.Sort(ns)
	rank := func(p int) float64 {
		k := (p*len(ns) + 99) / 100 // ceil(p/100 * n), 1-based
		return ms(ns[max(k, 1)-1])
	}
	return Percentiles{P50: rank(50), P95: rank(95), P99: rank(99), Max: ms(ns[len(ns)-1])}
}

// ms turns nanoseconds into milliseconds with microsecond precision.
func ms(ns int64) float64 { return float64(ns/1000) / 1000 }
