package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/store/tables"
)

// CreateWorkspace creates a workspace with its outbound webhook and its
// API token named "default".
func (s *Store) CreateWorkspace(ctx context.Context, ws chathook.Workspace, tokenHash []byte, secret string) (chathook.Workspace, error) {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return ws, err
	}
	defer tx.Rollback()
	if err := createWorkspace(ctx, tx, ws, secret); err != nil {
		return ws, err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO api_tokens (workspace_id, name, token_hash, created_at) VALUES (?, 'default', ?, ?)`,
		ws.ID, tokenHash, ms(ws.CreatedAt)); err != nil {
		return ws, fmt.Errorf("create token: %w", err)
	}
	return ws, tx.Commit()
}

// createWorkspace writes a workspace and its webhook in tx, and ends
// first-run setup: a workspace exists, so no setup code is of use.
func createWorkspace(ctx context.Context, tx *sql.Tx, ws chathook.Workspace, secret string) error {
	now := ms(ws.CreatedAt)
	// token_hash is no longer read (see migration 0009): the id fills it.
	if _, err := tx.ExecContext(ctx,
		`INSERT INTO workspaces (id, name, owner_name, owner_email, token_hash, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
		ws.ID, ws.Name, ws.OwnerName, ws.OwnerEmail, []byte(ws.ID), now); err != nil {
		return fmt.Errorf("create workspace: %w", err)
	}
	if _, err := tx.ExecContext(ctx,
		`INSERT INTO webhooks (workspace_id, secret, updated_at) VALUES (?, ?, ?)`, ws.ID, secret, now); err != nil {
		return fmt.Errorf("create webhook: %w", err)
	}
	_, err := tx.ExecContext(ctx, `DELETE FROM setup_codes`)
	return err
}

// Workspace returns a workspace by id.
func (s *Store) Workspace(ctx context.Context, id string) (chathook.Workspace, error) {
	ws, err := tables.Workspace(s.r.QueryRowContext(ctx, `SELECT `+tables.WorkspaceColumns+` FROM workspaces WHERE id = ?`, id))
	return ws, notFound(err)
}

const webhookColumns = tables.WebhookColumns

type scanner = tables.Scanner

func scanWebhook(row scanner) (chathook.Webhook, error) {
	w, err := tables.Webhook(row)
	return w, notFound(err)
}

// Webhook returns a workspace's outbound webhook.
func (s *Store) Webhook(ctx context.Context, workspaceID string) (chathook.Webhook, error) {
	return scanWebhook(s.r.QueryRowContext(ctx, `SELECT `+webhookColumns+` FROM webhooks WHERE workspace_id = ?`, workspaceID))
}

// UpdateWebhook changes the given fields in one transaction; see
// store.Store.
func (s *Store) UpdateWebhook(ctx context.Context, workspaceID string, at time.Time, u chathook.WebhookUpdate) (chathook.Webhook, error) {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return chathook.Webhook{}, err
	}
	defer tx.Rollback()
	before, err := scanWebhook(tx.QueryRowContext(ctx, `SELECT `+webhookColumns+` FROM webhooks WHERE workspace_id = ?`, workspaceID))
	if err != nil {
		return before, err
	}
	now := ms(at)
	var sets []string
	var args []any
	if u.URL != nil {
		sets, args = append(sets, "url = ?"), append(args, *u.URL)
	}
	if u.Granularity != nil {
		sets, args = append(sets, "granularity = ?"), append(args, string(*u.Granularity))
	}
	if u.Secret != nil {
		sets, args = append(sets, "secret = ?", "previous_secret = ''", "previous_secret_until = 0"), append(args, *u.Secret)
	}
	if u.Enabled != nil {
		sets, args = append(sets, "enabled = ?"), append(args, *u.Enabled)
		if *u.Enabled {
			sets = append(sets, "disabled_reason = ''", "disabled_at = 0", "consecutive_failures = 0")
		}
	}
	sets, args = append(sets, "updated_at = ?"), append(args, now, workspaceID)
	wh, err := scanWebhook(tx.QueryRowContext(ctx,
		`UPDATE webhooks SET `+strings.Join(sets, ", ")+` WHERE workspace_id = ? RETURNING `+webhookColumns, args...))
	if err != nil {
		return wh, err
	}
	if u.DiscardPending {
		if err := discardPending(ctx, tx, workspaceID, wh.URL, now); err != nil {
			return wh, err
		}
	}
	if before.Granularity != chathook.NoAggregation && wh.Granularity == chathook.NoAggregation {
		if err := unbundle(ctx, tx, workspaceID, now); err != nil {
			return wh, err
		}
	}
	if wh.Enabled && !before.Enabled {
		// What waited behind a disabled webhook goes out now, not at the
		// end of its backoff.
		if _, err := tx.ExecContext(ctx, sqlDueNow, now, workspaceID, now); err != nil {
			return wh, err
		}
	}
	return wh, tx.Commit()
}

