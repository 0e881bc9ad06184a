package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/app"
	"github.com/chathook/chathook/store"
)

// tokenCreate makes a named API token and prints it, once (the CLI contract).
func tokenCreate(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	var db, workspace, name string
	s := newSettings("token create", getenv, stdout)
	dbFlag(s, &db)
	workspaceFlag(s, &workspace)
	s.fs.StringVar(&name, "name", "", "what the token is for, e.g. CI or Zapier (required)")
	if err := s.parse(args); err != nil {
		return usageError(err, stderr)
	}
	if workspace == "" || name == "" {
		return usageError(errors.New("token create needs --workspace and --name"), stderr)
	}
	return withExistingStore(ctx, db, stderr, func(st store.Store) error {
		created, err := app.CreateToken(ctx, st, workspace, name)
		if err != nil {
			return err
		}
		return json.NewEncoder(stdout).Encode(created)
	})
}

// tokenLine is a line of token list: never the token, nor its hash.
type tokenLine struct {
	TokenID    string `json:"token_id"`
	Name       string `json:"name"`
	CreatedAt  string `json:"created_at"`
	LastUsedAt string `json:"last_used_at"` // "" when never used
}

// tokenList prints a workspace's live tokens, oldest first, one JSON
// object a line.
func tokenList(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	var db, workspace string
	s := newSettings("token list", getenv, stdout)
	dbFlag(s, &db)
	workspaceFlag(s, &workspace)
	if err := s.parse(args); err != nil {
		return usageError(err, stderr)
	}
	if workspace == "" {
		return usageError(errors.New("token list needs --workspace"), stderr)
	}
	return withExistingStore(ctx, db, stderr, func(st store.Store) error {
		if _, err := workspaceOf(ctx, st, workspace); err != nil {
			return err
		}
		list, err := st.Tokens(ctx, workspace)
		if err != nil {
			return err
		}
		enc := json.NewEncoder(stdout)
		for _, t := range list {
			line := tokenLine{TokenID: strconv.FormatInt(t.ID, 10), Name: t.Name, CreatedAt: t.CreatedAt.Format(time.RFC3339)}
			if !t.LastUsedAt.IsZero() {
				line.LastUsedAt = t.LastUsedAt.Format(time.RFC3339)
			}
			if err := enc.Encode(line); err != nil {
				return err
			}
		}
		return nil
	})
}

// tokenRevoke revokes a token: every instance refuses it from then on.
// Revoking one already revoked succeeds again.
func tokenRevoke(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	var db, workspace, tokenID string
	s := newSettings("token revoke", getenv, stdout)
	dbFlag(s, &db)
	workspaceFlag(s, &workspace)
	s.fs.StringVar(&tokenID, "token-id", "", "the token's id, as token list prints it (required)")
	if err := s.parse(args); err != nil {
		return usageError(err, stderr)
	}
	if workspace == "" || tokenID == "" {
		return usageError(errors.New("token revoke needs --workspace and --token-id"), stderr)
	}
	id, err := strconv.ParseInt(tokenID, 10, 64)
	if err != nil || id <= 0 {
		return usageError(fmt.Errorf("--token-id: %q is not a token id: token list prints them", tokenID), stderr)
	}
	return withExistingStore(ctx, db, stderr, func(st store.Store) error {
		if _, err := workspaceOf(ctx, st, workspace); err != nil {
			return err
		}
		err := st.RevokeToken(ctx, workspace, id, time.Now().UTC())
		if errors.Is(err, chathook.ErrNotFound) {
			return fmt.Errorf("--token-id: workspace %s has no token %d: token list prints them", workspace, id)
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(stderr, "chathook: token %d revoked; requests with it are refused from now on\n", id)
		return nil
	})
}

// workspaceLine is a line of workspace list, in the contract's order.
type workspaceLine struct {
	WorkspaceID string `json:"workspace_id"`
	Name        string `json:"name"`
	OwnerEmail  string `json:"owner_email"`
}

// workspaceList prints every workspace, oldest first, one JSON object a
// line (the CLI contract).
func workspaceList(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	var db string
	s := newSettings("workspace list", getenv, stdout)
	dbFlag(s, &db)
	if err := s.parse(args); err != nil {
		return usageError(err, stderr)
	}
	return withExistingStore(ctx, db, stderr, func(st store.Store) error {
		list, err := st.Workspaces(ctx)
		if err != nil {
			return err
		}
		enc := json.NewEncoder(stdout)
		for _, ws := range list {
			if err := enc.Encode(workspaceLine{ws.ID, ws.Name, ws.OwnerEmail}); err != nil {
				return err
			}
		}
		return nil
	})
}
