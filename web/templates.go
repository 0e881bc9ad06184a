package web

import (
	"bytes"
	"html/template"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

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
		"linkify":  linkify,
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

// webLink finds what may be a web address in a message's text: from
// "http://", "https://" or "www." to the next space or character that
// cannot be in one unescaped.
var webLink = regexp.MustCompile(`(?i)(?:https?://|www\.)[^\s<>"]+`)

// linkify is a message's text as HTML, every web address in it a link
// that opens in a new tab without telling the site where it came from
// and without lending it this page's ranking (rel="noopener noreferrer
// nofollow"). It guarantees that everything else is escaped text, that
// only http and https addresses with a host are linked (never
// javascript:, data: or any other scheme), and that punctuation ending a
// sentence after an address is left out of it.
func linkify(text string) template.HTML {
	var b strings.Builder
	last := 0
	for _, m := range webLink.FindAllStringIndex(text, -1) {
		start, end := m[0], m[1]
		if start < last || !linkStart(text[:start]) {
			continue
		}
		end = start + len(trimLinkEnd(text[start:end]))
		href := text[start:end]
		if strings.HasPrefix(strings.ToLower(href), "www.") {
			if len(href) == len("www.") {
				continue
			}
			href = "http://" + href // a bare www. has no scheme: http, as browsers assume
		}
		u, err := url.Parse(href)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || strings.Trim(u.Hostname(), ".") == "" {
			continue
		}
		b.WriteString(template.HTMLEscapeString(text[last:start]))
		b.WriteString(`<a href="`)
		b.WriteString(template.HTMLEscapeString(u.String()))
		b.WriteString(`" target="_blank" rel="noopener noreferrer nofollow">`)
		b.WriteString(template.HTMLEscapeString(text[start:end]))
		b.WriteString("</a>")
		last = end
	}
	b.WriteString(template.HTMLEscapeString(text[last:]))
	return template.HTML(b.String())
}

// linkStart says whether an address may begin after before: not in the
// middle of a word or of another address ("xhttp://", "a/www.").
func linkStart(before string) bool {
	r, _ := utf8.DecodeLastRuneInString(before)
	return before == "" || !(unicode.IsLetter(r) || unicode.IsDigit(r) || strings.ContainsRune("/.@:-_", r))
}

// trimLinkEnd leaves out of a found address the punctuation that ends the
// sentence around it ("see https://example.com/a."), and a closing
// bracket it did not open ("(https://example.com/a)"), keeping one it
// did ("https://en.wikipedia.org/wiki/Go_(game)").
func trimLinkEnd(link string) string {
	for link != "" {
		r, size := utf8.DecodeLastRuneInString(link)
		switch {
		case strings.ContainsRune(".,;:!?'\"*…»“”‘’", r):
		case r == ')' && strings.Count(link, "(") < strings.Count(link, ")"):
		case r == ']' && strings.Count(link, "[") < strings.Count(link, "]"):
		case r == '}' && strings.Count(link, "{") < strings.Count(link, "}"):
		default:
			return link
		}
		link = link[:len(link)-size]
	}
	return link
}

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
