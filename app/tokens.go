package app

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/api"
	"github.com/chathook/chathook/store"
)

// CreatedToken is what `token create` prints: the only time the token is
// shown, since only its hash is stored.
type CreatedToken struct {
	TokenID  string `json:"token_id"`
	APIToken string `json:"api_token"`
}

// CreateToken creates a named API token of a workspace.
func CreateToken(ctx context.Context, st store.Store, workspaceID, name string) (CreatedToken, error) {
	name, err := chathook.TokenName(name)
	if err != nil {
		return CreatedToken{}, fmt.Errorf("--name: %w", err)
	}
	token, hash := api.NewToken()
	t, err := st.CreateToken(ctx, workspaceID, name, hash, time.Now().UTC())
	if errors.Is(err, chathook.ErrNotFound) {
		return CreatedToken{}, fmt.Errorf("--workspace: there is no workspace %q: workspace list shows them", workspaceID)
	}
	if err != nil {
		return CreatedToken{}, err
	}
	return CreatedToken{TokenID: strconv.FormatInt(t.ID, 10), APIToken: token}, nil
}
