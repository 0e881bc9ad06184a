package web

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/api"
	"github.com/chathook/chathook/event"
)

// granularities in the order the seed lists them, as the form offers them.
var granularities = []struct {
	Value chathook.Granularity
	Label string
}{
	{chathook.NoAggregation, "Do not aggregate"},
	{chathook.Hourly, "Every hour"},
	{chathook.SixHourly, "Every 6 hours"},
	{chathook.TwelveHourly, "Every 12 hours"},
	{chathook.Daily, "Every 24 hours"},
}

// settingsView is an endpoint's page: Outbound's as the seed has it, and
// every other endpoint's with its description, events and accounts too.
type settingsView struct {
	layout
	Webhook       chathook.Webhook // as stored
	Path          string           // the page's address: /settings/webhooks/<id>
	Outbound      bool             // the seed's webhook: no events, accounts or delete
	Form          settingsForm     // as shown in the form: stored, or as submitted
	Retype        bool             // the URL submitted had a password, shown now as ***
	Errors        map[string]string
	Choices       endpointChoices // the events and accounts an endpoint may name
	Granularities any
	Pending       int
	Saved         bool
	Created       bool // the endpoint was just added
	Test          *chathook.Outcome
	Activity      activityView
	Recover       recoverForm
	Recovered     int       // deliveries a recovery just queued; -1: none was asked for
	Rotated       bool      // the secret was just rotated
	PreviousUntil time.Time // until when the previous secret signs; zero: it signs no more
}

type settingsForm struct {
	URL         string
	Granularity string
	Enabled     bool
	Discard     bool
	// Not Outbound's:
	Description string
	Events      []string
	Accounts    []string // ids, as the form sends them
}

type activityView struct {
	Entries      []chathook.Activity
	Src          string
	RefreshEvery int64 // milliseconds
}

// endpointPath is the address of an endpoint's page.
func endpointPath(id string) string { return "/settings/webhooks/" + id }

// endpointID is the id of the endpoint the address names ({id}), or
// chathook.ErrNotFound for one no endpoint can have (api.EndpointID),
// which is not looked up: PostgreSQL refuses a parameter that is not
// UTF-8, and the page would be a 500 instead of a 404.
func endpointID(r *http.Request) (string, error) {
	id := r.PathValue("id")
	if !api.EndpointID(id) {
		return "", chathook.ErrNotFound
	}
	return id, nil
}

// settingsData reads the page of the endpoint the address names
// ({id}): chathook.ErrNotFound for none of the workspace's.
func (s *Server) settingsData(r *http.Request, v visit) (settingsView, error) {
	ctx := r.Context()
	id, err := endpointID(r)
	if err != nil {
		return settingsView{}, err
	}
	wh, err := s.cfg.Store.Webhook(ctx, v.workspaceID(), id)
	if err != nil {
		return settingsView{}, err
	}
	acts, err := s.cfg.Store.Activity(ctx, v.workspaceID(), wh.ID, api.ActivityEntries)
	if err != nil {
		return settingsView{}, err
	}
	data := settingsView{
		layout:   v.layout(s, "Webhooks", "webhooks"),
		Webhook:  wh,
		Path:     endpointPath(wh.ID),
		Outbound: wh.ID == chathook.Outbound,
		Form: settingsForm{URL: chathook.RedactURL(wh.URL), Granularity: string(wh.Granularity), Enabled: wh.Enabled,
			Description: wh.Description, Events: wh.Events, Accounts: accountIDs(wh.Accounts)},
		Granularities: granularities,
		Activity:      s.activityData(wh.ID, acts),
		Recovered:     -1,
	}
	if !data.Outbound {
		data.Title = endpointName(wh) + " · Webhooks"
		if data.Choices, err = s.endpointChoices(ctx, v.workspaceID()); err != nil {
			return data, err
		}
	}
	data.PreviousUntil, _ = wh.PreviousSecretValid(s.cfg.Now())
	if !wh.Enabled {
		// What waits is what enabling will send, or discard.
		if data.Pending, err = s.cfg.Store.Pending(ctx, v.workspaceID(), wh.ID); err != nil {
			return data, err
		}
	}
	return data, nil
}

