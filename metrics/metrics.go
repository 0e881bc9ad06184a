// Package metrics is chathook's Prometheus metrics: what the service
// counts as it runs, and what waits in its database, read at each scrape.
//
// Every metric is over the whole service: no label names a workspace, a
// chat or anything else that grows with use, so the number of series is
// bounded by the code (routes, outcomes), not by the data. Each Set has a
// registry of its own, so several services can run in one process.
package metrics

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/deliver"
	"github.com/chathook/chathook/store"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// ScrapeTimeout bounds the database read of a scrape: a database too slow
// to answer gives a scrape without the backlog's metrics, not a hung one.
const ScrapeTimeout = 3 * time.Second

// Set is one service's metrics. Its methods are safe for concurrent use
// and cost a few atomic adds: they are on the hot path.
type Set struct {
	reg    *prometheus.Registry
	logger *slog.Logger

	ingested    *prometheus.CounterVec
	accepted    prometheus.Counter // ingested's series, looked up once
	duplicate   prometheus.Counter
	skipped     prometheus.Counter
	deliveries  *prometheus.CounterVec
	attempt     *prometheus.HistogramVec
	latency     *prometheus.HistogramVec
	flush       prometheus.Histogram
	bundled     *prometheus.CounterVec
	requests    *prometheus.CounterVec
	requestTime *prometheus.HistogramVec
	mediaFiles  prometheus.Counter
	mediaBytes  prometheus.Counter
	mediaFailed prometheus.Counter
	mediaGone   prometheus.Counter
}

// New returns the metrics of a service on st, with Go's runtime and the
// process's collectors.
func New(st store.Store, logger *slog.Logger) *Set {
	s := &Set{reg: prometheus.NewRegistry(), logger: logger}
	s.ingested = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "chathook_messages_ingested_total",
		Help: "Messages ingested, from the API and every source, by status: accepted, duplicate or skipped.",
	}, []string{"status"})
	s.deliveries = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "chathook_delivery_attempts_total",
		Help: "Delivery attempts recorded, by kind (message, bundle) and outcome: delivered, retrying (failed, will be tried again) or failed (failed for good).",
	}, []string{"kind", "outcome"})
	s.attempt = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "chathook_delivery_attempt_duration_seconds",
		Help:    "How long one POST to a webhook took, connect to last byte, by kind and outcome.",
		Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 15, 30},
	}, []string{"kind", "outcome"})
	s.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "chathook_delivery_latency_seconds",
		Help: "From ready to delivered, retries included: a message from its ingest, a bundle from the end of its window.",
		Buckets: []float64{.05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300, 900, 1800, 3600, 4 * 3600, 12 * 3600, 24 * 3600,
			48 * 3600},
	}, []string{"kind"})
	s.flush = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "chathook_bundle_flush_duration_seconds",
		Help:    "How long flushing one workspace's ended windows (or a flush asked for) into bundle deliveries took.",
		Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
	})
	s.bundled = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "chathook_bundled_total",
		Help: "What bundle flushes queued: what=bundles (deliveries) or what=messages (in them).",
	}, []string{"what"})
	s.mediaFiles = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "chathook_media_stored_total",
		Help: "Attachments downloaded from WhatsApp and stored.",
	})
	s.mediaBytes = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "chathook_media_stored_bytes_total",
		Help: "Bytes of the attachments stored.",
	})
	s.mediaFailed = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "chathook_media_downloads_failed_total",
		Help: "Attachments whose download failed for good (too large, gone from WhatsApp, no access token, retries spent); their messages are sent with the error.",
	})
	s.mediaGone = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "chathook_media_deleted_total",
		Help: "Stored attachments the sweeper deleted when their retention (--media-retention) ended.",
	})
	s.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "chathook_http_requests_total",
		Help: "HTTP requests answered, by route (the pattern that matched, e.g. POST /api/v1/messages) and status code.",
	}, []string{"route", "code"})
	s.requestTime = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "chathook_http_request_duration_seconds",
		Help:    "How long answering an HTTP request took, body and streamed downloads included, by route.",
		Buckets: prometheus.DefBuckets,
	}, []string{"route"})
	// Every series exists from the start, at 0, so that rate() sees the
	// first increase.
	s.accepted = s.ingested.WithLabelValues(string(chathook.Accepted))
	s.duplicate = s.ingested.WithLabelValues(string(chathook.Duplicate))
	s.skipped = s.ingested.WithLabelValues(string(chathook.Skipped))
	for _, kind := range []string{chathook.KindMessage, chathook.KindBundle} {
		for _, out := range []string{chathook.StateDelivered, chathook.StateRetrying, chathook.StateFailed} {
			s.deliveries.WithLabelValues(kind, out)
		}
	}
	s.bundled.WithLabelValues("bundles")
	s.bundled.WithLabelValues("messages")
	s.reg.MustRegister(s.ingested, s.deliveries, s.attempt, s.latency, s.flush, s.bundled, s.requests, s.requestTime,
		s.mediaFiles, s.mediaBytes, s.mediaFailed, s.mediaGone,
		&backlog{st: st, logger: logger}, &pools{st: st},
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return s
}

