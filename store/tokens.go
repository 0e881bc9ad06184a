package store

import (
	"context"
	"time"

	"github.com/chathook/chathook"
)

// TokenUseEvery is how fresh a token's LastUsedAt is kept: a request
// writes it only when the recorded use is at least this old, so the API's
// hot path reads a token and writes at most once a minute per token.
const TokenUseEvery = time.Minute

// Tokens are a workspace's named API tokens, stored as SHA-256 hashes.
// Every method is scoped to a workspace: another workspace's token id is
// chathook.ErrNotFound, as if it did not exist. A revoked token is
// refused by UseToken from the moment RevokeToken returns, on every
// instance on the database: nothing is cached.
type Tokens interface {
	// CreateToken stores a new token of the workspace under name, created
	// at now; chathook.ErrNotFound if there is no such workspace.
	CreateToken(ctx context.Context, workspaceID, name string, tokenHash []byte, now time.Time) (chathook.APIToken, error)
	// Tokens returns the workspace's tokens that are not revoked, oldest
	// first, each with when it was last used.
	Tokens(ctx context.Context, workspaceID string) ([]chathook.APIToken, error)
	// RevokeToken revokes a token of the workspace at now. Revoking a
	// token already revoked is no error (a retry after a lost answer
	// must not fail: the token is refused either way); an id that is not
	// one of the workspace's tokens is chathook.ErrNotFound.
	RevokeToken(ctx context.Context, workspaceID string, tokenID int64, now time.Time) error
	// UseToken returns the workspace of the live token that hashes to
	// tokenHash, or chathook.ErrUnauthorized, and records the use at now
	// when the recorded one is TokenUseEvery old or more.
	UseToken(ctx context.Context, tokenHash []byte, now time.Time) (chathook.Workspace, error)
}
