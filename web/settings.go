package web

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/api"
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

type settingsView struct {
	layout
	Webhook       chathook.Webhook // as stored
	Form          settingsForm     // as shown in the form: stored, or as submitted
	Errors        map[string]string
	Granularities any
	Pending       int
	Saved         bool
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
}

type activityView struct {
	Entries      []chathook.Activity
	Src          string
	RefreshEvery int64 // milliseconds
}

func (s *Server) settingsData(r *http.Request, v visit) (settingsView, error) {
	ctx := r.Context()
	wh, err := s.cfg.Store.Webhook(ctx, v.workspaceID(), chathook.Outbound)
	if err != nil {
		return settingsView{}, err
	}
	acts, err := s.cfg.Store.Activity(ctx, v.workspaceID(), chathook.Outbound, api.ActivityEntries)
	if err != nil {
		return settingsView{}, err
	}
	data := settingsView{
		layout:        v.layout(s, "Webhooks", "webhooks"),
		Webhook:       wh,
		Form:          settingsForm{URL: wh.URL, Granularity: string(wh.Granularity), Enabled: wh.Enabled},
		Granularities: granularities,
		Activity:      s.activityData(acts),
		Recovered:     -1,
	}
	data.PreviousUntil, _ = wh.PreviousSecretValid(s.cfg.Now())
	if !wh.Enabled {
		// What waits is what enabling will send, or discard.
		if data.Pending, err = s.cfg.Store.Pending(ctx, v.workspaceID(), chathook.Outbound); err != nil {
			return data, err
		}
	}
	return data, nil
}

func (s *Server) activityData(acts []chathook.Activity) activityView {
	return activityView{Entries: acts, Src: "/settings/webhooks/outbound/activity", RefreshEvery: s.cfg.RefreshEvery.Milliseconds()}
}

func (s *Server) settings(w http.ResponseWriter, r *http.Request, v visit) {
	data, err := s.settingsData(r, v)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	q := r.URL.Query()
	data.Saved = q.Get("saved") == "1"
	data.Rotated = q.Get("rotated") == "1"
	if n, err := strconv.Atoi(q.Get("recovered")); err == nil && n >= 0 {
		data.Recovered = n
	}
	s.render(w, r, http.StatusOK, "settings.html", data)
}

// saveSettings changes granularity, URL and the enabled switch together:
// nothing is saved unless every field is valid, and the form comes back
// with what was typed and the error beside its field.
func (s *Server) saveSettings(w http.ResponseWriter, r *http.Request, v visit) {
	form := settingsForm{
		URL:         strings.TrimSpace(r.PostFormValue("url")),
		Granularity: r.PostFormValue("granularity"),
		Enabled:     r.PostFormValue("enabled") == "on",
		Discard:     r.PostFormValue("pending") == "discard",
	}
	errs := map[string]string{}
	g := chathook.Granularity(form.Granularity)
	if !g.Valid() {
		errs["granularity"] = "Choose one of the offered granularities."
	}
	if form.URL != "" {
		if err := chathook.CheckWebhookURL(form.URL, s.cfg.AllowPrivateTargets); err != nil {
			errs["url"] = "Not a webhook URL: " + err.Error() + "."
		}
	}
	if len(errs) > 0 {
		data, err := s.settingsData(r, v)
		if err != nil {
			s.internal(w, r, err)
			return
		}
		data.Form, data.Errors = form, errs
		s.render(w, r, http.StatusUnprocessableEntity, "settings.html", data)
		return
	}
	before, err := s.cfg.Store.Webhook(r.Context(), v.workspaceID(), chathook.Outbound)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	u := chathook.WebhookUpdate{URL: &form.URL, Granularity: &g, Enabled: &form.Enabled}
	// The choice is offered, and honoured, only when switching back on.
	u.DiscardPending = form.Discard && form.Enabled && !before.Enabled
	wh, err := s.cfg.Store.UpdateWebhook(r.Context(), v.workspaceID(), chathook.Outbound, s.cfg.Now(), u)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	s.cfg.Logger.Info("webhook settings saved", "workspace", v.workspaceID(), "user", v.User.ID,
		"enabled", wh.Enabled, "granularity", wh.Granularity, "discarded", u.DiscardPending)
	if wh.Enabled && wh.URL != "" {
		s.cfg.Queued()
	}
	http.Redirect(w, r, "/settings/webhooks/outbound?saved=1", http.StatusSeeOther)
}

// sendTest POSTs a sample message to the saved URL and shows the outcome.
// It is not a delivery and does not count towards the failures that
// disable a webhook (see deliver.Dispatcher.Test).
func (s *Server) sendTest(w http.ResponseWriter, r *http.Request, v visit) {
	data, err := s.settingsData(r, v)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	var out chathook.Outcome
	if data.Webhook.URL == "" {
		out.Err = "there is no webhook URL yet: enter one and save first"
	} else {
		out = s.cfg.Tester.Test(r.Context(), data.Webhook)
	}
	s.cfg.Logger.Info("test message sent", "workspace", v.workspaceID(), "user", v.User.ID, "status", out.Status,
		"ok", out.OK(), "duration", out.Duration.Round(time.Millisecond))
	data.Test = &out
	s.render(w, r, http.StatusOK, "settings.html", data)
}

// activity is the activity log alone, which the settings page fetches
// every few seconds.
func (s *Server) activity(w http.ResponseWriter, r *http.Request, v visit) {
	acts, err := s.cfg.Store.Activity(r.Context(), v.workspaceID(), chathook.Outbound, api.ActivityEntries)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	s.renderFragment(w, r, "activity", s.activityData(acts))
}

// downloadLog is the detailed log for a signed-in user: the same stream
// as GET /api/v1/webhooks/outbound/log.
func (s *Server) downloadLog(w http.ResponseWriter, r *http.Request, v visit) {
	api.StreamLog(w, r, s.cfg.Store, v.workspaceID(), s.cfg.Now(), s.cfg.Logger, s.cfg.StreamWriteTimeout)
}
