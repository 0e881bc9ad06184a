package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/event"
	"github.com/chathook/chathook/ingest"
	"github.com/chathook/chathook/payload"
)

// The endpoints of SPEC 7: GET and POST /api/v1/webhooks, and GET, PATCH
// and DELETE /api/v1/webhooks/{id}. The routes under an endpoint
// (activity, log, flush, recover, secret/rotate, test) take its id from
// the path too: outbound's answer as they always did.

// maxEndpointAccounts bounds the accounts an endpoint is limited to, so
// that checking them is a bounded number of reads.
const maxEndpointAccounts = 100

// MaxDescription is the longest description an endpoint may have, in
// characters.
const MaxDescription = 256

// endpointIDs are the ids an endpoint can have.
var endpointIDs = regexp.MustCompile(`^(outbound|ep_[0-9a-f]{16})$`)

// EndpointID reports whether id is one an endpoint can have: outbound or
// one NewEndpointID makes. Anything else names no endpoint and is not
// looked up: a path may hold bytes that are not UTF-8, which PostgreSQL
// refuses as a parameter.
func EndpointID(id string) bool { return endpointIDs.MatchString(id) }

// NewEndpointID returns "ep_" and 16 random hex digits.
func NewEndpointID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return "ep_" + hex.EncodeToString(b)
}

// endpointJSON is an endpoint as GET /api/v1/webhooks lists it. GET
// /api/v1/webhooks/outbound keeps webhookJSON, its shape before endpoints.
type endpointJSON struct {
	ID                       string   `json:"id"`
	URL                      string   `json:"url"`
	Description              string   `json:"description"`
	Enabled                  bool     `json:"enabled"`
	Events                   []string `json:"events"`
	Format                   string   `json:"format"`
	Granularity              string   `json:"granularity"`
	Accounts                 []string `json:"accounts"` // ids as strings, as GET /api/v1/accounts shows them
	Secret                   string   `json:"secret"`
	ConsecutiveFailures      int      `json:"consecutive_failures"`
	DisabledReason           string   `json:"disabled_reason"`
	DisabledAt               string   `json:"disabled_at"`
	LastError                string   `json:"last_error"`
	PreviousSecretValidUntil string   `json:"previous_secret_valid_until"`
	CreatedAt                string   `json:"created_at"`
}

func endpointAnswer(wh chathook.Webhook, now time.Time) endpointJSON {
	old := webhookAnswer(wh, now)
	accounts := make([]string, len(wh.Accounts))
	for i, id := range wh.Accounts {
		accounts[i] = strconv.FormatInt(id, 10)
	}
	events := wh.Events
	if events == nil {
		events = []string{}
	}
	created := ""
	if !wh.CreatedAt.IsZero() {
		created = rfc3339(wh.CreatedAt)
	}
	return endpointJSON{
		ID: wh.ID, URL: chathook.RedactURL(wh.URL), Description: wh.Description, Enabled: wh.Enabled, Events: events,
		Format: string(wh.Format), Granularity: old.Granularity, Accounts: accounts, Secret: wh.Secret,
		ConsecutiveFailures: wh.ConsecutiveFailures, DisabledReason: wh.DisabledReason, DisabledAt: old.DisabledAt,
		LastError: wh.LastError, PreviousSecretValidUntil: old.PreviousSecretValidUntil, CreatedAt: created,
	}
}

// endpointFields are what POST takes, and PATCH besides secret and
// discard_pending. A field left out (or null) is not given.
type endpointFields struct {
	URL         *string   `json:"url"`
	Events      *[]string `json:"events"`
	Format      *string   `json:"format"`
	Granularity *string   `json:"granularity"`
	Enabled     *bool     `json:"enabled"`
	Description *string   `json:"description"`
	Accounts    *[]string `json:"accounts"`
}

// badField is bad input naming its field: a 400.
func badField(field, problem string) error {
	return &chathook.InvalidError{Field: field, Problem: problem}
}

