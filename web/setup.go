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
	"github.com/chathook/chathook/payload"
	"github.com/chathook/chathook/store"
	"github.com/google/uuid"
)

// NewSetupCode returns a one-time code for first-run setup and the
// SHA-256 that the store keeps of it: made as a session's token is.
func NewSetupCode() (code string, hash []byte) {
	code = randomToken()
	return code, api.HashToken(code)
}

// maxName is the longest workspace or person name the setup form takes.
const maxName = 100

type setupView struct {
	layout
	Code    string
	Form    setupForm
	Errors  map[string]string
	Summary formErrors // all of Errors, atop the form
}

// setupFields are the setup form's fields, in order.
var setupFields = []field{{"workspace", "Workspace name"}, {"owner_name", "Your name"}, {"email", "Your email"}, {"password", "Password"}}

// setupRefused is the setup page again with errs beside their fields.
func setupRefused(code string, form setupForm, errs map[string]string) setupView {
	sum := summarize("setup-error", errs, setupFields)
	sum.Lead = strings.Replace(sum.Lead, "Nothing was saved", "Nothing was created", 1)
	return setupView{layout: layout{Title: "Set up chathook"}, Code: code, Form: form, Errors: errs, Summary: sum}
}

type setupForm struct {
	Workspace string
	OwnerName string
	Email     string
}

// setupPage shows the form that creates the first workspace, to whoever
// has a setup code: `chathook serve` prints the link when the database
// has no workspace.
func (s *Server) setupPage(w http.ResponseWriter, r *http.Request) {
	code := r.URL.Query().Get("code")
	if !s.setupOpen(w, r, s.cfg.Store.CheckSetupCode(r.Context(), api.HashToken(code))) {
		return
	}
	s.render(w, r, http.StatusOK, "setup.html", setupView{layout: layout{Title: "Set up chathook"}, Code: code})
}

// setupOpen answers the page for a setup that cannot go on: closed (a
// workspace exists) or a code that is not valid. It reports whether err
// (from the store) lets it go on.
func (s *Server) setupOpen(w http.ResponseWriter, r *http.Request, err error) bool {
	switch {
	case err == nil:
		return true
	case errors.Is(err, chathook.ErrConflict):
		s.errorPage(w, r, http.StatusNotFound, "Setup is closed: this chathook has a workspace already. Sign in instead; "+
			"the workspace's owner adds teammates with chathook user add.")
	case errors.Is(err, chathook.ErrNotFound):
		s.cfg.Logger.Warn("setup refused: not a valid setup code", "remote", r.RemoteAddr)
		s.errorPage(w, r, http.StatusForbidden, "This setup link is not valid: copy the whole link that chathook serve printed "+
			"when it started. Each start on a database without a workspace prints a new one.")
	default:
		s.internal(w, r, err)
	}
	return false
}

// setup creates the first workspace and its owner, and signs the owner in.
// The code is the form's CSRF token: only who has it can post the form,
// and it is of use once (the store consumes it with the setup).
func (s *Server) setup(w http.ResponseWriter, r *http.Request) {
	if !s.parseForm(w, r, maxForm) {
		return
	}
	code := r.PostFormValue("code")
	codeHash := api.HashToken(code)
	if !s.setupOpen(w, r, s.cfg.Store.CheckSetupCode(r.Context(), codeHash)) {
		return
	}
	form := setupForm{
		Workspace: strings.TrimSpace(r.PostFormValue("workspace")),
		OwnerName: strings.TrimSpace(r.PostFormValue("owner_name")),
		Email:     strings.ToLower(strings.TrimSpace(r.PostFormValue("email"))),
	}
	password := r.PostFormValue("password")
	errs := map[string]string{}
	switch n := len([]rune(form.Workspace)); {
	case n == 0:
		errs["workspace"] = "Give the workspace a name, e.g. your company's."
	case n > maxName:
		errs["workspace"] = "At most 100 characters."
	}
	if len([]rune(form.OwnerName)) > maxName {
		errs["owner_name"] = "At most 100 characters."
	}
	if addr, err := mail.ParseAddress(form.Email); err != nil || addr.Address != form.Email || len(form.Email) > maxEmail {
		errs["email"] = "Enter one email address, e.g. olga@example.com."
	}
	if err := CheckNewPassword(password); err != nil {
		errs["password"] = sentence(err.Error())
	}
	if len(errs) > 0 {
		s.render(w, r, http.StatusUnprocessableEntity, "setup.html", setupRefused(code, form, errs))
		return
	}
	hash, err := s.hashPassword(r.Context(), password)
	if errors.Is(err, errPasswordBusy) {
		w.Header().Set("Retry-After", strconv.Itoa(passwordRetryAfter))
		errs["password"] = "Too many sign-ins at once. Try again in a few seconds."
		s.render(w, r, http.StatusTooManyRequests, "setup.html", setupRefused(code, form, errs))
		return
	}
	if err != nil {
		s.internal(w, r, err)
		return
	}
	now := s.cfg.Now().UTC()
	ws, u, err := s.cfg.Store.Setup(r.Context(), codeHash, store.FirstWorkspace{
		Workspace:    chathook.Workspace{ID: uuid.NewString(), Name: form.Workspace, OwnerName: form.OwnerName, OwnerEmail: form.Email, CreatedAt: now},
		Secret:       payload.NewSecret(),
		Owner:        chathook.User{Email: form.Email, Name: form.OwnerName, CreatedAt: now},
		PasswordHash: hash,
	})
	if !s.setupOpen(w, r, err) {
		return
	}
	s.cfg.Logger.Info("first workspace set up", "workspace", ws.ID, "user", u.ID)
	if err := s.startSession(w, r, u, now); err != nil {
		s.internal(w, r, err)
		return
	}
	http.Redirect(w, r, "/accounts/", http.StatusSeeOther)
}

// startSession signs u in: a new session, its token in the cookie.
func (s *Server) startSession(w http.ResponseWriter, r *http.Request, u chathook.User, now time.Time) error {
	token := randomToken()
	if err := s.cfg.Store.CreateSession(r.Context(), api.HashToken(token), u.ID, now, now.Add(SessionLifetime)); err != nil {
		return err
	}
	s.setCookie(w, "chathook_session", token, int(SessionLifetime/time.Second))
	return nil
}
