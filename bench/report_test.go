package bench

import (
	"reflect"
	"testing"
)

func TestPercentilesNearestRank(t *testing.T) {
	msOf := func(vs ...int) []int64 {
		out := make([]int64, len(vs))
		for i, v := range vs {
			out[i] = int64(v) * 1e6
		}
		return out
	}
	hundred := make([]int, 100)
	for i := range hundred {
		hundred[i] = 100 - i // 100 down to 1: percentiles must not depend on the input's order
	}
	cases := []struct {
		name string
		in   []int64
		want Percentiles
	}{
		{"none", nil, Percentiles{}},
		{"one", msOf(7), Percentiles{7, 7, 7, 7}},
		{"1 to 100", msOf(hundred...), Percentiles{50, 95, 99, 100}},
		{"one slow in ten", msOf(1, 1, 1, 1, 1, 1, 1, 1, 1, 900), Percentiles{1, 900, 900, 900}},
		{"sub-millisecond", []int64{1500, 2500, 250_000}, Percentiles{0.002, 0.25, 0.25, 0.25}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := percentiles(c.in); got != c.want {
				t.Errorf("percentiles = %+v, want %+v", got, c.want)
			}
		})
	}
}

func TestReportCountsLostAndRates(t *testing.T) {
	tl := newTally(plan{messages: 4, chats: 2, clients: 1, batch: 4}, 1)
	tl.post(0, []string{"bench-0", "bench-1", "bench-2"}, 2e9)
	cfg := Config{Workload: None, Messages: 4, Chats: 2, Clients: 1, Batch: 4}
	r := report(cfg, "sqlite", tl, ingested{first: 1, last: 1e9 + 1, sent: 4}, 0, func(int) int64 { return 1e9 })
	if r.Sent != 4 || r.Delivered != 3 || r.Lost != 1 || len(r.Failures) != 1 || r.IngestedPerS != 4 ||
		r.DeliveredPerS != 2 || r.LatencyMS.Max != 1000 || r.FlushSeconds != nil || r.LatencyFrom != "ingest_202" {
		t.Errorf("report = %+v", r)
	}
	cfg.Workload = Bundles
	r = report(cfg, "sqlite", tl, ingested{first: 1, last: 1e9 + 1, sent: 4}, 1.5e9, func(int) int64 { return 1.5e9 })
	if r.FlushSeconds == nil || *r.FlushSeconds != 0.5 || r.LatencyFrom != "flush_request" || r.LatencyMS.P50 != 500 {
		t.Errorf("bundles report = %+v", r)
	}
}

func TestFailuresListEveryNonZeroCount(t *testing.T) {
	if f := failures(Report{Sent: 10, Delivered: 10}); len(f) != 0 {
		t.Errorf("a clean run: %v", f)
	}
	f := failures(Report{Lost: 1, Duplicated: 2, OrderViolations: 3, Unexpected: 4})
	if len(f) != 4 {
		t.Errorf("failures = %q, want one for each of lost, duplicated, out of order, unexpected", f)
	}
}

func TestReportLoopbackFraction(t *testing.T) {
	r := Report{DeliveredPerS: 1234}
	r.setLoopback(nil)
	if r.LoopbackPostsPerS != nil || r.FractionOfLoopback != nil || r.LoopbackBodyBytes != 0 {
		t.Errorf("not measured: %+v", r)
	}
	r.setLoopback(&ceiling{body: make([]byte, 321), postsPerS: 20_000.4})
	if r.LoopbackPostsPerS == nil || *r.LoopbackPostsPerS != 20_000 || r.LoopbackBodyBytes != 321 ||
		r.FractionOfLoopback == nil || *r.FractionOfLoopback != 0.062 {
		t.Errorf("1234 of 20,000: %+v", r)
	}
}

// Each endpoint's figures come from its own deliveries alone.
func TestReportPerEndpoint(t *testing.T) {
	tl := newTally(plan{messages: 4, chats: 2, clients: 1, batch: 4}, 2)
	tl.post(0, []string{"bench-0", "bench-1", "bench-2", "bench-3"}, 2e9+1)
	tl.post(1, []string{"bench-0", "bench-1"}, 1e9+1)
	var r Report
	r.setEndpoints([]endpoint{{"outbound", "http", "seed"}, {"ep_1", "nats", "event"}}, tl, ingested{first: 1, sent: 4},
		func(int) int64 { return 1 })
	want := []EndpointFigures{
		{ID: "outbound", Target: "http", Format: "seed", Delivered: 4, DeliveredPerS: 2, LatencyMS: Percentiles{2000, 2000, 2000, 2000}},
		{ID: "ep_1", Target: "nats", Format: "event", Delivered: 2, Lost: 2, DeliveredPerS: 2, LatencyMS: Percentiles{1000, 1000, 1000, 1000}},
	}
	if !reflect.DeepEqual(r.PerEndpoint, want) {
		t.Errorf("per_endpoint = %+v, want %+v", r.PerEndpoint, want)
	}
}