// writeEndpointError answers an InvalidError, an ingest.FieldError or a
// ConflictError as what it is, and anything else as a 500.
func (s *Server) writeEndpointError(w http.ResponseWriter, r *http.Request, err error) {
	var ie *ingest.FieldError
	var ce *chathook.ConflictError
	var invalid *chathook.InvalidError
	switch {
	case errors.As(err, &invalid):
		writeFieldError(w, http.StatusBadRequest, invalid.Field, invalid.Problem)
	case errors.As(err, &ie):
		writeFieldError(w, http.StatusBadRequest, ie.Field, ie.Problem)
	case errors.As(err, &ce):
		writeFieldError(w, http.StatusConflict, ce.Field, ce.Problem)
	case errors.Is(err, chathook.ErrNotFound):
		writeFieldError(w, http.StatusNotFound, "id", "no endpoint "+strconv.Quote(r.PathValue("id"))+" in this workspace")
	case errors.Is(err, chathook.ErrLimit):
		writeError(w, http.StatusConflict, "a workspace has at most "+strconv.Itoa(chathook.MaxEndpoints)+
			" endpoints, outbound included: delete one before adding another")
	default:
		s.internal(w, r, err)
	}
}

// endpointChange checks in against the endpoint it changes (cur; for a
// new endpoint, the defaults) and returns the update, and the endpoint
// as it will be. Every field is checked before anything is saved, and
// each against what the others will be: events against the resulting
// format, granularity against it too.
func (s *Server) endpointChange(ctx context.Context, workspaceID string, cur chathook.Webhook, in endpointFields, creating bool) (
	chathook.WebhookUpdate, chathook.Webhook, error) {
	var u chathook.WebhookUpdate
	var next chathook.Webhook
	outbound := cur.ID == chathook.Outbound

	if in.URL == nil && creating {
		return u, next, badField("url", "required: an http(s):// URL to POST to, or a nats:// or amqp:// URL to publish to")
	}
	url, err := s.checkURL(in.URL, cur.URL, outbound)
	if err != nil {
		return u, next, err
	}
	u.URL = url

	if in.Description != nil {
		d := *in.Description
		if utf8.RuneCountInString(d) > MaxDescription {
			return u, next, badField("description", "too long: at most "+strconv.Itoa(MaxDescription)+" characters")
		}
		if strings.IndexByte(d, 0) >= 0 { // PostgreSQL cannot store it
			return u, next, badField("description", `must not contain the NUL character (\u0000)`)
		}
		u.Description = in.Description
	}

	if in.Format != nil {
		f := event.Format(*in.Format)
		if f != event.Seed && f != event.Envelope {
			return u, next, badField("format", strconv.Quote(*in.Format)+` is not "event" or "seed"`)
		}
		u.Format = &f
	}
	if u.Granularity, err = checkGranularity(in.Granularity); err != nil {
		return u, next, err
	}
	if in.Events == nil && creating {
		return u, next, badField("events", `required: the event types to send, or ["*"] for all`)
	}
	u.Events = in.Events
	// Each field against what the others will be: events against the
	// resulting format, also when only the format changes.
	next, u, err = cur.Apply(u)
	if err != nil {
		return u, next, err
	}
	if in.Accounts != nil {
		accounts, err := s.endpointAccounts(ctx, workspaceID, *in.Accounts)
		if err != nil {
			return u, next, err
		}
		u.Accounts, next.Accounts = &accounts, accounts
	}
	if in.Enabled != nil {
		u.Enabled, next.Enabled = in.Enabled, *in.Enabled
	}
	return u, next, nil
}

// The checks below are shared by PATCH /api/v1/webhooks/{id} and PUT
// /api/v1/webhooks/outbound, so both refuse the same input in the same
// words. Each takes a field as given (nil: not given) and returns a
// *chathook.InvalidError.

// checkURL checks a URL to send to and returns it as it will be saved:
// with the stored URL prev's credentials in place of chathook.Redacted,
// so that a client sending back the URL it was shown keeps the password
// (chathook.KeepCredentials). "" unsets Outbound's URL (new messages stop
// queueing); any other endpoint must keep one.
func (s *Server) checkURL(url *string, prev string, outbound bool) (*string, error) {
	switch {
	case url == nil:
	case *url == "" && !outbound:
		return nil, badField("url", `must not be empty: disable the endpoint ("enabled": false) or delete it instead`)
	case *url != "":
		kept, err := chathook.KeepCredentials(*url, prev)
		if err != nil {
			return nil, badField("url", err.Error())
		}
		if err := chathook.CheckWebhookURL(kept, s.cfg.AllowPrivateTargets); err != nil {
			return nil, badField("url", err.Error())
		}
		return &kept, nil
	}
	return url, nil
}

