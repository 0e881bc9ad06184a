package web

import (
	"errors"
	"net"
	"net/http"
	"sort"
	"unicode/utf8"
)

// parseForm reads a POSTed form of at most limit bytes into r.Form and
// answers what cannot be used: a read error as formError says, and a field
// that is not valid UTF-8 with 400 naming it. net/http keeps the bytes as
// sent, so without the check a broken URL or email would be stored as is,
// where the API refuses the same input. It reports whether r.Form is ready.
func (s *Server) parseForm(w http.ResponseWriter, r *http.Request, limit int64) bool {
	r.Body = http.MaxBytesReader(w, r.Body, limit)
	if err := r.ParseForm(); err != nil {
		s.formError(w, r, err)
		return false
	}
	if field, ok := invalidUTF8(r.Form); !ok {
		s.errorPage(w, r, http.StatusBadRequest, "The form's field "+field+" is not valid UTF-8 text. Retype it and try again.")
		return false
	}
	return true
}

// invalidUTF8 returns the first field (by name, so the answer is the same
// every time) whose name or a value is not valid UTF-8.
func invalidUTF8(form map[string][]string) (string, bool) {
	names := make([]string, 0, len(form))
	for name := range form {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if !utf8.ValidString(name) {
			return "(a field's name)", false
		}
		for _, v := range form[name] {
			if !utf8.ValidString(v) {
				return name, false
			}
		}
	}
	return "", true
}

// formError answers a form whose body could not be read: 408 when it did
// not arrive within the server's read timeout, 413 when it is larger than
// a form may be, 400 otherwise. The read error's own text is never shown:
// it names the server's and the client's socket addresses.
func (s *Server) formError(w http.ResponseWriter, r *http.Request, err error) {
	var tooBig *http.MaxBytesError
	var netErr net.Error
	switch {
	case errors.As(err, &tooBig):
		s.errorPage(w, r, http.StatusRequestEntityTooLarge, "The form is larger than any of chathook's forms can be.")
	case errors.As(err, &netErr) && netErr.Timeout():
		w.Header().Set("Connection", "close")
		s.errorPage(w, r, http.StatusRequestTimeout, "The form did not arrive in time. Check your connection and try again.")
	default:
		s.errorPage(w, r, http.StatusBadRequest, "The form could not be read. Try again.")
	}
}
