package app_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chathook/chathook/app"
	"github.com/chathook/chathook/chathooktest"
)

// BenchmarkMediaMemory: the peak RSS of the process (VmHWM, reset before
// each round) while 10 photos of 50 MiB are downloaded from a local Graph
// API and stored, and at the same time the 10 of the round before are
// served through their links, on SQLite. The Graph API and the readers
// generate and discard their bytes as they go, so the figure is
// chathook's: a file is never whole in its memory. peak-MiB is the
// figure; base-MiB the RSS before the round.
func BenchmarkMediaMemory(b *testing.B) {
	if _, err := os.Stat("/proc/self/clear_refs"); err != nil {
		b.Skip("needs Linux's /proc/self/clear_refs")
	}
	const files, size = 10, 50 << 20
	defer debug.SetGCPercent(debug.SetGCPercent(200)) // as chathook serve runs
	graph := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if id, ok := strings.CutPrefix(r.URL.Path, "/v23.0/"); ok {
			fmt.Fprintf(w, `{"url":"http://%s/files/%s","mime_type":"image/jpeg","file_size":%d,"id":%q}`, r.Host, id, size, id)
			return
		}
		w.Header().Set("Content-Type", "image/jpeg")
		w.Write(jpeg(4096))
		io.CopyN(w, zeros{}, size-4096)
	}))
	defer graph.Close()
	svc := chathooktest.Start(b, chathooktest.Options{Config: app.Config{GraphAPIURL: graph.URL + "/v23.0",
		MediaWorkers: files, MediaMaxBytes: size}})
	ws := svc.NewWorkspace(b, "acme")
	events := chathooktest.NewSink(b)
	addEventEndpoint(b, ws, events.URL+"/events")
	registerNumber(b, ws)
	var links []string
	round := 0
	// store posts a round's photos and returns their links, once stored.
	store := func() []string {
		round++
		for i := range files {
			metaPosts(b, svc, ws, "messages", "messages", imageFrom(sheena, fmt.Sprintf("wamid.R%d-%d", round, i), fmt.Sprintf("M%d-%d", round, i), ""))
		}
		got := events.WaitFor(b, round*files, 10*time.Minute)
		var out []string
		for _, r := range got[(round-1)*files:] {
			var ev struct {
				Data struct {
					Message eventMessage `json:"message"`
				} `json:"data"`
			}
			if err := json.Unmarshal(r.Body, &ev); err != nil || len(ev.Data.Message.Attachments) != 1 || ev.Data.Message.Attachments[0].URL == "" {
				b.Fatalf("event %s (%v)", r.Body, err)
			}
			out = append(out, ev.Data.Message.Attachments[0].URL)
		}
		return out
	}
	links = store()
	var peak, base int64
	for b.Loop() {
		runtime.GC()
		debug.FreeOSMemory()
		base = max(base, procStatus(b, "VmRSS"))
		if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
			b.Skip("cannot reset VmHWM:", err)
		}
		var wg sync.WaitGroup
		for _, link := range links {
			wg.Go(func() {
				resp, err := http.Get(link)
				if err != nil {
					b.Error(err)
					return
				}
				n, _ := io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 || n != size {
					b.Errorf("GET %s: %d, %d bytes", link, resp.StatusCode, n)
				}
			})
		}
		next := store()
		wg.Wait()
		peak = max(peak, procStatus(b, "VmHWM"))
		links = next
	}
	b.ReportMetric(float64(peak)/(1<<20), "peak-MiB")
	b.ReportMetric(float64(base)/(1<<20), "base-MiB")
}

// zeros reads as endless zero bytes.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}
