package web

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/store"
	"github.com/google/uuid"
)

// Page sizes: enough to read a conversation, little enough to render fast.
const (
	chatsPerPage    = 50
	messagesPerPage = 50
	contextAbove    = 10 // messages shown above a permalink's message
)

type chatsView struct {
	layout
	Chats []chathook.ChatSummary
	Older string // link to the next page, "" on the last
}

func (s *Server) chats(w http.ResponseWriter, r *http.Request, v visit) {
	var before int64
	if b := r.URL.Query().Get("before"); b != "" {
		var err error
		if before, err = strconv.ParseInt(b, 10, 64); err != nil || before <= 0 {
			s.errorPage(w, r, http.StatusBadRequest, "This page address is broken: ?before= must be a chat id.")
			return
		}
	}
	list, err := s.cfg.Store.Chats(r.Context(), v.workspaceID(), before, chatsPerPage+1)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	data := chatsView{layout: v.layout(s, "Chats", "chats"), Chats: list}
	if len(list) > chatsPerPage {
		data.Chats = list[:chatsPerPage]
		data.Older = "/chats/?before=" + strconv.FormatInt(data.Chats[chatsPerPage-1].ID, 10)
	}
	s.render(w, r, http.StatusOK, "chats.html", data)
}

type chatView struct {
	layout
	Chat     chathook.Chat
	Messages []messageView
	Older    string // links to the neighbouring pages, "" when there are none
	Newer    string
	Latest   string
}

type messageView struct {
	chathook.Message
	Day       string // set on the first message of each day
	Highlight bool   // the message a permalink opened
}

// chat shows one page of a chat's timeline: the latest messages; those
// ?before= or ?after= a position; or, with ?at=<uuid>, a permalink's
// message with a few before it, highlighted.
func (s *Server) chat(w http.ResponseWriter, r *http.Request, v visit) {
	ctx := r.Context()
	chatID, err := strconv.ParseInt(r.PathValue("chat_id"), 10, 64)
	if err != nil || chatID <= 0 {
		s.errorPage(w, r, http.StatusNotFound, "There is no such chat.")
		return
	}
	chat, err := s.cfg.Store.Chat(ctx, v.workspaceID(), chatID)
	if errors.Is(err, chathook.ErrNotFound) {
		s.errorPage(w, r, http.StatusNotFound, "There is no such chat in this workspace.")
		return
	}
	if err != nil {
		s.internal(w, r, err)
		return
	}
	q := r.URL.Query()
	read := func(p store.Page) []chathook.Message {
		if err != nil {
			return nil
		}
		var ms []chathook.Message
		ms, err = s.cfg.Store.Messages(ctx, v.workspaceID(), chatID, p)
		return ms
	}
	var msgs []chathook.Message
	var hasOlder, hasNewer bool
	var at string
	switch {
	case q.Has("at"):
		at = q.Get("at")
		m, lookup := s.cfg.Store.MessageByUUID(ctx, v.workspaceID(), at)
		if errors.Is(lookup, chathook.ErrNotFound) || (lookup == nil && m.ChatID != chatID) {
			s.errorPage(w, r, http.StatusNotFound, "There is no such message in this chat.")
			return
		}
		err = lookup
		// A few messages above it for context, the page's rest below.
		var above, below []chathook.Message
		hasOlder, above = trimFront(read(store.Page{Before: store.Of(m), Limit: contextAbove + 1}), contextAbove)
		rest := messagesPerPage - 1 - len(above)
		hasNewer, below = trimBack(read(store.Page{After: store.Of(m), Limit: rest + 1}), rest)
		msgs = append(append(above, m), below...)
	case q.Has("before"):
		pos, ok := parsePosition(q.Get("before"))
		if !ok {
			s.errorPage(w, r, http.StatusBadRequest, "This page address is broken: ?before= is not a message position.")
			return
		}
		hasOlder, msgs = trimFront(read(store.Page{Before: pos, Limit: messagesPerPage + 1}), messagesPerPage)
		hasNewer = true
	case q.Has("after"):
		pos, ok := parsePosition(q.Get("after"))
		if !ok {
			s.errorPage(w, r, http.StatusBadRequest, "This page address is broken: ?after= is not a message position.")
			return
		}
		hasNewer, msgs = trimBack(read(store.Page{After: pos, Limit: messagesPerPage + 1}), messagesPerPage)
		hasOlder = true
		if len(msgs) > 0 {
			hasOlder = len(read(store.Page{Before: store.Of(msgs[0]), Limit: 1})) > 0
		}
	default:
		hasOlder, msgs = trimFront(read(store.Page{Limit: messagesPerPage + 1}), messagesPerPage)
	}
	if err != nil {
		s.internal(w, r, err)
		return
	}
	base := "/chat/" + strconv.FormatInt(chatID, 10) + "/messages/"
	data := chatView{layout: v.layout(s, chat.FullName, "chats"), Chat: chat, Latest: base}
	if len(msgs) > 0 {
		if hasOlder {
			data.Older = base + "?before=" + formatPosition(store.Of(msgs[0]))
		}
		if hasNewer {
			data.Newer = base + "?after=" + formatPosition(store.Of(msgs[len(msgs)-1]))
		}
	}
	day := ""
	for _, m := range msgs {
		mv := messageView{Message: m, Highlight: at != "" && m.UUID == at}
		if d := m.Timestamp.UTC().Format("Monday, 2 January 2006"); d != day {
			mv.Day, day = d, d
		}
		data.Messages = append(data.Messages, mv)
	}
	s.render(w, r, http.StatusOK, "chat.html", data)
}

// permalink opens the chat of a message at that message.
func (s *Server) permalink(w http.ResponseWriter, r *http.Request, v visit) {
	id, err := uuid.Parse(r.PathValue("uuid"))
	if err != nil {
		s.errorPage(w, r, http.StatusNotFound, "This permalink is not valid.")
		return
	}
	m, err := s.cfg.Store.MessageByUUID(r.Context(), v.workspaceID(), id.String())
	if errors.Is(err, chathook.ErrNotFound) {
		s.errorPage(w, r, http.StatusNotFound, "There is no such message in this workspace.")
		return
	}
	if err != nil {
		s.internal(w, r, err)
		return
	}
	target := "/chat/" + strconv.FormatInt(m.ChatID, 10) + "/messages/?at=" + url.QueryEscape(m.UUID) + "#m-" + m.UUID
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// trimFront keeps the last n of ms, saying whether there were more.
func trimFront(ms []chathook.Message, n int) (bool, []chathook.Message) {
	if len(ms) > n {
		return true, ms[len(ms)-n:]
	}
	return false, ms
}

// trimBack keeps the first n of ms, saying whether there were more.
func trimBack(ms []chathook.Message, n int) (bool, []chathook.Message) {
	if len(ms) > n {
		return true, ms[:n]
	}
	return false, ms
}

// A position in a page address is "<unix ms>.<message id>".
func formatPosition(p store.Position) string {
	return strconv.FormatInt(p.At.UnixMilli(), 10) + "." + strconv.FormatInt(p.ID, 10)
}

func parsePosition(v string) (store.Position, bool) {
	a, b, ok := strings.Cut(v, ".")
	if !ok {
		return store.Position{}, false
	}
	at, err1 := strconv.ParseInt(a, 10, 64)
	id, err2 := strconv.ParseInt(b, 10, 64)
	if err1 != nil || err2 != nil || id <= 0 {
		return store.Position{}, false
	}
	return store.Position{At: time.UnixMilli(at).UTC(), ID: id}, true
}
