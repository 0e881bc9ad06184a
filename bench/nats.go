package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/chathook/chathook"
)

// checkNATS says what is wrong with a --nats URL: it names a server,
// with credentials if it needs them, and no subject prefix, which the
// run picks. The error never shows a password.
func checkNATS(raw string) error {
	if chathook.TargetOf(raw) != chathook.TargetNATS {
		return fmt.Errorf("--nats %q: a NATS server's URL, nats://host:4222", chathook.RedactURL(raw))
	}
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("--nats %q is not a URL", chathook.RedactURL(raw)) // url's error quotes the URL
	}
	if strings.Trim(u.Path, "/") != "" || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("--nats %q: give the server alone, nats://host:4222; the run picks its own subject prefix", chathook.RedactURL(raw))
	}
	u.Path = "/x" // the rest as an endpoint's URL would be read
	if _, err := chathook.ParseBrokerURL(u.String()); err != nil {
		return fmt.Errorf("--nats: %w", err)
	}
	return nil
}

// natsSink is the receiving end of a run's NATS endpoints: a JetStream
// stream of the run's own and an ordered consumer of it that records
// each message in the tally, as the HTTP sink records each POST.
//
// Every subject of the run starts with a token unique to it (run), so a
// run never reads another's messages, on a server others use too.
// Endpoint k publishes under run.ep<k>: the subject says which endpoint
// a message came from.
type natsSink struct {
	server string // the --nats URL, credentials included
	run    string // the subject token and stream name of this run
	stream string
	nc     *nats.Conn
	js     jetstream.JetStream
	cc     jetstream.ConsumeContext
	tally  *tally
	clock  clock
	log    *slog.Logger
}

// natsDuplicates is the stream's duplicate window, JetStream's default:
// a retry of a publish whose ack was lost lands within it.
const natsDuplicates = 2 * time.Minute

// startNATSSink connects to server, creates the run's stream and starts
// consuming it. close deletes the stream.
func startNATSSink(ctx context.Context, server string, t *tally, c clock, log *slog.Logger) (*natsSink, error) {
	var token [6]byte
	_, _ = rand.Read(token[:])
	run := "chathook-bench-" + hex.EncodeToString(token[:])
	s := &natsSink{server: server, run: run, stream: strings.ToUpper(strings.ReplaceAll(run, "-", "_")), tally: t, clock: c, log: log}
	var err error
	s.nc, err = nats.Connect(server, nats.Name("chathook bench"), nats.Timeout(10*time.Second))
	if err != nil {
		// nats.go's errors name no URL, so no password either.
		return nil, fmt.Errorf("--nats %s: %w", chathook.RedactURL(server), err)
	}
	if s.js, err = jetstream.New(s.nc); err != nil {
		s.nc.Close()
		return nil, err
	}
	_, err = s.js.CreateStream(ctx, jetstream.StreamConfig{
		Name:     s.stream,
		Subjects: []string{run + ".>"},
		// File, as a user's stream would be: the publish ack the endpoint
		// waits for then includes the server's write, as in production.
		Storage:    jetstream.FileStorage,
		Duplicates: natsDuplicates,
		// A run that is killed cannot delete its stream; the server does
		// within the hour.
		MaxAge: time.Hour,
	})
	if err != nil {
		s.nc.Close()
		return nil, fmt.Errorf("--nats %s: creating the stream %s (is JetStream on, nats-server -js?): %w", chathook.RedactURL(server), s.stream, err)
	}
	// An ordered consumer reads the stream in its order, from the start,
	// with no acks to send: the cheapest reader, so the server's work is
	// chathook's publishes more than the bench's reading.
	cons, err := s.js.OrderedConsumer(ctx, s.stream, jetstream.OrderedConsumerConfig{})
	if err == nil {
		s.cc, err = cons.Consume(s.receive)
	}
	if err != nil {
		s.close()
		return nil, fmt.Errorf("consuming the stream %s: %w", s.stream, err)
	}
	log.Info("bench: NATS stream created", "stream", s.stream, "subjects", run+".>", "storage", "file")
	return s, nil
}

// endpointURL is endpoint k's URL: the server's, with the subject prefix
// run.ep<k>.
func (s *natsSink) endpointURL(k int) string {
	u, err := url.Parse(s.server)
	if err != nil {
		return "" // checkNATS parsed it
	}
	u.Path, u.RawQuery = "/"+s.run+".ep"+strconv.Itoa(k), ""
	return u.String()
}

// receive records one message, stamped when the consumer got it: the
// server's own time stamp is another clock, perhaps another machine's.
// A message that is not as chathook publishes it (no Nats-Msg-Id, or
// one other than its webhook-id, on a subject of no endpoint of the run)
// is counted as unexpected, since without its id the stream could not
// drop a retry.
func (s *natsSink) receive(m jetstream.Msg) {
	at := s.clock.now()
	ep := -1
	rest, _ := strings.CutPrefix(m.Subject(), s.run+".ep")
	if k, _, ok := strings.Cut(rest, "."); ok {
		if n, err := strconv.Atoi(k); err == nil && n >= 1 {
			ep = n
		}
	}
	h := m.Headers()
	id := h.Get(jetstream.MsgIDHeader)
	var d delivered
	ids := notAPayload
	if err := json.Unmarshal(m.Data(), &d); err == nil {
		ids = d.ids()
	}
	if id == "" || id != h.Get("webhook-id") {
		ep = -1
	}
	s.tally.post(ep, ids, at)
}

// close stops consuming, deletes the run's stream and disconnects.
func (s *natsSink) close() {
	if s.cc != nil {
		s.cc.Stop()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.js.DeleteStream(ctx, s.stream); err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
		s.log.Warn("bench: the NATS stream was not deleted; the server removes its messages within the hour",
			"stream", s.stream, "err", err)
	}
	s.nc.Close()
}
