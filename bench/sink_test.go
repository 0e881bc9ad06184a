package bench

import (
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"
)

// The sink reads the message ids of both payload forms over real HTTP.
func TestSinkCountsSinglesAndBundles(t *testing.T) {
	tl := newTally(plan{messages: 5, chats: 2, clients: 1, batch: 5})
	s, err := startSink(tl, clock{start: time.Now()}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	for _, body := range []string{
		`{"whatsapp_account":{},"chat":{"chat_id":"1"},"message":{"message_id":"bench-0","text":"a"}}`,
		`{"whatsapp_account":{},"chat":{"chat_id":"2"},"messages":[{"message_id":"bench-1"},{"message_id":"bench-3"}],"aggregation":""}`,
		`{"chat":{},"message":{"message_id":"bench-0"}}`, // delivered again
		`not json`,
	} {
		resp, err := http.Post(s.URL, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNoContent {
			t.Errorf("sink answered %d", resp.StatusCode)
		}
	}
	c := tl.counts()
	if c.posts != 4 || c.delivered != 3 || c.duplicated != 1 || c.unexpected != 1 || c.outOfOrder != 0 {
		t.Errorf("counts = %+v", c)
	}
}

func TestReportCountsLostAndRates(t *testing.T) {
	tl := newTally(plan{messages: 4, chats: 2, clients: 1, batch: 4})
	tl.post([]string{"bench-0", "bench-1", "bench-2"}, 2e9)
	cfg := Config{Workload: None, Messages: 4, Chats: 2, Clients: 1, Batch: 4}
	r := report(cfg, "sqlite", tl, ingested{first: 1, last: 1e9 + 1}, 0, func(int) int64 { return 1e9 })
	if r.Sent != 4 || r.Delivered != 3 || r.Lost != 1 || len(r.Failures) != 1 || r.IngestedPerS != 4 ||
		r.DeliveredPerS != 2 || r.LatencyMS.Max != 1000 || r.FlushSeconds != nil || r.LatencyFrom != "ingest_202" {
		t.Errorf("report = %+v", r)
	}
	cfg.Workload = Bundles
	r = report(cfg, "sqlite", tl, ingested{first: 1, last: 1e9 + 1}, 1.5e9, func(int) int64 { return 1.5e9 })
	if r.FlushSeconds == nil || *r.FlushSeconds != 0.5 || r.LatencyFrom != "flush_request" || r.LatencyMS.P50 != 500 {
		t.Errorf("bundles report = %+v", r)
	}
}

func TestConfigDefaultsAndRefusals(t *testing.T) {
	c, err := Config{Workload: Steady, Rate: 200, Duration: 2 * time.Second}.WithDefaults()
	if err != nil || c.Messages != 400 || c.Batch != 10 || c.Chats != 1000 || c.Clients != 4 {
		t.Errorf("steady: %+v, %v", c, err)
	}
	c, err = Config{Workload: Bundles, Chats: 2}.WithDefaults()
	if err != nil || c.Messages != 1_000_000 || c.Batch != 1000 || c.Clients != 2 {
		t.Errorf("bundles over 2 chats: %+v, %v", c, err)
	}
	for name, bad := range map[string]Config{
		"workload":        {Workload: "fast"},
		"steady messages": {Workload: Steady, Messages: 10},
		"batch too large": {Workload: None, Batch: 1001},
		"negative":        {Workload: None, Messages: -1},
		"not a database":  {Workload: None, DB: "mysql://x"},
	} {
		if _, err := bad.WithDefaults(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
