package postgres

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/event"
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

// createWorkspace writes a workspace and its outbound webhook in tx, and ends
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
		`INSERT INTO endpoints (workspace_id, public_id, slot, secret, created_at, updated_at) VALUES ($1, $2, 0, $3, $4, $4)`,
		ws.ID, chathook.Outbound, secret, now); err != nil {
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

// sqlWebhook reads one endpoint ($2) of a workspace ($1) that is not
// deleted.
const sqlWebhook = `SELECT ` + webhookColumns + ` FROM endpoints WHERE workspace_id = $1 AND public_id = $2 AND deleted_at = 0`

// Webhook returns one endpoint of a workspace.
func (s *Store) Webhook(ctx context.Context, workspaceID, id string) (chathook.Webhook, error) {
	return scanWebhook(s.pool.QueryRow(ctx, sqlWebhook, workspaceID, id))
}

// Endpoint returns an endpoint by its key, deleted or not.
func (s *Store) Endpoint(ctx context.Context, key int64) (chathook.Webhook, error) {
	return scanWebhook(s.pool.QueryRow(ctx, `SELECT `+webhookColumns+` FROM endpoints WHERE id = $1`, key))
}

// Webhooks returns a workspace's endpoints, outbound first, then in the
// order they were created.
func (s *Store) Webhooks(ctx context.Context, workspaceID string) ([]chathook.Webhook, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+webhookColumns+` FROM endpoints WHERE workspace_id = $1 AND deleted_at = 0 ORDER BY id`,
		workspaceID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (chathook.Webhook, error) { return scanWebhook(row) })
}

// CreateWebhook adds an endpoint in the lowest free slot; see
// store.Store. Creates in one workspace take turns on its row (FOR NO
// KEY UPDATE, which ingests' foreign-key checks, FOR KEY SHARE, do not
// wait for): the free slot is read after the lock is granted, on a
// snapshot that shows the creates before it, so two creates at once
// never pick the same slot, nor pass the limit together.
func (s *Store) CreateWebhook(ctx context.Context, workspaceID string, w chathook.Webhook, at time.Time) (chathook.Webhook, error) {
	var created chathook.Webhook
	now := ms(at)
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var exists bool
		if err := tx.QueryRow(ctx, `SELECT true FROM workspaces WHERE id = $1 FOR NO KEY UPDATE`, workspaceID).Scan(&exists); err != nil {
			return noRows(err, chathook.ErrNotFound)
		}
		var slot int
		if err := tx.QueryRow(ctx, tables.FreeSlot("$1"), workspaceID).Scan(&slot); err != nil {
			return err
		}
		if slot >= chathook.MaxEndpoints {
			return chathook.ErrLimit
		}
		var err error
		created, err = scanWebhook(tx.QueryRow(ctx, `INSERT INTO endpoints
			(workspace_id, public_id, slot, url, description, events, format, accounts, enabled, granularity, secret, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12) RETURNING `+webhookColumns,
			workspaceID, w.ID, slot, w.URL, w.Description, tables.JSONList(w.Events), string(w.Format), tables.JSONList(w.Accounts),
			w.Enabled, string(w.Granularity), w.Secret, now))
		return err
	})
	return created, err
}

// lockWebhook reads an endpoint of a workspace that is not deleted FOR
// UPDATE: ingests, replies and flushes in progress (they hold the row
// FOR KEY SHARE) are done first, and those that start later see what
// this transaction writes.
func lockWebhook(ctx context.Context, tx pgx.Tx, workspaceID, id string) (chathook.Webhook, error) {
	return scanWebhook(tx.QueryRow(ctx, sqlWebhook+` FOR UPDATE`, workspaceID, id))
}

// UpdateWebhook changes the given fields of an endpoint in one
// transaction; see store.Store. It holds the endpoint's row lock FOR
// UPDATE, so that
//   - an auto-disable recorded at the same moment by another instance is
//     ordered before or after it, never interleaved;
//   - an ingest or a flush in progress (they hold the row FOR KEY SHARE)
//     is done before the granularity changes, and one that starts later
//     sees the new granularity: a switch to none leaves no message waiting
//     for a bundle that will never be flushed.
func (s *Store) UpdateWebhook(ctx context.Context, workspaceID, id string, at time.Time, u chathook.WebhookUpdate) (chathook.Webhook, error) {
	var wh chathook.Webhook
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		before, err := lockWebhook(ctx, tx, workspaceID, id)
		if err != nil {
			return err
		}
		_, u, err := before.Apply(u) // as the row is now, locked
		if err != nil {
			return err
		}
		now := ms(at)
		n := 0
		sets, args := tables.WebhookSets(u, func() string { n++; return "$" + strconv.Itoa(n) })
		args = append(args, now, before.Key)
		sets = append(sets, "updated_at = $"+strconv.Itoa(n+1))
		wh, err = scanWebhook(tx.QueryRow(ctx, `UPDATE endpoints SET `+strings.Join(sets, ", ")+
			` WHERE id = $`+strconv.Itoa(n+2)+` RETURNING `+webhookColumns, args...))
		if err != nil {
			return err
		}
		if u.DiscardPending {
			if err := discardPending(ctx, tx, wh, "discarded by the user", now); err != nil {
				return err
			}
		}
		if before.Granularity != chathook.NoAggregation && wh.Granularity == chathook.NoAggregation {
			if err := unbundle(ctx, tx, wh, now); err != nil {
				return err
			}
		}
		if wh.Enabled && !before.Enabled {
			// What waited behind a disabled endpoint goes out now, not at
			// the end of its backoff; what waits for its attachments stays
			// held (see store.Media).
			if _, err := tx.Exec(ctx, `UPDATE deliveries SET due_at = $2
				WHERE lane IN (`+endpointLanes+`) AND state = 'pending' AND endpoint_id = $1 AND due_at > $2
					AND due_at <> `+tables.SQLHeldDue, wh.Key, now); err != nil {
				return err
			}
		}
		return nil
	})
	return wh, err
}

