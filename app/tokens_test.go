package app_test

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chathook/chathook/app"
	"github.com/chathook/chathook/chathooktest"
)

// A token revoked through one instance is refused by the other at its
// very next request, though that instance has just accepted it: no
// instance keeps a token it has seen.
func TestRevokedTokenIsRefusedByEveryInstance(t *testing.T) {
	db := chathooktest.Postgres(t)
	a := chathooktest.Start(t, chathooktest.Options{DB: db})
	b := chathooktest.Start(t, chathooktest.Options{DB: db})
	ws := a.NewWorkspace(t, "acme")
	ctx := context.Background()
	ci, err := app.CreateToken(ctx, a.Store, ws.WorkspaceID, "CI")
	if err != nil {
		t.Fatal(err)
	}
	get := func(s *chathooktest.Service, token string) int {
		status, _ := chathooktest.Do(t, http.MethodGet, s.URL+"/api/v1/webhooks/outbound", token, nil)
		return status
	}
	for _, s := range []*chathooktest.Service{a, b} {
		if status := get(s, ci.APIToken); status != http.StatusOK {
			t.Fatalf("new token on %s: %d, want 200", s.Instance, status)
		}
	}
	id, _ := strconv.ParseInt(ci.TokenID, 10, 64)
	if err := a.Store.RevokeToken(ctx, ws.WorkspaceID, id, time.Now()); err != nil {
		t.Fatal(err)
	}
	for _, s := range []*chathooktest.Service{b, a} {
		if status := get(s, ci.APIToken); status != http.StatusUnauthorized {
			t.Errorf("revoked token on %s: %d, want 401", s.Instance, status)
		}
		if status := get(s, ws.APIToken); status != http.StatusOK {
			t.Errorf("the workspace's default token on %s after revoking CI: %d, want 200", s.Instance, status)
		}
	}
}

// The setup link one instance printed works on another behind the same
// load balancer: the code is in the database, not in the instance.
func TestSetupCodeWorksOnEveryInstance(t *testing.T) {
	db := chathooktest.Postgres(t)
	var console chathooktest.SyncBuffer
	a := chathooktest.Start(t, chathooktest.Options{DB: db, Config: app.Config{Console: &console}})
	b := chathooktest.Start(t, chathooktest.Options{DB: db})
	var code string
	chathooktest.Eventually(t, "instance A's setup link", func() bool {
		_, code, _ = strings.Cut(console.String(), a.URL+"/setup?code=")
		code, _, _ = strings.Cut(code, " ")
		return code != ""
	})
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.PostForm(b.URL+"/setup", url.Values{"code": {code}, "workspace": {"Acme"}, "owner_name": {"Olga"},
		"email": {"olga@acme.example"}, "password": {"correct horse battery"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/accounts/" {
		t.Fatalf("setup on B with A's code: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	list, err := a.Store.Workspaces(context.Background())
	if err != nil || len(list) != 1 || list[0].Name != "Acme" {
		t.Errorf("workspaces %+v, %v", list, err)
	}
	// A's page for the same link now says setup is closed.
	resp, err = client.Get(a.URL + "/setup?code=" + url.QueryEscape(code))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("the used link on A: %d, want 404", resp.StatusCode)
	}
}
