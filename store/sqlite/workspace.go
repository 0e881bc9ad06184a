package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/chathook/chathook"
)

// CreateWorkspace creates a workspace with its outbound webhook.
func (s *Store) CreateWorkspace(ctx context.Context, ws chathook.Workspace, tokenHash []byte, secret string) (chathook.Workspace, error) {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return ws, err
	}
	defer tx.Rollback()
	now := ms(ws.CreatedAt)
	if _, err := tx.ExecContext(ctx,
		`INSERT INTO workspaces (id, name, owner_name, owner_email, token_hash, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
		ws.ID, ws.Name, ws.OwnerName, ws.OwnerEmail, tokenHash, now); err != nil {
		return ws, fmt.Errorf("create workspace: %w", err)
	}
	if _, err := tx.ExecContext(ctx,
		`INSERT INTO webhooks (workspace_id, secret, updated_at) VALUES (?, ?, ?)`, ws.ID, secret, now); err != nil {
		return ws, fmt.Errorf("create webhook: %w", err)
	}
	return ws, tx.Commit()
}

// WorkspaceByToken finds the workspace of an API token's hash.
func (s *Store) WorkspaceByToken(ctx context.Context, tokenHash []byte) (chathook.Workspace, error) {
	var ws chathook.Workspace
	var created int64
	err := s.r.QueryRowContext(ctx,
		`SELECT id, name, owner_name, owner_email, created_at FROM workspaces WHERE token_hash = ?`, tokenHash,
	).Scan(&ws.ID, &ws.Name, &ws.OwnerName, &ws.OwnerEmail, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return ws, chathook.ErrUnauthorized
	}
	ws.CreatedAt = fromMS(created)
	return ws, err
}

const webhookColumns = `workspace_id, url, enabled, granularity, secret, consecutive_failures, disabled_reason`

type scanner interface{ Scan(dest ...any) error }

func scanWebhook(row scanner) (chathook.Webhook, error) {
	var w chathook.Webhook
	err := row.Scan(&w.WorkspaceID, &w.URL, &w.Enabled, &w.Granularity, &w.Secret, &w.ConsecutiveFailures, &w.DisabledReason)
	if errors.Is(err, sql.ErrNoRows) {
		err = chathook.ErrNotFound
	}
	return w, err
}

// Webhook returns a workspace's outbound webhook.
func (s *Store) Webhook(ctx context.Context, workspaceID string) (chathook.Webhook, error) {
	return scanWebhook(s.r.QueryRowContext(ctx, `SELECT `+webhookColumns+` FROM webhooks WHERE workspace_id = ?`, workspaceID))
}

// UpdateWebhook changes the given fields. Enabling the webhook clears the
// reason it was disabled for and its failure count.
func (s *Store) UpdateWebhook(ctx context.Context, workspaceID string, u chathook.WebhookUpdate) (chathook.Webhook, error) {
	var sets []string
	var args []any
	if u.URL != nil {
		sets, args = append(sets, "url = ?"), append(args, *u.URL)
	}
	if u.Granularity != nil {
		sets, args = append(sets, "granularity = ?"), append(args, string(*u.Granularity))
	}
	if u.Secret != nil {
		sets, args = append(sets, "secret = ?"), append(args, *u.Secret)
	}
	if u.Enabled != nil {
		sets, args = append(sets, "enabled = ?"), append(args, *u.Enabled)
		if *u.Enabled {
			sets = append(sets, "disabled_reason = ''", "consecutive_failures = 0")
		}
	}
	sets, args = append(sets, "updated_at = ?"), append(args, ms(time.Now()), workspaceID)
	return scanWebhook(s.w.QueryRowContext(ctx,
		`UPDATE webhooks SET `+strings.Join(sets, ", ")+` WHERE workspace_id = ? RETURNING `+webhookColumns, args...))
}

// UpdateChat changes a chat's name and responsible teammate.
func (s *Store) UpdateChat(ctx context.Context, workspaceID string, chatID int64, u chathook.ChatUpdate) (chathook.Chat, error) {
	var sets []string
	var args []any
	for _, f := range []struct {
		col string
		v   *string
	}{{"full_name", u.FullName}, {"responsible_name", u.ResponsibleName}, {"responsible_email", u.ResponsibleEmail}} {
		if f.v != nil {
			sets, args = append(sets, f.col+" = ?"), append(args, *f.v)
		}
	}
	if len(sets) == 0 {
		sets = append(sets, "id = id")
	}
	args = append(args, chatID, workspaceID)
	c, err := scanChat(s.w.QueryRowContext(ctx,
		`UPDATE chats SET `+strings.Join(sets, ", ")+` WHERE id = ? AND workspace_id = ? RETURNING `+chatColumns, args...))
	return c, err
}

const chatColumns = `id, workspace_id, account_id, external_id, full_name, is_group, phone, responsible_name, responsible_email, created_at`

func scanChat(row scanner) (chathook.Chat, error) {
	var c chathook.Chat
	var created int64
	err := row.Scan(&c.ID, &c.WorkspaceID, &c.AccountID, &c.ExternalID, &c.FullName, &c.IsGroup, &c.Phone,
		&c.ResponsibleName, &c.ResponsibleEmail, &created)
	if errors.Is(err, sql.ErrNoRows) {
		err = chathook.ErrNotFound
	}
	c.CreatedAt = fromMS(created)
	return c, err
}
