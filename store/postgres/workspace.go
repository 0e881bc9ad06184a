package postgres

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/store/tables"
	"github.com/jackc/pgx/v5"
)

// CreateWorkspace creates a workspace with its outbound webhook and its
// API token named "default".
func (s *Store) CreateWorkspace(ctx context.Context, ws chathook.Workspace, tokenHash []byte, secret string) (chathook.Workspace, error) {
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if err := createWorkspace(ctx, tx, ws, secret); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO api_tokens (workspace_id, name, token_hash, created_at) VALUES ($1, 'default', $2, $3)`,
			ws.ID, tokenHash, ms(ws.CreatedAt)); err != nil {
			return fmt.Errorf("create token: %w", err)
		}
		return nil
	})
	return ws, err
}

// createWorkspace writes a workspace and its webhook in tx, and ends
// first-run setup: a workspace exists, so no setup code is of use.
func createWorkspace(ctx context.Context, tx pgx.Tx, ws chathook.Workspace, secret string) error {
	now := ms(ws.CreatedAt)
	// token_hash is no longer read (see migration 0011): the id fills it.
	if _, err := tx.Exec(ctx,
		`INSERT INTO workspaces (id, name, owner_name, owner_email, token_hash, created_at) VALUES ($1, $2, $3, $4, $5, $6)`,
		ws.ID, ws.Name, ws.OwnerName, ws.OwnerEmail, []byte(ws.ID), now); err != nil {
		return fmt.Errorf("create workspace: %w", err)
	}
	if _, err := tx.Exec(ctx,
		`INSERT INTO webhooks (workspace_id, secret, updated_at) VALUES ($1, $2, $3)`, ws.ID, secret, now); err != nil {
		return fmt.Errorf("create webhook: %w", err)
	}
	_, err := tx.Exec(ctx, `DELETE FROM setup_codes`)
	return err
}

// Workspace returns a workspace by id.
func (s *Store) Workspace(ctx context.Context, id string) (chathook.Workspace, error) {
	ws, err := tables.Workspace(s.pool.QueryRow(ctx, `SELECT `+tables.WorkspaceColumns+` FROM workspaces WHERE id = $1`, id))
	return ws, noRows(err, chathook.ErrNotFound)
}

const webhookColumns = tables.WebhookColumns

func scanWebhook(row pgx.Row) (chathook.Webhook, error) {
	w, err := tables.Webhook(row)
	return w, noRows(err, chathook.ErrNotFound)
}

// Webhook returns a workspace's outbound webhook.
func (s *Store) Webhook(ctx context.Context, workspaceID string) (chathook.Webhook, error) {
	return scanWebhook(s.pool.QueryRow(ctx, `SELECT `+webhookColumns+` FROM webhooks WHERE workspace_id = $1`, workspaceID))
}

// UpdateWebhook changes the given fields in one transaction; see
// store.Store. It holds the webhook's row lock FOR UPDATE, so that
//   - an auto-disable recorded at the same moment by another instance is
//     ordered before or after it, never interleaved;
//   - an ingest or a flush in progress (they hold the row FOR KEY SHARE)
//     is done before the granularity changes, and one that starts later
//     sees the new granularity: a switch to none leaves no message waiting
//     for a bundle that will never be flushed.
func (s *Store) UpdateWebhook(ctx context.Context, workspaceID string, at time.Time, u chathook.WebhookUpdate) (chathook.Webhook, error) {
	var wh chathook.Webhook
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		before, err := scanWebhook(tx.QueryRow(ctx, `SELECT `+webhookColumns+` FROM webhooks WHERE workspace_id = $1 FOR UPDATE`, workspaceID))
		if err != nil {
			return err
		}
		now := ms(at)
		var sets []string
		var args []any
		set := func(col string, v any) {
			args = append(args, v)
			sets = append(sets, col+" = $"+strconv.Itoa(len(args)))
		}
		if u.URL != nil {
			set("url", *u.URL)
		}
		if u.Granularity != nil {
			set("granularity", string(*u.Granularity))
		}
		if u.Secret != nil {
			set("secret", *u.Secret)
			sets = append(sets, "previous_secret = ''", "previous_secret_until = 0")
		}
		if u.Enabled != nil {
			set("enabled", *u.Enabled)
			if *u.Enabled {
				sets = append(sets, "disabled_reason = ''", "disabled_at = 0", "consecutive_failures = 0")
			}
		}
		set("updated_at", now)
		args = append(args, workspaceID)
		wh, err = scanWebhook(tx.QueryRow(ctx, `UPDATE webhooks SET `+strings.Join(sets, ", ")+
			` WHERE workspace_id = $`+strconv.Itoa(len(args))+` RETURNING `+webhookColumns, args...))
		if err != nil {
			return err
		}
		if u.DiscardPending {
			if err := discardPending(ctx, tx, workspaceID, wh.URL, now); err != nil {
				return err
			}
		}
		if before.Granularity != chathook.NoAggregation && wh.Granularity == chathook.NoAggregation {
			if err := unbundle(ctx, tx, workspaceID, now); err != nil {
				return err
			}
		}
		if wh.Enabled && !before.Enabled {
			// What waited behind a disabled webhook goes out now, not at
			// the end of its backoff.
			if _, err := tx.Exec(ctx, `UPDATE deliveries SET due_at = $1
				WHERE workspace_id = $2 AND state = 'pending' AND due_at > $1`, now, workspaceID); err != nil {
				return err
			}
		}
		return nil
	})
	return wh, err
}

// unbundle gives every message waiting for a bundle a delivery of its
// own, in ingest order (the rows go in sorted by message id, and draw
// their delivery ids as they go in): under "none" what was pending goes
// out at once. No flush is in progress meanwhile: UpdateWebhook's lock on
// the webhook waited for those that were.
func unbundle(ctx context.Context, tx pgx.Tx, workspaceID string, now int64) error {
	_, err := tx.Exec(ctx, `WITH m AS (
			UPDATE messages SET pending = false WHERE workspace_id = $1 AND pending
			RETURNING id, chat_id, uuid)
		INSERT INTO deliveries (workspace_id, chat_id, message_id, event_id, due_at, created_at)
		SELECT $1, chat_id, id, 'msg_' || replace(uuid, '-', ''), $2, $2 FROM m ORDER BY id`, workspaceID, now)
	if err != nil {
		return fmt.Errorf("unbundle: %w", err)
	}
	return nil
}

// discardPending discards every waiting delivery, in flight or not, and
// logs each as discarded, in one statement: the rows logged are the rows
// discarded. A late outcome cannot revive one (see finishDelivery). A
// lease is kept: a POST under way still holds its delivery, should the
// delivery be recovered before that POST ends.
func discardPending(ctx context.Context, tx pgx.Tx, workspaceID, url string, now int64) error {
	_, err := tx.Exec(ctx, `WITH d AS (
			UPDATE deliveries SET state = 'discarded', finished_at = $1, last_attempt_at = $1, last_error = 'discarded by the user'
			WHERE workspace_id = $2 AND state = 'pending'
			RETURNING workspace_id, id, event_id, kind, chat_id, messages, attempts)
		INSERT INTO attempts
			(workspace_id, delivery_id, event_id, kind, chat_id, messages, attempt, at, url, outcome, status, duration_ms, error)
		SELECT workspace_id, id, event_id, kind, chat_id, messages, attempts, $1, $3, 'discarded', 0, 0, 'discarded by the user'
		FROM d ORDER BY id`, now, workspaceID, url)
	if err != nil {
		return fmt.Errorf("discard pending: %w", err)
	}
	return nil
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
			args = append(args, *f.v)
			sets = append(sets, f.col+" = $"+strconv.Itoa(len(args)))
		}
	}
	if len(sets) == 0 {
		sets = append(sets, "id = id")
	}
	args = append(args, chatID, workspaceID)
	n := len(args)
	return scanChat(s.pool.QueryRow(ctx, `UPDATE chats SET `+strings.Join(sets, ", ")+
		` WHERE id = $`+strconv.Itoa(n-1)+` AND workspace_id = $`+strconv.Itoa(n)+` RETURNING `+chatColumns, args...))
}

const chatColumns = tables.ChatColumns

func scanChat(row pgx.Row, extra ...any) (chathook.Chat, error) {
	c, err := tables.Chat(row, extra...)
	return c, noRows(err, chathook.ErrNotFound)
}
