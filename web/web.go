// Package web serves chathook's web UI: sign-in, the Webhooks list of a
// workspace's endpoints, each endpoint's settings page (Outbound's as the
// seed has it) with its activity log, the form that adds an endpoint, the chat pages that chat_url and
// permalinks open, and the WhatsApp accounts page that links phones by QR
// or pairing code and registers Cloud API numbers. Pages are rendered on
// the server with html/template (so every name and message text is
// escaped); templates and static files are embedded in the binary.
//
// Guarantees:
//   - Every page but sign-in and first-run setup needs a session, and
//     reads only the session's workspace: another workspace's chat or
//     permalink is a 404, exactly as one that does not exist.
//   - A visitor without a session is sent to sign-in and sees no message
//     text; a request for a fragment or a QR code gets a bare 401. A
//     pairing (and its QR code) is only ever shown in its own workspace.
//   - A Cloud API number's Meta app secret and access token are
//     write-only: no page shows them, not even the form that refused
//     one, and no log line names them.
//   - Every POST carries the session's CSRF token (sign-in, which has no
//     session yet, a token of its own; first-run setup its one-time code),
//     and cross-origin POSTs are refused by their Origin or Sec-Fetch-Site
//     headers before that.
//   - A reply is sent from a chat's page by the signed-in teammate, as
//     them, only to a chat of the session's workspace.
//   - First-run setup (/setup) is open only while no workspace exists, and
//     only to who has a setup code; an API token is shown once, on the
//     answer to the form that created it.
package web

import (
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/live"
	"github.com/chathook/chathook/store"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Tester sends a test message to a webhook; deliver.Dispatcher is one.
type Tester interface {
	Test(ctx context.Context, wh chathook.Webhook) chathook.Outcome
}

// Config is what the web UI needs from the rest of the service.
type Config struct {
	Store               store.Store
	BaseURL             string // https:// makes the cookies Secure
	AllowPrivateTargets bool
	Tester              Tester
	// StreamWriteTimeout bounds each write of the log download (see
	// api.StreamLog); zero takes api's default.
	StreamWriteTimeout time.Duration
	// Queued is called when saving settings may have made deliveries due.
	Queued func()
	Logger *slog.Logger
	Now    func() time.Time
	// RefreshEvery is how often the settings page reloads its activity
	// log: 5s.
	RefreshEvery time.Duration
	// TrustedProxies are the reverse proxies whose X-Forwarded-For names
	// the client a failed sign-in is counted against; from any other
	// peer the header is ignored. Empty: the peer is the client.
	TrustedProxies []netip.Prefix
	// WhatsApp links accounts by QR or pairing code; nil: the accounts
	// page lists them but cannot connect or disconnect any.
	WhatsApp WhatsApp
	// Replies sends teammates' replies from the chat page; nil: the chat
	// page has no reply box.
	Replies Replier
	// Mail: an SMTP server is set, so the Team page's links are also
	// emailed to the teammate (without one they would only be logged).
	Mail bool
	// Live tells open tabs of changes (GET /live); nil: pages update only
	// when reloaded.
	Live *live.Hub
}

// Server is the web UI's http.Handler.
type Server struct {
	cfg      Config
	handler  http.Handler
	pages    map[string]*template.Template
	static   map[string]string // file name → content hash, for cache-busting URLs
	secure   bool
	limiter  *limiter
	fragment *template.Template

	// passwords bounds the bcrypt work of sign-ins and setup.
	passwords *passwordGate
}

// New parses the embedded templates and returns the web UI.
func New(cfg Config) (*Server, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Queued == nil {
		cfg.Queued = func() {}
	}
	if cfg.RefreshEvery <= 0 {
		cfg.RefreshEvery = 5 * time.Second
	}
	s := &Server{
		cfg:     cfg,
		secure:  strings.HasPrefix(cfg.BaseURL, "https://"),
		limiter: newLimiter(cfg.Store, signInFailuresKept),
		static:  map[string]string{},
	}
	s.passwords = newPasswordGate(defaultPasswordChecks(), passwordWait)
	if err := fs.WalkDir(staticFS, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := staticFS.ReadFile(p)
		sum := sha256.Sum256(data)
		s.static[strings.TrimPrefix(p, "static/")] = hex.EncodeToString(sum[:4])
		return err
	}); err != nil {
		return nil, err
	}
	if err := s.parseTemplates(); err != nil {
		return nil, err
	}

	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", s.home)
	mux.HandleFunc("GET /signin", s.signInPage)
	mux.HandleFunc("POST /signin", s.signIn)
	mux.Handle("POST /signout", s.signedIn(s.signOut))
	mux.HandleFunc("GET /setup", s.setupPage)
	mux.HandleFunc("POST /setup", s.setup)
	mux.Handle("GET /settings/api-tokens", s.signedIn(s.tokens))
	mux.Handle("POST /settings/api-tokens", s.signedIn(s.createToken))
	mux.Handle("POST /settings/api-tokens/{id}/revoke", s.signedIn(s.revokeToken))
	mux.Handle("GET /settings/webhooks/{$}", s.signedIn(s.webhooks))
	mux.Handle("GET /settings/webhooks/new", s.signedIn(s.newWebhookPage))
	mux.Handle("POST /settings/webhooks/new", s.signedIn(s.createWebhook))
	mux.Handle("GET /settings/webhooks/{id}", s.signedIn(s.settings))
	mux.Handle("POST /settings/webhooks/{id}", s.signedIn(s.saveSettings))
	mux.Handle("POST /settings/webhooks/{id}/test", s.signedIn(s.sendTest))
	mux.Handle("POST /settings/webhooks/{id}/recover", s.signedIn(s.recoverDeliveries))
	mux.Handle("POST /settings/webhooks/{id}/secret/rotate", s.signedIn(s.rotateSecret))
	mux.Handle("POST /settings/webhooks/{id}/delete", s.signedIn(s.deleteWebhook))
	mux.Handle("GET /settings/webhooks/{id}/activity", s.signedInFragment(s.activity))
	mux.Handle("GET /settings/webhooks/{id}/log", s.signedIn(s.downloadLog))
	mux.Handle("GET /chats/{$}", s.signedIn(s.chats))
	mux.Handle("GET /chat/{chat_id}/messages/{$}", s.signedIn(s.chat))
	mux.Handle("POST /chat/{chat_id}/messages/{$}", s.signedInForm(maxReplyForm, s.postReply))
	mux.Handle("GET /chat/{chat_id}/messages/{message_id}/state", s.signedInFragment(s.replyState))
	mux.Handle("GET /permalink/{uuid}/{$}", s.signedIn(s.permalink))
	mux.Handle("GET /live", s.signedInFragment(s.live))
	mux.Handle("GET /accounts/{$}", s.signedIn(s.accounts))
	mux.Handle("POST /accounts/connect", s.signedIn(s.connect))
	mux.Handle("GET /accounts/connect/{id}", s.signedIn(s.pairing))
	mux.Handle("GET /accounts/connect/{id}/state", s.signedInFragment(s.pairingState))
	mux.Handle("GET /accounts/connect/{id}/qr.png", s.signedInFragment(s.pairingQR))
	mux.Handle("POST /accounts/{id}/disconnect", s.signedIn(s.accountAction("disconnect")))
	mux.Handle("POST /accounts/{id}/reconnect", s.signedIn(s.accountAction("reconnect")))
	mux.Handle("POST /accounts/cloud-api", s.signedIn(s.addCloudAPI))
	mux.Handle("GET /accounts/cloud-api/{id}", s.signedIn(s.cloudAPISetup))
	mux.Handle("POST /accounts/{id}/remove", s.signedIn(s.removeCloudAPI))
	mux.Handle("POST /accounts/{id}/access-token", s.signedIn(s.setAccessToken))
	mux.Handle("GET /settings/team", s.signedIn(s.team))
	mux.Handle("POST /settings/team/invite", s.signedIn(s.invite))
	mux.Handle("POST /settings/team/{id}/remove", s.signedIn(s.removeTeammate))
	mux.Handle("POST /settings/team/{id}/reset", s.signedIn(s.resetPassword))
	mux.HandleFunc("GET /invite/{token}", s.joinPage)
	mux.HandleFunc("POST /invite/{token}", s.join)
	mux.HandleFunc("GET /static/{file}", s.serveStatic)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.errorPage(w, r, http.StatusNotFound, "There is no page at this address.")
	})

	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.errorPage(w, r, http.StatusForbidden, "This form was sent from another site, so it was refused.")
	}))
	s.handler = securityHeaders(cop.Handler(mux))
	return s, nil
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// securityHeaders: no inline script or style anywhere, so the policy can
// forbid them; pages are never framed, sniffed or cached.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "+
			"object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "same-origin")
		if !strings.HasPrefix(r.URL.Path, "/static/") {
			h.Set("Cache-Control", "no-store")
		}
		next.ServeHTTP(w, r)
	})
}

