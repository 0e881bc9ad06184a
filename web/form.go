package web

import (
	"errors"
	"net"
	"net/http"
)

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
