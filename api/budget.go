package api

import (
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/chathook/chathook"
)

// BodyCost is how many bytes of memory one byte of request body may take
// while its request is served: the body itself, the raw messages that a
// batch is cut into, the decoded messages and what the store binds of
// them, each about the body's size again.
const BodyCost = 4

// DefaultBodyBudget is the memory that request bodies may take at once,
// counted at BodyCost a byte: two of the largest batches (32 MiB) or 64
// of the largest single messages, and thousands of typical batches of a
// few hundred KB. Past it requests are answered 503, not queued: a
// service that grows until the kernel kills it answers no one.
const DefaultBodyBudget = 256 << 20

// MinBodyBudget is the smallest budget that still takes one batch of the
// largest size; smaller settings are raised to it.
const MinBodyBudget = MaxBatchBody * BodyCost

// BusyRetryAfter is the Retry-After of a 503 for a spent body budget, in
// seconds: about how long the bodies in flight take to be ingested.
const BusyRetryAfter = 2

// bodyChunk is how far ahead of the bytes that arrived a body is charged:
// the budget is locked once per chunk, never per byte, and a client that
// declares 32 MiB but trickles holds what it sent, plus at most this.
const bodyChunk = 64 << 10

// Slow bodies. A body must arrive at DefaultBodyMinRate after its first
// DefaultBodyGrace, or it is cut with 408: a client on a 128 kbit/s link
// still sends a typical batch in time, while a trickling one frees its
// share of the budget within seconds, not at the end of the read timeout.
const (
	DefaultBodyGrace   = 10 * time.Second
	DefaultBodyMinRate = 16 << 10 // bytes a second
)

// budget is memory for request bodies, shared by every request of the
// service and charged as bodies arrive: a request holds what it has
// read, at BodyCost a byte, until its answer is written. No key (a
// workspace, or a client address on a route without a token) may hold
// more than perKey, so one tenant or one address cannot take it all.
type budget struct {
	mu     sync.Mutex
	free   int64
	perKey int64
	held   map[string]int64
}

func newBudget(size int64) *budget {
	if size <= 0 {
		size = DefaultBodyBudget
	}
	size = max(size, MinBodyBudget)
	// A quarter, so that at least four clients fill the budget, yet never
	// less than one batch of the largest size.
	return &budget{free: size, perKey: max(size/4, MinBodyBudget), held: map[string]int64{}}
}

// take reserves n bytes for key if both the budget and key's share have
// room, without waiting: a request that waited would hold its connection
// and its unread body meanwhile.
func (b *budget) take(key string, n int64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if n > b.free || b.held[key]+n > b.perKey {
		return false
	}
	b.free -= n
	b.held[key] += n
	return true
}

func (b *budget) give(key string, n int64) {
	if n == 0 {
		return
	}
	b.mu.Lock()
	b.free += n
	if left := b.held[key] - n; left > 0 {
		b.held[key] = left
	} else {
		delete(b.held, key)
	}
	b.mu.Unlock()
}

// meteredBody is a request body that charges the budget as it is read,
// bodyChunk at a time, and that must keep arriving at a minimum rate: its
// read deadline moves forward with every byte (start + grace +
// received/rate, never past the server's read timeout), so a read that
// stalls altogether is cut as well as one that trickles.
type meteredBody struct {
	io.ReadCloser
	b      *budget
	key    string
	held   int64 // charged, at BodyCost a byte
	credit int64 // bytes charged but not read yet
	read   int64
	size   int64 // the declared length, -1 when unknown

	rc          *http.ResponseController
	start, last time.Time // last: the read timeout's deadline
	grace       time.Duration
	rate        int64
	done, busy  bool
}

