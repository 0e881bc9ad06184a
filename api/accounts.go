package api

import (
	"context"
	"errors"
	"net/http"
	"strconv"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/ingest"
	"github.com/chathook/chathook/source/cloudapi"
)

// WhatsApp logs out accounts linked by QR code; *whatsweb.Manager is one.
type WhatsApp interface {
	Disconnect(ctx context.Context, workspaceID string, id int64) error
}

// Account is an account as GET /api/v1/accounts and `chathook account
// list` show it (SPEC 6). A Cloud API number also shows what its Meta app
// needs: its phone number id, verify token and callback URL (not once
// removed). Its app
// secret is never here: it is write-only.
type Account struct {
	ID       string `json:"id"`
	Kind     string `json:"kind"`
	Phone    string `json:"phone"`
	FullName string `json:"full_name"`
	Email    string `json:"email"`
	State    string `json:"state"`

	PhoneNumberID string `json:"phone_number_id,omitempty"`
	VerifyToken   string `json:"verify_token,omitempty"`
	CallbackURL   string `json:"callback_url,omitempty"`
}

// AccountOf is a as the API shows it. baseURL is chathook's public URL,
// which a Cloud API number's callback URL is built on; "" leaves the
// callback URL out.
func AccountOf(a chathook.Account, baseURL string) Account {
	out := Account{
		ID: strconv.FormatInt(a.ID, 10), Kind: string(a.Kind), Phone: a.Phone,
		FullName: a.FullName, Email: a.Email, State: string(a.State),
	}
	if a.Kind == chathook.KindCloudAPI {
		out.PhoneNumberID, out.VerifyToken = a.PhoneNumberID, a.VerifyToken
		// A removed number's callback URL would only invite a paste
		// that cannot work: it has no verify token or secret left.
		if baseURL != "" && a.State != chathook.AccountDisconnected {
			out.CallbackURL = cloudapi.CallbackURL(baseURL, a.WorkspaceID)
		}
	}
	return out
}

// getAccounts lists the workspace's accounts linked by QR code and its
// Cloud API numbers, removed ones included (their chats stay).
func (s *Server) getAccounts(w http.ResponseWriter, r *http.Request) {
	list, err := s.cfg.Store.Accounts(r.Context(), workspace(r).ID)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	out := struct {
		Accounts []Account `json:"accounts"`
	}{make([]Account, 0, len(list))}
	for _, a := range list {
		out.Accounts = append(out.Accounts, AccountOf(a, s.cfg.BaseURL))
	}
	writeJSON(w, http.StatusOK, out)
}

// postCloudAPI registers a Cloud API number: 201 with the account, its
// verify token and callback URL, for the teammate to paste into the Meta
// app. The app secret is stored and never answered, logged or echoed in
// an error.
func (s *Server) postCloudAPI(w http.ResponseWriter, r *http.Request) {
	body, ok := readBody(w, r, maxSettingBody)
	if !ok {
		return
	}
	var reg cloudapi.Registration
	if err := ingest.Decode(body, &reg); err != nil {
		writeInputError(w, err)
		return
	}
	ws := workspace(r)
	a, err := cloudapi.Register(r.Context(), s.cfg.Store, ws.ID, reg, s.cfg.Now())
	var fe *ingest.FieldError
	var conflict *chathook.ConflictError
	switch {
	case errors.As(err, &fe):
		writeInputError(w, err)
		return
	case errors.As(err, &conflict):
		writeFieldError(w, http.StatusConflict, conflict.Field, conflict.Problem)
		return
	case err != nil:
		s.internal(w, r, err)
		return
	}
	s.cfg.Logger.Info("Cloud API number registered", "workspace", ws.ID, "account", a.ID, "phone_number_id", a.PhoneNumberID)
	writeJSON(w, http.StatusCreated, AccountOf(a, s.cfg.BaseURL))
}

// deleteAccount removes an account from the workspace: one linked by QR
// code is logged out (its linked device removed from the phone), a Cloud
// API number loses its Meta credentials. Either stays listed, with its
// chats. It is idempotent: removing a removed account answers 204 again.
// An account the ingest API created has nothing to remove: 404, as for
// another workspace's.
func (s *Server) deleteAccount(w http.ResponseWriter, r *http.Request) {
	ws := workspace(r)
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		writeFieldError(w, http.StatusNotFound, "id", strconv.Quote(r.PathValue("id"))+" is not an account id")
		return
	}
	notFound := func() {
		writeFieldError(w, http.StatusNotFound, "id", "no account "+itoa(id)+" linked by QR code or registered from the Cloud API in this workspace")
	}
	a, err := s.cfg.Store.Account(r.Context(), ws.ID, id)
	switch {
	case errors.Is(err, chathook.ErrNotFound):
		notFound()
		return
	case err != nil:
		s.internal(w, r, err)
		return
	}
	switch a.Kind {
	case chathook.KindWeb:
		if s.cfg.WhatsApp == nil {
			writeError(w, http.StatusServiceUnavailable, "accounts linked by QR code cannot be logged out by this server: it runs without its WhatsApp connector")
			return
		}
		err = s.cfg.WhatsApp.Disconnect(r.Context(), ws.ID, id)
	case chathook.KindCloudAPI:
		err = cloudapi.Remove(r.Context(), s.cfg.Store, ws.ID, id, s.cfg.Now())
	default:
		notFound()
		return
	}
	switch {
	case errors.Is(err, chathook.ErrNotFound):
		notFound() // its kind changed meanwhile, or it is gone
		return
	case err != nil:
		s.internal(w, r, err)
		return
	}
	s.cfg.Logger.Info("account removed", "workspace", ws.ID, "account", id, "kind", a.Kind)
	w.WriteHeader(http.StatusNoContent)
}
