package api

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/ingest"
	"github.com/chathook/chathook/payload"
)

type ingestAnswer struct {
	Status string `json:"status"`
	ChatID string `json:"chat_id"`
	Reason string `json:"reason"`
}

func answer(r chathook.IngestResult) ingestAnswer {
	return ingestAnswer{Status: string(r.Status), ChatID: strconv.FormatInt(r.ChatID, 10), Reason: r.Reason}
}

func (s *Server) postMessage(w http.ResponseWriter, r *http.Request) {
	body, ok := readBody(w, r, MaxMessageBody)
	if !ok {
		return
	}
	in, err := ingest.Message(body, s.cfg.Now())
	if err != nil {
		writeInputError(w, err)
		return
	}
	results, ok := s.ingest(w, r, []chathook.Incoming{in})
	if ok {
		writeJSON(w, http.StatusAccepted, answer(results[0]))
	}
}

func (s *Server) postBatch(w http.ResponseWriter, r *http.Request) {
	body, ok := readBody(w, r, MaxBatchBody)
	if !ok {
		return
	}
	ins, err := ingest.Batch(body, s.cfg.Now())
	if err != nil {
		writeInputError(w, err)
		return
	}
	results, ok := s.ingest(w, r, ins)
	if !ok {
		return
	}
	out := struct {
		Results []ingestAnswer `json:"results"`
	}{make([]ingestAnswer, len(results))}
	for i, res := range results {
		out.Results[i] = answer(res)
	}
	writeJSON(w, http.StatusAccepted, out)
}

// ingest stores the messages (all or none) and wakes the dispatcher.
func (s *Server) ingest(w http.ResponseWriter, r *http.Request, ins []chathook.Incoming) ([]chathook.IngestResult, bool) {
	ws := workspace(r)
	results, err := s.cfg.Store.Ingest(r.Context(), ws.ID, s.cfg.Now(), ins)
	if err != nil {
		s.internal(w, r, err)
		return nil, false
	}
	accepted := 0
	for _, res := range results {
		if res.Status == chathook.Accepted {
			accepted++
		}
	}
	if accepted > 0 {
		s.cfg.Ingested()
	}
	s.cfg.Logger.Debug("ingested", "workspace", ws.ID, "messages", len(ins), "accepted", accepted)
	return results, true
}

func writeInputError(w http.ResponseWriter, err error) {
	var fe *ingest.FieldError
	if errors.As(err, &fe) {
		writeFieldError(w, http.StatusBadRequest, fe.Field, fe.Problem)
		return
	}
	writeError(w, http.StatusBadRequest, err.Error())
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// getMessage answers GET /api/v1/messages/{message_uuid}: one stored
// message as the event format's data.message, its attachments with
// fresh links (a receiver whose link expired asks here again).
func (s *Server) getMessage(w http.ResponseWriter, r *http.Request) {
	uuid := r.PathValue("message_uuid")
	m, err := s.cfg.Store.MessageByUUID(r.Context(), workspace(r).ID, uuid)
	if errors.Is(err, chathook.ErrNotFound) {
		writeFieldError(w, http.StatusNotFound, "message_uuid", "no message "+strconv.Quote(uuid)+" in this workspace")
		return
	}
	if err != nil {
		s.internal(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store") // its links are fresh each time
	w.WriteHeader(http.StatusOK)
	w.Write(payload.EventMessage(s.cfg.BaseURL, m, s.cfg.Now()))
}