func (m *meteredBody) Read(p []byte) (int, error) {
	if m.done {
		return m.ReadCloser.Read(p)
	}
	if m.credit == 0 {
		if !m.b.take(m.key, bodyChunk*BodyCost) {
			m.busy = true
			return 0, chathook.ErrBodyBudget
		}
		m.held += bodyChunk * BodyCost
		m.credit = bodyChunk
	}
	if int64(len(p)) > m.credit {
		p = p[:m.credit]
	}
	n, err := m.ReadCloser.Read(p)
	m.credit -= int64(n)
	m.read += int64(n)
	switch {
	case err != nil || m.read == m.size:
		// Read whole (or failed): the handler may take its time to
		// answer; only the server's read timeout stands again, as for
		// any request, so that it does not cut the handler's context.
		m.done = true
		_ = m.rc.SetReadDeadline(m.last)
	case n > 0 && m.rate > 0:
		_ = m.rc.SetReadDeadline(m.deadline())
	}
	return n, err
}

// deadline is when the bytes read so far allow the next to arrive.
func (m *meteredBody) deadline() time.Time {
	d := m.start.Add(m.grace + time.Duration(m.read)*time.Second/time.Duration(m.rate))
	if !m.last.IsZero() && d.After(m.last) {
		return m.last
	}
	return d
}

// bodies wraps a handler of /api/v1 that reads a body of at most limit
// bytes with readBody: the body is charged to the token's workspace.
func (s *Server) bodies(limit int64, next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.metered(w, r, limit, "workspace "+workspace(r).ID, next)
	}
}

// Bodies holds the bodies of next, of at most limit bytes, to the API's
// memory budget for bodies, charged to the client address that client
// names of the request (nil: its peer's IP), so that a route outside
// /api/ that reads bodies without a token (Meta's webhook) can neither
// take the memory the API's are refused, nor, from one address, all of
// what such routes may take. A body read past the budget fails with
// chathook.ErrBodyBudget, past the minimum rate with a timeout.
func (s *Server) Bodies(limit int64, client func(*http.Request) string, next http.Handler) http.Handler {
	if client == nil {
		client = peerAddress
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.metered(w, r, limit, "address "+client(r), next.ServeHTTP)
	})
}

// metered serves r with its body charged to key as it arrives, and gives
// back what it held once answered. A body over the limit, by its
// Content-Length, holds nothing: the handler refuses it unread.
func (s *Server) metered(w http.ResponseWriter, r *http.Request, limit int64, key string, next http.HandlerFunc) {
	if r.ContentLength == 0 || r.ContentLength > limit || r.Body == nil || r.Body == http.NoBody {
		next(w, r)
		return
	}
	now := time.Now()
	m := &meteredBody{ReadCloser: r.Body, b: s.budget, key: key, size: r.ContentLength,
		rc: http.NewResponseController(w), start: now, last: now.Add(s.cfg.ReadTimeout),
		grace: s.cfg.BodyGrace, rate: s.cfg.BodyMinRate}
	if s.cfg.ReadTimeout <= 0 {
		m.last = time.Time{} // no read timeout: only the minimum rate cuts
	}
	if m.rate > 0 {
		_ = m.rc.SetReadDeadline(m.deadline())
	}
	defer func() {
		s.budget.give(key, m.held)
		if m.busy {
			s.cfg.Logger.Warn("request body refused: the memory budget for bodies, or the client's share of it, is spent",
				"path", r.URL.Path, "client", key, "bytes_read", m.read, "content_length", r.ContentLength)
		}
	}()
	r = r.WithContext(r.Context()) // a copy: the caller's request keeps its body, and its route
	r.Body = m
	next(w, r)
}

// peerAddress is the client of a request without a proxy in front: its
// peer's IP, an IPv6 one by its /64 (a host is routinely given a whole
// /64, so its single addresses cost an attacker nothing).
func peerAddress(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return r.RemoteAddr
	}
	if a = a.Unmap(); a.Is4() {
		return a.String()
	}
	return netip.PrefixFrom(a, 64).Masked().String()
}

// writeBusy answers 503: the service is fine, but has no memory to spare
// for this body now.
func writeBusy(w http.ResponseWriter) {
	w.Header().Set("Retry-After", strconv.Itoa(BusyRetryAfter))
	// The body is left unread: closing spares net/http reading up to 256
	// KB of it before it answers, to keep the connection.
	w.Header().Set("Connection", "close")
	writeFieldError(w, http.StatusServiceUnavailable, "body",
		"too many large requests at once: retry after "+strconv.Itoa(BusyRetryAfter)+" seconds")
}
