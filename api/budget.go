package api

import (
	"io"
	"net/http"
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

// ShareSlack is what a workspace may hold beyond one batch of the largest
// size: the other requests it has in flight meanwhile (bodies of up to
// bodyChunk are charged their own size), so that its largest batch is not
// refused at its last chunk because a message of it is being read too.
const ShareSlack = 16 << 20

// budget is memory for request bodies, shared by every request of the
// service and charged as bodies arrive: a request holds what it has
// read, at BodyCost a byte, until its answer is written. No workspace may
// hold more than perKey, so one tenant cannot take it all. Routes without
// a token (Meta's webhook) draw on a pool of their own within the budget,
// a quarter of it, and each client address on them on a small share of
// that pool: addresses cost an attacker little, so together they can
// never take what the API's tokens need.
type budget struct {
	mu      sync.Mutex
	free    int64
	perKey  int64 // a workspace's share
	open    int64 // what routes without a token hold together
	openCap int64 // their pool
	held    map[string]int64
}

// bodyKey is who a body is charged to: a workspace, or a client address
// of a route without a token (open), with its share.
type bodyKey struct {
	name  string
	share int64
	open  bool
}

func newBudget(size int64) *budget {
	if size <= 0 {
		size = DefaultBodyBudget
	}
	size = max(size, MinBodyBudget)
	// A quarter, yet never less than one batch of the largest size and the
	// slack: at the default budget a workspace may hold a little over half
	// of it, since a share must take the largest batch, and bodies that
	// trickle or stall free their share within seconds.
	return &budget{free: size, perKey: max(size/4, MinBodyBudget+ShareSlack), openCap: size / 4, held: map[string]int64{}}
}

// workspace is the key of a workspace's bodies.
func (b *budget) workspace(id string) bodyKey {
	return bodyKey{name: "workspace " + id, share: b.perKey}
}

// address is the key of the bodies of a client address on a route without
// a token whose bodies are at most limit bytes: two of its largest at
// once, never more than the pool.
func (b *budget) address(client string, limit int64) bodyKey {
	return bodyKey{name: "address " + client, share: min(2*limit*BodyCost, b.openCap), open: true}
}

// take reserves n bytes for k if the budget, k's share and, for a key
// without a token, their pool have room, without waiting: a request that
// waited would hold its connection and its unread body meanwhile.
func (b *budget) take(k bodyKey, n int64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if n > b.free || b.held[k.name]+n > k.share || (k.open && b.open+n > b.openCap) {
		return false
	}
	b.free -= n
	b.held[k.name] += n
	if k.open {
		b.open += n
	}
	return true
}

func (b *budget) give(k bodyKey, n int64) {
	if n == 0 {
		return
	}
	b.mu.Lock()
	b.free += n
	if k.open {
		b.open -= n
	}
	if left := b.held[k.name] - n; left > 0 {
		b.held[k.name] = left
	} else {
		delete(b.held, k.name)
	}
	b.mu.Unlock()
}

// meteredBody is a request body that charges the budget as it is read,
// bodyChunk at a time (or what is left of its declared length, if less),
// and that must keep arriving at a minimum rate: its read deadline starts
// grace after the start, and each byte read moves it 1/rate later, yet
// never more than grace past the read, nor past the server's read
// timeout (a token bucket of at most grace). So a body that trickles is
// cut, and so is one that came fast and then trickles or stalls: an
// average since the start would let it bank credit (88 s for 90 KB at
// 1 KiB/s), then hold its share until the read timeout.
type meteredBody struct {
	io.ReadCloser
	b      *budget
	key    bodyKey
	held   int64 // charged, at BodyCost a byte
	credit int64 // bytes charged but not read yet
	read   int64
	size   int64 // the declared length, -1 when unknown

	rc         *http.ResponseController
	mark, last time.Time // mark: the minimum rate's deadline; last: the read timeout's
	grace      time.Duration
	rate       int64
	done, busy bool
}

func (m *meteredBody) Read(p []byte) (int, error) {
	if m.done {
		return m.ReadCloser.Read(p)
	}
	if m.credit == 0 {
		chunk := int64(bodyChunk)
		if m.size > 0 {
			// A small body is charged its own size, not a whole chunk:
			// a workspace may have thousands of single messages in flight.
			chunk = min(chunk, m.size-m.read)
		}
		if !m.b.take(m.key, chunk*BodyCost) {
			m.busy = true
			return 0, chathook.ErrBodyBudget
		}
		m.held += chunk * BodyCost
		m.credit = chunk
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
		_ = m.rc.SetReadDeadline(m.deadline(time.Now(), n))
	}
	return n, err
}

// deadline moves the minimum rate's deadline on by n bytes read at now,
// at most to grace past now, and returns when the next byte must have
// arrived: that, or the read timeout's deadline if sooner.
func (m *meteredBody) deadline(now time.Time, n int) time.Time {
	m.mark = m.mark.Add(time.Duration(n) * time.Second / time.Duration(m.rate))
	if most := now.Add(m.grace); m.mark.After(most) {
		m.mark = most
	}
	if !m.last.IsZero() && m.mark.After(m.last) {
		return m.last
	}
	return m.mark
}

// bodies wraps a handler of /api/v1 that reads a body of at most limit
// bytes with readBody: the body is charged to the token's workspace.
func (s *Server) bodies(limit int64, next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.metered(w, r, limit, s.budget.workspace(workspace(r).ID), next)
	}
}

// Bodies holds the bodies of next, of at most limit bytes, to the API's
// memory budget for bodies: to the pool of routes without a token (a
// quarter of the budget), and within it to the client address that
// client names of the request (the web UI's, which knows the trusted
// proxies), which may hold two
// bodies of limit bytes at once. So a route outside /api/ that reads
// bodies without a token (Meta's webhook) can neither take the memory
// the API's tokens need, nor, from a few addresses, all of what such
// routes may take. A body read past the budget fails with
// chathook.ErrBodyBudget, past the minimum rate with a timeout.
func (s *Server) Bodies(limit int64, client func(*http.Request) string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.metered(w, r, limit, s.budget.address(client(r), limit), next.ServeHTTP)
	})
}

// metered serves r with its body charged to key as it arrives, and gives
// back what it held once answered. A body over the limit, by its
// Content-Length, holds nothing: the handler refuses it unread.
func (s *Server) metered(w http.ResponseWriter, r *http.Request, limit int64, key bodyKey, next http.HandlerFunc) {
	if r.ContentLength == 0 || r.ContentLength > limit || r.Body == nil || r.Body == http.NoBody {
		next(w, r)
		return
	}
	now := time.Now()
	m := &meteredBody{ReadCloser: r.Body, b: s.budget, key: key, size: r.ContentLength,
		rc: http.NewResponseController(w), mark: now.Add(s.cfg.BodyGrace), last: now.Add(s.cfg.ReadTimeout),
		grace: s.cfg.BodyGrace, rate: s.cfg.BodyMinRate}
	if s.cfg.ReadTimeout <= 0 {
		m.last = time.Time{} // no read timeout: only the minimum rate cuts
	}
	if m.rate > 0 {
		_ = m.rc.SetReadDeadline(m.deadline(now, 0))
	}
	defer func() {
		s.budget.give(key, m.held)
		if m.busy {
			s.cfg.Logger.Warn("request body refused: the memory budget for bodies, or the client's share of it, is spent",
				"path", r.URL.Path, "client", key.name, "bytes_read", m.read, "content_length", r.ContentLength)
		}
	}()
	r = r.WithContext(r.Context()) // a copy: the caller's request keeps its body, and its route
	r.Body = m
	next(w, r)
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