// checkGranularity returns the granularity given, nil when none is.
func checkGranularity(in *string) (*chathook.Granularity, error) {
	if in == nil {
		return nil, nil
	}
	g := chathook.Granularity(*in)
	if !g.Valid() {
		return nil, badField("granularity", strconv.Quote(*in)+` is not one of "none", "1h", "6h", "12h", "24h"`)
	}
	return &g, nil
}

// checkSecret checks a signing secret set by hand.
func checkSecret(in *string) error {
	if in == nil {
		return nil
	}
	if _, err := payload.ParseSecret(*in); err != nil {
		return badField("secret", err.Error())
	}
	return nil
}

// endpointAccounts reads the account ids of a request, each an account of
// the workspace, without repeats, in the order given.
func (s *Server) endpointAccounts(ctx context.Context, workspaceID string, ids []string) ([]int64, error) {
	out := make([]int64, 0, len(ids))
	for _, v := range ids {
		id, err := strconv.ParseInt(v, 10, 64)
		if err != nil || id <= 0 {
			return nil, badField("accounts", strconv.Quote(v)+" is not an account id (GET /api/v1/accounts)")
		}
		if slices.Contains(out, id) {
			continue
		}
		if len(out) == maxEndpointAccounts {
			return nil, badField("accounts", "too many: at most "+strconv.Itoa(maxEndpointAccounts))
		}
		if _, err := s.cfg.Store.Account(ctx, workspaceID, id); errors.Is(err, chathook.ErrNotFound) {
			return nil, badField("accounts", "no account "+strconv.Quote(v)+" in this workspace (GET /api/v1/accounts)")
		} else if err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, nil
}

// endpoint returns the endpoint the path names, or answers 404 naming id.
func (s *Server) endpoint(w http.ResponseWriter, r *http.Request) (chathook.Webhook, bool) {
	id := r.PathValue("id")
	if !EndpointID(id) {
		s.writeEndpointError(w, r, chathook.ErrNotFound)
		return chathook.Webhook{}, false
	}
	wh, err := s.cfg.Store.Webhook(r.Context(), workspace(r).ID, id)
	if err != nil {
		s.writeEndpointError(w, r, err)
		return wh, false
	}
	return wh, true
}

// outboundPath serves h at /api/v1/webhooks/outbound as at
// /api/v1/webhooks/{id} with id outbound.
func outboundPath(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		r.SetPathValue("id", chathook.Outbound)
		h(w, r)
	}
}

func (s *Server) listWebhooks(w http.ResponseWriter, r *http.Request) {
	whs, err := s.cfg.Store.Webhooks(r.Context(), workspace(r).ID)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	now := s.cfg.Now()
	out := struct {
		Webhooks []endpointJSON `json:"webhooks"`
	}{Webhooks: make([]endpointJSON, len(whs))}
	for i, wh := range whs {
		out.Webhooks[i] = endpointAnswer(wh, now)
	}
	writeJSON(w, http.StatusOK, out)
}

// postWebhook adds an endpoint: format "event", granularity "none",
// enabled, all accounts unless told otherwise, with a secret of its own.
func (s *Server) postWebhook(w http.ResponseWriter, r *http.Request) {
	body, ok := readBody(w, r, maxSettingBody)
	if !ok {
		return
	}
	var in endpointFields
	if err := ingest.Decode(body, &in); err != nil {
		writeInputError(w, err)
		return
	}
	ws := workspace(r).ID
	defaults := chathook.Webhook{WorkspaceID: ws, Format: event.Envelope, Granularity: chathook.NoAggregation, Enabled: true}
	_, wh, err := s.endpointChange(r.Context(), ws, defaults, in, true)
	if err != nil {
		s.writeEndpointError(w, r, err)
		return
	}
	wh.ID, wh.Secret = NewEndpointID(), payload.NewSecret()
	if wh.Accounts == nil {
		wh.Accounts = []int64{}
	}
	now := s.cfg.Now()
	created, err := s.cfg.Store.CreateWebhook(r.Context(), ws, wh, now)
	if err != nil {
		s.writeEndpointError(w, r, err)
		return
	}
	s.cfg.Logger.Info("endpoint added", "workspace", ws, "endpoint", created.ID, "format", created.Format,
		"events", created.Events, "granularity", created.Granularity)
	if created.Granularity != chathook.NoAggregation && s.cfg.Bundles != nil {
		s.cfg.Bundles.Kick()
	}
	writeJSON(w, http.StatusCreated, endpointAnswer(created, now))
}

