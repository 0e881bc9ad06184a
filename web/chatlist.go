package web

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/payload"
	"github.com/chathook/chathook/store"
)

// maxSearch is the longest search the chat list takes, in characters:
// far more than a name or a phrase, little enough to keep a query cheap.
const maxSearch = 200

type chatListView struct {
	layout
	Rows        []chatRow
	Query       string          // the search, as typed
	Account     int64           // the account filtered on; 0 for all
	Accounts    []accountOption // the filter's choices; shown when more than one
	ShowAccount bool            // rows name their account
	Newer       string          // links to the neighbouring pages; "" when there is none
	Older       string
	Newest      string // a link to the first page, for an empty page past either end
}

type accountOption struct {
	ID    int64
	Label string
}

// chatRow is one chat as the list shows it: its latest message or, in a
// search that found it by a message, that message.
type chatRow struct {
	chathook.ChatSummary
	Href     string
	Preview  string
	Sent     bool // the shown message was sent by the account: "You: "
	At       time.Time
	AtText   string // At for a page without script, in UTC
	Account  string
	Unread   string // the badge: "", "3" or "99+"
	UnreadOf string // the badge for a screen reader: "3 unread"
}

// chatListRefreshNoScript is the chat list's whole-page reload, in
// seconds, in a browser without script.
const chatListRefreshNoScript = 30

// chats shows the chat list, most recent activity first: a page after
// ?before= or just before ?after= a chat's place (store.ActivityOf), of
// the chats matching ?q= and of the account ?account=, if given.
func (s *Server) chats(w http.ResponseWriter, r *http.Request, v visit) {
	q := r.URL.Query()
	query := store.ChatQuery{UserID: v.User.ID, Limit: chatsPerPage + 1}
	data := chatListView{layout: v.layout(s, "Chats", "chats")}
	// Without script the list reloads itself now and then (with script,
	// GET /live updates it); the chat page does not, as a reload would
	// lose a half-typed reply.
	data.Refresh = chatListRefreshNoScript

	data.Query = strings.TrimSpace(q.Get("q"))
	if utf8.RuneCountInString(data.Query) > maxSearch {
		s.errorPage(w, r, http.StatusBadRequest, "The search (q) is too long: at most "+strconv.Itoa(maxSearch)+" characters.")
		return
	}
	query.Search = data.Query
	if q.Has("before") && q.Has("after") {
		s.errorPage(w, r, http.StatusBadRequest, "This page address is broken: it has both ?before= and ?after=; use one.")
		return
	}
	for _, name := range []string{"before", "after"} {
		if !q.Has(name) {
			continue
		}
		pos, ok := parsePosition(q.Get(name))
		if !ok {
			s.errorPage(w, r, http.StatusBadRequest, "This page address is broken: ?"+name+"= is not a place in the chat list.")
			return
		}
		if name == "before" {
			query.Before = pos
		} else {
			query.After = pos
		}
	}

	accounts, err := s.cfg.Store.Accounts(r.Context(), v.workspaceID())
	if err != nil {
		s.internal(w, r, err)
		return
	}
	names := map[int64]string{}
	for _, a := range accounts {
		data.Accounts = append(data.Accounts, accountOption{a.ID, accountLabel(a)})
		names[a.ID] = a.Phone
	}
	if a := q.Get("account"); a != "" {
		account, ok := s.filterAccount(w, r, v, a)
		if !ok {
			return
		}
		query.AccountID, data.Account = account.ID, account.ID
		if _, listed := names[account.ID]; !listed {
			// An account the ingest API made is not among Accounts, yet
			// its chats can be filtered on: the choice keeps it shown.
			data.Accounts = append(data.Accounts, accountOption{account.ID, accountLabel(account)})
		}
	}

	list, err := s.cfg.Store.Chats(r.Context(), v.workspaceID(), query)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	var hasNewer, hasOlder bool
	switch {
	case !query.After.IsZero():
		// The chats nearest after's place come last; one more means more.
		if len(list) > chatsPerPage {
			list, hasNewer = list[len(list)-chatsPerPage:], true
		}
		hasOlder = len(list) > 0 && s.anyChat(r, v, query, store.ChatQuery{Before: store.ActivityOf(list[len(list)-1])}, &err)
	default:
		if len(list) > chatsPerPage {
			list, hasOlder = list[:chatsPerPage], true
		}
		hasNewer = !query.Before.IsZero() && len(list) > 0 && s.anyChat(r, v, query, store.ChatQuery{After: store.ActivityOf(list[0])}, &err)
	}
	if err != nil {
		s.internal(w, r, err)
		return
	}

	seen := map[int64]bool{}
	for _, c := range list {
		seen[c.AccountID] = true
	}
	for id := range names {
		seen[id] = true
	}
	// A workspace of one account needs no account on every row.
	data.ShowAccount = len(seen) > 1
	for _, c := range list {
		data.Rows = append(data.Rows, chatRowOf(c, data.Query != ""))
	}
	if len(list) > 0 {
		if hasNewer {
			data.Newer = listLink(data.Query, data.Account, "after", formatPosition(store.ActivityOf(list[0])))
		}
		if hasOlder {
			data.Older = listLink(data.Query, data.Account, "before", formatPosition(store.ActivityOf(list[len(list)-1])))
		}
	} else if !query.Before.IsZero() || !query.After.IsZero() {
		data.Newest = listLink(data.Query, data.Account, "", "")
	}
	s.render(w, r, http.StatusOK, "chats.html", data)
}