func (s *Server) activityData(id string, acts []chathook.Activity) activityView {
	return activityView{Entries: acts, Src: endpointPath(id) + "/activity", RefreshEvery: s.cfg.RefreshEvery.Milliseconds()}
}

// failed answers an error of reading an endpoint's page: 404 for an
// endpoint that is not the workspace's (or was deleted), else 500.
func (s *Server) failed(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, chathook.ErrNotFound) {
		s.errorPage(w, r, http.StatusNotFound, "There is no such webhook in this workspace: it may have been deleted.")
		return
	}
	s.internal(w, r, err)
}

func (s *Server) settings(w http.ResponseWriter, r *http.Request, v visit) {
	data, err := s.settingsData(r, v)
	if err != nil {
		s.failed(w, r, err)
		return
	}
	q := r.URL.Query()
	data.Saved = q.Get("saved") == "1"
	data.Created = q.Get("created") == "1"
	data.Rotated = q.Get("rotated") == "1"
	if n, err := strconv.Atoi(q.Get("recovered")); err == nil && n >= 0 {
		data.Recovered = n
	}
	s.render(w, r, http.StatusOK, "settings.html", data)
}

// saveSettings changes granularity, URL and the enabled switch together,
// and for an endpoint other than Outbound its description, events and
// accounts: nothing is saved unless every field is valid, and the form
// comes back with what was typed and the error beside its field.
func (s *Server) saveSettings(w http.ResponseWriter, r *http.Request, v visit) {
	ctx := r.Context()
	id, err := endpointID(r)
	if err != nil {
		s.failed(w, r, err)
		return
	}
	before, err := s.cfg.Store.Webhook(ctx, v.workspaceID(), id)
	if err != nil {
		s.failed(w, r, err)
		return
	}
	form := settingsForm{
		URL:         strings.TrimSpace(r.PostFormValue("url")),
		Granularity: r.PostFormValue("granularity"),
		Enabled:     r.PostFormValue("enabled") == "on",
		Discard:     r.PostFormValue("pending") == "discard",
	}
	if before.Format == event.Envelope && form.Granularity == "" {
		form.Granularity = string(chathook.NoAggregation) // the form offers none
	}
	errs := map[string]string{}
	g := chathook.Granularity(form.Granularity)
	if !g.Valid() {
		errs["granularity"] = "Choose one of the offered granularities."
	} else if before.Format == event.Envelope && g != chathook.NoAggregation {
		errs["granularity"] = "The event format sends each event as it happens: it has no aggregation."
	}
	// The URL as shown (*** for the password) keeps the stored password.
	url := form.URL
	if url != "" {
		if url, err = chathook.KeepCredentials(form.URL, before.URL); err != nil {
			errs["url"] = "Not saved: " + err.Error() + "."
		} else if err := chathook.CheckWebhookURL(url, s.cfg.AllowPrivateTargets); err != nil {
			errs["url"] = urlProblem(err)
		}
	}
	typed := form.URL
	form.URL = chathook.RedactURL(form.URL) // the form, shown again, never shows a password
	u := chathook.WebhookUpdate{URL: &url, Granularity: &g, Enabled: &form.Enabled}
	if before.ID != chathook.Outbound {
		if form.URL == "" {
			errs["url"] = "Enter the URL to notify. To stop the POSTs, switch the endpoint off instead."
		}
		var sub endpointFields
		sub, form.Events, form.Accounts = s.readEndpointFields(ctx, r, v.workspaceID(), before.Format, errs)
		form.Description = sub.Description
		u.Description, u.Events, u.Accounts = &sub.Description, &sub.Events, &sub.Accounts
	}
	again := func() {
		data, err := s.settingsData(r, v)
		if err != nil {
			s.failed(w, r, err)
			return
		}
		// Shown again as ***, a new password sent back would keep the old one.
		data.Form, data.Errors, data.Retype = form, errs, form.URL != typed
		s.render(w, r, http.StatusUnprocessableEntity, "settings.html", data)
	}
	if len(errs) > 0 {
		again()
		return
	}
	// The choice is offered, and honoured, only when switching back on.
	u.DiscardPending = form.Discard && form.Enabled && !before.Enabled
	wh, err := s.cfg.Store.UpdateWebhook(ctx, v.workspaceID(), before.ID, s.cfg.Now(), u)
	var invalid *chathook.InvalidError
	if errors.As(err, &invalid) { // the endpoint changed meanwhile
		errs[invalid.Field] = invalid.Problem
		again()
		return
	}
	if err != nil {
		s.failed(w, r, err)
		return
	}
	s.cfg.Logger.Info("webhook settings saved", "workspace", v.workspaceID(), "endpoint", wh.ID, "user", v.User.ID,
		"enabled", wh.Enabled, "granularity", wh.Granularity, "discarded", u.DiscardPending)
	if wh.Enabled && wh.URL != "" {
		s.cfg.Queued()
	}
	http.Redirect(w, r, endpointPath(wh.ID)+"?saved=1", http.StatusSeeOther)
}

