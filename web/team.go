package web

import (
	"errors"
	"net/http"
	"net/mail"
	"strconv"
	"strings"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/api"
)

// The Team page: any signed-in teammate invites, removes and resets the
// password of another (there are no roles). Invitations and reset links
// are one-time links like the setup link: only their SHA-256 is stored,
// and the link is shown once, on the answer to the form that made it.

type teamView struct {
	layout
	Teammates []chathook.User
	Form      inviteForm        // as typed into the invite form
	Errors    map[string]string // the invite form's, by field
	Link      *teamLinkView     // the link just made: the only page that shows it
	Removed   bool
	Mailed    bool // the link was also emailed
}

type inviteForm struct {
	Email string
	Name  string
}

// teamLinkView is a link just made, to copy.
type teamLinkView struct {
	Kind    chathook.TeamLinkKind
	Email   string
	Name    string
	URL     string
	Expires time.Time
}

func (s *Server) teamData(r *http.Request, v visit) (teamView, error) {
	list, err := s.cfg.Store.Teammates(r.Context(), v.workspaceID())
	return teamView{layout: v.layout(s, "Team", "team"), Teammates: list}, err
}

// team lists the workspace's teammates, with the invite form.
func (s *Server) team(w http.ResponseWriter, r *http.Request, v visit) {
	data, err := s.teamData(r, v)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	data.Removed = r.URL.Query().Get("removed") == "1"
	s.render(w, r, http.StatusOK, "team.html", data)
}

// invite makes an invitation link for an email and shows it, this once:
// the page is the answer to the POST (no redirect), so the link is in no
// URL and no later page.
func (s *Server) invite(w http.ResponseWriter, r *http.Request, v visit) {
	form := inviteForm{
		Email: strings.ToLower(strings.TrimSpace(r.PostFormValue("email"))),
		Name:  strings.TrimSpace(r.PostFormValue("name")),
	}
	errs := map[string]string{}
	if addr, err := mail.ParseAddress(form.Email); err != nil || addr.Address != form.Email || len(form.Email) > maxEmail {
		errs["email"] = "Enter one email address, e.g. olga@example.com."
	}
	if len([]rune(form.Name)) > maxName {
		errs["name"] = "At most 100 characters."
	}
	var link *teamLinkView
	if len(errs) == 0 {
		now := s.cfg.Now().UTC()
		token, hash := NewSetupCode()
		l, err := s.cfg.Store.CreateTeamLink(r.Context(), hash, chathook.TeamLink{Kind: chathook.LinkInvite, WorkspaceID: v.workspaceID(),
			Email: form.Email, Name: form.Name, CreatedAt: now, ExpiresAt: now.Add(chathook.InviteLifetime), MailLink: s.mailLink(r, token)})
		var conflict *chathook.ConflictError
		switch {
		case errors.As(err, &conflict):
			errs["email"] = "This email already signs in to chathook, here or in another workspace: nothing to invite."
		case err != nil:
			s.internal(w, r, err)
			return
		default:
			s.cfg.Logger.Info("teammate invited", "workspace", v.workspaceID(), "user", v.User.ID)
			link = s.linkView(r, l, token)
		}
	}
	data, err := s.teamData(r, v)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	status := http.StatusOK
	if len(errs) > 0 {
		status, data.Form, data.Errors = http.StatusUnprocessableEntity, form, errs
	} else {
		data.Link, data.Mailed = link, s.cfg.Mail
	}
	s.render(w, r, status, "team.html", data)
}

// noSuchTeammate answers an action on a teammate not (or no longer) in
// the workspace.
const noSuchTeammate = "There is no such teammate in this workspace: someone may have removed them already."

// linkView is a team link made just now, shown this once with its token.
func (s *Server) linkView(r *http.Request, l chathook.TeamLink, token string) *teamLinkView {
	return &teamLinkView{Kind: l.Kind, Email: l.Email, Name: l.Name, URL: s.linkURL(r, token), Expires: l.ExpiresAt}
}

// teammateID is the {id} of a teammate's action, or false after answering
// 404 for one that is not a number.
func (s *Server) teammateID(w http.ResponseWriter, r *http.Request) (int64, bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		s.errorPage(w, r, http.StatusNotFound, "There is no such teammate in this workspace.")
		return 0, false
	}
	return id, true
}

// removeTeammate removes a teammate of the workspace: their sessions end
// at once, on every instance. Nobody removes themselves, so a workspace
// always keeps someone who can sign in and invite again.
func (s *Server) removeTeammate(w http.ResponseWriter, r *http.Request, v visit) {
	id, ok := s.teammateID(w, r)
	if !ok {
		return
	}
	if id == v.User.ID {
		s.errorPage(w, r, http.StatusConflict, "You cannot remove yourself: a workspace must keep someone who can sign in. Ask a teammate to remove you.")
		return
	}
	err := s.cfg.Store.DeleteUser(r.Context(), v.workspaceID(), id)
	switch {
	case errors.Is(err, chathook.ErrNotFound):
		s.errorPage(w, r, http.StatusNotFound, noSuchTeammate)
		return
	case err != nil:
		s.internal(w, r, err)
		return
	}
	s.cfg.Logger.Info("teammate removed", "workspace", v.workspaceID(), "user", v.User.ID, "removed", id)
	http.Redirect(w, r, "/settings/team?removed=1", http.StatusSeeOther)
}