func (s *Server) getEndpoint(w http.ResponseWriter, r *http.Request) {
	wh, ok := s.endpoint(w, r)
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, endpointAnswer(wh, s.cfg.Now()))
}

// patchEndpoint changes any field of POST's, and secret and
// discard_pending as PUT /api/v1/webhooks/outbound takes them. Nothing
// changes unless every field is valid, against what the others will be.
func (s *Server) patchEndpoint(w http.ResponseWriter, r *http.Request) {
	cur, ok := s.endpoint(w, r)
	if !ok {
		return
	}
	body, ok := readBody(w, r, maxSettingBody)
	if !ok {
		return
	}
	var in struct {
		endpointFields `json:",inline"`
		Secret         *string `json:"secret"`
		Discard        bool    `json:"discard_pending"`
	}
	if err := ingest.Decode(body, &in); err != nil {
		writeInputError(w, err)
		return
	}
	ws := workspace(r).ID
	u, _, err := s.endpointChange(r.Context(), ws, cur, in.endpointFields, false)
	if err != nil {
		s.writeEndpointError(w, r, err)
		return
	}
	if err := checkSecret(in.Secret); err != nil {
		s.writeEndpointError(w, r, err)
		return
	}
	u.Secret = in.Secret
	u.DiscardPending = in.Discard
	wh, err := s.cfg.Store.UpdateWebhook(r.Context(), ws, cur.ID, s.cfg.Now(), u)
	if err != nil {
		s.writeEndpointError(w, r, err)
		return
	}
	s.cfg.Logger.Info("endpoint changed", "workspace", ws, "endpoint", wh.ID, "enabled", wh.Enabled,
		"format", wh.Format, "events", wh.Events, "granularity", wh.Granularity, "discarded", u.DiscardPending)
	s.changed(wh, u)
	writeJSON(w, http.StatusOK, endpointAnswer(wh, s.cfg.Now()))
}

// deleteEndpoint deletes an endpoint and discards what waits for it;
// outbound cannot be deleted (409).
func (s *Server) deleteEndpoint(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if !EndpointID(id) {
		s.writeEndpointError(w, r, chathook.ErrNotFound)
		return
	}
	ws := workspace(r).ID
	if err := s.cfg.Store.DeleteWebhook(r.Context(), ws, id, s.cfg.Now()); err != nil {
		s.writeEndpointError(w, r, err)
		return
	}
	s.cfg.Logger.Info("endpoint deleted", "workspace", ws, "endpoint", id)
	w.WriteHeader(http.StatusNoContent)
}

// postTest POSTs a sample to the endpoint's URL as a delivery would go
// out (a webhook:test event in the event format), whether or not it is
// enabled. It is not a delivery: nothing is stored, and it never counts
// towards the failures that disable an endpoint (deliver.Dispatcher.Test).
func (s *Server) postTest(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Tester == nil {
		writeError(w, http.StatusServiceUnavailable, "test POSTs are not sent by this server")
		return
	}
	wh, ok := s.endpoint(w, r)
	if !ok {
		return
	}
	if !readNoInput(w, r) {
		return
	}
	if wh.URL == "" {
		writeFieldError(w, http.StatusConflict, "url", "the endpoint has no URL to test: set one first")
		return
	}
	out := s.cfg.Tester.Test(r.Context(), wh)
	s.cfg.Logger.Info("test POST sent", "workspace", wh.WorkspaceID, "endpoint", wh.ID, "status", out.Status,
		"ok", out.OK(), "duration", out.Duration.Round(time.Millisecond))
	writeJSON(w, http.StatusOK, struct {
		Status     int    `json:"status"`
		Error      string `json:"error"`
		DurationMS int64  `json:"duration_ms"`
	}{out.Status, out.Err, out.Duration.Milliseconds()})
}
