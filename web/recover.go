package web

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // the zones of formZone, on systems without them

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/api"
	"github.com/chathook/chathook/ingest"
	"github.com/chathook/chathook/payload"
)

// recoverForm is the Outbound page's recovery form as shown: empty, or as
// submitted with its errors.
type recoverForm struct {
	Since, Until string
	Errors       map[string]string
}

// formTime reads a time of the recovery form: what a datetime-local
// field sends ("2026-03-01T09:00", with or without seconds), in loc (the
// browser's zone, or UTC without script, as the form says), or a full
// RFC 3339 time with its own offset. It answers RFC 3339 in UTC; ""
// stays "".
func formTime(v string, loc *time.Location) (string, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return "", true
	}
	if _, err := time.Parse(time.RFC3339, v); err == nil {
		return v, true
	}
	for _, layout := range []string{"2006-01-02T15:04", "2006-01-02T15:04:05", "2006-01-02 15:04", "2006-01-02 15:04:05"} {
		if t, err := time.ParseInLocation(layout, v, loc); err == nil {
			return t.UTC().Format(time.RFC3339), true
		}
	}
	return v, false
}

// formZone is the zone a form's times are in: its tz field, an IANA
// zone's name the page's script filled in from the browser, or UTC when
// it is empty (no script). The zones come with the binary (time/tzdata),
// so a minimal system without /usr/share/zoneinfo knows them too.
func formZone(tz string) (*time.Location, error) {
	tz = strings.TrimSpace(tz)
	if tz == "" {
		return time.UTC, nil
	}
	loc, err := time.LoadLocation(tz)
	if err != nil || strings.EqualFold(tz, "local") {
		//lint:ignore ST1005 shown as it is beside the form's field: a sentence for a person
		return time.UTC, fmt.Errorf("The time zone your browser gave (tz=%q) is not one chathook knows: reload the page and try again, or give the time in UTC with an offset (2026-03-01T09:00:00Z).", tz)
	}
	return loc, nil
}

// recoverDeliveries queues again the failed and discarded deliveries of
// the range the form gives, as POST /api/v1/webhooks/outbound/recover
// does, and comes back to the page saying how many.
func (s *Server) recoverDeliveries(w http.ResponseWriter, r *http.Request, v visit) {
	id, err := endpointID(r)
	if err != nil {
		s.failed(w, r, err)
		return
	}
	if _, err := s.cfg.Store.Webhook(r.Context(), v.workspaceID(), id); err != nil {
		s.failed(w, r, err) // Recover itself finds nothing to queue of another's
		return
	}
	form := recoverForm{Since: r.PostFormValue("since"), Until: r.PostFormValue("until"), Errors: map[string]string{}}
	loc, zoneErr := formZone(r.PostFormValue("tz"))
	since, okSince := formTime(form.Since, loc)
	until, okUntil := formTime(form.Until, loc)
	now := s.cfg.Now()
	var from, to time.Time
	switch {
	case zoneErr != nil:
		form.Errors["since"] = zoneErr.Error()
	case !okSince:
		form.Errors["since"] = "Not a date and time: use the picker, or type 2026-03-01T09:00."
	case !okUntil:
		form.Errors["until"] = "Not a date and time: use the picker, or type 2026-03-01T17:00."
	default:
		from, to, err = api.RecoverRange(since, until, now)
		var fe *ingest.FieldError
		if errors.As(err, &fe) {
			form.Errors[fe.Field] = map[string]string{
				"since": "Say from when: the time the receiver went down.",
				"until": "The end must not be before the start.",
			}[fe.Field]
		}
	}
	if len(form.Errors) > 0 {
		data, err := s.settingsData(r, v)
		if err != nil {
			s.failed(w, r, err)
			return
		}
		data.Recover = form
		s.render(w, r, http.StatusUnprocessableEntity, "settings.html", data)
		return
	}
	n, err := s.cfg.Store.Recover(r.Context(), v.workspaceID(), id, from, to, now)
	if err != nil {
		s.failed(w, r, err)
		return
	}
	s.cfg.Logger.Info("deliveries recovered", "workspace", v.workspaceID(), "endpoint", id, "user", v.User.ID, "deliveries", n,
		"since", from, "until", to)
	if n > 0 {
		s.cfg.Queued()
	}
	http.Redirect(w, r, endpointPath(id)+"?recovered="+strconv.Itoa(n)+"#recover", http.StatusSeeOther)
}

// rotateSecret makes a new signing secret, as POST
// /api/v1/webhooks/outbound/secret/rotate does; the page then shows it,
// and until when the previous one still signs.
func (s *Server) rotateSecret(w http.ResponseWriter, r *http.Request, v visit) {
	id, err := endpointID(r)
	if err != nil {
		s.failed(w, r, err)
		return
	}
	now := s.cfg.Now()
	wh, err := s.cfg.Store.RotateSecret(r.Context(), v.workspaceID(), id, payload.NewSecret(), now, now.Add(chathook.SecretOverlap))
	if err != nil {
		s.failed(w, r, err)
		return
	}
	s.cfg.Logger.Info("signing secret rotated", "workspace", v.workspaceID(), "endpoint", wh.ID, "user", v.User.ID,
		"previous_valid_until", wh.PreviousSecretUntil)
	http.Redirect(w, r, endpointPath(wh.ID)+"?rotated=1#secret", http.StatusSeeOther)
}
