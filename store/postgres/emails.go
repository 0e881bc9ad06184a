package postgres

import (
	"context"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/store"
	"github.com/chathook/chathook/store/tables"
)

// DueEmails hands out outbox emails due at now, oldest first, each to one
// caller: the rows are locked FOR UPDATE SKIP LOCKED and made due again
// only after store.EmailLease, so the notifiers of several instances never
// send one email twice (unless the one that took it dies before
// EmailDone or EmailFailed, when it goes out again after the lease).
func (s *Store) DueEmails(ctx context.Context, now time.Time, limit int) ([]chathook.Email, error) {
	rows, err := s.pool.Query(ctx, `WITH due AS (
			SELECT id, due_at FROM emails WHERE state = 'pending' AND due_at <= $1
			ORDER BY due_at, id LIMIT $2 FOR UPDATE SKIP LOCKED
		), taken AS (
			UPDATE emails e SET due_at = $3 FROM due WHERE e.id = due.id
			RETURNING e.id, e.workspace_id, e.kind, e.reason, e.last_error, e.created_at, e.attempts, e.endpoint, e.endpoint_name, e.to_address,
				due.due_at AS was_due
		)
		SELECT t.id, t.kind, t.reason, t.last_error, t.created_at, t.attempts, t.endpoint, t.endpoint_name,
			w.id, w.name, w.owner_name, w.owner_email, w.created_at, t.to_address
		FROM taken t JOIN workspaces w ON w.id = t.workspace_id
		ORDER BY t.was_due, t.id`, ms(now), limit, ms(now.Add(store.EmailLease)))
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
	return out, rows.Err()
}

// EmailDone marks an email sent or logged.
func (s *Store) EmailDone(ctx context.Context, id int64, at time.Time, logged bool) error {
	state := "sent"
	if logged {
		state = "logged"
	}
	_, err := s.pool.Exec(ctx, `UPDATE emails SET state = $1, attempts = attempts + 1, done_at = $2,
		reason = CASE WHEN to_address = '' THEN reason ELSE '' END WHERE id = $3`, state, ms(at), id)
	return err
}

// EmailFailed records a failed send.
func (s *Store) EmailFailed(ctx context.Context, id int64, failure string, retryAt time.Time) error {
	state, due := "pending", ms(retryAt)
	if retryAt.IsZero() {
		state, due = "failed", 0
	}
	_, err := s.pool.Exec(ctx, `UPDATE emails SET state = $1, attempts = attempts + 1, due_at = $2, last_failure = $3 WHERE id = $4`,
		state, due, failure, id)
	return err
}
