package sqlite

import (
	"context"
	"time"

	"github.com/chathook/chathook"
)

// Activity returns the latest attempted or discarded deliveries.
func (s *Store) Activity(ctx context.Context, workspaceID string, limit int) ([]chathook.Activity, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT d.id, d.event_id, d.kind, d.chat_id, c.full_name, d.messages, d.state,
			d.attempts, d.due_at, d.last_attempt_at, d.last_status, d.last_error, d.last_duration_ms
		FROM deliveries d JOIN chats c ON c.id = d.chat_id
		WHERE d.workspace_id = ? AND d.last_attempt_at > 0
		ORDER BY d.last_attempt_at DESC, d.id DESC LIMIT ?`, workspaceID, limit)
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

// Attempts streams a workspace's log rows, oldest first.
func (s *Store) Attempts(ctx context.Context, workspaceID string, since time.Time, fn func(chathook.Attempt) error) error {
	rows, err := s.r.QueryContext(ctx, `SELECT at, event_id, delivery_id, kind, chat_id, messages, attempt, url, outcome,
			status, error, duration_ms
		FROM attempts WHERE workspace_id = ? AND at >= ? ORDER BY at, id`, workspaceID, ms(since))
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var a chathook.Attempt
		var at, duration int64
		if err := rows.Scan(&at, &a.EventID, &a.DeliveryID, &a.Kind, &a.ChatID, &a.Messages, &a.Attempt, &a.URL, &a.Outcome,
			&a.Status, &a.Err, &duration); err != nil {
			return err
		}
		a.At, a.Duration = fromMS(at), time.Duration(duration)*time.Millisecond
		if err := fn(a); err != nil {
			return err
		}
	}
	return rows.Err()
}

// PruneAttempts deletes log rows older than before, in chunks so that
// ingest never waits long behind it.
func (s *Store) PruneAttempts(ctx context.Context, before time.Time) (int64, error) {
	var total int64
	for {
		res, err := s.w.ExecContext(ctx, `DELETE FROM attempts WHERE id IN (SELECT id FROM attempts WHERE at < ? LIMIT 5000)`, ms(before))
		if err != nil {
			return total, err
		}
		n, _ := res.RowsAffected()
		total += n
		if n < 5000 {
			return total, nil
		}
	}
}