func (s *Server) home(w http.ResponseWriter, r *http.Request) {
	if _, _, err := s.session(r); err == nil {
		http.Redirect(w, r, "/chats/", http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, "/signin", http.StatusSeeOther)
}

// serveStatic serves an embedded file; with the current ?v= it may be
// cached for a year, since a changed file gets a new v.
func (s *Server) serveStatic(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("file")
	v, ok := s.static[name]
	if !ok {
		http.NotFound(w, r)
		return
	}
	if r.URL.Query().Get("v") == v {
		w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		w.Header().Set("Cache-Control", "no-cache")
	}
	http.ServeFileFS(w, r, staticFS, path.Join("static", name))
}

// staticURL is the cache-busting address of a static file.
func (s *Server) staticURL(name string) string {
	return "/static/" + name + "?v=" + s.static[name]
}

// render executes a page into a buffer first, so a template error is a
// clean 500 and never half a page.
func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, page string, data any) {
	t, ok := s.pages[page]
	if !ok {
		s.internal(w, r, errors.New("no template "+page))
		return
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", data); err != nil {
		s.internal(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = buf.WriteTo(w)
}

// errorPage answers a page that says what went wrong, for a person.
func (s *Server) errorPage(w http.ResponseWriter, r *http.Request, status int, message string) {
	data := errorView{layout: layout{Title: http.StatusText(status)}, Status: status, Message: message}
	if sess, token, err := s.session(r); err == nil {
		data.layout = s.layoutFor(sess, token, http.StatusText(status), "")
	}
	s.render(w, r, status, "error.html", data)
}

type errorView struct {
	layout
	Status  int
	Message string
}

// internal logs an unexpected error and answers a 500 without details.
func (s *Server) internal(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, context.Canceled) {
		return
	}
	s.cfg.Logger.Error("web request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusInternalServerError)
	_, _ = w.Write([]byte("Something went wrong on our side; it has been logged. Please try again.\n"))
}

// localPath returns next if it is a path on this site, else "/chats/":
// the ?next= of sign-in must never send anyone elsewhere.
func localPath(next string) string {
	u, err := url.Parse(next)
	if err != nil || next == "" || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") ||
		strings.Contains(next, `\`) || u.Scheme != "" || u.Host != "" {
		return "/chats/"
	}
	return next
}
