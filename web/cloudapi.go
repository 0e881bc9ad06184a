package web

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/ingest"
	"github.com/chathook/chathook/source/cloudapi"
)

// cloudAPIForm is the "Add a Cloud API number" form as shown: prefilled,
// or as typed. It has no app secret: that is never sent back to the
// browser, not even to a form with an error.
type cloudAPIForm struct {
	PhoneNumberID      string
	DisplayPhoneNumber string
	FullName           string
	Email              string
	VerifyToken        string
}

// cloudAPIFields are the "Add a Cloud API number" form's fields, in order.
var cloudAPIFields = []field{
	{"phone_number_id", "Phone number ID"}, {"display_phone_number", "Phone number"}, {"full_name", "Name"},
	{"email", "Teammate"}, {"app_secret", "App secret"}, {"verify_token", "Verify token"}, {"access_token", "Access token"},
}

// newCloudAPIForm is the form as the accounts page first shows it: the
// signed-in teammate's email and a random verify token, to be changed at
// will.
func newCloudAPIForm(v visit) cloudAPIForm {
	return cloudAPIForm{Email: v.User.Email, VerifyToken: cloudapi.NewVerifyToken()}
}

// addCloudAPI registers a Cloud API number and sends the browser to its
// setup page, which shows what to paste into the Meta app. Every field's
// error comes back at once, each beside its field and all in a summary,
// with what was typed kept, but for the app secret and access token,
// which are typed again.
func (s *Server) addCloudAPI(w http.ResponseWriter, r *http.Request, v visit) {
	form := cloudAPIForm{
		PhoneNumberID:      strings.TrimSpace(r.PostFormValue("phone_number_id")),
		DisplayPhoneNumber: strings.TrimSpace(r.PostFormValue("display_phone_number")),
		FullName:           strings.TrimSpace(r.PostFormValue("full_name")),
		Email:              strings.TrimSpace(r.PostFormValue("email")),
		VerifyToken:        strings.TrimSpace(r.PostFormValue("verify_token")),
	}
	reg := cloudapi.Registration{
		PhoneNumberID: form.PhoneNumberID, DisplayPhoneNumber: form.DisplayPhoneNumber, FullName: form.FullName, Email: form.Email,
		// Pasted secrets often come with a space or line break around them.
		AppSecret: strings.TrimSpace(r.PostFormValue("app_secret")), VerifyToken: form.VerifyToken,
		AccessToken: strings.TrimSpace(r.PostFormValue("access_token")),
	}
	a, err := cloudapi.Register(r.Context(), s.cfg.Store, v.workspaceID(), reg, s.cfg.Now())
	errs := fieldProblems(err)
	var conflict *chathook.ConflictError
	switch {
	case errs != nil:
	case errors.As(err, &conflict):
		errs = map[string]string{conflict.Field: sentence(conflict.Problem)}
	case err != nil:
		s.internal(w, r, err)
		return
	}
	if errs != nil {
		data, err := s.accountsData(r, v)
		if err != nil {
			s.internal(w, r, err)
			return
		}
		data.Cloud, data.CloudErrors, data.CloudOpen = form, errs, true
		data.CloudSummary = summarize("cloud-api-error", errs, cloudAPIFields)
		data.CloudSummary.Lead = strings.Replace(data.CloudSummary.Lead, "Nothing was saved", "Nothing was registered", 1)
		// Secrets never come back to the browser: say so only of one
		// typed, else "type it again" would send a person looking for it.
		switch {
		case reg.AppSecret != "" && reg.AccessToken != "":
			data.CloudSummary.Note = "Type the App secret and the access token again: chathook never sends them back to the browser."
		case reg.AppSecret != "":
			data.CloudSummary.Note = "Type the App secret again: chathook never sends it back to the browser."
		case reg.AccessToken != "":
			data.CloudSummary.Note = "Type the access token again: chathook never sends it back to the browser."
		}
		s.render(w, r, http.StatusUnprocessableEntity, "accounts.html", data)
		return
	}
	s.cfg.Logger.Info("Cloud API number registered", "workspace", v.workspaceID(), "user", v.User.ID, "account", a.ID,
		"phone_number_id", a.PhoneNumberID)
	http.Redirect(w, r, "/accounts/cloud-api/"+strconv.FormatInt(a.ID, 10)+"?added=1", http.StatusSeeOther)
}

// sentence is a problem as the registration rules word it ("required:
// the number…"), capitalised and ended for a person.
func sentence(problem string) string {
	if problem == "" {
		return ""
	}
	first, size := utf8.DecodeRuneInString(problem)
	s := string(unicode.ToUpper(first)) + problem[size:]
	if !strings.HasSuffix(s, ".") {
		s += "."
	}
	return s
}

type cloudAPIPage struct {
	layout
	Row            accountRow
	CallbackURL    string
	HTTPS          bool   // Meta calls only https:// callback URLs
	Added          bool   // just registered
	HasAccessToken bool   // it can send replies; the token itself is never on the page
	TokenSaved     bool   // an access token was just set
	TokenError     string // why the access token typed was refused
}