// Handler serves the metrics in Prometheus's text format. A collector
// that fails (the database did not answer) leaves its metrics out and
// the rest are served; the failure is logged.
func (s *Set) Handler() http.Handler {
	return promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{
		ErrorHandling: promhttp.ContinueOnError,
		ErrorLog:      slog.NewLogLogger(s.logger.Handler(), slog.LevelWarn),
	})
}

// Registry is the registry the metrics are in, for tests to gather.
func (s *Set) Registry() *prometheus.Registry { return s.reg }

// Ingested counts the answers of one Ingest.
func (s *Set) Ingested(results []chathook.IngestResult) {
	var accepted, duplicate, skipped int
	for _, r := range results {
		switch r.Status {
		case chathook.Accepted:
			accepted++
		case chathook.Duplicate:
			duplicate++
		case chathook.Skipped:
			skipped++
		}
	}
	s.accepted.Add(float64(accepted))
	s.duplicate.Add(float64(duplicate))
	s.skipped.Add(float64(skipped))
}

// Recorded counts an attempt the store recorded: see deliver.Config.Recorded.
func (s *Set) Recorded(r deliver.Recorded) {
	outcome := chathook.StateDelivered
	switch {
	case !r.OK() && r.RetryAt.IsZero():
		outcome = chathook.StateFailed
	case !r.OK():
		outcome = chathook.StateRetrying
	}
	s.deliveries.WithLabelValues(r.Kind, outcome).Inc()
	s.attempt.WithLabelValues(r.Kind, outcome).Observe(r.Duration.Seconds())
	if r.OK() && !r.Ready.IsZero() {
		// A bundle flushed before its window's end was ready when flushed,
		// which is not known here: it counts as no wait.
		s.latency.WithLabelValues(r.Kind).Observe(max(0, r.At.Add(r.Duration).Sub(r.Ready).Seconds()))
	}
}

// Flushed counts a bundle flush: see bundle.Config.Flushed.
func (s *Set) Flushed(took time.Duration, bundles, messages int) {
	s.flush.Observe(took.Seconds())
	s.bundled.WithLabelValues("bundles").Add(float64(bundles))
	s.bundled.WithLabelValues("messages").Add(float64(messages))
}

// Request counts an HTTP request answered under route with code.
func (s *Set) Request(route string, code int, took time.Duration) {
	s.requests.WithLabelValues(route, strconv.Itoa(code)).Inc()
	s.requestTime.WithLabelValues(route).Observe(took.Seconds())
}

// backlog reads store.Backlog at each scrape.
type backlog struct {
	st     store.Store
	logger *slog.Logger
}

var (
	deliveriesWaiting = prometheus.NewDesc("chathook_deliveries_waiting",
		"Deliveries waiting to be sent, every workspace together: due, in flight, waiting for a retry or for a disabled webhook.", nil, nil)
	oldestWaiting = prometheus.NewDesc("chathook_deliveries_oldest_waiting_seconds",
		"How long ago the oldest delivery still waiting was queued; 0 when none waits.", nil, nil)
	emailsWaiting = prometheus.NewDesc("chathook_emails_waiting",
		"Owner emails waiting in the outbox to be sent or tried again.", nil, nil)
	webhooksDisabled = prometheus.NewDesc("chathook_webhooks_disabled",
		"Webhooks disabled now, by who: failures (automatically, after too many failed attempts in a row) or user.", []string{"by"}, nil)
	backlogFailed = prometheus.NewDesc("chathook_backlog_read_errors",
		"1 when this scrape could not read the backlog from the database (its metrics are then missing), else 0.", nil, nil)
)

func (b *backlog) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{deliveriesWaiting, oldestWaiting, emailsWaiting, webhooksDisabled, backlogFailed} {
		ch <- d
	}
}

