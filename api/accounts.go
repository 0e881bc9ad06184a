package api

import (
	"context"
	"errors"
	"net/http"
	"strconv"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/ingest"
	"github.com/chathook/chathook/source/cloudapi"
	"github.com/chathook/chathook/store"
)

// WhatsApp logs out accounts linked by QR code; *whatsweb.Manager is one.
type WhatsApp interface {
	Disconnect(ctx context.Context, workspaceID string, id int64) error
}

// Account is an account as GET /api/v1/accounts and `chathook account
// list` show it (SPEC 6). A Cloud API number also shows what its Meta app
// needs: its phone number id, verify token and callback URL (not once
// removed), and whether it has an access token to send replies with. Its
// app secret and access token are never here: they are write-only.
type Account struct {
	ID       string `json:"id"`
	Kind     string `json:"kind"`
	Phone    string `json:"phone"`
	FullName string `json:"full_name"`
	Email    string `json:"email"`
	State    string `json:"state"`
	// BannedUntil is when a banned account's ban ends (RFC 3339, UTC);
	// left out in every other state.
	BannedUntil string `json:"banned_until,omitempty"`

	PhoneNumberID string `json:"phone_number_id,omitempty"`
	VerifyToken   string `json:"verify_token,omitempty"`
	CallbackURL   string `json:"callback_url,omitempty"`
	// HasAccessToken is set for a Cloud API number only: nil leaves it
	// out of an account of another kind.
	HasAccessToken *bool `json:"has_access_token,omitempty"`
}

// AccountOf is a as the API shows it. baseURL is chathook's public URL,
// which a Cloud API number's callback URL is built on; "" leaves the
// callback URL out. hasAccessToken is whether a Cloud API number has an
// access token (the account alone does not tell: the token is read only
// with CloudAPINumbers); it is ignored for other kinds.
func AccountOf(a chathook.Account, baseURL string, hasAccessToken bool) Account {
	out := Account{
		ID: strconv.FormatInt(a.ID, 10), Kind: string(a.Kind), Phone: a.Phone,
		FullName: a.FullName, Email: a.Email, State: string(a.State),
	}
	if a.State == chathook.AccountBanned && !a.StateUntil.IsZero() {
		out.BannedUntil = rfc3339(a.StateUntil)
	}
	if a.Kind == chathook.KindCloudAPI {
		out.PhoneNumberID, out.VerifyToken = a.PhoneNumberID, a.VerifyToken
		out.HasAccessToken = &hasAccessToken
		// A removed number's callback URL would only invite a paste
		// that cannot work: it has no verify token or secret left.
		if baseURL != "" && a.State != chathook.AccountDisconnected {
			out.CallbackURL = cloudapi.CallbackURL(baseURL, a.WorkspaceID)
		}
	}
	return out
}

// ListAccounts is the workspace's accounts linked by QR code and its
// Cloud API numbers, removed ones included (their chats stay), as GET
// /api/v1/accounts and `chathook account list` show them.
func ListAccounts(ctx context.Context, st store.Store, workspaceID, baseURL string) ([]Account, error) {
	list, err := st.Accounts(ctx, workspaceID)
	if err != nil {
		return nil, err
	}
	// A removed number has no token, and is not among these.
	numbers, err := st.CloudAPINumbers(ctx, workspaceID)
	if err != nil {
		return nil, err
	}
	hasToken := make(map[int64]bool, len(numbers))
	for _, n := range numbers {
		hasToken[n.ID] = n.AccessToken != ""
	}
	out := make([]Account, 0, len(list))
	for _, a := range list {
		out = append(out, AccountOf(a, baseURL, hasToken[a.ID]))
	}
	return out, nil
}

// getAccounts lists the workspace's accounts linked by QR code and its
// Cloud API numbers, removed ones included (their chats stay).
func (s *Server) getAccounts(w http.ResponseWriter, r *http.Request) {
	list, err := ListAccounts(r.Context(), s.cfg.Store, workspace(r).ID, s.cfg.BaseURL)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, struct {
		Accounts []Account `json:"accounts"`
	}{list})
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
	writeJSON(w, http.StatusCreated, AccountOf(a, s.cfg.BaseURL, reg.AccessToken != ""))
}

// putAccount sets or replaces a Cloud API number's access token, the
// one field an account has to change: 200 with the account. The token is
// write-only: never answered, logged or echoed in an error. Another
// workspace's account, one of another kind, or a removed number is a 404.
func (s *Server) putAccount(w http.ResponseWriter, r *http.Request) {
	ws := workspace(r)
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		writeFieldError(w, http.StatusNotFound, "id", strconv.Quote(r.PathValue("id"))+" is not an account id")
		return
	}
	body, ok := readBody(w, r, maxSettingBody)
	if !ok {
		return
	}
	var in struct {
		AccessToken *string `json:"access_token"`
	}
	if err := ingest.Decode(body, &in); err != nil {
		writeInputError(w, err)
		return
	}
	if in.AccessToken == nil {
		writeFieldError(w, http.StatusBadRequest, "access_token", "required: the only field of an account to change")
		return
	}
	a, err := cloudapi.SetAccessToken(r.Context(), s.cfg.Store, ws.ID, id, *in.AccessToken)
	var fe *ingest.FieldError
	switch {
	case errors.As(err, &fe):
		writeInputError(w, err)
		return
	case errors.Is(err, chathook.ErrNotFound):
		writeFieldError(w, http.StatusNotFound, "id", "no Cloud API number "+itoa(id)+" in this workspace (a removed one must be registered again)")
		return
	case err != nil:
		s.internal(w, r, err)
		return
	}
	s.cfg.Logger.Info("Cloud API access token set", "workspace", ws.ID, "account", a.ID)
	writeJSON(w, http.StatusOK, AccountOf(a, s.cfg.BaseURL, true))
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
