package api

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/ingest"
	"github.com/chathook/chathook/payload"
)

type webhookJSON struct {
	URL                 string `json:"url"`
	Enabled             bool   `json:"enabled"`
	Granularity         string `json:"granularity"`
	Secret              string `json:"secret"`
	ConsecutiveFailures int    `json:"consecutive_failures"`
	DisabledReason      string `json:"disabled_reason"`
	DisabledAt          string `json:"disabled_at"` // "" unless disabled automatically
	LastError           string `json:"last_error"`
	// PreviousSecretValidUntil is when the secret a rotation replaced
	// stops signing (RFC 3339); "" when it signs no more.
	PreviousSecretValidUntil string `json:"previous_secret_valid_until"`
}

func webhookAnswer(wh chathook.Webhook, now time.Time) webhookJSON {
	disabledAt := ""
	if !wh.DisabledAt.IsZero() {
		disabledAt = payload.Time(wh.DisabledAt)
	}
	previousUntil := ""
	if until, ok := wh.PreviousSecretValid(now); ok {
		previousUntil = rfc3339(until)
	}
	return webhookJSON{
		URL: chathook.RedactURL(wh.URL), Enabled: wh.Enabled, Granularity: string(wh.Granularity), Secret: wh.Secret,
		ConsecutiveFailures: wh.ConsecutiveFailures, DisabledReason: wh.DisabledReason,
		DisabledAt: disabledAt, LastError: wh.LastError, PreviousSecretValidUntil: previousUntil,
	}
}

func (s *Server) getWebhook(w http.ResponseWriter, r *http.Request) {
	wh, err := s.cfg.Store.Webhook(r.Context(), workspace(r).ID, chathook.Outbound)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, webhookAnswer(wh, s.cfg.Now()))
}

// putWebhook changes any of url, enabled, granularity and secret; what is
// left out stays as it is. Nothing changes unless every field is valid.
// "discard_pending": true drops what waits (usually sent with
// "enabled": true after an automatic disable) instead of delivering it.
func (s *Server) putWebhook(w http.ResponseWriter, r *http.Request) {
	body, ok := readBody(w, r, maxSettingBody)
	if !ok {
		return
	}
	var in struct {
		URL         *string `json:"url"`
		Enabled     *bool   `json:"enabled"`
		Granularity *string `json:"granularity"`
		Secret      *string `json:"secret"`
		Discard     bool    `json:"discard_pending"`
	}
	if err := ingest.Decode(body, &in); err != nil {
		writeInputError(w, err)
		return
	}
	ws := workspace(r).ID
	cur, err := s.cfg.Store.Webhook(r.Context(), ws, chathook.Outbound)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	u := chathook.WebhookUpdate{Enabled: in.Enabled, Secret: in.Secret, DiscardPending: in.Discard}
	u.URL, err = s.checkURL(in.URL, cur.URL, true)
	if err == nil {
		u.Granularity, err = checkGranularity(in.Granularity)
	}
	if err == nil {
		err = checkSecret(in.Secret)
	}
	if err != nil {
		s.writeEndpointError(w, r, err)
		return
	}
	wh, err := s.cfg.Store.UpdateWebhook(r.Context(), ws, chathook.Outbound, s.cfg.Now(), u)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	s.changed(wh, u)
	writeJSON(w, http.StatusOK, webhookAnswer(wh, s.cfg.Now()))
}

// changed wakes what an endpoint's change u may let go: its waiting
// deliveries, and bundles of a window that has now ended.
func (s *Server) changed(wh chathook.Webhook, u chathook.WebhookUpdate) {
	if wh.Enabled && wh.URL != "" {
		s.cfg.Queued() // waiting deliveries may go out now
	}
	if u.Granularity != nil && s.cfg.Bundles != nil {
		s.cfg.Bundles.Kick() // a shorter window may have ended already
	}
}

// readNoInput reads a body that must be empty or {}: a call that takes
// no input, whose client may send a JSON object anyway. It answers the
// error itself and returns false when the body is anything else.
func readNoInput(w http.ResponseWriter, r *http.Request) bool {
	body, ok := readBody(w, r, maxSettingBody)
	if !ok || len(body) == 0 {
		return ok
	}
	var in struct{}
	if err := ingest.Decode(body, &in); err != nil {
		writeInputError(w, err)
		return false
	}
	return true
}

// postFlush sends every message waiting for a bundle of the endpoint now, one bundle per
// chat and window, instead of at the window's end.
func (s *Server) postFlush(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Bundles == nil {
		writeError(w, http.StatusServiceUnavailable, "bundles are not flushed by this server")
		return
	}
	wh, ok := s.endpoint(w, r)
	if !ok {
		return
	}
	bundles, messages, err := s.cfg.Bundles.FlushAll(r.Context(), wh.Key)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]int{"bundles": bundles, "messages": messages})
}

type chatJSON struct {
	ChatID           string `json:"chat_id"`
	FullName         string `json:"full_name"`
	ResponsibleName  string `json:"responsible_name"`
	ResponsibleEmail string `json:"responsible_email"`
	IsGroup          bool   `json:"is_group"`
	Phone            string `json:"phone"`
}

// putChat renames a chat or assigns its responsible teammate.
func (s *Server) putChat(w http.ResponseWriter, r *http.Request) {
	chatID, ok := pathChat(w, r)
	if !ok {
		return
	}
	body, ok := readBody(w, r, maxSettingBody)
	if !ok {
		return
	}
	var in struct {
		FullName         *string `json:"full_name"`
		ResponsibleName  *string `json:"responsible_name"`
		ResponsibleEmail *string `json:"responsible_email"`
	}
	if err := ingest.Decode(body, &in); err != nil {
		writeInputError(w, err)
		return
	}
	for _, f := range []struct {
		name string
		v    *string
	}{{"full_name", in.FullName}, {"responsible_name", in.ResponsibleName}, {"responsible_email", in.ResponsibleEmail}} {
		if f.v != nil && utf8.RuneCountInString(*f.v) > 256 {
			writeFieldError(w, http.StatusBadRequest, f.name, "too long: at most 256 characters")
			return
		}
		if f.v != nil && strings.IndexByte(*f.v, 0) >= 0 { // PostgreSQL cannot store it
			writeFieldError(w, http.StatusBadRequest, f.name, `must not contain the NUL character (\u0000)`)
			return
		}
	}
	if in.FullName != nil && *in.FullName == "" {
		writeFieldError(w, http.StatusBadRequest, "full_name", "must not be empty")
		return
	}
	c, err := s.cfg.Store.UpdateChat(r.Context(), workspace(r).ID, chatID,
		chathook.ChatUpdate{FullName: in.FullName, ResponsibleName: in.ResponsibleName, ResponsibleEmail: in.ResponsibleEmail})
	if errors.Is(err, chathook.ErrNotFound) {
		writeFieldError(w, http.StatusNotFound, "chat_id", "no chat "+strconv.FormatInt(chatID, 10)+" in this workspace")
		return
	}
	if err != nil {
		s.internal(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, chatJSON{
		ChatID: strconv.FormatInt(c.ID, 10), FullName: c.FullName, ResponsibleName: c.ResponsibleName,
		ResponsibleEmail: c.ResponsibleEmail, IsGroup: c.IsGroup, Phone: c.Phone,
	})
}
