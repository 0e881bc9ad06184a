package web

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/ingest"
	"github.com/chathook/chathook/reply"
	"github.com/google/uuid"
)

// Replier sends a teammate's reply to a chat: it validates the text,
// commits the reply with its message in the chat's timeline, and wakes
// whatever sends it; *reply.Sender is one. Its errors are reply.Queue's:
// an *ingest.FieldError, chathook.ErrNotFound, a *reply.CannotSendError.
type Replier interface {
	Queue(ctx context.Context, workspaceID string, chatID int64, text string, by chathook.Teammate) (chathook.Reply, error)
}

// replyBox is the reply form under a chat's timeline.
type replyBox struct {
	Show   bool   // the service can send replies
	Sender string // the signed-in teammate's name, for the message the script shows at once
	Text   string // a refused reply's text, kept
	Error  string // why it was refused, for a person
}

// replyStateView is the answer of the state route, as the API's GET of a
// reply: status queued, sent or failed; error why it failed (while
// queued, why the latest attempt did not go through).
type replyStateView struct {
	MessageID string `json:"message_id"`
	Status    string `json:"status"`
	Error     string `json:"error"`
}

// wantsJSON: the chat page's script asks for JSON; a form sent without
// script gets a page.
func wantsJSON(r *http.Request) bool {
	return strings.Contains(r.Header.Get("Accept"), "application/json")
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// jsonError is an error answered to the script: words for a person, and
// the form field at fault when there is one.
type jsonError struct {
	Error string `json:"error"`
	Field string `json:"field,omitempty"`
}

// pathChatID is the path's {chat_id}, if it is one.
func pathChatID(r *http.Request) (int64, bool) {
	id, err := strconv.ParseInt(r.PathValue("chat_id"), 10, 64)
	return id, err == nil && id > 0
}

// chatOf reads the chat a path's {chat_id} names, in the visit's
// workspace; ok false means it answered already (404 or 500).
func (s *Server) chatOf(w http.ResponseWriter, r *http.Request, v visit, asJSON bool) (chathook.Chat, bool) {
	notFound := func() {
		const msg = "There is no such chat in this workspace."
		if asJSON {
			writeJSON(w, http.StatusNotFound, jsonError{Error: msg})
			return
		}
		s.errorPage(w, r, http.StatusNotFound, msg)
	}
	id, ok := pathChatID(r)
	if !ok {
		notFound()
		return chathook.Chat{}, false
	}
	chat, err := s.cfg.Store.Chat(r.Context(), v.workspaceID(), id)
	if errors.Is(err, chathook.ErrNotFound) {
		notFound()
		return chathook.Chat{}, false
	}
	if err != nil {
		s.internal(w, r, err)
		return chathook.Chat{}, false
	}
	return chat, true
}

// postReply queues the signed-in teammate's reply to a chat. The script
// gets 202 and the reply's id to follow it by; a form sent without script
// goes back to the chat's latest messages, where the reply shows with its
// state. A refused reply keeps its text, with the reason beside the box.
func (s *Server) postReply(w http.ResponseWriter, r *http.Request, v visit) {
	asJSON := wantsJSON(r)
	chat, ok := s.chatOf(w, r, v, asJSON)
	if !ok {
		return
	}
	// A textarea's line breaks come as CRLF in a form; WhatsApp's are LF.
	text := strings.ReplaceAll(r.PostFormValue("text"), "\r\n", "\n")
	fail := func(status int, field, message string) {
		if asJSON {
			writeJSON(w, status, jsonError{Error: message, Field: field})
			return
		}
		if status == http.StatusBadRequest {
			status = http.StatusUnprocessableEntity // as every other form of the web UI answers its field errors
		}
		s.showChat(w, r, v, chat, status, replyBox{Text: text, Error: message})
	}
	if s.cfg.Replies == nil { // no box to show the error beside
		const msg = "This chathook cannot send replies."
		if asJSON {
			writeJSON(w, http.StatusServiceUnavailable, jsonError{Error: msg})
		} else {
			s.errorPage(w, r, http.StatusServiceUnavailable, msg)
		}
		return
	}
	rep, err := s.cfg.Replies.Queue(r.Context(), v.workspaceID(), chat.ID, text, chathook.Teammate{FullName: v.User.Name, Email: v.User.Email})
	var fe *ingest.FieldError
	var cannot *reply.CannotSendError
	switch {
	case errors.As(err, &fe) && fe.Field == "text" && ingest.IsBlank(text):
		fail(http.StatusBadRequest, "text", "Type a message first.")
		return
	case errors.As(err, &fe) && fe.Field == "text":
		fail(http.StatusBadRequest, "text", "The message cannot be sent: "+fullStop(fe.Problem))
		return
	case errors.As(err, &fe):
		// sent_by: the teammate's own name or email, not what they typed.
		fail(http.StatusBadRequest, fe.Field, "Your user cannot sign a reply ("+fe.Error()+"): ask the workspace's owner to fix it.")
		return
	case errors.As(err, &cannot):
		fail(http.StatusConflict, "", "Not sent: "+fullStop(cannot.Reason))
		return
	case errors.Is(err, chathook.ErrNotFound):
		fail(http.StatusNotFound, "", "There is no such chat in this workspace.")
		return
	case err != nil:
		s.internal(w, r, err)
		return
	}
	s.cfg.Logger.Info("reply queued", "workspace", v.workspaceID(), "chat", chat.ID, "reply", rep.ID, "user", v.User.ID)
	if asJSON {
		status := string(rep.State)
		if status == "" {
			status = string(chathook.ReplyQueued)
		}
		writeJSON(w, http.StatusAccepted, struct {
			MessageID string `json:"message_id"`
			Status    string `json:"status"`
		}{rep.ID, status})
		return
	}
	// The box sits right under the newest message: landing on it shows both.
	http.Redirect(w, r, "/chat/"+strconv.FormatInt(chat.ID, 10)+"/messages/#reply", http.StatusSeeOther)
}

// fullStop ends a reason given in words, after a colon, with one full
// stop (sentence, of the Cloud API form, capitalises it too).
func fullStop(reason string) string {
	return strings.TrimRight(reason, ". ") + "."
}

// replyState answers how far a reply got, for the script that follows it:
// queued, sent, or failed with the reason.
func (s *Server) replyState(w http.ResponseWriter, r *http.Request, v visit) {
	// The script asks every second while a reply is queued: one read,
	// which Reply scopes to the workspace and the chat itself.
	chatID, ok := pathChatID(r)
	id, err := uuid.Parse(r.PathValue("message_id"))
	if !ok || err != nil {
		writeJSON(w, http.StatusNotFound, jsonError{Error: "There is no such reply in this chat."})
		return
	}
	rep, err := s.cfg.Store.Reply(r.Context(), v.workspaceID(), chatID, id.String())
	if errors.Is(err, chathook.ErrNotFound) {
		writeJSON(w, http.StatusNotFound, jsonError{Error: "There is no such reply in this chat."})
		return
	}
	if err != nil {
		s.internal(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, replyStateView{MessageID: rep.ID, Status: string(rep.State), Error: rep.Error})
}
