package web

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/api"
	"github.com/chathook/chathook/event"
	"github.com/chathook/chathook/payload"
)

// webhooksView is the Webhooks page: every endpoint, outbound first.
type webhooksView struct {
	layout
	Endpoints []endpointRow
	Full      bool // the workspace has chathook.MaxEndpoints
	Max       int
	Deleted   string // the id of the endpoint just deleted
}

type endpointRow struct {
	chathook.Webhook
	Name string
	Last *chathook.Activity // the latest delivery; nil: none yet
}

// webhooks lists the workspace's endpoints with their state and the
// result of each one's latest delivery.
func (s *Server) webhooks(w http.ResponseWriter, r *http.Request, v visit) {
	ctx := r.Context()
	list, err := s.cfg.Store.Webhooks(ctx, v.workspaceID())
	if err != nil {
		s.internal(w, r, err)
		return
	}
	data := webhooksView{layout: v.layout(s, "Webhooks", "webhooks"), Full: len(list) >= chathook.MaxEndpoints,
		Max: chathook.MaxEndpoints, Deleted: r.URL.Query().Get("deleted")}
	for _, wh := range list {
		row := endpointRow{Webhook: wh, Name: endpointName(wh)}
		row.Webhook.URL = chathook.RedactURL(wh.URL) // the row is for showing only
		acts, err := s.cfg.Store.Activity(ctx, v.workspaceID(), wh.ID, 1)
		if err != nil {
			s.internal(w, r, err)
			return
		}
		if len(acts) > 0 {
			row.Last = &acts[0]
		}
		data.Endpoints = append(data.Endpoints, row)
	}
	s.render(w, r, http.StatusOK, "webhooks.html", data)
}

// endpointName is how the UI names an endpoint to a person.
func endpointName(wh chathook.Webhook) string {
	switch {
	case wh.ID == chathook.Outbound:
		return "Outbound"
	case wh.Description != "":
		return wh.Description
	}
	return wh.ID
}

// eventGroup is the catalogue's types of one Type.Group, in its order.
type eventGroup struct {
	Name  string
	Types []event.Type
}

// endpointChoices are what the add form and an endpoint's page offer.
type endpointChoices struct {
	Groups   []eventGroup
	All      string // event.All
	Accounts []chathook.Account
}

func (s *Server) endpointChoices(ctx context.Context, workspaceID string) (endpointChoices, error) {
	c := endpointChoices{All: event.All}
	for _, t := range event.Types {
		if n := len(c.Groups); n == 0 || c.Groups[n-1].Name != t.Group {
			c.Groups = append(c.Groups, eventGroup{Name: t.Group})
		}
		g := &c.Groups[len(c.Groups)-1]
		g.Types = append(g.Types, t)
	}
	var err error
	c.Accounts, err = s.cfg.Store.Accounts(ctx, workspaceID)
	return c, err
}

// endpointFields are an endpoint's subscription as read from a form.
type endpointFields struct {
	Description string
	Events      []string
	Accounts    []int64
}

// readEndpointFields reads description, events and accounts of a form for
// an endpoint in format f, adding an error per field to errs. It also
// returns events and accounts as typed, for the form to show again (the
// description shows as read: trimmed).
func (s *Server) readEndpointFields(ctx context.Context, r *http.Request, workspaceID string, f event.Format,
	errs map[string]string) (out endpointFields, events, accounts []string) {
	out.Description = strings.TrimSpace(r.PostFormValue("description"))
	events = r.PostForm["events"]
	accounts = r.PostForm["accounts"]
	switch {
	case utf8.RuneCountInString(out.Description) > api.MaxDescription:
		errs["description"] = "Too long: at most " + strconv.Itoa(api.MaxDescription) + " characters."
	case strings.ContainsRune(out.Description, 0):
		errs["description"] = "The description must not contain the NUL character."
	}
	checked, err := event.Check(events, f)
	if err != nil {
		errs["events"] = upperFirst(err.Error()) + "."
	}
	out.Events = checked
	mine, err := s.cfg.Store.Accounts(ctx, workspaceID)
	if err != nil {
		errs["accounts"] = "The accounts could not be read: try again."
		return
	}
	out.Accounts = []int64{}
	for _, a := range accounts {
		id, err := strconv.ParseInt(a, 10, 64)
		if err != nil || !slices.ContainsFunc(mine, func(acc chathook.Account) bool { return acc.ID == id }) {
			errs["accounts"] = "Choose among the accounts listed: " + strconv.Quote(a) + " is not one of this workspace's."
			break
		}
		if !slices.Contains(out.Accounts, id) {
			out.Accounts = append(out.Accounts, id)
		}
	}
	return
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

func accountIDs(ids []int64) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = strconv.FormatInt(id, 10)
	}
	return out
}

// newWebhookView is the add-endpoint form.
type newWebhookView struct {
	layout
	Form          newWebhookForm
	Errors        map[string]string
	Summary       formErrors // all of Errors, atop the form
	Choices       endpointChoices
	Granularities any
	Full          bool
	Max           int
	Retype        bool // the URL typed had a password, shown now as ***
}

type newWebhookForm struct {
	URL, Description, Format, Granularity string
	Events, Accounts                      []string
}

func (s *Server) newWebhookData(r *http.Request, v visit) (newWebhookView, error) {
	data := newWebhookView{layout: v.layout(s, "Add an endpoint · Webhooks", "webhooks"), Granularities: granularities,
		Max: chathook.MaxEndpoints, Form: newWebhookForm{Format: string(event.Envelope), Granularity: string(chathook.NoAggregation)}}
	var err error
	if data.Choices, err = s.endpointChoices(r.Context(), v.workspaceID()); err != nil {
		return data, err
	}
	list, err := s.cfg.Store.Webhooks(r.Context(), v.workspaceID())
	data.Full = len(list) >= chathook.MaxEndpoints
	return data, err
}

