package api

import (
	"context"
	"net/http"
	"strconv"
	"sync"
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

// budget is memory for request bodies, shared by every request of the
// service: a request holds its share from before its body is read until
// its answer is written, so the memory the service can be made to hold
// by request bodies at once is bounded, whatever the number of clients.
type budget struct {
	mu   sync.Mutex
	free int64
}

func newBudget(size int64) *budget {
	if size <= 0 {
		size = DefaultBodyBudget
	}
	return &budget{free: max(size, MinBodyBudget)}
}

// take reserves n bytes if there is room, without waiting: a request
// that waited would hold its connection and its unread body meanwhile.
func (b *budget) take(n int64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if n > b.free {
		return false
	}
	b.free -= n
	return true
}

func (b *budget) give(n int64) {
	b.mu.Lock()
	b.free += n
	b.mu.Unlock()
}

// share is what one request holds of the budget.
type share struct {
	b    *budget
	held int64
}

type shareKey struct{}

// bodies wraps a handler that reads a body of at most limit bytes with
// readBody: the request holds BodyCost times its Content-Length of the
// budget (the limit when it has none, such as a chunked body, until the
// body is read and its size known), or is answered 503 with Retry-After.
// A body over the limit holds nothing: readBody refuses it unread.
func (s *Server) bodies(limit int64, next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		size := r.ContentLength
		switch {
		case size == 0 || size > limit:
			next(w, r)
			return
		case size < 0:
			size = limit
		}
		sh := &share{b: s.budget, held: size * BodyCost}
		if !s.budget.take(sh.held) {
			s.cfg.Logger.Warn("request body refused: the memory budget for bodies is spent",
				"path", r.URL.Path, "bytes", r.ContentLength)
			writeBusy(w)
			return
		}
		defer func() { s.budget.give(sh.held) }()
		next(w, r.WithContext(context.WithValue(r.Context(), shareKey{}, sh)))
	}
}

// Bodies holds the bodies of next, of at most limit bytes, to the API's
// memory budget for bodies, so that a route outside /api/ that reads
// bodies (Meta's webhook) cannot take the memory the API's are refused,
// nor they its.
func (s *Server) Bodies(limit int64, next http.Handler) http.Handler {
	return s.bodies(limit, next.ServeHTTP)
}

// fitShare gives back what r holds beyond BodyCost times n, the size of
// its body once read.
func fitShare(r *http.Request, n int64) {
	sh, ok := r.Context().Value(shareKey{}).(*share)
	if !ok {
		return
	}
	if extra := sh.held - n*BodyCost; extra > 0 {
		sh.held -= extra
		sh.b.give(extra)
	}
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
