package sqlite

import (
	"context"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/store"
	"github.com/chathook/chathook/store/tables"
)

// DueEmails hands out outbox emails due at now, with their workspace,
// each to one caller: they are made due again only after
// store.EmailLease, in the same write transaction that read them.
func (s *Store) DueEmails(ctx context.Context, now time.Time, limit int) ([]chathook.Email, error) {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	rows, err := tx.QueryContext(ctx, `SELECT e.id, e.kind, e.reason, e.last_error, e.created_at, e.attempts, e.endpoint, e.endpoint_name,
			w.id, w.name, w.owner_name, w.owner_email, w.created_at, e.to_address
		FROM emails e JOIN workspaces w ON w.id = e.workspace_id
		WHERE e.state = 'pending' AND e.due_at <= ? ORDER BY e.due_at, e.id LIMIT ?`, ms(now), limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []chathook.Email
	for rows.Next() {
		e, err := tables.Email(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	rows.Close()
	for _, e := range out {
		if _, err := tx.ExecContext(ctx, `UPDATE emails SET due_at = ? WHERE id = ?`, ms(now.Add(store.EmailLease)), e.ID); err != nil {
			return nil, err
		}
	}
	return out, tx.Commit()
}

// EmailDone marks an email sent or logged.
func (s *Store) EmailDone(ctx context.Context, id int64, at time.Time, logged bool) error {
	state := "sent"
	if logged {
		state = "logged"
	}
	_, err := s.w.ExecContext(ctx, `UPDATE emails SET state = ?, attempts = attempts + 1, done_at = ?,
		reason = CASE WHEN to_address = '' THEN reason ELSE '' END WHERE id = ?`, state, ms(at), id)
	return err
}

// EmailFailed records a failed send.
func (s *Store) EmailFailed(ctx context.Context, id int64, failure string, retryAt time.Time) error {
	state, due := "pending", ms(retryAt)
	if retryAt.IsZero() {
		state, due = "failed", 0
	}
	_, err := s.w.ExecContext(ctx, `UPDATE emails SET state = ?, attempts = attempts + 1, due_at = ?, last_failure = ? WHERE id = ?`,
		state, due, failure, id)
	return err
}
