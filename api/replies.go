package api

import (
	"context"
	"errors"
	"net/http"
	"strconv"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/ingest"
	"github.com/chathook/chathook/reply"
)

// Replier queues replies to chats and wakes whoever sends them
// (reply.Sender).
type Replier interface {
	Queue(ctx context.Context, workspaceID string, chatID int64, text string, by chathook.Teammate) (chathook.Reply, error)
}

// replyJSON is a reply as the API shows it.
type replyJSON struct {
	MessageID string `json:"message_id"`
	Status    string `json:"status"`
	Error     string `json:"error"`
}

// postReply queues a reply to a chat: 202 once it is committed, whatever
// WhatsApp then makes of it (GET tells); 409 when its account cannot send
// or the chat is neither a person nor a group (reply.CannotSendError).
func (s *Server) postReply(w http.ResponseWriter, r *http.Request) {
	chatID, ok := pathChat(w, r)
	if !ok {
		return
	}
	if s.cfg.Replies == nil {
		writeError(w, http.StatusServiceUnavailable, "this chathook sends no replies")
		return
	}
	body, ok := readBody(w, r, MaxMessageBody)
	if !ok {
		return
	}
	var in struct {
		Text   *string `json:"text"`
		SentBy *struct {
			FullName string `json:"full_name"`
			Email    string `json:"email"`
		} `json:"sent_by"`
	}
	if err := ingest.Decode(body, &in); err != nil {
		writeInputError(w, err)
		return
	}
	if in.Text == nil {
		writeFieldError(w, http.StatusBadRequest, "text", "required: the text to send")
		return
	}
	var by chathook.Teammate
	if in.SentBy != nil {
		by = chathook.Teammate{FullName: in.SentBy.FullName, Email: in.SentBy.Email}
	}
	rep, err := s.cfg.Replies.Queue(r.Context(), workspace(r).ID, chatID, *in.Text, by)
	var fe *ingest.FieldError
	var cannot *reply.CannotSendError
	switch {
	case errors.As(err, &fe):
		writeFieldError(w, http.StatusBadRequest, fe.Field, fe.Problem)
	case errors.Is(err, chathook.ErrNotFound):
		writeFieldError(w, http.StatusNotFound, "chat_id", "no chat "+itoa(chatID)+" in this workspace")
	case errors.As(err, &cannot):
		writeError(w, http.StatusConflict, cannot.Reason)
	case err != nil:
		s.internal(w, r, err)
	default:
		writeJSON(w, http.StatusAccepted, struct {
			MessageID string `json:"message_id"`
			Status    string `json:"status"`
		}{rep.ID, string(rep.State)})
	}
}

// getReply tells how far a reply got: queued, sent, failed, or uncertain
// (given up while an attempt's end was unknown: it may have been sent).
func (s *Server) getReply(w http.ResponseWriter, r *http.Request) {
	chatID, ok := pathChat(w, r)
	if !ok {
		return
	}
	id := r.PathValue("message_id")
	rep, err := s.cfg.Store.Reply(r.Context(), workspace(r).ID, chatID, id)
	if errors.Is(err, chathook.ErrNotFound) {
		writeFieldError(w, http.StatusNotFound, "message_id", "no message "+strconv.Quote(id)+" sent from chathook in chat "+itoa(chatID))
		return
	}
	if err != nil {
		s.internal(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, replyJSON{MessageID: rep.ID, Status: string(rep.State), Error: rep.Error})
}

// pathChat parses the path's chat id, or answers 400.
func pathChat(w http.ResponseWriter, r *http.Request) (int64, bool) {
	chatID, err := strconv.ParseInt(r.PathValue("chat_id"), 10, 64)
	if err != nil || chatID <= 0 {
		writeFieldError(w, http.StatusBadRequest, "chat_id", strconv.Quote(r.PathValue("chat_id"))+" is not a chat id")
		return 0, false
	}
	return chatID, true
}
