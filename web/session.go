package web

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/api"
)

// SessionLifetime is how long a sign-in lasts: two weeks, then the user
// signs in again. Sessions are not extended, so a stolen cookie dies too.
const SessionLifetime = 14 * 24 * time.Hour

// maxForm bounds a form body: settings and sign-in are a few short fields.
const maxForm = 64 << 10

// maxReplyForm bounds the reply form: a text of ingest.MaxText characters
// of up to 4 bytes each, percent-encoded (3 characters a byte), and the
// CSRF token. Under maxForm a long reply would be a 413, not the 400
// that says how long it may be.
const maxReplyForm = 1 << 20

// maxEmail is the longest email address there can be (RFC 3696 errata).
const maxEmail = 320

func (s *Server) cookieName(base string) string {
	if s.secure {
		// __Host-: the browser keeps it only if Secure, host-only, Path=/.
		return "__Host-" + base
	}
	return base
}

// setCookie sets an HttpOnly cookie. SameSite=Lax, not Strict: chat_url
// and permalinks are opened from CRMs and emails, and a Strict cookie
// would not come along on that first click. Lax still keeps it off every
// cross-site POST, and each POST is checked for its CSRF token anyway.
func (s *Server) setCookie(w http.ResponseWriter, name, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{
		Name: s.cookieName(name), Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteLaxMode,
	})
}

func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// csrfToken is derived from the session token, so it needs no storage,
// changes with every sign-in and is worthless without the cookie.
func csrfToken(sessionToken string) string {
	mac := hmac.New(sha256.New, []byte(sessionToken))
	mac.Write([]byte("chathook csrf"))
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// session returns the visitor's session and its token, or
// chathook.ErrUnauthorized.
func (s *Server) session(r *http.Request) (chathook.Session, string, error) {
	c, err := r.Cookie(s.cookieName("chathook_session"))
	if err != nil || c.Value == "" || len(c.Value) > 100 {
		return chathook.Session{}, "", chathook.ErrUnauthorized
	}
	sess, err := s.cfg.Store.Session(r.Context(), api.HashToken(c.Value), s.cfg.Now())
	return sess, c.Value, err
}

// visit is a signed-in request.
type visit struct {
	chathook.Session
	token string
}

func (v visit) workspaceID() string { return v.Workspace.ID }

// signedIn runs h for a visitor with a session, and checks the CSRF token
// of every POST. Without a session a GET goes to sign-in and comes back
// after; a POST, whose form is lost anyway, goes to sign-in too.
func (s *Server) signedIn(h func(http.ResponseWriter, *http.Request, visit)) http.Handler {
	return s.signedInForm(maxForm, h)
}

// signedInForm is signedIn for a form of up to limit bytes.
func (s *Server) signedInForm(limit int64, h func(http.ResponseWriter, *http.Request, visit)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sess, token, err := s.session(r)
		if errors.Is(err, chathook.ErrUnauthorized) {
			next := r.URL.RequestURI()
			if r.Method != http.MethodGet && r.Method != http.MethodHead {
				next = "/settings/webhooks/outbound"
			}
			http.Redirect(w, r, "/signin?next="+url.QueryEscape(next), http.StatusSeeOther)
			return
		}
		if err != nil {
			s.internal(w, r, err)
			return
		}
		if r.Method == http.MethodPost {
			if !s.parseForm(w, r, limit) {
				return
			}
			if !hmac.Equal([]byte(r.PostFormValue("csrf")), []byte(csrfToken(token))) {
				s.cfg.Logger.Warn("CSRF token missing or wrong", "path", r.URL.Path, "user", sess.User.ID)
				s.errorPage(w, r, http.StatusForbidden, "This form has expired or did not come from chathook. Reload the page and try again.")
				return
			}
		}
		h(w, r, visit{Session: sess, token: token})
	})
}

// signedInFragment is signedIn for parts of pages fetched by script: no
// redirect to a sign-in page that would be pasted into the page.
func (s *Server) signedInFragment(h func(http.ResponseWriter, *http.Request, visit)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sess, token, err := s.session(r)
		if errors.Is(err, chathook.ErrUnauthorized) {
			http.Error(w, "signed out", http.StatusUnauthorized)
			return
		}
		if err != nil {
			s.internal(w, r, err)
			return
		}
		h(w, r, visit{Session: sess, token: token})
	})
}

// layout is what every page's frame shows.
type layout struct {
	Title     string
	Tab       string // chats, accounts or webhooks
	Refresh   int    // seconds: a browser without script reloads the page this often; 0 never
	User      chathook.User
	Workspace chathook.Workspace
	CSRF      string
	SignedIn  bool
}

func (s *Server) layoutFor(sess chathook.Session, token, title, tab string) layout {
	return layout{Title: title, Tab: tab, User: sess.User, Workspace: sess.Workspace, CSRF: csrfToken(token), SignedIn: true}
}

func (v visit) layout(s *Server, title, tab string) layout {
	return s.layoutFor(v.Session, v.token, title, tab)
}

type signInView struct {
	layout
	Email string
	Next  string
	Error string
	// Errors are the fields left empty, each said beside its field;
	// Summary lists them atop the form.
	Errors  map[string]string
	Summary formErrors
	// NoWorkspace: the database has none yet, so nobody can sign in; the
	// page points to the setup link that serve printed.
	NoWorkspace bool
}

