package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// loader is the load generator: plan.clients clients, each a sequence of
// requests on its own keep-alive connection to the public ingest API.
type loader struct {
	plan   plan
	api    *api
	clock  clock
	rate   float64 // messages per second over all clients; 0: as fast as possible
	logger *slog.Logger

	ackAt []int64 // per message: when the 202 that accepted it was read
	sent  atomic.Int64
}

// ingested is what a load run did, as clock times.
type ingested struct {
	first, last int64 // the clients started, the last 202 was read
	sent        int   // messages accepted
}

// run sends every message of the plan and returns when each was accepted.
// Any answer other than 202 with every message "accepted" ends the run
// with an error: the benchmark measures a service that takes all it is sent.
func (l *loader) run(ctx context.Context) (ingested, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	l.ackAt = make([]int64, l.plan.messages)
	stopProgress := l.progress()
	defer stopProgress()

	var wg sync.WaitGroup
	start := time.Now() // every client paces from the same instant
	out := ingested{first: l.clock.now()}
	for k := range l.plan.clients {
		wg.Go(func() {
			if err := l.client(ctx, start, l.plan.share(k)); err != nil {
				cancel(fmt.Errorf("client %d: %w", k, err))
			}
		})
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return out, err
	}
	for _, at := range l.ackAt {
		out.last = max(out.last, at)
	}
	out.sent = int(l.sent.Load())
	return out, nil
}

// client sends its share batch after batch, and records when each
// message's 202 was read. When paced, a batch leaves when its last message
// is due (message i is due at i/rate seconds after start); a client that
// falls behind sends at once until it has caught up.
func (l *loader) client(ctx context.Context, start time.Time, share []int) error {
	for n := 0; n < len(share); n += l.plan.batch {
		idx := share[n:min(n+l.plan.batch, len(share))]
		if l.rate > 0 {
			due := start.Add(time.Duration(float64(idx[len(idx)-1]) / l.rate * float64(time.Second)))
			if err := sleepUntil(ctx, due); err != nil {
				return err
			}
		}
		if err := l.api.ingest(ctx, l.plan.path(), l.plan.body(idx), len(idx)); err != nil {
			return err
		}
		at := l.clock.now()
		for _, i := range idx {
			l.ackAt[i] = at
		}
		l.sent.Add(int64(len(idx)))
	}
	return nil
}

// progress logs how far the load is every 5s, until the returned func is called.
func (l *loader) progress() (stop func()) {
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(5 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				l.logger.Info("ingesting", "accepted", l.sent.Load(), "of", l.plan.messages)
			}
		}
	}()
	return func() { close(done) }
}

func sleepUntil(ctx context.Context, t time.Time) error {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err()
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return nil
	}
}

// api is a client of the service's public HTTP API with one workspace's token.
type api struct {
	base, token string
	http        *http.Client
}

func newAPI(base, token string, conns int) *api {
	return &api{base: base, token: token, http: &http.Client{Transport: &http.Transport{
		Proxy:               nil, // loopback, never through a proxy from the environment
		MaxIdleConnsPerHost: conns,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}}}
}

// call sends a JSON request and decodes a JSON answer of status want into out.
func (a *api) call(ctx context.Context, method, path string, body []byte, want int, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, a.base+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+a.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := a.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("%s %s: reading the answer: %w", method, path, err)
	}
	if resp.StatusCode != want {
		return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, bytes.TrimSpace(answer))
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(answer, out); err != nil {
		return fmt.Errorf("%s %s: the answer is not the JSON expected: %w", method, path, err)
	}
	return nil
}

type ingestAnswer struct {
	Status string `json:"status"`
	Reason string `json:"reason"`
}

// ingest posts n messages and checks that each was accepted: each run's
// messages are new to its new workspace, so "duplicate" or "skipped" is a
// fault of the service or of the generator.
func (a *api) ingest(ctx context.Context, path string, body []byte, n int) error {
	var out struct {
		ingestAnswer
		Results []ingestAnswer `json:"results"`
	}
	if err := a.call(ctx, http.MethodPost, path, body, http.StatusAccepted, &out); err != nil {
		return err
	}
	results := out.Results
	if path == "/api/v1/messages" {
		results = []ingestAnswer{out.ingestAnswer}
	}
	if len(results) != n {
		return fmt.Errorf("POST %s: %d results for %d messages", path, len(results), n)
	}
	for _, r := range results {
		if r.Status != "accepted" {
			return fmt.Errorf("POST %s: a new message was answered %q (%s), not accepted", path, r.Status, r.Reason)
		}
	}
	return nil
}