// DeleteWebhook deletes an endpoint and, in the same transaction,
// discards what waits for it, each logged as discarded; its messages
// waiting for a bundle are dropped. The row stays, deleted_at set, for
// its log; its slot is free again. Its lock (FOR UPDATE) waits for
// ingests and flushes in progress, and those that start later no longer
// see it.
func (s *Store) DeleteWebhook(ctx context.Context, workspaceID, id string, at time.Time) error {
	if id == chathook.Outbound {
		return tables.ErrDeleteOutbound
	}
	return s.inTx(ctx, func(tx pgx.Tx) error {
		wh, err := lockWebhook(ctx, tx, workspaceID, id)
		if err != nil {
			return err
		}
		now := ms(at)
		if err := discardPending(ctx, tx, wh, "discarded: the endpoint was deleted", now); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM waiting WHERE endpoint_id = $1`, wh.Key); err != nil {
			return fmt.Errorf("delete endpoint: waiting: %w", err)
		}
		_, err = tx.Exec(ctx, `UPDATE endpoints SET deleted_at = $1, enabled = false, updated_at = $1 WHERE id = $2`, now, wh.Key)
		return err
	})
}

// endpointLanes selects the lanes of an endpoint ($1: its key), chat by
// chat and account by account (tables.AccountLane): "lane IN (endpointLanes) AND state = 'pending'" finds its waiting
// deliveries through the pending lanes' index.
const endpointLanes = `SELECT c.id + (e.slot::bigint << ` + tables.SQLSlotShift + `) FROM endpoints e
	JOIN chats c ON c.workspace_id = e.workspace_id WHERE e.id = $1
	UNION ALL
	SELECT ` + tables.SQLAccountBit + ` + a.id + (e.slot::bigint << ` + tables.SQLSlotShift + `) FROM endpoints e
	JOIN accounts a ON a.workspace_id = e.workspace_id WHERE e.id = $1`

// unbundle gives every message waiting for the endpoint's bundle a
// delivery of its own, in ingest order (the rows go in sorted by message
// id, and draw their delivery ids as they go in): under "none" what was
// pending goes out at once. No flush is in progress meanwhile:
// UpdateWebhook's lock on the endpoint waited for those that were.
func unbundle(ctx context.Context, tx pgx.Tx, wh chathook.Webhook, now int64) error {
	if wh.Format == event.Envelope {
		if err := unbundleEvents(ctx, tx, wh, now); err != nil {
			return fmt.Errorf("unbundle: %w", err)
		}
		return nil
	}
	_, err := tx.Exec(ctx, `WITH w AS (
			DELETE FROM waiting WHERE endpoint_id = $1 RETURNING message_id)
		INSERT INTO deliveries (workspace_id, endpoint_id, lane, chat_id, message_id, event_id, due_at, created_at)
		SELECT m.workspace_id, e.id, m.chat_id + (e.slot::bigint << `+tables.SQLSlotShift+`), m.chat_id, m.id,
			'msg_' || replace(m.uuid, '-', ''), $2, $2
		FROM w JOIN messages m ON m.id = w.message_id JOIN endpoints e ON e.id = $1
		ORDER BY m.id`, wh.Key, now)
	if err != nil {
		return fmt.Errorf("unbundle: %w", err)
	}
	return nil
}

// discardPending discards every waiting delivery of an endpoint, in
// flight or not, and logs each as discarded, saying why, in one
// statement: the rows logged are the rows discarded. A late outcome
// cannot revive one (see finishDelivery). A lease is kept: a POST under
// way still holds its delivery, should the delivery be recovered before
// that POST ends.
func discardPending(ctx context.Context, tx pgx.Tx, wh chathook.Webhook, why string, now int64) error {
	_, err := tx.Exec(ctx, `WITH d AS (
			UPDATE deliveries SET state = 'discarded', finished_at = $2, last_attempt_at = $2, last_error = $4
			WHERE lane IN (`+endpointLanes+`) AND state = 'pending' AND endpoint_id = $1
			RETURNING workspace_id, endpoint_id, id, event_id, kind, chat_id, messages, attempts)
		INSERT INTO attempts
			(workspace_id, endpoint_id, delivery_id, event_id, kind, chat_id, messages, attempt, at, url, outcome, status, duration_ms, error)
		SELECT workspace_id, endpoint_id, id, event_id, kind, chat_id, messages, attempts, $2, $3, 'discarded', 0, 0, $4
		FROM d ORDER BY id`, wh.Key, now, chathook.RedactURL(wh.URL), why) // the log is shown: no password
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
	if u.FullName != nil { // found by its new name
		args = append(args, tsvector(*u.FullName))
		sets = append(sets, "name_words = $"+strconv.Itoa(len(args))+"::tsvector")
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