// workspaceChats selects a workspace's chats: "chat_id IN (workspaceChats)
// AND state = 'pending'" finds its waiting deliveries through the pending
// deliveries' index, chat by chat.
const workspaceChats = `SELECT id FROM chats WHERE workspace_id = ?`

const (
	// sqlDueNow makes what waited behind a disabled webhook due.
	sqlDueNow = `UPDATE deliveries SET due_at = ?
		WHERE chat_id IN (` + workspaceChats + `) AND state = 'pending' AND due_at > ?`
	sqlLogDiscards = `INSERT INTO attempts
		(workspace_id, delivery_id, event_id, kind, chat_id, messages, attempt, at, url, outcome, status, duration_ms, error)
		SELECT workspace_id, id, event_id, kind, chat_id, messages, attempts, ?, ?, 'discarded', 0, 0, 'discarded by the user'
		FROM deliveries WHERE chat_id IN (` + workspaceChats + `) AND state = 'pending'`
	// sqlDiscard keeps a lease: a POST under way still holds its
	// delivery, should the delivery be recovered before that POST ends.
	sqlDiscard = `UPDATE deliveries SET state = 'discarded', finished_at = ?, last_attempt_at = ?,
		last_error = 'discarded by the user'
		WHERE chat_id IN (` + workspaceChats + `) AND state = 'pending'`
)

// unbundle gives every message waiting for a bundle a delivery of its
// own, in ingest order: under "none" what was pending goes out at once.
func unbundle(ctx context.Context, tx *sql.Tx, workspaceID string, now int64) error {
	if _, err := tx.ExecContext(ctx, `INSERT INTO deliveries (workspace_id, chat_id, message_id, event_id, due_at, created_at)
		SELECT workspace_id, chat_id, id, 'msg_' || replace(uuid, '-', ''), ?, ? FROM messages
		WHERE workspace_id = ? AND pending = 1 ORDER BY id`, now, now, workspaceID); err != nil {
		return fmt.Errorf("unbundle: %w", err)
	}
	_, err := tx.ExecContext(ctx, `UPDATE messages SET pending = 0 WHERE workspace_id = ? AND pending = 1`, workspaceID)
	return err
}

// discardPending discards every waiting delivery, and logs each as
// discarded. One whose POST is under way, or whose claim was not yet given
// back, is discarded too: its outcome, when it comes, cannot revive it
// (see keepDiscarded).
func discardPending(ctx context.Context, tx *sql.Tx, workspaceID, url string, now int64) error {
	if _, err := tx.ExecContext(ctx, sqlLogDiscards, now, url, workspaceID); err != nil {
		return fmt.Errorf("log discards: %w", err)
	}
	_, err := tx.ExecContext(ctx, sqlDiscard, now, now, workspaceID)
	return err
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

const chatColumns = tables.ChatColumns

func scanChat(row scanner, extra ...any) (chathook.Chat, error) {
	c, err := tables.Chat(row, extra...)
	return c, notFound(err)
}

// notFound maps a query that found no row to chathook.ErrNotFound.
func notFound(err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return chathook.ErrNotFound
	}
	return err
}
