package postgres

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/store"
	"github.com/chathook/chathook/store/tables"
	"github.com/jackc/pgx/v5"
)

// finishDelivery records one attempt: the delivery's new state and its
// log row, in one statement; it returns the endpoint, or no row when
// there is no such delivery. A delivery the user discarded while its POST
// was under way stays discarded unless that POST got through.
const finishDelivery = `WITH d AS (
	UPDATE deliveries SET
		state = CASE WHEN state = 'discarded' AND $1 <> 'delivered' THEN 'discarded' ELSE $1 END, attempts = attempts + 1, due_at = $2, finished_at = $3, last_status = $4, last_error = $5,
		last_attempt_at = $6, last_duration_ms = $7, lease_until = 0, lease_owner = ''
	WHERE id = $8 RETURNING workspace_id, endpoint_id, id, event_id, kind, chat_id, messages, attempts, state
)
INSERT INTO attempts
	(workspace_id, endpoint_id, delivery_id, event_id, kind, chat_id, messages, attempt, at, url, outcome, status, duration_ms, error)
SELECT workspace_id, endpoint_id, id, event_id, kind, chat_id, messages, attempts, $6, $9,
	CASE WHEN state = 'discarded' AND $10 = 'retrying' THEN 'failed' ELSE $10 END, $4, $7, $5 FROM d
RETURNING endpoint_id`

// Finish records attempt outcomes in one transaction; see store.Store.
//
// The deliveries and log rows are written in one round trip, in delivery
// id order. Then each endpoint concerned, in key order (so that two
// instances finishing at once never deadlock), has its failures counted
// under its row lock: outcomes that two instances record at the same time
// are counted one transaction after the other, exactly, and only the
// failure that reaches chathook.DisableAfter on an enabled endpoint
// disables it and queues the one email naming it.
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
		endpointOf := make([]int64, len(outcomes))
		for _, i := range order {
			if err := br.QueryRow().Scan(&endpointOf[i]); err != nil {
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
		// Each endpoint's outcomes, in the order they were given.
		byEndpoint := map[int64][]store.Finished{}
		var endpoints []int64
		for i, ep := range endpointOf {
			if byEndpoint[ep] == nil {
				endpoints = append(endpoints, ep)
			}
			byEndpoint[ep] = append(byEndpoint[ep], outcomes[i])
		}
		slices.Sort(endpoints)
		for _, ep := range endpoints {
			if err := countFailures(ctx, tx, ep, byEndpoint[ep]); err != nil {
				return fmt.Errorf("finish: endpoint %d: %w", ep, err)
			}
		}
		return nil
	})
}

// countFailures applies one endpoint's outcomes, in order, to its
// consecutive-failure count: a success resets it, a failure adds one (an
// Overlapped one only sets last_error), and the failure that reaches
// chathook.DisableAfter while the endpoint is enabled disables it and
// queues exactly one owner email naming it, in this transaction.
func countFailures(ctx context.Context, tx pgx.Tx, endpoint int64, outs []store.Finished) error {
	if !slices.ContainsFunc(outs, func(o store.Finished) bool { return !o.OK() }) {
		// Successes only: no lock needed to set the count to 0, and none
		// taken when it already is.
		_, err := tx.Exec(ctx, `UPDATE endpoints SET consecutive_failures = 0 WHERE id = $1 AND consecutive_failures <> 0`,
			endpoint)
		return err
	}
	var failures int
	var enabled bool
	var workspaceID, id, description, url, lastError string
	// FOR NO KEY UPDATE, the lock the UPDATE below takes anyway: it waits
	// for other outcomes and for UpdateWebhook, never for ingests and
	// flushes, which hold the row FOR KEY SHARE.
	if err := tx.QueryRow(ctx, `SELECT workspace_id, public_id, description, url, consecutive_failures, enabled, last_error
		FROM endpoints WHERE id = $1 FOR NO KEY UPDATE`,
		endpoint).Scan(&workspaceID, &id, &description, &url, &failures, &enabled, &lastError); err != nil {
		return err
	}
	var disabledBy *store.Finished
	var reason string
	for i, o := range outs {
		if o.OK() {
			failures = 0
			continue
		}
		lastError = o.Err
		if o.Overlapped {
			continue
		}
		failures++
		if failures >= chathook.DisableAfter && enabled {
			enabled, disabledBy = false, &outs[i]
			reason = fmt.Sprintf("disabled automatically after %d consecutive failed attempts", failures)
		}
	}
	if disabledBy == nil {
		_, err := tx.Exec(ctx, `UPDATE endpoints SET consecutive_failures = $1, last_error = $2 WHERE id = $3`,
			failures, lastError, endpoint)
		return err
	}
	at := ms(disabledBy.At)
	if _, err := tx.Exec(ctx, `UPDATE endpoints SET consecutive_failures = $1, last_error = $2,
			enabled = false, disabled_reason = $3, disabled_at = $4 WHERE id = $5`,
		failures, lastError, reason, at, endpoint); err != nil {
		return err
	}
	// The email goes out with the disable or not at all: one per disable.
	endpointID, name := tables.EmailEndpoint(id, description, url)
	_, err := tx.Exec(ctx, `INSERT INTO emails (workspace_id, kind, reason, last_error, created_at, due_at, endpoint, endpoint_name)
		VALUES ($1, 'webhook_disabled', $2, $3, $4, $4, $5, $6)`, workspaceID, reason, disabledBy.Err, at, endpointID, name)
	return err
}
