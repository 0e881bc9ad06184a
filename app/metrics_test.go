package app_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chathook/chathook/app"
	"github.com/chathook/chathook/chathooktest"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// TestMetricsMove runs a service with metrics on, makes it ingest,
// deliver (after a retry and a failure for good), bundle, refuse a
// request and wait on a disabled webhook, and reads each of these back
// from /metrics over HTTP. Both stores run in one process, each service
// with its own registry.
func TestMetricsMove(t *testing.T) { onEveryStore(t, testMetricsMove) }

func testMetricsMove(t *testing.T, db string) {
	svc := chathooktest.Start(t, chathooktest.Options{DB: db, Config: app.Config{
		MetricsAddr: "127.0.0.1:0", RetrySchedule: []time.Duration{time.Millisecond},
	}})
	if svc.MetricsURL == "" {
		t.Fatal("no metrics URL with a metrics address")
	}
	ws := svc.NewWorkspace(t, "acme")
	sink := chathooktest.NewSink(t)
	// The first message fails twice: retrying, then failed for good (the
	// schedule has one retry); the second gets through.
	sink.Respond = func(n int, r *http.Request) int {
		if n <= 2 {
			return http.StatusInternalServerError
		}
		return http.StatusNoContent
	}
	ws.PointAt(t, sink.URL)
	second := strings.Replace(received, "3EB0C767D26A1D2D", "SECOND", 1)
	photo := strings.Replace(strings.Replace(received, `"text": "Hi! 👋"`,
		`"text": "", "attachments": [{"type": "image", "url": "https://files.example/1.jpg"}]`, 1), "3EB0C767D26A1D2D", "PHOTO", 1)
	ws.Post(t, received, second, received, photo)
	if status, _ := chathooktest.Do(t, http.MethodPost, svc.URL+"/api/v1/messages", "chk_wrong", received); status != http.StatusUnauthorized {
		t.Fatalf("a wrong token: %d", status)
	}

	var m metricSet
	// A scrape gathers the counter and the histograms one after the
	// other, and may fall between the updates of one attempt: wait for all.
	chathooktest.Eventually(t, "the delivered attempt counted", func() bool {
		m = scrape(t, svc.MetricsURL)
		return m.value("chathook_delivery_attempts_total", "kind", "message", "outcome", "delivered") == 1 &&
			m.value("chathook_delivery_attempt_duration_seconds", "kind", "message", "outcome", "delivered") == 1 &&
			m.value("chathook_delivery_latency_seconds", "kind", "message") == 1
	})
	m.want(t, 2, "chathook_messages_ingested_total", "status", "accepted")
	m.want(t, 1, "chathook_messages_ingested_total", "status", "duplicate")
	m.want(t, 1, "chathook_messages_ingested_total", "status", "skipped")
	m.want(t, 1, "chathook_delivery_attempts_total", "kind", "message", "outcome", "retrying")
	m.want(t, 1, "chathook_delivery_attempts_total", "kind", "message", "outcome", "failed")
	m.want(t, 0, "chathook_delivery_attempts_total", "kind", "bundle", "outcome", "delivered")
	m.want(t, 1, "chathook_delivery_attempt_duration_seconds", "kind", "message", "outcome", "delivered")
	m.want(t, 1, "chathook_delivery_latency_seconds", "kind", "message")
	m.want(t, 1, "chathook_http_requests_total", "route", "/api/v1/messages", "code", "401")
	m.want(t, 1, "chathook_http_requests_total", "route", "/api/v1/messages/batch", "code", "202")
	m.want(t, 0, "chathook_deliveries_waiting")
	m.want(t, 0, "chathook_deliveries_oldest_waiting_seconds")
	m.want(t, 0, "chathook_backlog_read_errors")
	m.want(t, 1, "chathook_ingest_calls_total") // the one batch request, alone in its transaction
	m.want(t, 1, "chathook_ingest_transactions_total")
	m.want(t, 0, "chathook_ingest_calls_retried_total")
	for _, name := range []string{"chathook_db_connections_open", "go_goroutines", "process_cpu_seconds_total"} {
		if len(m[name].GetMetric()) == 0 {
			t.Errorf("%s missing", name)
		}
	}

	// A bundle, flushed on demand.
	if status, body := ws.Do(t, http.MethodPut, "/api/v1/webhooks/outbound", map[string]any{"granularity": "1h"}); status != http.StatusOK {
		t.Fatalf("granularity: %d %s", status, body)
	}
	ws.Post(t, strings.Replace(received, "3EB0C767D26A1D2D", "THIRD", 1))
	if status, body := ws.Do(t, http.MethodPost, "/api/v1/webhooks/outbound/flush", nil); status != http.StatusOK && status != http.StatusAccepted {
		t.Fatalf("flush: %d %s", status, body)
	}
	chathooktest.Eventually(t, "the bundle counted", func() bool {
		m = scrape(t, svc.MetricsURL)
		return m.value("chathook_delivery_attempts_total", "kind", "bundle", "outcome", "delivered") == 1
	})
	m.want(t, 1, "chathook_bundled_total", "what", "bundles")
	m.want(t, 1, "chathook_bundled_total", "what", "messages")
	if m.value("chathook_bundle_flush_duration_seconds") < 1 {
		t.Error("no bundle flush observed")
	}

	// Turned off by the user, with a message waiting.
	if status, body := ws.Do(t, http.MethodPut, "/api/v1/webhooks/outbound",
		map[string]any{"granularity": "none", "enabled": false}); status != http.StatusOK {
		t.Fatalf("disable: %d %s", status, body)
	}
	ws.Post(t, strings.Replace(received, "3EB0C767D26A1D2D", "FOURTH", 1))
	m = scrape(t, svc.MetricsURL)
	m.want(t, 1, "chathook_deliveries_waiting")
	m.want(t, 1, "chathook_webhooks_disabled", "by", "user")
	m.want(t, 0, "chathook_webhooks_disabled", "by", "failures")
	if age := m.value("chathook_deliveries_oldest_waiting_seconds"); age < 0 || age > 3600 {
		t.Errorf("oldest waiting %v s", age)
	}
}

// TestMetricsOffByDefault: no address, no listener.
func TestMetricsOffByDefault(t *testing.T) {
	svc := chathooktest.Start(t, chathooktest.Options{})
	if svc.MetricsURL != "" {
		t.Fatalf("metrics at %s without a metrics address", svc.MetricsURL)
	}
}

// metricSet is a scrape, by metric family name.
type metricSet map[string]*dto.MetricFamily

func scrape(t *testing.T, url string) metricSet {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("scrape: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("scrape: %s", resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse the scrape: %v", err)
	}
	return fams
}

// value is the value of the series of name with the given label pairs: a
// counter's or a gauge's value, a histogram's count; -1 if there is none.
func (m metricSet) value(name string, labels ...string) float64 {
series:
	for _, s := range m[name].GetMetric() {
		have := map[string]string{}
		for _, l := range s.GetLabel() {
			have[l.GetName()] = l.GetValue()
		}
		for i := 0; i+1 < len(labels); i += 2 {
			if have[labels[i]] != labels[i+1] {
				continue series
			}
		}
		switch {
		case s.Counter != nil:
			return s.Counter.GetValue()
		case s.Gauge != nil:
			return s.Gauge.GetValue()
		case s.Histogram != nil:
			return float64(s.Histogram.GetSampleCount())
		}
	}
	return -1
}

func (m metricSet) want(t *testing.T, want float64, name string, labels ...string) {
	t.Helper()
	if got := m.value(name, labels...); got != want {
		t.Errorf("%s%v = %v, want %v", name, labels, got, want)
	}
}
