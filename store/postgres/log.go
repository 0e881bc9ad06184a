package postgres

import (
	"context"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/store"
	"github.com/chathook/chathook/store/tables"
)

// endpointKey selects the key of endpoint $2 of workspace $1, not
// deleted: none for another workspace's.
const endpointKey = `SELECT id FROM endpoints WHERE workspace_id = $1 AND public_id = $2 AND deleted_at = 0`

// Activity returns an endpoint's latest attempted or discarded
// deliveries, along deliveries_activity (migration 0014).
func (s *Store) Activity(ctx context.Context, workspaceID, endpointID string, limit int) ([]chathook.Activity, error) {
	// An account's event has no chat: its row names the account.
	rows, err := s.pool.Query(ctx, `SELECT d.id, d.event_id, d.kind, d.chat_id, COALESCE(c.full_name,
			(SELECT COALESCE(NULLIF(a.full_name, ''), a.phone) FROM accounts a WHERE a.id = (d.lane & `+tables.SQLLaneAccount+`)), ''),
			d.messages, d.state,
			d.attempts, d.last_attempt_at, d.last_status, d.last_error, d.last_duration_ms
		FROM deliveries d LEFT JOIN chats c ON c.id = d.chat_id
		WHERE d.endpoint_id = (`+endpointKey+`) AND d.last_attempt_at > 0
		ORDER BY d.last_attempt_at DESC, d.id DESC LIMIT $3`, workspaceID, endpointID, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []chathook.Activity
	for rows.Next() {
		var a chathook.Activity
		var at, duration int64
		if err := rows.Scan(&a.DeliveryID, &a.EventID, &a.Kind, &a.ChatID, &a.ChatName, &a.Messages, &a.State,
			&a.Attempts, &at, &a.Status, &a.Err, &duration); err != nil {
			return nil, err
		}
		if a.State == chathook.StatePending && a.Attempts > 0 {
			a.State = chathook.StateRetrying
		}
		a.At, a.Duration = fromMS(at), time.Duration(duration)*time.Millisecond
		out = append(out, a)
	}
	return out, rows.Err()
}

// Attempts returns a page of an endpoint's log rows, oldest first, read
// along attempts_endpoint (migration 0014). It reads the whole page before
// it returns, so the connection goes back to the pool before the caller
// writes to a client, and it holds one of at most cap(s.logReads)
// connections: downloads never take the whole pool from token checks,
// /healthz and ingest.
func (s *Store) Attempts(ctx context.Context, workspaceID, endpointID string, since time.Time, after store.Position, limit int) ([]chathook.Attempt, error) {
	from := store.LogFrom(since, after)
	select {
	case s.logReads <- struct{}{}:
		defer func() { <-s.logReads }()
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	rows, err := s.pool.Query(ctx, `SELECT `+tables.AttemptColumns+`
		FROM attempts WHERE endpoint_id = (`+endpointKey+`) AND (at, id) > ($3, $4) ORDER BY at, id LIMIT $5`,
		workspaceID, endpointID, ms(from.At), from.ID, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return tables.Attempts(rows)
}

// PruneAttempts deletes log rows older than before, of every endpoint
// at once along attempts_at, 5000 at a time so no transaction grows
// large. Every instance prunes; two at once only delete
// fewer rows each.
func (s *Store) PruneAttempts(ctx context.Context, before time.Time) (int64, error) {
	var total int64
	for {
		tag, err := s.pool.Exec(ctx, `DELETE FROM attempts WHERE id IN (SELECT id FROM attempts WHERE at < $1 LIMIT 5000)`, ms(before))
		if err != nil {
			return total, err
		}
		total += tag.RowsAffected()
		if tag.RowsAffected() < 5000 {
			return total, nil
		}
	}
}