func (b *backlog) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), ScrapeTimeout)
	defer cancel()
	bl, err := b.st.Backlog(ctx)
	if err != nil {
		b.logger.Warn("metrics: read the backlog", "err", err)
		ch <- prometheus.MustNewConstMetric(backlogFailed, prometheus.GaugeValue, 1)
		return
	}
	ch <- prometheus.MustNewConstMetric(backlogFailed, prometheus.GaugeValue, 0)
	age := 0.0
	if !bl.OldestDelivery.IsZero() {
		age = max(0, time.Since(bl.OldestDelivery).Seconds())
	}
	ch <- prometheus.MustNewConstMetric(deliveriesWaiting, prometheus.GaugeValue, float64(bl.Deliveries))
	ch <- prometheus.MustNewConstMetric(oldestWaiting, prometheus.GaugeValue, age)
	ch <- prometheus.MustNewConstMetric(emailsWaiting, prometheus.GaugeValue, float64(bl.Emails))
	ch <- prometheus.MustNewConstMetric(webhooksDisabled, prometheus.GaugeValue, float64(bl.DisabledByFailures), "failures")
	ch <- prometheus.MustNewConstMetric(webhooksDisabled, prometheus.GaugeValue, float64(bl.DisabledByUser), "user")
}

// pools reports store.Pools, as database/sql's DBStats collector does,
// and the totals of Ingest's group commit: both are read without a query.
type pools struct{ st store.Store }

var (
	poolMax    = prometheus.NewDesc("chathook_db_connections_max", "The most connections the pool may open (0: no limit).", []string{"pool"}, nil)
	poolOpen   = prometheus.NewDesc("chathook_db_connections_open", "Connections open, in use or idle.", []string{"pool"}, nil)
	poolInUse  = prometheus.NewDesc("chathook_db_connections_in_use", "Connections in use.", []string{"pool"}, nil)
	poolIdle   = prometheus.NewDesc("chathook_db_connections_idle", "Connections idle.", []string{"pool"}, nil)
	poolWaits  = prometheus.NewDesc("chathook_db_waits_total", "Times a caller waited for a connection of the pool.", []string{"pool"}, nil)
	poolWaited = prometheus.NewDesc("chathook_db_wait_seconds_total", "Time spent waiting for a connection of the pool.", []string{"pool"}, nil)

	// Group commit (store.Metrics.IngestStats): calls per transaction is
	// how much concurrent ingest shares each wait for the disk.
	ingestTx      = prometheus.NewDesc("chathook_ingest_transactions_total", "Ingest transactions written (group commit: each holds every ingest call that waited for it).", nil, nil)
	ingestCalls   = prometheus.NewDesc("chathook_ingest_calls_total", "Ingest calls (API requests, source events) written, in those transactions.", nil, nil)
	ingestRetried = prometheus.NewDesc("chathook_ingest_calls_retried_total", "Ingest calls written again on their own because their group's transaction failed.", nil, nil)
)

func (p *pools) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{poolMax, poolOpen, poolInUse, poolIdle, poolWaits, poolWaited, ingestTx, ingestCalls, ingestRetried} {
		ch <- d
	}
}

func (p *pools) Collect(ch chan<- prometheus.Metric) {
	for name, st := range p.st.Pools() {
		ch <- prometheus.MustNewConstMetric(poolMax, prometheus.GaugeValue, float64(st.MaxOpenConnections), name)
		ch <- prometheus.MustNewConstMetric(poolOpen, prometheus.GaugeValue, float64(st.OpenConnections), name)
		ch <- prometheus.MustNewConstMetric(poolInUse, prometheus.GaugeValue, float64(st.InUse), name)
		ch <- prometheus.MustNewConstMetric(poolIdle, prometheus.GaugeValue, float64(st.Idle), name)
		ch <- prometheus.MustNewConstMetric(poolWaits, prometheus.CounterValue, float64(st.WaitCount), name)
		ch <- prometheus.MustNewConstMetric(poolWaited, prometheus.CounterValue, st.WaitDuration.Seconds(), name)
	}
	in := p.st.IngestStats()
	ch <- prometheus.MustNewConstMetric(ingestTx, prometheus.CounterValue, float64(in.Groups))
	ch <- prometheus.MustNewConstMetric(ingestCalls, prometheus.CounterValue, float64(in.Calls))
	ch <- prometheus.MustNewConstMetric(ingestRetried, prometheus.CounterValue, float64(in.Retried))
}

// MediaStored counts an attachment stored, of n bytes.
func (s *Set) MediaStored(n int64) {
	s.mediaFiles.Inc()
	s.mediaBytes.Add(float64(n))
}

// MediaFailed counts an attachment whose download failed for good.
func (s *Set) MediaFailed() { s.mediaFailed.Inc() }

// MediaDeleted counts attachments deleted by the sweeper.
func (s *Set) MediaDeleted(n int) { s.mediaGone.Add(float64(n)) }