// filterAccount reads ?account=: one of the workspace's accounts, of any
// kind, or a 400 page naming the field.
func (s *Server) filterAccount(w http.ResponseWriter, r *http.Request, v visit, raw string) (chathook.Account, bool) {
	id, err := strconv.ParseInt(raw, 10, 64)
	if err == nil && id > 0 {
		var a chathook.Account
		a, err = s.cfg.Store.Account(r.Context(), v.workspaceID(), id)
		if err == nil {
			return a, true
		}
		if !errors.Is(err, chathook.ErrNotFound) {
			s.internal(w, r, err)
			return chathook.Account{}, false
		}
	}
	s.errorPage(w, r, http.StatusBadRequest, "This page address is broken: ?account= is not an account of this workspace.")
	return chathook.Account{}, false
}

// anyChat tells whether the list of query has a chat beyond the place
// that side sets; the first error is kept in *errp.
func (s *Server) anyChat(r *http.Request, v visit, query, side store.ChatQuery, errp *error) bool {
	query.Before, query.After, query.UserID, query.Limit = side.Before, side.After, 0, 1
	list, err := s.cfg.Store.Chats(r.Context(), v.workspaceID(), query)
	if err != nil {
		*errp = err
	}
	return len(list) > 0
}

// chatRowOf is what the list shows of c; in a search, a chat found by one of
// its messages shows that message and leads to it.
func chatRowOf(c chathook.ChatSummary, search bool) chatRow {
	m, href := c.Last, payload.ChatURL("", c.ID)
	if search && c.Match.ID != 0 {
		// The found message shows its own time: a text and when it was
		// said belong together, though the list stays in activity order.
		m, href = c.Match, payload.PermalinkURL("", url.PathEscape(c.Match.UUID))
	}
	row := chatRow{ChatSummary: c, Href: href, Sent: m.Direction == chathook.Sent, At: m.Timestamp,
		AtText: m.Timestamp.UTC().Format("2 Jan 2006, 15:04 UTC"), Account: c.AccountPhone}
	row.Preview = m.Preview()
	switch {
	case c.Unread >= store.UnreadCap:
		row.Unread, row.UnreadOf = "99+", "more than 99 unread"
	case c.Unread > 0:
		row.Unread = strconv.Itoa(c.Unread)
		row.UnreadOf = row.Unread + " unread"
	}
	return row
}

// accountLabel names an account in the filter: its name and phone.
func accountLabel(a chathook.Account) string {
	if a.FullName == "" || a.FullName == a.Phone {
		return a.Phone
	}
	return a.FullName + " (" + a.Phone + ")"
}

// listLink is the address of a page of the chat list that keeps the
// search and the account filter; cursor "" is the first page.
func listLink(search string, account int64, cursor, pos string) string {
	q := url.Values{}
	if search != "" {
		q.Set("q", search)
	}
	if account != 0 {
		q.Set("account", strconv.FormatInt(account, 10))
	}
	if cursor != "" {
		q.Set(cursor, pos)
	}
	if len(q) == 0 {
		return "/chats/"
	}
	return "/chats/?" + q.Encode()
}
