package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// ceiling is the loopback ceiling of a run: how many POSTs a second a bare
// net/http client and server, both in this process, reach over loopback
// on this machine, with as many concurrent clients as the run, each POST
// one message of the run to the single-message route. The server reads each body and
// answers 202 with a small body, and does nothing else: no service does
// less per request over HTTP. chathook's delivered/s as a fraction of it
// is the figure that carries across machines.
type ceiling struct {
	clients int
	path    string // the run's ingest route, so the request line is the same size
	body    []byte
	warmUp  time.Duration // requests made but not counted: connections open, buffers grow
	measure time.Duration // requests counted

	postsPerS float64 // the result
	// conns is how many connections the server accepted: from clients to
	// twice as many when every one is kept alive (net/http dials a spare
	// when a client's next request leaves before its last connection is
	// back in the pool; the spare is kept and used too).
	conns int64
}

// run measures the ceiling in POSTs per second and sets c.postsPerS.
// Every client keeps its own keep-alive connection (the transport keeps
// as many idle as there are clients) and reads each answer to its end,
// as the run's clients do.
func (c *ceiling) run(ctx context.Context, logger *slog.Logger) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           http.HandlerFunc(acceptBody),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	var conns atomic.Int64
	srv.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	defer func() {
		_ = srv.Close()
		<-served
	}()
	transport := &http.Transport{
		Proxy:               nil,
		MaxIdleConnsPerHost: c.clients,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
	defer transport.CloseIdleConnections()
	client := &http.Client{Transport: transport}
	url := "http://" + ln.Addr().String() + c.path

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var done atomic.Int64
	var wg sync.WaitGroup
	for range c.clients {
		wg.Go(func() {
			for ctx.Err() == nil {
				if err := post(ctx, client, url, c.body); err != nil {
					if ctx.Err() == nil {
						cancel(err)
					}
					return
				}
				done.Add(1)
			}
		})
	}
	count := func(after time.Duration) (int64, time.Time, error) {
		t := time.NewTimer(after)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return 0, time.Time{}, context.Cause(ctx)
		case <-t.C:
			return done.Load(), time.Now(), nil
		}
	}
	from, start, err := count(c.warmUp)
	if err == nil {
		var to int64
		var end time.Time
		if to, end, err = count(c.measure); err == nil {
			cancel(errors.New("measured"))
			wg.Wait()
			if to == from {
				return errors.New("loopback ceiling: no POST was answered in " + c.measure.String())
			}
			c.postsPerS, c.conns = float64(to-from)/end.Sub(start).Seconds(), conns.Load()
			return nil
		}
	}
	cancel(err)
	wg.Wait()
	return fmt.Errorf("loopback ceiling: %w", err)
}

// post sends one request as the run's clients send an ingest request, and
// reads the answer to its end so that the connection is kept.
func post(ctx context.Context, client *http.Client, url string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer chk_loopback_ceiling_0000000000000000000000")
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err == nil && resp.StatusCode != http.StatusAccepted {
		err = fmt.Errorf("the bare server answered %s", resp.Status)
	}
	return err
}

// acceptBody is the bare server: it reads the body and answers 202 with
// the service's answer to a single message.
func acceptBody(w http.ResponseWriter, r *http.Request) {
	if _, err := io.Copy(io.Discard, r.Body); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	_, _ = io.WriteString(w, `{"status":"accepted","chat_id":"10000001","reason":""}`+"\n")
}