// cloudAPINumber reads the Cloud API number of the path, answering 404
// for any other account, as for one of another workspace.
func (s *Server) cloudAPINumber(w http.ResponseWriter, r *http.Request, v visit) (chathook.Account, bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		s.errorPage(w, r, http.StatusNotFound, "There is no such Cloud API number.")
		return chathook.Account{}, false
	}
	a, err := s.cfg.Store.Account(r.Context(), v.workspaceID(), id)
	if errors.Is(err, chathook.ErrNotFound) || (err == nil && a.Kind != chathook.KindCloudAPI) {
		s.errorPage(w, r, http.StatusNotFound, "There is no such Cloud API number in this workspace.")
		return chathook.Account{}, false
	}
	if err != nil {
		s.internal(w, r, err)
		return chathook.Account{}, false
	}
	return a, true
}

// cloudAPISetup shows a Cloud API number's callback URL and verify token,
// the steps in the Meta app that use them, and whether it has an access
// token to send replies with.
func (s *Server) cloudAPISetup(w http.ResponseWriter, r *http.Request, v visit) {
	a, ok := s.cloudAPINumber(w, r, v)
	if !ok {
		return
	}
	q := r.URL.Query()
	s.renderCloudAPI(w, r, v, a, http.StatusOK, cloudAPIPage{Added: q.Get("added") == "1", TokenSaved: q.Get("token") == "saved"})
}

// renderCloudAPI renders the page of number a with what page already
// says (a notice, an error), reading whether a has an access token.
func (s *Server) renderCloudAPI(w http.ResponseWriter, r *http.Request, v visit, a chathook.Account, status int, page cloudAPIPage) {
	numbers, err := s.cfg.Store.CloudAPINumbers(r.Context(), v.workspaceID())
	if err != nil {
		s.internal(w, r, err)
		return
	}
	for _, n := range numbers { // a removed number is not listed: it has none
		if n.ID == a.ID {
			page.HasAccessToken = n.AccessToken != ""
		}
	}
	callback := cloudapi.CallbackURL(s.cfg.BaseURL, v.workspaceID())
	page.layout, page.Row = v.layout(s, "Cloud API number "+a.Phone, "accounts"), rowOf(a, s.cfg.Now())
	page.CallbackURL, page.HTTPS = callback, strings.HasPrefix(callback, "https://")
	s.render(w, r, status, "cloudapi.html", page)
}

// setAccessToken sets or replaces a Cloud API number's access token from
// its page's form. A refused token comes back beside the field (422),
// never echoed; a removed number is a 404, as another workspace's.
func (s *Server) setAccessToken(w http.ResponseWriter, r *http.Request, v visit) {
	a, ok := s.cloudAPINumber(w, r, v)
	if !ok {
		return
	}
	// Pasted tokens often come with a space or line break around them.
	_, err := cloudapi.SetAccessToken(r.Context(), s.cfg.Store, v.workspaceID(), a.ID, strings.TrimSpace(r.PostFormValue("access_token")))
	var fe *ingest.FieldError
	switch {
	case errors.As(err, &fe):
		s.renderCloudAPI(w, r, v, a, http.StatusUnprocessableEntity, cloudAPIPage{TokenError: sentence(fe.Problem)})
		return
	case errors.Is(err, chathook.ErrNotFound):
		s.errorPage(w, r, http.StatusNotFound, "This Cloud API number was removed: add it anew to send replies through it.")
		return
	case err != nil:
		s.internal(w, r, err)
		return
	}
	s.cfg.Logger.Info("Cloud API access token set", "workspace", v.workspaceID(), "user", v.User.ID, "account", a.ID)
	http.Redirect(w, r, "/accounts/cloud-api/"+strconv.FormatInt(a.ID, 10)+"?token=saved", http.StatusSeeOther)
}

// removeCloudAPI removes a Cloud API number: Meta's calls for it are
// refused from then on; it stays listed, with its chats. Removing one
// removed already does nothing more.
func (s *Server) removeCloudAPI(w http.ResponseWriter, r *http.Request, v visit) {
	a, ok := s.cloudAPINumber(w, r, v)
	if !ok {
		return
	}
	err := cloudapi.Remove(r.Context(), s.cfg.Store, v.workspaceID(), a.ID, s.cfg.Now())
	if errors.Is(err, chathook.ErrNotFound) {
		s.errorPage(w, r, http.StatusNotFound, "There is no such Cloud API number in this workspace.")
		return
	}
	if err != nil {
		s.internal(w, r, err)
		return
	}
	s.cfg.Logger.Info("Cloud API number removed", "workspace", v.workspaceID(), "user", v.User.ID, "account", a.ID)
	http.Redirect(w, r, "/accounts/?done=remove", http.StatusSeeOther)
}
