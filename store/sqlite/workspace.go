package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/event"
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

// createWorkspace writes a workspace and its outbound webhook in tx, and
// ends first-run setup: a workspace exists, so no setup code is of use.
func createWorkspace(ctx context.Context, tx *sql.Tx, ws chathook.Workspace, secret string) error {
	now := ms(ws.CreatedAt)
	// token_hash is no longer read (see migration 0009): the id fills it.
	if _, err := tx.ExecContext(ctx,
		`INSERT INTO workspaces (id, name, owner_name, owner_email, token_hash, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
		ws.ID, ws.Name, ws.OwnerName, ws.OwnerEmail, []byte(ws.ID), now); err != nil {
		return fmt.Errorf("create workspace: %w", err)
	}
	if _, err := tx.ExecContext(ctx,
		`INSERT INTO endpoints (workspace_id, public_id, slot, secret, created_at, updated_at) VALUES (?, ?, 0, ?, ?, ?)`,
		ws.ID, chathook.Outbound, secret, now, now); err != nil {
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

// sqlWebhook reads one endpoint of a workspace that is not deleted.
const sqlWebhook = `SELECT ` + webhookColumns + ` FROM endpoints WHERE workspace_id = ? AND public_id = ? AND deleted_at = 0`

// Webhook returns one endpoint of a workspace.
func (s *Store) Webhook(ctx context.Context, workspaceID, id string) (chathook.Webhook, error) {
	return scanWebhook(s.r.QueryRowContext(ctx, sqlWebhook, workspaceID, id))
}

// Endpoint returns an endpoint by its key.
func (s *Store) Endpoint(ctx context.Context, key int64) (chathook.Webhook, error) {
	return scanWebhook(s.r.QueryRowContext(ctx, `SELECT `+webhookColumns+` FROM endpoints WHERE id = ?`, key))
}

// Webhooks returns a workspace's endpoints, outbound first.
func (s *Store) Webhooks(ctx context.Context, workspaceID string) ([]chathook.Webhook, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+webhookColumns+` FROM endpoints WHERE workspace_id = ? AND deleted_at = 0 ORDER BY id`,
		workspaceID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return tables.Webhooks(rows)
}

// CreateWebhook adds an endpoint in the lowest free slot.
func (s *Store) CreateWebhook(ctx context.Context, workspaceID string, w chathook.Webhook, at time.Time) (chathook.Webhook, error) {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return w, err
	}
	defer tx.Rollback()
	var slot int
	if err := tx.QueryRowContext(ctx, tables.FreeSlot("?1"), workspaceID).Scan(&slot); err != nil {
		return w, notFound(err)
	}
	if slot >= chathook.MaxEndpoints {
		return w, chathook.ErrLimit
	}
	now := ms(at)
	created, err := scanWebhook(tx.QueryRowContext(ctx, `INSERT INTO endpoints
		(workspace_id, public_id, slot, url, description, events, format, accounts, enabled, granularity, secret, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING `+webhookColumns,
		workspaceID, w.ID, slot, w.URL, w.Description, tables.JSONList(w.Events), string(w.Format), tables.JSONList(w.Accounts),
		w.Enabled, string(w.Granularity), w.Secret, now, now))
	if err != nil {
		return created, err
	}
	return created, tx.Commit()
}

// UpdateWebhook changes the given fields of an endpoint in one
// transaction; see store.Store.
func (s *Store) UpdateWebhook(ctx context.Context, workspaceID, id string, at time.Time, u chathook.WebhookUpdate) (chathook.Webhook, error) {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return chathook.Webhook{}, err
	}
	defer tx.Rollback()
	before, err := scanWebhook(tx.QueryRowContext(ctx, sqlWebhook, workspaceID, id))
	if err != nil {
		return before, err
	}
	if _, u, err = before.Apply(u); err != nil { // as the row is now
		return before, err
	}
	now := ms(at)
	sets, args := tables.WebhookSets(u, func() string { return "?" })
	sets, args = append(sets, "updated_at = ?"), append(args, now, before.Key)
	wh, err := scanWebhook(tx.QueryRowContext(ctx,
		`UPDATE endpoints SET `+strings.Join(sets, ", ")+` WHERE id = ? RETURNING `+webhookColumns, args...))
	if err != nil {
		return wh, err
	}
	if u.DiscardPending {
		if err := discardPending(ctx, tx, wh.Key, wh.URL, "discarded by the user", now); err != nil {
			return wh, err
		}
	}
	if before.Granularity != chathook.NoAggregation && wh.Granularity == chathook.NoAggregation {
		if err := unbundle(ctx, tx, wh, now); err != nil {
			return wh, err
		}
	}
	if wh.Enabled && !before.Enabled {
		// What waited behind a disabled endpoint goes out now, not at the
		// end of its backoff.
		if _, err := tx.ExecContext(ctx, sqlDueNow, wh.Key, now); err != nil {
			return wh, err
		}
	}
	return wh, tx.Commit()
}

// DeleteWebhook deletes an endpoint and discards what waits for it.
func (s *Store) DeleteWebhook(ctx context.Context, workspaceID, id string, at time.Time) error {
	if id == chathook.Outbound {
		return tables.ErrDeleteOutbound
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	wh, err := scanWebhook(tx.QueryRowContext(ctx, sqlWebhook, workspaceID, id))
	if err != nil {
		return err
	}
	now := ms(at)
	if err := discardPending(ctx, tx, wh.Key, wh.URL, "discarded: the endpoint was deleted", now); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM waiting WHERE endpoint_id = ?`, wh.Key); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE endpoints SET deleted_at = ?1, updated_at = ?1, enabled = 0 WHERE id = ?2`, now, wh.Key); err != nil {
		return err
	}
	return tx.Commit()
}

// endpointLanes selects the lanes of an endpoint (?1: its key), chat by
// chat and account by account (tables.AccountLane): "lane IN
// (endpointLanes) AND state = 'pending'" finds its waiting deliveries
// through the pending deliveries' index.
const endpointLanes = `SELECT c.id + (e.slot << ` + tables.SQLSlotShift + `) FROM endpoints e JOIN chats c ON c.workspace_id = e.workspace_id WHERE e.id = ?1
	UNION ALL
	SELECT ` + tables.SQLAccountBit + ` + a.id + (e.slot << ` + tables.SQLSlotShift + `) FROM endpoints e JOIN accounts a ON a.workspace_id = e.workspace_id WHERE e.id = ?1`

const (
	// sqlDueNow makes what waited behind a disabled endpoint due; what
	// waits for its attachments stays held (see store.Media).
	sqlDueNow = `UPDATE deliveries SET due_at = ?2
		WHERE lane IN (` + endpointLanes + `) AND state = 'pending' AND endpoint_id = ?1 AND due_at > ?2
			AND due_at <> ` + tables.SQLHeldDue
	sqlLogDiscards = `INSERT INTO attempts
		(workspace_id, endpoint_id, delivery_id, event_id, kind, chat_id, messages, attempt, at, url, outcome, status, duration_ms, error)
		SELECT workspace_id, endpoint_id, id, event_id, kind, chat_id, messages, attempts, ?2, ?3, 'discarded', 0, 0, ?4
		FROM deliveries WHERE lane IN (` + endpointLanes + `) AND state = 'pending' AND endpoint_id = ?1`
	// sqlDiscard keeps a lease: a POST under way still holds its
	// delivery, should the delivery be recovered before that POST ends.
	sqlDiscard = `UPDATE deliveries SET state = 'discarded', finished_at = ?2, last_attempt_at = ?2, last_error = ?3
		WHERE lane IN (` + endpointLanes + `) AND state = 'pending' AND endpoint_id = ?1`
)

// unbundle gives every message waiting for the endpoint's bundle a
// delivery of its own, in ingest order: under "none" what was pending
// goes out at once, in the endpoint's format as it is now (a switch to
// the event format makes each an event).
func unbundle(ctx context.Context, tx *sql.Tx, wh chathook.Webhook, now int64) error {
	if wh.Format == event.Envelope {
		if err := unbundleEvents(ctx, tx, wh, now); err != nil {
			return fmt.Errorf("unbundle: %w", err)
		}
	} else if _, err := tx.ExecContext(ctx, `INSERT INTO deliveries
			(workspace_id, endpoint_id, lane, chat_id, message_id, event_id, due_at, created_at)
		SELECT m.workspace_id, w.endpoint_id, m.chat_id + (e.slot << `+tables.SQLSlotShift+`), m.chat_id, m.id, 'msg_' || replace(m.uuid, '-', ''), ?2, ?2
		FROM waiting w JOIN endpoints e ON e.id = w.endpoint_id JOIN messages m ON m.id = w.message_id
		WHERE w.endpoint_id = ?1 ORDER BY m.id`, wh.Key, now); err != nil {
		return fmt.Errorf("unbundle: %w", err)
	}
	_, err := tx.ExecContext(ctx, `DELETE FROM waiting WHERE endpoint_id = ?`, wh.Key)
	return err
}

// unbundleEvents queues each message waiting for the endpoint's bundle
// as the message event the endpoint subscribes to, if any, in message
// order, many rows a statement (delivery ids follow that order).
func unbundleEvents(ctx context.Context, tx *sql.Tx, wh chathook.Webhook, now int64) error {
	rows, err := tx.QueryContext(ctx, `SELECT m.id, m.chat_id, m.direction, e.slot
		FROM waiting w JOIN endpoints e ON e.id = w.endpoint_id JOIN messages m ON m.id = w.message_id
		WHERE w.endpoint_id = ? ORDER BY m.id`, wh.Key)
	if err != nil {
		return err
	}
	var args []any // deliveryWidth values a row, as sqlInsertDeliveries takes them
	for rows.Next() {
		var id, chat int64
		var direction chathook.Direction
		var slot int
		if err := rows.Scan(&id, &chat, &direction, &slot); err != nil {
			rows.Close()
			return err
		}
		typ := event.Subscribed(wh.Events, event.MessageNew, tables.MessageType(direction))
		if typ == "" {
			continue
		}
		args = append(args, wh.WorkspaceID, wh.Key, tables.Lane(chat, slot), chat, id,
			event.NewID(fromMS(now)), chathook.KindEvent, typ, now, now, 0, "")
	}
	if err := rows.Err(); err != nil {
		rows.Close()
		return err
	}
	if err := rows.Close(); err != nil {
		return err
	}
	return chunks(len(args)/deliveryWidth, func(start, size int) error {
		_, err := tx.ExecContext(ctx, sqlInsertDeliveries[size], args[start*deliveryWidth:(start+size)*deliveryWidth]...)
		return err
	})
}

// discardPending discards every waiting delivery of an endpoint, and
// logs each as discarded, saying why. One whose POST is under way, or
// whose claim was not yet given back, is discarded too: its outcome, when
// it comes, cannot revive it (see keepDiscarded).
func discardPending(ctx context.Context, tx *sql.Tx, endpoint int64, url, why string, now int64) error {
	// The log is shown and downloaded: the URL as it may be shown.
	if _, err := tx.ExecContext(ctx, sqlLogDiscards, endpoint, now, chathook.RedactURL(url), why); err != nil {
		return fmt.Errorf("log discards: %w", err)
	}
	_, err := tx.ExecContext(ctx, sqlDiscard, endpoint, now, why)
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
