package store

import (
	"context"
	"time"

	"github.com/chathook/chathook"
)

// FirstRun is how a newcomer gets into a chathook whose database has no
// workspace yet: with a one-time setup code, stored as its SHA-256 so
// that any instance on the database accepts it. Setup is open only while
// no workspace exists: creating any workspace (with setup or with
// CreateWorkspace) deletes every code.
type FirstRun interface {
	// AddSetupCode stores a setup code's hash, unless a workspace exists:
	// then it stores nothing and answers chathook.ErrConflict.
	AddSetupCode(ctx context.Context, codeHash []byte, now time.Time) error
	// CheckSetupCode answers nil if codeHash is a valid setup code,
	// chathook.ErrConflict if setup is closed (a workspace exists) and
	// chathook.ErrNotFound if there is no such code.
	CheckSetupCode(ctx context.Context, codeHash []byte) error
	// Setup creates the first workspace, its outbound webhook and its
	// owner's sign-in, and consumes every setup code, in one transaction,
	// answering as CheckSetupCode does when it cannot. Of setups running at
	// once, on any instances, exactly one succeeds. The workspace has no
	// API token: its owner creates one in the web UI.
	Setup(ctx context.Context, codeHash []byte, first FirstWorkspace) (chathook.Workspace, chathook.User, error)
	// Workspaces returns every workspace, oldest first.
	Workspaces(ctx context.Context) ([]chathook.Workspace, error)
}

// FirstWorkspace is what Setup creates.
type FirstWorkspace struct {
	Workspace    chathook.Workspace
	Secret       string // the webhook's signing secret
	Owner        chathook.User
	PasswordHash []byte
}
