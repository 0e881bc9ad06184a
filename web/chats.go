package web

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/reply"
	"github.com/chathook/chathook/store"
	"github.com/google/uuid"
)

// Page sizes: enough to read a conversation, little enough to render fast.
const (
	chatsPerPage    = 50
	messagesPerPage = 50
	contextAbove    = 10 // messages shown above a permalink's message
)

type chatView struct {
	layout
	Chat     chathook.Chat
	Messages []messageView
	Older    string // links to the neighbouring pages, "" when there are none
	Newer    string
	Latest   string
	Box      replyBox
	// Highlighted: the page is a permalink's, opened at its message rather
	// than at the newest.
	Highlighted bool
	// CannotReply is why the chat's account cannot write to it, for a
	// person, shown in place of the reply box; "" when it can.
	CannotReply string
	// AccountNote is said above the box when the account is not online:
	// replies wait in the queue until it is.
	AccountNote string
}

type messageView struct {
	chathook.Message
	Day       string // set on the first message of each day
	Highlight bool   // the message a permalink opened
	Media     []attachmentView
	Mark      *markView // a sent message's status; nil for none
	// Earlier are the texts an edited message had, oldest first, and
	// EarlierNote the same in words for a title; Reacted its reactions
	// by emoji. None for a deleted message, which shows nothing of itself.
	Earlier     []editView
	EarlierNote string
	Reacted     []reactionView
}

// messageViewOf is what the chat page shows of m at now.
func messageViewOf(m chathook.Message, now time.Time) messageView {
	mv := messageView{Message: m, Media: attachmentViews(m, now), Mark: statusMark(m)}
	if m.Reply == chathook.ReplySent && m.Status.Rank() <= chathook.StatusSent.Rank() {
		// A reply just sent says so in words ("sent ✓"), as the page's
		// script shows it when it turns sent: no second ✓ beside it.
		mv.Mark = nil
	}
	if !m.Deleted {
		mv.Earlier, mv.EarlierNote = editsOf(m)
		mv.Reacted = reactionsOf(m)
	}
	return mv
}

// chat shows one page of a chat's timeline: the latest messages; those
// ?before= or ?after= a position; or, with ?at=<uuid>, a permalink's
// message with a few before it, highlighted.
func (s *Server) chat(w http.ResponseWriter, r *http.Request, v visit) {
	chat, ok := s.chatOf(w, r, v, false)
	if !ok {
		return
	}
	s.showChat(w, r, v, chat, http.StatusOK, replyBox{})
}

// showChat renders the page of chat that r's query asks for, with the
// reply box as box has it (a refused reply's text and error).
func (s *Server) showChat(w http.ResponseWriter, r *http.Request, v visit, chat chathook.Chat, status int, box replyBox) {
	chatID := chat.ID
	tl := timeline{s: s, r: r, workspaceID: v.workspaceID(), chatID: chatID}
	tl.read(r.URL.Query())
	var bad *pageError
	switch {
	case errors.As(tl.err, &bad):
		s.errorPage(w, r, bad.status, bad.message)
		return
	case tl.err != nil:
		s.internal(w, r, tl.err)
		return
	}
	base := "/chat/" + strconv.FormatInt(chatID, 10) + "/messages/"
	box.Sender = v.User.Name
	data := chatView{layout: v.layout(s, chat.FullName, "chats"), Chat: chat, Latest: base, Box: box}
	if s.cfg.Replies != nil {
		acc, err := s.cfg.Store.Account(r.Context(), v.workspaceID(), chat.AccountID)
		if err != nil {
			s.internal(w, r, err)
			return
		}
		data.CannotReply, data.AccountNote = replyAdvice(acc, chat)
		// A refused reply keeps its box, so that its text is not lost.
		data.Box.Show = data.CannotReply == "" || box.Error != ""
	}
	if n := len(tl.msgs); n > 0 {
		if tl.hasOlder {
			data.Older = base + "?before=" + formatPosition(store.Of(tl.msgs[0]))
		}
		if tl.hasNewer {
			data.Newer = base + "?after=" + formatPosition(store.Of(tl.msgs[n-1]))
		}
	}
	day, now := "", s.cfg.Now()
	for _, m := range tl.msgs {
		mv := messageViewOf(m, now)
		mv.Highlight = tl.at != "" && m.UUID == tl.at
		data.Highlighted = data.Highlighted || mv.Highlight
		if d := m.Timestamp.UTC().Format("Monday, 2 January 2006"); d != day {
			mv.Day, day = d, d
		}
		data.Messages = append(data.Messages, mv)
	}
	if !tl.hasNewer && len(tl.msgs) > 0 && r.Header.Get(backgroundHeader) == "" {
		// The latest messages were shown: the user has seen the chat. A
		// failed mark only leaves a count too high, never the page unshown.
		// Marking the latest marks what was stored late with an older time
		// too (see store.Pages.MarkRead).
		newest := tl.msgs[len(tl.msgs)-1]
		if err := s.cfg.Store.MarkRead(r.Context(), v.workspaceID(), v.User.ID, chatID, newest.ID); err != nil {
			s.cfg.Logger.Error("mark read", "workspace", v.workspaceID(), "chat", chatID, "user", v.User.ID, "err", err)
		}
	}
	s.render(w, r, status, "chat.html", data)
}