// sendTest POSTs a sample message to the saved URL and shows the outcome.
// It is not a delivery and does not count towards the failures that
// disable a webhook (see deliver.Dispatcher.Test).
func (s *Server) sendTest(w http.ResponseWriter, r *http.Request, v visit) {
	data, err := s.settingsData(r, v)
	if err != nil {
		s.failed(w, r, err)
		return
	}
	var out chathook.Outcome
	if data.Webhook.URL == "" {
		out.Err = "there is no webhook URL yet: enter one and save first"
	} else {
		out = s.cfg.Tester.Test(r.Context(), data.Webhook)
	}
	s.cfg.Logger.Info("test message sent", "workspace", v.workspaceID(), "endpoint", data.Webhook.ID, "user", v.User.ID, "status", out.Status,
		"ok", out.OK(), "duration", out.Duration.Round(time.Millisecond))
	data.Test = &out
	s.render(w, r, http.StatusOK, "settings.html", data)
}

// activity is the activity log alone, which the settings page fetches
// every few seconds.
func (s *Server) activity(w http.ResponseWriter, r *http.Request, v visit) {
	id, err := endpointID(r)
	var wh chathook.Webhook
	if err == nil {
		wh, err = s.cfg.Store.Webhook(r.Context(), v.workspaceID(), id)
	}
	if errors.Is(err, chathook.ErrNotFound) {
		http.Error(w, "no such webhook", http.StatusNotFound)
		return
	}
	if err != nil {
		s.internal(w, r, err)
		return
	}
	acts, err := s.cfg.Store.Activity(r.Context(), v.workspaceID(), wh.ID, api.ActivityEntries)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	s.renderFragment(w, r, "activity", s.activityData(wh.ID, acts))
}

// downloadLog is the detailed log for a signed-in user: the same stream
// as GET /api/v1/webhooks/{id}/log.
func (s *Server) downloadLog(w http.ResponseWriter, r *http.Request, v visit) {
	id, err := endpointID(r)
	if err != nil {
		s.failed(w, r, err)
		return
	}
	wh, err := s.cfg.Store.Webhook(r.Context(), v.workspaceID(), id)
	if err != nil {
		s.failed(w, r, err)
		return
	}
	api.StreamEndpointLog(w, r, s.cfg.Store, v.workspaceID(), wh.ID, s.cfg.Now(), s.cfg.Logger, s.cfg.StreamWriteTimeout)
}
