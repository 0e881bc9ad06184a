package app

import (
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"time"
)

// MaxRequestID is the longest X-Request-Id taken from a client.
const MaxRequestID = 128

// requests gives every response an X-Request-Id (the client's when sane,
// see saneRequestID, else a new random one), and logs one line per
// request when it is answered: its id, method, route, status, duration
// and the bytes of its body. The route is the pattern that matched (e.g.
// "PUT /api/v1/chats/{chat_id}"), never the raw path, which holds ids and
// query strings (a setup code, say) that do not belong in a log or a
// metric label. count, when set, is told of each request too.
func requests(logger *slog.Logger, count func(route string, status int, took time.Duration), next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		began := time.Now()
		id := r.Header.Get("X-Request-Id")
		if !saneRequestID(id) {
			id = newRequestID()
		}
		w.Header().Set("X-Request-Id", id)
		rec := &recorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		took := time.Since(began)
		// The muxes set r.Pattern on the request they were given: the
		// innermost one that saw this very request has the last word.
		route := r.Pattern
		if route == "" {
			route = "unmatched"
		}
		status := rec.status
		if status == 0 {
			status = http.StatusOK
		}
		logger.LogAttrs(r.Context(), slog.LevelInfo, "request", slog.String("request_id", id),
			slog.String("method", r.Method), slog.String("route", route), slog.Int("status", status),
			slog.Duration("duration", took), slog.Int64("bytes", rec.bytes))
		if count != nil {
			count(route, status, took)
		}
	})
}

// saneRequestID reports whether a client's X-Request-Id may be kept:
// 1 to MaxRequestID printable ASCII characters, nothing that could break
// a log line or a header.
func saneRequestID(id string) bool {
	if id == "" || len(id) > MaxRequestID {
		return false
	}
	for i := 0; i < len(id); i++ {
		if id[i] < 0x20 || id[i] > 0x7e {
			return false
		}
	}
	return true
}

// newRequestID is 16 random bytes in hex.
func newRequestID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// recorder notes the status and the body's size of a response. Unwrap
// lets http.ResponseController reach the connection's deadlines and
// flushes (the log download sets a write deadline per row).
type recorder struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *recorder) WriteHeader(code int) {
	if w.status == 0 && code >= 200 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *recorder) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(p)
	w.bytes += int64(n)
	return n, err
}

// Flush passes on to the connection, for those that assert http.Flusher.
func (w *recorder) Flush() {
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

func (w *recorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }
