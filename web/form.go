package web

import (
	"errors"
	"net"
	"net/http"
	"sort"
	"strconv"
	"unicode/utf8"

	"github.com/chathook/chathook/ingest"
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

// problem is one refused field of a form as the form's summary lists it:
// Field is the input's id (and name), which the summary links to; a
// problem of no field has ID, its name with "-error".
type problem struct{ Field, Label, Text, ID string }

// formErrors is the summary at the top of a refused form: Lead, then
// every problem, in the order of the form's fields, then Note.
type formErrors struct {
	ID    string
	Lead  string
	Items []problem
	Note  string
}

// field names a form's input for its summary: its name, and its label.
type field struct{ Name, Label string }

// summarize lists errs (by field name, as shown beside each field) in the
// order of fields; an error of no field listed comes last, as it is. A
// person reads the summary first and follows its links to the fields.
func summarize(id string, errs map[string]string, fields []field) formErrors {
	s := formErrors{ID: id, Lead: "Nothing was saved: correct the field marked below."}
	if len(errs) > 1 {
		s.Lead = "Nothing was saved: correct the " + strconv.Itoa(len(errs)) + " fields marked below."
	}
	listed := map[string]bool{}
	for _, f := range fields {
		if text, ok := errs[f.Name]; ok {
			s.Items, listed[f.Name] = append(s.Items, problem{Field: f.Name, Label: f.Label, Text: text}), true
		}
	}
	names := make([]string, 0, len(errs))
	for name := range errs {
		if !listed[name] {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	for _, name := range names {
		s.Items = append(s.Items, problem{Text: errs[name], ID: name + "-error"})
	}
	return s
}

// fieldProblems are the *ingest.FieldError in err, one or several joined
// (errors.Join), as sentences by field; nil if there is none.
func fieldProblems(err error) map[string]string {
	var out map[string]string
	var walk func(error)
	walk = func(err error) {
		if fe, ok := err.(*ingest.FieldError); ok {
			if out == nil {
				out = map[string]string{}
			}
			if _, seen := out[fe.Field]; !seen { // the first problem of a field is the one to fix first
				out[fe.Field] = sentence(fe.Problem)
			}
			return
		}
		switch e := err.(type) {
		case interface{ Unwrap() []error }:
			for _, err := range e.Unwrap() {
				walk(err)
			}
		case interface{ Unwrap() error }:
			walk(e.Unwrap())
		}
	}
	if err != nil {
		walk(err)
	}
	return out
}
