package postgres

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/store"
	"github.com/jackc/pgx/v5"
)

// finishDelivery records one attempt: the delivery's new state and its
// log row, in one statement; it returns the workspace, or no row when
// there is no such delivery. A delivery the user discarded while its POST
// was under way stays discarded unless that POST got through.
const finishDelivery = `WITH d AS (
	UPDATE deliveries SET
		state = CASE WHEN state = 'discarded' AND $1 <> 'delivered' THEN 'discarded' ELSE $1 END, attempts = attempts + 1, due_at = $2, finished_at = $3, last_status = $4, last_error = $5,
		last_attempt_at = $6, last_duration_ms = $7, lease_until = 0, lease_owner = ''
	WHERE id = $8 RETURNING workspace_id, id, event_id, kind, chat_id, messages, attempts, state
)
INSERT INTO attempts
	(workspace_id, delivery_id, event_id, kind, chat_id, messages, attempt, at, url, outcome, status, duration_ms, error)
SELECT workspace_id, id, event_id, kind, chat_id, messages, attempts, $6, $9,
	CASE WHEN state = 'discarded' AND $10 = 'retrying' THEN 'failed' ELSE $10 END, $4, $7, $5 FROM d
RETURNING workspace_id`

// Finish records attempt outcomes in one transaction; see store.Store.
//
// The deliveries and log rows are written in one round trip, in delivery
// id order. Then each webhook concerned, in workspace order (so that two
// instances finishing at once never deadlock), has its failures counted
// under its row lock: outcomes that two instances record at the same time
// are counted one transaction after the other, exactly, and only the
// failure that reaches chathook.DisableAfter on an enabled webhook
// disables it and queues the one email.
func (s *Store) Finish(ctx context.Context, outcomes []store.Finished) error {
	if len(outcomes) == 0 {
		return nil
	}
	order := make([]int, len(outcomes))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		return cmp.Compare(outcomes[a].DeliveryID, outcomes[b].DeliveryID)
	})
	return s.inTx(ctx, func(tx pgx.Tx) error {
		if err := relax(ctx, tx); err != nil {
			return err
		}
		batch := &pgx.Batch{}
		for _, i := range order {
			o := outcomes[i]
			state, due, finished, logged := chathook.StateDelivered, ms(o.At), ms(o.At), chathook.StateDelivered
			switch {
			case o.OK():
			case o.RetryAt.IsZero():
				state, logged = chathook.StateFailed, chathook.StateFailed
			default:
				state, due, finished, logged = chathook.StatePending, ms(o.RetryAt), 0, chathook.StateRetrying
			}
			batch.Queue(finishDelivery, state, due, finished, o.Status, o.Err, ms(o.At), o.Duration.Milliseconds(),
				o.DeliveryID, o.URL, logged)
		}
		br := tx.SendBatch(ctx, batch)
		workspaceOf := make([]string, len(outcomes))
		for _, i := range order {
			if err := br.QueryRow().Scan(&workspaceOf[i]); err != nil {
				br.Close()
				if errors.Is(err, pgx.ErrNoRows) {
					err = fmt.Errorf("no such delivery")
				}
				return fmt.Errorf("finish delivery %d: %w", outcomes[i].DeliveryID, err)
			}
		}
		if err := br.Close(); err != nil {
			return err
		}
		// Each webhook's outcomes, in the order they were given.
		byWorkspace := map[string][]store.Finished{}
		var workspaces []string
		for i, ws := range workspaceOf {
			if byWorkspace[ws] == nil {
				workspaces = append(workspaces, ws)
			}
			byWorkspace[ws] = append(byWorkspace[ws], outcomes[i])
		}
		slices.Sort(workspaces)
		for _, ws := range workspaces {
			if err := countFailures(ctx, tx, ws, byWorkspace[ws]); err != nil {
				return fmt.Errorf("finish: webhook of %s: %w", ws, err)
			}
		}
		return nil
	})
}

// countFailures applies one webhook's outcomes, in order, to its
// consecutive-failure count: a success resets it, a failure adds one, and
// the failure that reaches chathook.DisableAfter while the webhook is
// enabled disables it and queues exactly one owner email, in this
// transaction.
func countFailures(ctx context.Context, tx pgx.Tx, workspaceID string, outs []store.Finished) error {
	if !slices.ContainsFunc(outs, func(o store.Finished) bool { return !o.OK() }) {
		// Successes only: no lock needed to set the count to 0, and none
		// taken when it already is.
		_, err := tx.Exec(ctx, `UPDATE webhooks SET consecutive_failures = 0 WHERE workspace_id = $1 AND consecutive_failures <> 0`,
			workspaceID)
		return err
	}
	var failures int
	var enabled bool
	var lastError string
	// FOR NO KEY UPDATE, the lock the UPDATE below takes anyway: it waits
	// for other outcomes and for UpdateWebhook, never for ingests and
	// flushes, which hold the row FOR KEY SHARE.
	if err := tx.QueryRow(ctx, `SELECT consecutive_failures, enabled, last_error FROM webhooks WHERE workspace_id = $1 FOR NO KEY UPDATE`,
		workspaceID).Scan(&failures, &enabled, &lastError); err != nil {
		return err
	}
	var disabledBy *store.Finished
	var reason string
	for i, o := range outs {
		if o.OK() {
			failures = 0
			continue
		}
		failures++
		lastError = o.Err
		if failures >= chathook.DisableAfter && enabled {
			enabled, disabledBy = false, &outs[i]
			reason = fmt.Sprintf("disabled automatically after %d consecutive failed attempts", failures)
		}
	}
	if disabledBy == nil {
		_, err := tx.Exec(ctx, `UPDATE webhooks SET consecutive_failures = $1, last_error = $2 WHERE workspace_id = $3`,
			failures, lastError, workspaceID)
		return err
	}
	at := ms(disabledBy.At)
	if _, err := tx.Exec(ctx, `UPDATE webhooks SET consecutive_failures = $1, last_error = $2,
			enabled = false, disabled_reason = $3, disabled_at = $4 WHERE workspace_id = $5`,
		failures, lastError, reason, at, workspaceID); err != nil {
		return err
	}
	// The email goes out with the disable or not at all: one per disable.
	_, err := tx.Exec(ctx, `INSERT INTO emails (workspace_id, kind, reason, last_error, created_at, due_at)
		VALUES ($1, 'webhook_disabled', $2, $3, $4, $4)`, workspaceID, reason, disabledBy.Err, at)
	return err
}
