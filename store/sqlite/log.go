package sqlite

import (
	"context"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/store"
	"github.com/chathook/chathook/store/tables"
)

// An account's event has no chat: its row names the account.
const sqlActivity = `SELECT d.id, d.event_id, d.kind, d.chat_id, COALESCE(c.full_name,
		(SELECT CASE WHEN a.full_name <> '' THEN a.full_name ELSE a.phone END FROM accounts a WHERE a.id = (d.lane & ` + tables.SQLLaneAccount + `)), ''),
		d.messages, d.state,
		d.attempts, d.due_at, d.last_attempt_at, d.last_status, d.last_error, d.last_duration_ms
	FROM deliveries d LEFT JOIN chats c ON c.id = d.chat_id
	WHERE d.id IN (SELECT delivery_id FROM attempts WHERE endpoint_id = (` + endpointKey + `) ORDER BY at DESC, id DESC LIMIT ?3 * 50)
	ORDER BY d.last_attempt_at DESC, d.id DESC LIMIT ?3`

// endpointKey selects the key of endpoint ?2 of workspace ?1.
const endpointKey = `SELECT id FROM endpoints WHERE workspace_id = ?1 AND public_id = ?2 AND deleted_at = 0`

const sqlPrune = `DELETE FROM attempts WHERE id IN (SELECT id FROM attempts WHERE endpoint_id = ? AND at < ? LIMIT 5000)`

// Activity returns the latest attempted or discarded deliveries. It finds
// them through the detailed log's index, the newest rows first: no index
// on deliveries has to follow every attempt. A delivery has a retry
// schedule's worth of rows (8), and as much again each time it is
// recovered, so 50 rows per entry hold limit distinct deliveries unless
// the latest were recovered over and over.
func (s *Store) Activity(ctx context.Context, workspaceID, endpointID string, limit int) ([]chathook.Activity, error) {
	rows, err := s.r.QueryContext(ctx, sqlActivity, workspaceID, endpointID, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []chathook.Activity
	for rows.Next() {
		var a chathook.Activity
		var due, at, duration int64
		if err := rows.Scan(&a.DeliveryID, &a.EventID, &a.Kind, &a.ChatID, &a.ChatName, &a.Messages, &a.State,
			&a.Attempts, &due, &at, &a.Status, &a.Err, &duration); err != nil {
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

// sqlAttempts reads a page of the log along attempts_endpoint, whose
// entries end in the rowid (id): a seek to (endpoint_id, at, id), then
// limit rows in order, whatever the number of rows with equal at.
const sqlAttempts = `SELECT ` + tables.AttemptColumns + `
	FROM attempts WHERE endpoint_id = (` + endpointKey + `) AND (at, id) > (?3, ?4) ORDER BY at, id LIMIT ?5`

// Attempts returns a page of a workspace's log rows, oldest first. It
// reads on the log's own connections (s.logs), so downloads never take
// the readers that authenticate requests, and it reads the whole page
// before it returns: no snapshot is held while the caller writes.
func (s *Store) Attempts(ctx context.Context, workspaceID, endpointID string, since time.Time, after store.Position, limit int) ([]chathook.Attempt, error) {
	from := store.LogFrom(since, after)
	rows, err := s.logs.QueryContext(ctx, sqlAttempts, workspaceID, endpointID, ms(from.At), from.ID, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return tables.Attempts(rows)
}

// PruneAttempts deletes log rows older than before, endpoint by
// endpoint along the log's index, in chunks so that ingest never waits
// long behind it.
func (s *Store) PruneAttempts(ctx context.Context, before time.Time) (int64, error) {
	endpoints, err := readIDs(s.r.QueryContext(ctx, `SELECT id FROM endpoints`))
	if err != nil {
		return 0, err
	}
	var total int64
	for _, ep := range endpoints {
		for {
			res, err := s.w.ExecContext(ctx, sqlPrune, ep, ms(before))
			if err != nil {
				return total, err
			}
			n, _ := res.RowsAffected()
			total += n
			if n < 5000 {
				break
			}
		}
	}
	return total, nil
}
