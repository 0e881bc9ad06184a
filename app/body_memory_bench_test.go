package app_test

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/chathook/chathook/api"
	"github.com/chathook/chathook/app"
	"github.com/chathook/chathook/chathooktest"
)

// BenchmarkBodyMemory: the peak RSS of the process (VmHWM, reset before
// each round) while 16 clients, of 16 workspaces, each POST a 32 MiB
// batch at once to a service with the default body budget (256 MiB), for
// each shape of body: 1000 messages of 33 KB texts, or one message whose
// text is one giant string (refused 400 once decoded), each with a
// Content-Length or chunked. The bodies are generated as they are sent,
// so that the clients' own memory stays out of the figure. peak-MiB is
// what app.MemoryLimit should bound (about it, not twice); base-MiB is the
// RSS before the round.
func BenchmarkBodyMemory(b *testing.B) {
	if _, err := os.Stat("/proc/self/clear_refs"); err != nil {
		b.Skip("needs Linux's /proc/self/clear_refs")
	}
	// The garbage collection of chathook serve: GOGC 200, and the memory
	// limit for the budget.
	defer debug.SetGCPercent(debug.SetGCPercent(200))
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(app.MemoryLimit(api.DefaultBodyBudget)))
	svc := chathooktest.Start(b, chathooktest.Options{Config: app.Config{BodyBudget: api.DefaultBodyBudget}})
	var tokens []string
	for i := range 16 {
		tokens = append(tokens, svc.NewWorkspace(b, fmt.Sprint("ws", i)).APIToken)
	}
	round := 0
	for _, shape := range []string{"many", "giant"} {
		for _, chunked := range []bool{false, true} {
			b.Run(fmt.Sprintf("%s/chunked=%v", shape, chunked), func(b *testing.B) {
				var peak, base int64
				answers := map[int]int{}
				for b.Loop() {
					round++
					runtime.GC()
					debug.FreeOSMemory()
					base = max(base, procStatus(b, "VmRSS"))
					if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
						b.Skip("cannot reset VmHWM:", err)
					}
					var mu sync.Mutex
					var wg sync.WaitGroup
					for i, token := range tokens {
						wg.Go(func() {
							id := fmt.Sprintf("r%d-%d", round, i)
							status := postBody(b, svc.URL, token, func() io.Reader { return bodyOf(shape, id) }, chunked)
							mu.Lock()
							answers[status]++
							mu.Unlock()
						})
					}
					wg.Wait()
					peak = max(peak, procStatus(b, "VmHWM"))
				}
				b.ReportMetric(float64(peak)/(1<<20), "peak-MiB")
				b.ReportMetric(float64(base)/(1<<20), "base-MiB")
				for status, n := range answers {
					b.ReportMetric(float64(n)/float64(b.N), "answers-"+strconv.Itoa(status)+"/op")
				}
			})
		}
	}
}

// bodyOf generates a 32 MiB batch of the shape as it is read, never
// whole in memory.
func bodyOf(shape, prefix string) io.Reader {
	const size = api.MaxBatchBody - 4096
	if shape == "giant" {
		head := `{"messages":[{"account":{"phone":"+15550000000"},"chat":{"external_id":"+15551000000"},` +
			`"message_id":"` + prefix + `","direction":"received","text":"`
		tail := `"}]}`
		return io.MultiReader(strings.NewReader(head), io.LimitReader(repeat('x'), int64(size-len(head)-len(tail))), strings.NewReader(tail))
	}
	n := 1000 // the most a batch may hold
	text := strings.Repeat("y", size/n-200)
	return &generated{n: n, next: strings.NewReader(`{"messages":[`), part: func(i int) string {
		if i == n {
			return `]}`
		}
		sep := ","
		if i == n-1 {
			sep = ""
		}
		return fmt.Sprintf(`{"account":{"phone":"+15550000000"},"chat":{"external_id":"+1555100%04d"},`+
			`"message_id":"%s-%d","direction":"received","text":"%s"}%s`, i%10, prefix, i, text, sep)
	}}
}

// generated reads part(0) to part(n), each made when it is reached.
type generated struct {
	n, i int
	next *strings.Reader
	part func(int) string
}

func (g *generated) Read(p []byte) (int, error) {
	for g.next.Len() == 0 {
		if g.i > g.n {
			return 0, io.EOF
		}
		g.next = strings.NewReader(g.part(g.i))
		g.i++
	}
	return g.next.Read(p)
}

// repeat is an endless reader of one byte.
type repeat byte

func (r repeat) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(r)
	}
	return len(p), nil
}

// postBody POSTs the body mk makes to the batch route, with its
// Content-Length (counted on a first making of it) unless chunked, and
// returns the status.
func postBody(b *testing.B, url, token string, mk func() io.Reader, chunked bool) int {
	req, err := http.NewRequest(http.MethodPost, url+"/api/v1/messages/batch", io.NopCloser(mk()))
	if err != nil {
		b.Fatal(err)
	}
	req.ContentLength = -1
	if !chunked {
		if req.ContentLength, err = io.Copy(io.Discard, mk()); err != nil {
			b.Fatal(err)
		}
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0 // the server closed the connection while the body was sent: a 503 mid-body, unread
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

// procStatus reads a field of /proc/self/status, in bytes.
func procStatus(b *testing.B, field string) int64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	b.Fatalf("no %s in /proc/self/status", field)
	return 0
}