// signInPage shows the form, with a fresh token for it in a cookie: the
// form must send the same token back (double submit), so no other site
// can sign a visitor in to an account of its choosing.
func (s *Server) signInPage(w http.ResponseWriter, r *http.Request) {
	if _, _, err := s.session(r); err == nil {
		http.Redirect(w, r, localPath(r.URL.Query().Get("next")), http.StatusSeeOther)
		return
	}
	s.renderSignIn(w, r, http.StatusOK, signInView{Next: r.URL.Query().Get("next")})
}

func (s *Server) renderSignIn(w http.ResponseWriter, r *http.Request, status int, v signInView) {
	token := randomToken()
	s.setCookie(w, "chathook_signin", token, 3600)
	v.layout = layout{Title: "Sign in", CSRF: token}
	v.Next = localPath(v.Next)
	// With no workspace there is no code for nil, and the check says
	// ErrNotFound rather than ErrConflict (setup closed).
	v.NoWorkspace = errors.Is(s.cfg.Store.CheckSetupCode(r.Context(), nil), chathook.ErrNotFound)
	s.render(w, r, status, "signin.html", v)
}

func (s *Server) signIn(w http.ResponseWriter, r *http.Request) {
	if !s.parseForm(w, r, maxForm) {
		return
	}
	v := signInView{Email: strings.TrimSpace(r.PostFormValue("email")), Next: r.PostFormValue("next")}
	c, err := r.Cookie(s.cookieName("chathook_signin"))
	if err != nil || !hmac.Equal([]byte(c.Value), []byte(r.PostFormValue("csrf"))) {
		v.Error = "The sign-in form expired (or cookies are blocked). Please try again."
		s.renderSignIn(w, r, http.StatusForbidden, v)
		return
	}
	// An empty field is a slip, not a guess: said beside the field, and
	// not counted as a failed sign-in.
	if v.Email == "" || r.PostFormValue("password") == "" {
		v.Errors = map[string]string{}
		if v.Email == "" {
			v.Errors["email"] = "Enter the email you sign in with."
		}
		if r.PostFormValue("password") == "" {
			v.Errors["password"] = "Enter your password."
		}
		v.Summary = summarize("signin-errors", v.Errors, []field{{"email", "Email"}, {"password", "Password"}})
		v.Summary.Lead = "You are not signed in: fill in the field marked below."
		if len(v.Errors) > 1 {
			v.Summary.Lead = "You are not signed in: fill in the 2 fields marked below."
		}
		s.renderSignIn(w, r, http.StatusUnprocessableEntity, v)
		return
	}
	key := strings.ToLower(v.Email)
	now := s.cfg.Now()
	client := s.clientAddress(r)
	limits := signInLimits(client, key)
	wait, why, err := s.limiter.wait(r.Context(), limits, now)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	if wait > 0 {
		s.cfg.Logger.Warn("sign-in refused: too many failures", "remote", r.RemoteAddr, "client", client)
		v.Error = why + " Try again in " + minutes(wait) + "."
		s.renderSignIn(w, r, http.StatusTooManyRequests, v)
		return
	}
	var u chathook.User
	var hash []byte
	err = chathook.ErrNotFound // no account has an email that long
	if len(key) <= maxEmail {
		u, hash, err = s.cfg.Store.UserByEmail(r.Context(), key)
	} else {
		v.Email = ""
	}
	if err != nil && !errors.Is(err, chathook.ErrNotFound) {
		s.internal(w, r, err)
		return
	}
	// An unknown email costs a hash comparison too, so the answer's timing
	// does not tell which emails have accounts; and it waits for one of
	// the bounded checks alike, so a refusal for load tells nothing either.
	ok, busy := s.checkPassword(r.Context(), hash, r.PostFormValue("password"))
	if busy != nil {
		// Not a failed sign-in: no password was checked.
		s.cfg.Logger.Warn("sign-in refused: too many at once", "remote", r.RemoteAddr, "client", client)
		w.Header().Set("Retry-After", strconv.Itoa(passwordRetryAfter))
		v.Error = "Too many sign-ins at once. Try again in a few seconds."
		s.renderSignIn(w, r, http.StatusTooManyRequests, v)
		return
	}
	if !ok || err != nil {
		if err := s.limiter.fail(r.Context(), limits, now); err != nil {
			s.internal(w, r, err)
			return
		}
		s.cfg.Logger.Info("sign-in failed", "remote", r.RemoteAddr, "client", client)
		v.Error = "Wrong email or password."
		s.renderSignIn(w, r, http.StatusUnauthorized, v)
		return
	}
	if err := s.limiter.succeeded(r.Context(), limits); err != nil {
		s.internal(w, r, err)
		return
	}
	if err := s.startSession(w, r, u, now); err != nil {
		s.internal(w, r, err)
		return
	}
	s.setCookie(w, "chathook_signin", "", -1)
	s.cfg.Logger.Info("signed in", "user", u.ID, "workspace", u.WorkspaceID)
	http.Redirect(w, r, localPath(v.Next), http.StatusSeeOther)
}

func (s *Server) signOut(w http.ResponseWriter, r *http.Request, v visit) {
	if err := s.cfg.Store.DeleteSession(r.Context(), api.HashToken(v.token)); err != nil {
		s.internal(w, r, err)
		return
	}
	s.setCookie(w, "chathook_session", "", -1)
	s.cfg.Logger.Info("signed out", "user", v.User.ID)
	http.Redirect(w, r, "/signin", http.StatusSeeOther)
}