// resetPassword makes a one-time link that sets a teammate's password,
// and shows it this once, as invite does. The old password works until
// the link is used: a reset asked for by mistake locks nobody out.
func (s *Server) resetPassword(w http.ResponseWriter, r *http.Request, v visit) {
	id, ok := s.teammateID(w, r)
	if !ok {
		return
	}
	now := s.cfg.Now().UTC()
	token, hash := NewSetupCode()
	l, err := s.cfg.Store.CreateTeamLink(r.Context(), hash, chathook.TeamLink{Kind: chathook.LinkReset, WorkspaceID: v.workspaceID(),
		UserID: id, CreatedAt: now, ExpiresAt: now.Add(chathook.ResetLifetime), MailLink: s.mailLink(r, token)})
	switch {
	case errors.Is(err, chathook.ErrNotFound):
		s.errorPage(w, r, http.StatusNotFound, noSuchTeammate)
		return
	case err != nil:
		s.internal(w, r, err)
		return
	}
	s.cfg.Logger.Info("password reset link made", "workspace", v.workspaceID(), "user", v.User.ID, "for", id)
	data, err := s.teamData(r, v)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	data.Link = s.linkView(r, l, token)
	data.Mailed = s.cfg.Mail
	s.render(w, r, http.StatusOK, "team.html", data)
}

// mailLink is the link to email along with showing it: none without an
// SMTP server, where the outbox would only log it.
func (s *Server) mailLink(r *http.Request, token string) string {
	if !s.cfg.Mail {
		return ""
	}
	return s.linkURL(r, token)
}

// linkURL is the address of a one-time link: on the base URL when one is
// configured (the address teammates use), else on the address this
// request came to.
func (s *Server) linkURL(r *http.Request, token string) string {
	base := strings.TrimSuffix(s.cfg.BaseURL, "/")
	if base == "" {
		scheme := "http"
		if r.TLS != nil {
			scheme = "https"
		}
		base = scheme + "://" + r.Host
	}
	return base + "/invite/" + token
}

type joinView struct {
	layout
	Token  string
	Link   chathook.TeamLink
	Name   string
	Errors map[string]string
}

// teamLink reads the link of the request's {token}, or answers the page
// for one that is used, expired or never was, and returns false.
func (s *Server) teamLink(w http.ResponseWriter, r *http.Request) (string, chathook.TeamLink, bool) {
	token := r.PathValue("token")
	l, err := s.cfg.Store.TeamLink(r.Context(), api.HashToken(token), s.cfg.Now())
	if err != nil {
		s.linkGone(w, r, err)
		return "", l, false
	}
	return token, l, true
}

// linkGone answers a link the store no longer has (err ErrNotFound), or
// err's 500.
func (s *Server) linkGone(w http.ResponseWriter, r *http.Request, err error) {
	if !errors.Is(err, chathook.ErrNotFound) {
		s.internal(w, r, err)
		return
	}
	s.errorPage(w, r, http.StatusGone, "This link has been used, has expired or was replaced by a newer one. "+
		"Ask a teammate for a new one: they make it on the Team page. An invitation lasts 7 days, a password reset 1 hour.")
}

func joinTitle(l chathook.TeamLink) string {
	if l.Kind == chathook.LinkReset {
		return "Set a new password"
	}
	return "Join the team"
}

// joinPage asks who holds a link for their name and a password, twice.
func (s *Server) joinPage(w http.ResponseWriter, r *http.Request) {
	token, l, ok := s.teamLink(w, r)
	if !ok {
		return
	}
	s.render(w, r, http.StatusOK, "invite.html", joinView{layout: layout{Title: joinTitle(l)}, Token: token, Link: l, Name: l.Name})
}

// join uses a link: it creates the invited user or sets the new password
// (which signs the user out everywhere), and signs the holder in. The
// token is the form's CSRF token, as setup's code is: only who has it can
// post the form, and it is of use once.
func (s *Server) join(w http.ResponseWriter, r *http.Request) {
	if !s.parseForm(w, r, maxForm) {
		return
	}
	token, l, ok := s.teamLink(w, r)
	if !ok {
		return
	}
	name := strings.TrimSpace(r.PostFormValue("name"))
	password := r.PostFormValue("password")
	errs := map[string]string{}
	switch n := len([]rune(name)); {
	case n == 0 && l.Kind == chathook.LinkInvite:
		errs["name"] = "Enter your name: your teammates see it beside your replies."
	case n > maxName:
		errs["name"] = "At most 100 characters."
	}
	if err := CheckNewPassword(password); err != nil {
		errs["password"] = sentence(err.Error())
	}
	if r.PostFormValue("password2") != password {
		errs["password2"] = "The two passwords differ: type the same password twice."
	}
	view := joinView{layout: layout{Title: joinTitle(l)}, Token: token, Link: l, Name: name, Errors: errs}
	if len(errs) > 0 {
		s.render(w, r, http.StatusUnprocessableEntity, "invite.html", view)
		return
	}
	hash, err := s.hashPassword(r.Context(), password)
	if errors.Is(err, errPasswordBusy) {
		w.Header().Set("Retry-After", strconv.Itoa(passwordRetryAfter))
		errs["password"] = "Too many sign-ins at once. Try again in a few seconds."
		s.render(w, r, http.StatusTooManyRequests, "invite.html", view)
		return
	}
	if err != nil {
		s.internal(w, r, err)
		return
	}
	now := s.cfg.Now().UTC()
	u, err := s.cfg.Store.UseTeamLink(r.Context(), api.HashToken(token), now, name, hash)
	switch {
	case errors.Is(err, chathook.ErrConflict):
		s.errorPage(w, r, http.StatusConflict, "This email signs in to chathook already: sign in with it instead, or ask a teammate for a password reset.")
		return
	case err != nil:
		s.linkGone(w, r, err)
		return
	}
	s.cfg.Logger.Info("team link used", "kind", l.Kind, "workspace", u.WorkspaceID, "user", u.ID)
	if err := s.startSession(w, r, u, now); err != nil {
		s.internal(w, r, err)
		return
	}
	http.Redirect(w, r, "/chats/", http.StatusSeeOther)
}
