package bench

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// sink is the receiving end: a webhook receiver on a loopback socket that
// records each POST in the tally and answers 204 at once. It keeps
// connections alive, as a receiver in production would.
type sink struct {
	URL   string // outbound's
	base  string // endpoint k's URL is base + endpointPath(k)
	srv   *http.Server
	done  chan struct{}
	tally *tally
	clock clock
}

func startSink(t *tally, c clock, logger *slog.Logger) (*sink, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &sink{URL: "http://" + ln.Addr().String() + "/hook", base: "http://" + ln.Addr().String(), done: make(chan struct{}), tally: t, clock: c}
	s.srv = &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	go func() {
		defer close(s.done)
		if err := s.srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			logger.Error("sink", "err", err)
		}
	}()
	return s, nil
}

// delivered is the part of a payload the sink reads: a single message
// (SPEC 4.1), a bundle's messages (SPEC 4.2), or an event's (SPEC 7).
type delivered struct {
	Message *struct {
		MessageID string `json:"message_id"`
	} `json:"message"`
	Messages []struct {
		MessageID string `json:"message_id"`
	} `json:"messages"`
	Data *struct {
		Message *struct {
			MessageID string `json:"message_id"`
		} `json:"message"`
	} `json:"data"`
}

// notAPayload stands for what cannot be read as a payload: it is
// counted as unexpected.
var notAPayload = []string{"(not a payload)"}

// ids are the message ids of a payload, in the order it lists them.
func (d delivered) ids() []string {
	switch {
	case d.Message != nil:
		return []string{d.Message.MessageID}
	case d.Data != nil && d.Data.Message != nil:
		return []string{d.Data.Message.MessageID}
	}
	ids := make([]string, len(d.Messages))
	for i, m := range d.Messages {
		ids[i] = m.MessageID
	}
	return ids
}

// endpointPath is the path of endpoint k's URL at the sink; outbound's is
// "/hook".
func endpointPath(k int) string { return "/ep/" + strconv.Itoa(k) }

// ServeHTTP stamps a POST when its headers have arrived, before reading
// its body: that is when the service's POST reached the receiver.
func (s *sink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	at := s.clock.now()
	body, err := io.ReadAll(r.Body)
	var d delivered
	if err == nil {
		err = json.Unmarshal(body, &d)
	}
	ids := d.ids()
	if err != nil || r.Method != http.MethodPost {
		ids = notAPayload
	}
	ep := 0
	if k, ok := strings.CutPrefix(r.URL.Path, "/ep/"); ok {
		if ep, err = strconv.Atoi(k); err != nil || ep < 1 {
			ep = -1 // counted as unexpected
		}
	}
	s.tally.post(ep, ids, at)
	w.WriteHeader(http.StatusNoContent)
}

func (s *sink) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = s.srv.Shutdown(ctx)
	<-s.done
}
