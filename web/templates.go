package web

import (
	"bytes"
	"html/template"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/chathook/chathook"
)

// pageNames are the templates under templates/ that are whole pages; each
// is parsed with layout.html and the fragments.
var pageNames = []string{"signin.html", "settings.html", "chats.html", "chat.html", "error.html", "accounts.html", "pairing.html", "cloudapi.html", "setup.html", "tokens.html", "webhooks.html", "webhooknew.html", "team.html", "invite.html"}

// fragmentFiles define the parts of pages that scripts fetch alone:
// "activity" and "pairing".
var fragmentFiles = []string{"templates/activity.html", "templates/pairingstate.html", "templates/endpointfields.html", "templates/formerrors.html"}

func (s *Server) parseTemplates() error {
	funcs := template.FuncMap{
		"static":   s.staticURL,
		"datetime": formatDatetime,
		"deleted":  func() string { return chathook.DeletedText },
		"clock":    func(t time.Time) string { return t.UTC().Format("15:04") },
		"iso":      formatISO,
		"ms": func(d time.Duration) string {
			if d < time.Millisecond {
				return "< 1 ms"
			}
			return strconv.FormatInt(d.Milliseconds(), 10) + " ms"
		},
		"short": func(s string, n int) string {
			r := []rune(s)
			if len(r) <= n {
				return s
			}
			return string(r[:n]) + "…"
		},
		"ok":   func(o chathook.Outcome) bool { return o.OK() },
		"has":  slices.Contains[[]string],
		"name": endpointName,
		"initial": func(name string) string {
			for _, r := range name {
				return strings.ToUpper(string(r))
			}
			return "?"
		},
	}
	s.pages = map[string]*template.Template{}
	for _, name := range pageNames {
		files := append([]string{"templates/layout.html", "templates/" + name}, fragmentFiles...)
		t, err := template.New(name).Funcs(funcs).ParseFS(templateFS, files...)
		if err != nil {
			return err
		}
		s.pages[name] = t
	}
	var err error
	s.fragment, err = template.New("activity").Funcs(funcs).ParseFS(templateFS, fragmentFiles...)
	return err
}

// formatDatetime is a time in full, for a person: in UTC, as the pages
// show every time.
func formatDatetime(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") }

// formatISO is a time for a <time datetime> attribute.
func formatISO(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// renderFragment executes one named template alone: a part of a page.
func (s *Server) renderFragment(w http.ResponseWriter, r *http.Request, name string, data any) {
	var buf bytes.Buffer
	if err := s.fragment.ExecuteTemplate(&buf, name, data); err != nil {
		s.internal(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = buf.WriteTo(w)
}