// backgroundHeader marks a chat page fetched by live.js in a tab nobody
// is looking at: it does not mark the chat read.
const backgroundHeader = "X-Chathook-Background"

// replyAdvice is what the chat page says of replying to chat through its
// account acc: why it cannot (shown in place of the box, "" when it can),
// and a note for a box whose replies will wait (the account not online).
func replyAdvice(acc chathook.Account, chat chathook.Chat) (cannot, note string) {
	if reason := reply.Refusal(acc, chat); reason != "" {
		switch {
		case acc.Kind == chathook.KindAPI:
			return "This chat came in through the API: chathook has no WhatsApp account to answer from. " +
				"Reply from your own system, or connect " + acc.Phone + " on the WhatsApp accounts page.", ""
		case acc.Kind == chathook.KindCloudAPI && chat.IsGroup:
			return "This group came in through a Cloud API number, and Meta's Cloud API cannot write to groups. " +
				"Reply from WhatsApp on the phone, or link a phone by QR code.", ""
		default:
			return "Replies cannot be sent to this chat: " + fullStop(reason), ""
		}
	}
	switch acc.State {
	case chathook.AccountConnected, chathook.AccountConnecting, "":
		return "", ""
	case chathook.AccountBanned:
		// Replies give up after the sender's wait (reply.Sender.MaxWait):
		// say they wait, not that they will surely go.
		return "", "WhatsApp has banned " + acc.Phone + " for a while: replies wait in the queue, and fail if the ban outlasts their wait."
	default:
		// Disconnected, logged out, replaced, outdated: nothing sends until
		// a teammate connects it again; the queue gives up after its wait.
		return "", acc.Phone + " is not connected (" + strings.ReplaceAll(string(acc.State), "_", " ") +
			"): replies wait in the queue until it is connected again on the WhatsApp accounts page, and fail if that takes too long."
	}
}

// pageError is a page address that asks for what cannot be shown.
type pageError struct {
	status  int
	message string
}

func (e *pageError) Error() string { return e.message }

// timeline reads one page of a chat; the first error sticks.
type timeline struct {
	s                  *Server
	r                  *http.Request
	workspaceID        string
	chatID             int64
	msgs               []chathook.Message
	hasOlder, hasNewer bool
	at                 string // the permalink's message, highlighted
	err                error
}

func (tl *timeline) page(p store.Page) []chathook.Message {
	if tl.err != nil {
		return nil
	}
	ms, err := tl.s.cfg.Store.Messages(tl.r.Context(), tl.workspaceID, tl.chatID, p)
	tl.err = err
	return ms
}

// position parses the ?before= or ?after= of a page address.
func (tl *timeline) position(q url.Values, name string) store.Position {
	pos, ok := parsePosition(q.Get(name))
	if !ok {
		tl.err = &pageError{http.StatusBadRequest, "This page address is broken: ?" + name + "= is not a message position."}
	}
	return pos
}

func (tl *timeline) read(q url.Values) {
	switch {
	case q.Has("at"):
		tl.at = q.Get("at")
		m, err := tl.s.cfg.Store.MessageByUUID(tl.r.Context(), tl.workspaceID, tl.at)
		if errors.Is(err, chathook.ErrNotFound) || (err == nil && m.ChatID != tl.chatID) {
			tl.err = &pageError{http.StatusNotFound, "There is no such message in this chat."}
			return
		}
		tl.err = err
		// A few messages above it for context, the page's rest below.
		var above, below []chathook.Message
		tl.hasOlder, above = trimFront(tl.page(store.Page{Before: store.Of(m), Limit: contextAbove + 1}), contextAbove)
		rest := messagesPerPage - 1 - len(above)
		tl.hasNewer, below = trimBack(tl.page(store.Page{After: store.Of(m), Limit: rest + 1}), rest)
		tl.msgs = append(append(above, m), below...)
	case q.Has("before"):
		pos := tl.position(q, "before")
		tl.hasOlder, tl.msgs = trimFront(tl.page(store.Page{Before: pos, Limit: messagesPerPage + 1}), messagesPerPage)
		tl.hasNewer = true
	case q.Has("after"):
		pos := tl.position(q, "after")
		tl.hasNewer, tl.msgs = trimBack(tl.page(store.Page{After: pos, Limit: messagesPerPage + 1}), messagesPerPage)
		tl.hasOlder = len(tl.msgs) == 0 || len(tl.page(store.Page{Before: store.Of(tl.msgs[0]), Limit: 1})) > 0
	default:
		tl.hasOlder, tl.msgs = trimFront(tl.page(store.Page{Limit: messagesPerPage + 1}), messagesPerPage)
	}
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
