package api

import (
	"net/http"
	"strconv"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/ingest"
	"github.com/chathook/chathook/payload"
)

// rfc3339 is how the recover and rotate routes write a time: RFC 3339 in
// UTC, as they read one.
func rfc3339(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// RecoverRange reads the range of a recovery as the API and the web form
// take it: since required, until defaulting to now, both RFC 3339, until
// not before since. The error is an *ingest.FieldError naming the field.
func RecoverRange(since, until string, now time.Time) (from, to time.Time, err error) {
	if since == "" {
		return from, to, &ingest.FieldError{Field: "since", Problem: "required: when the outage began, in RFC 3339 (2026-03-01T09:00:00Z)"}
	}
	if from, err = time.Parse(time.RFC3339, since); err != nil {
		return from, to, &ingest.FieldError{Field: "since", Problem: strconv.Quote(since) + " is not an RFC 3339 time such as 2026-03-01T09:00:00Z"}
	}
	to = now
	if until != "" {
		if to, err = time.Parse(time.RFC3339, until); err != nil {
			return from, to, &ingest.FieldError{Field: "until", Problem: strconv.Quote(until) + " is not an RFC 3339 time such as 2026-03-01T17:00:00Z"}
		}
	}
	if to.Before(from) {
		return from, to, &ingest.FieldError{Field: "until", Problem: "must not be before since"}
	}
	return from, to, nil
}

// postRecover queues again every failed or discarded delivery of the
// endpoint queued in [since, until): the receiver was down, and now it
// is back. Idempotent: see store.Recovery.Recover.
func (s *Server) postRecover(w http.ResponseWriter, r *http.Request) {
	wh, ok := s.endpoint(w, r)
	if !ok {
		return
	}
	body, ok := readBody(w, r, maxSettingBody)
	if !ok {
		return
	}
	var in struct {
		Since string `json:"since"`
		Until string `json:"until"`
	}
	if err := ingest.Decode(body, &in); err != nil {
		writeInputError(w, err)
		return
	}
	now := s.cfg.Now()
	since, until, err := RecoverRange(in.Since, in.Until, now)
	if err != nil {
		writeInputError(w, err)
		return
	}
	ws := wh.WorkspaceID
	n, err := s.cfg.Store.Recover(r.Context(), ws, wh.ID, since, until, now)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	s.cfg.Logger.Info("deliveries recovered", "workspace", ws, "endpoint", wh.ID, "deliveries", n, "since", since, "until", until)
	if n > 0 {
		s.cfg.Queued()
	}
	writeJSON(w, http.StatusAccepted, map[string]int{"deliveries": n})
}

// postRotate makes a new signing secret; the one it replaces signs every
// POST too for chathook.SecretOverlap, so that receivers switch without a
// failed delivery. The body is empty or {}.
func (s *Server) postRotate(w http.ResponseWriter, r *http.Request) {
	cur, ok := s.endpoint(w, r)
	if !ok {
		return
	}
	if !readNoInput(w, r) {
		return
	}
	ws := cur.WorkspaceID
	now := s.cfg.Now()
	wh, err := s.cfg.Store.RotateSecret(r.Context(), ws, cur.ID, payload.NewSecret(), now, now.Add(chathook.SecretOverlap))
	if err != nil {
		s.writeEndpointError(w, r, err) // deleted since: 404
		return
	}
	s.cfg.Logger.Info("signing secret rotated", "workspace", ws, "endpoint", wh.ID, "previous_valid_until", wh.PreviousSecretUntil)
	writeJSON(w, http.StatusOK, map[string]string{"secret": wh.Secret, "previous_valid_until": rfc3339(wh.PreviousSecretUntil)})
}
