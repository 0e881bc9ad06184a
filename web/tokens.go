package web

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/api"
)

type tokensView struct {
	layout
	Tokens  []chathook.APIToken
	Name    string // as typed into the form
	Error   string // what is wrong with Name
	Created *createdToken
	Revoked bool
}

// createdToken is a token just created: the only page that ever shows it.
type createdToken struct {
	Name  string
	Token string
}

func (s *Server) tokensData(r *http.Request, v visit) (tokensView, error) {
	list, err := s.cfg.Store.Tokens(r.Context(), v.workspaceID())
	return tokensView{layout: v.layout(s, "API tokens", "tokens"), Tokens: list}, err
}

// tokens lists the workspace's API tokens, each with when it was last
// used, never the token.
func (s *Server) tokens(w http.ResponseWriter, r *http.Request, v visit) {
	data, err := s.tokensData(r, v)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	data.Revoked = r.URL.Query().Get("revoked") == "1"
	s.render(w, r, http.StatusOK, "tokens.html", data)
}

// createToken makes a named token and shows it, this once: the page is
// the answer to the POST itself (no redirect), so the token is in no URL
// and no later page; only its hash is stored.
func (s *Server) createToken(w http.ResponseWriter, r *http.Request, v visit) {
	name, nameErr := chathook.TokenName(r.PostFormValue("name"))
	var created *createdToken
	if nameErr == nil {
		token, hash := api.NewToken()
		t, err := s.cfg.Store.CreateToken(r.Context(), v.workspaceID(), name, hash, s.cfg.Now())
		if err != nil {
			s.internal(w, r, err)
			return
		}
		s.cfg.Logger.Info("API token created", "workspace", v.workspaceID(), "user", v.User.ID, "token", t.ID)
		created = &createdToken{Name: t.Name, Token: token}
	}
	data, err := s.tokensData(r, v)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	if nameErr != nil {
		data.Name, data.Error = r.PostFormValue("name"), "Not created: "+nameErr.Error()+"."
		s.render(w, r, http.StatusUnprocessableEntity, "tokens.html", data)
		return
	}
	data.Created = created
	s.render(w, r, http.StatusOK, "tokens.html", data)
}

// revokeToken revokes one of the workspace's tokens: every instance
// refuses it from then on. Another workspace's token is a 404, as one
// that does not exist.
func (s *Server) revokeToken(w http.ResponseWriter, r *http.Request, v visit) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err == nil {
		err = s.cfg.Store.RevokeToken(r.Context(), v.workspaceID(), id, s.cfg.Now())
	}
	var numErr *strconv.NumError
	switch {
	case errors.Is(err, chathook.ErrNotFound), errors.As(err, &numErr):
		s.errorPage(w, r, http.StatusNotFound, "There is no such API token in this workspace.")
		return
	case err != nil:
		s.internal(w, r, err)
		return
	}
	s.cfg.Logger.Info("API token revoked", "workspace", v.workspaceID(), "user", v.User.ID, "token", id)
	http.Redirect(w, r, "/settings/api-tokens?revoked=1", http.StatusSeeOther)
}
