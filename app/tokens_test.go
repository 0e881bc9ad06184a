package app_test

import (
	"context"
	"net/http"
	"strconv"
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