func (s *Server) newWebhookPage(w http.ResponseWriter, r *http.Request, v visit) {
	data, err := s.newWebhookData(r, v)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "webhooknew.html", data)
}

// newWebhookFields are the "Add endpoint" form's fields, in order; the
// endpoint limit, no field's, comes last.
var newWebhookFields = []field{{"url", "Webhook URL"}, {"description", "Description"}, {"format", "Format"},
	{"granularity", "Aggregation granularity"}, {"events", "Events"}, {"accounts", "Accounts"}}

// createWebhook adds an endpoint as POST /api/v1/webhooks does: checked
// the same way, every error shown at once beside its field, what was
// typed kept; on success the new endpoint's page.
func (s *Server) createWebhook(w http.ResponseWriter, r *http.Request, v visit) {
	ctx := r.Context()
	form := newWebhookForm{
		URL:         strings.TrimSpace(r.PostFormValue("url")),
		Format:      r.PostFormValue("format"),
		Granularity: r.PostFormValue("granularity"),
	}
	if form.Format == "" {
		form.Format = string(event.Envelope)
	}
	if form.Granularity == "" {
		form.Granularity = string(chathook.NoAggregation)
	}
	errs := map[string]string{}
	f := event.Format(form.Format)
	if f != event.Envelope && f != event.Seed {
		errs["format"] = "Choose the event format or the seed format."
		f = event.Envelope
	}
	g := chathook.Granularity(form.Granularity)
	switch {
	case !g.Valid():
		errs["granularity"] = "Choose one of the offered granularities."
	case f == event.Envelope && g != chathook.NoAggregation:
		errs["granularity"] = "Aggregation is for the seed format only: the event format sends each event as it happens."
	}
	if form.URL == "" {
		errs["url"] = "Enter the URL to notify."
	} else if _, err := chathook.KeepCredentials(form.URL, ""); err != nil {
		errs["url"] = "Not saved: " + err.Error() + "."
	} else if err := chathook.CheckWebhookURL(form.URL, s.cfg.AllowPrivateTargets); err != nil {
		errs["url"] = urlProblem(err)
	}
	sub, events, accounts := s.readEndpointFields(ctx, r, v.workspaceID(), f, errs)
	form.Description, form.Events, form.Accounts = sub.Description, events, accounts
	refuse := func() {
		data, err := s.newWebhookData(r, v)
		if err != nil {
			s.internal(w, r, err)
			return
		}
		data.Form, data.Errors = form, errs
		// A page never shows a password, not even the one just typed.
		data.Form.URL = chathook.RedactURL(form.URL)
		data.Retype = data.Form.URL != form.URL
		data.Summary = summarize("add-error", errs, newWebhookFields)
		data.Summary.Lead = strings.Replace(data.Summary.Lead, "Nothing was saved", "Nothing was added", 1)
		s.render(w, r, http.StatusUnprocessableEntity, "webhooknew.html", data)
	}
	if len(errs) > 0 {
		refuse()
		return
	}
	wh, err := s.cfg.Store.CreateWebhook(ctx, v.workspaceID(), chathook.Webhook{
		ID: api.NewEndpointID(), URL: form.URL, Description: sub.Description, Events: sub.Events, Format: f,
		Granularity: g, Accounts: sub.Accounts, Enabled: true, Secret: payload.NewSecret(),
	}, s.cfg.Now())
	if errors.Is(err, chathook.ErrLimit) {
		errs["limit"] = "This workspace has " + strconv.Itoa(chathook.MaxEndpoints) + " endpoints, as many as it may: delete one first."
		refuse()
		return
	}
	if err != nil {
		s.internal(w, r, err)
		return
	}
	s.cfg.Logger.Info("endpoint added", "workspace", v.workspaceID(), "endpoint", wh.ID, "user", v.User.ID,
		"format", wh.Format, "events", wh.Events)
	http.Redirect(w, r, endpointPath(wh.ID)+"?created=1", http.StatusSeeOther)
}

// urlProblem is CheckWebhookURL's error for a person: a private host is
// a URL, refused with the flag that allows it and when to use it.
func urlProblem(err error) string {
	if errors.Is(err, chathook.ErrPrivateTarget) {
		return "Refused: " + err.Error() + "."
	}
	return "Not a webhook URL: " + err.Error() + "."
}

// deleteWebhook deletes an endpoint, discarding what waits for it, and
// goes back to the list. Outbound cannot be deleted: 409.
func (s *Server) deleteWebhook(w http.ResponseWriter, r *http.Request, v visit) {
	id, err := endpointID(r)
	if err == nil {
		err = s.cfg.Store.DeleteWebhook(r.Context(), v.workspaceID(), id, s.cfg.Now())
	}
	var conflict *chathook.ConflictError
	if errors.As(err, &conflict) {
		s.errorPage(w, r, http.StatusConflict, "The outbound webhook cannot be deleted: switch it off, or empty its URL, instead.")
		return
	}
	if err != nil {
		s.failed(w, r, err)
		return
	}
	s.cfg.Logger.Info("endpoint deleted", "workspace", v.workspaceID(), "endpoint", id, "user", v.User.ID)
	http.Redirect(w, r, "/settings/webhooks/?deleted="+url.QueryEscape(id), http.StatusSeeOther)
}
