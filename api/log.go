package api

import (
	"encoding/csv"
	"encoding/json"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/payload"
	"github.com/chathook/chathook/store"
)

// ActivityEntries is how many deliveries the activity log shows.
const ActivityEntries = 10

type activityJSON struct {
	Time       string `json:"time"`
	WebhookID  string `json:"webhook_id"`
	Kind       string `json:"kind"`
	ChatID     string `json:"chat_id"`
	ChatName   string `json:"chat_name"`
	Messages   int    `json:"messages"`
	Status     string `json:"status"`
	HTTPStatus int    `json:"http_status"`
	Error      string `json:"error"`
	DurationMS int64  `json:"duration_ms"`
	Attempts   int    `json:"attempts"`
}

func (s *Server) getActivity(w http.ResponseWriter, r *http.Request) {
	wh, ok := s.endpoint(w, r)
	if !ok {
		return
	}
	acts, err := s.cfg.Store.Activity(r.Context(), wh.WorkspaceID, wh.ID, ActivityEntries)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	out := struct {
		Entries []activityJSON `json:"entries"`
	}{Entries: make([]activityJSON, len(acts))}
	for i, a := range acts {
		out.Entries[i] = activityJSON{
			Time: payload.Time(a.At), WebhookID: a.EventID, Kind: a.Kind, ChatID: strconv.FormatInt(a.ChatID, 10),
			ChatName: a.ChatName, Messages: a.Messages, Status: a.State, HTTPStatus: a.Status, Error: a.Err,
			DurationMS: a.Duration.Milliseconds(), Attempts: a.Attempts,
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// logColumns heads the CSV download; JSON lines use the same names.
var logColumns = []string{"time", "webhook_id", "delivery_id", "kind", "chat_id", "messages", "attempt", "url",
	"outcome", "http_status", "duration_ms", "error"}

type logJSON struct {
	Time       string `json:"time"`
	WebhookID  string `json:"webhook_id"`
	DeliveryID int64  `json:"delivery_id"`
	Kind       string `json:"kind"`
	ChatID     string `json:"chat_id"`
	Messages   int    `json:"messages"`
	Attempt    int    `json:"attempt"`
	URL        string `json:"url"`
	Outcome    string `json:"outcome"`
	HTTPStatus int    `json:"http_status"`
	DurationMS int64  `json:"duration_ms"`
	Error      string `json:"error"`
}

func (s *Server) getLog(w http.ResponseWriter, r *http.Request) {
	wh, ok := s.endpoint(w, r)
	if !ok {
		return
	}
	StreamEndpointLog(w, r, s.cfg.Store, wh.WorkspaceID, wh.ID, s.cfg.Now(), s.cfg.Logger, s.cfg.StreamWriteTimeout)
}

// DefaultStreamWriteTimeout is how long a download may wait for its
// client to take one row: far longer than any client that is reading
// needs, short enough that one that stopped is soon cut off.
const DefaultStreamWriteTimeout = 30 * time.Second

// StreamEndpointLog answers a download of an endpoint's detailed log: every
// attempt (and discard) as CSV, or JSON lines with ?format=jsonl, from
// ?since= on, a page at a time from the database (store.EachAttempt), so
// a log of millions of rows is never in memory and no connection is held
// while the client is written to. Each write has writeTimeout (zero:
// DefaultStreamWriteTimeout) to reach the client's socket: a client that
// stops reading is cut off then, and never holds the database. The API
// (bearer token) and the web UI (session) both serve it, so the two
// downloads are always the same format.
func StreamEndpointLog(w http.ResponseWriter, r *http.Request, st store.Store, workspaceID, endpointID string, now time.Time,
	logger *slog.Logger, writeTimeout time.Duration) {
	format := r.URL.Query().Get("format")
	if format == "" {
		format = "csv"
	}
	if format != "csv" && format != "jsonl" {
		writeFieldError(w, http.StatusBadRequest, "format", strconv.Quote(format)+` is not "csv" or "jsonl"`)
		return
	}
	var since time.Time
	if v := r.URL.Query().Get("since"); v != "" {
		var err error
		if since, err = parseTime(v); err != nil {
			writeFieldError(w, http.StatusBadRequest, "since", strconv.Quote(v)+` is not a time: use RFC 3339, e.g. "2026-01-31T00:00:00Z"`)
			return
		}
	}
	name := "chathook-log-" + now.UTC().Format("20060102-150405") + "." + format
	if format == "csv" {
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	} else {
		w.Header().Set("Content-Type", "application/x-ndjson")
	}
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
	w.Header().Set("Cache-Control", "no-store")

	if writeTimeout <= 0 {
		writeTimeout = DefaultStreamWriteTimeout
	}
	rc := http.NewResponseController(w)
	// Every write below is given its own deadline: a write that cannot
	// reach the socket in time fails, and so does every one after it.
	// The last one also bounds net/http's own flush of the response's
	// end; the server clears it before the connection's next request.
	deadline := func() { _ = rc.SetWriteDeadline(time.Now().Add(writeTimeout)) }
	defer deadline() // runs after the deferred flush: for net/http's
	deadline()
	rows := 0
	var write func(chathook.Attempt) error
	if format == "csv" {
		cw := csv.NewWriter(w)
		if err := cw.Write(logColumns); err != nil {
			return
		}
		write = func(a chathook.Attempt) error {
			err := cw.Write([]string{payload.Time(a.At), a.EventID, strconv.FormatInt(a.DeliveryID, 10), a.Kind,
				strconv.FormatInt(a.ChatID, 10), strconv.Itoa(a.Messages), strconv.Itoa(a.Attempt), a.URL, a.Outcome,
				strconv.Itoa(a.Status), strconv.FormatInt(a.Duration.Milliseconds(), 10), a.Err})
			if rows++; rows%1000 == 0 {
				cw.Flush()
				_ = rc.Flush()
			}
			if err == nil {
				err = cw.Error() // csv.Writer keeps a failed write's error here
			}
			return err
		}
		defer func() { deadline(); cw.Flush() }()
	} else {
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false)
		write = func(a chathook.Attempt) error {
			if rows++; rows%1000 == 0 {
				_ = rc.Flush()
			}
			return enc.Encode(logJSON{
				Time: payload.Time(a.At), WebhookID: a.EventID, DeliveryID: a.DeliveryID, Kind: a.Kind,
				ChatID: strconv.FormatInt(a.ChatID, 10), Messages: a.Messages, Attempt: a.Attempt, URL: a.URL, // stored redacted (Outcome.URL)
				Outcome: a.Outcome, HTTPStatus: a.Status, DurationMS: a.Duration.Milliseconds(), Error: a.Err,
			})
		}
	}
	var writeErr error
	err := store.EachAttempt(r.Context(), st, workspaceID, endpointID, since, func(a chathook.Attempt) error {
		deadline()
		writeErr = write(a)
		return writeErr
	})
	switch {
	case writeErr != nil:
		// The client went away or stopped reading: nothing to answer.
		logger.Info("log download cut short: the client did not take it", "workspace", workspaceID, "endpoint", endpointID, "rows", rows, "err", writeErr)
		panic(http.ErrAbortHandler)
	case err != nil && r.Context().Err() == nil:
		// The status line is sent; all that can be done is to cut the
		// download short, which the client sees as an error.
		logger.Error("log download", "workspace", workspaceID, "endpoint", endpointID, "rows", rows, "err", err)
		panic(http.ErrAbortHandler)
	}
}

// parseTime reads RFC 3339 or the wire form.
func parseTime(v string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		t, err = time.Parse(payload.TimeLayout, v)
	}
	return t, err
}
