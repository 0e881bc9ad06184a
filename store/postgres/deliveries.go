package postgres

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/store"
	"github.com/chathook/chathook/store/tables"
	"github.com/jackc/pgx/v5"
)

// Per-lane order across instances
//
// A lane is one chat's deliveries to one endpoint (see tables.Lane): they
// go out one at a time, in order. SQLite's claim ("take due deliveries
// that no earlier unfinished delivery of their lane holds back") is safe
// there because SQLite has one writer. In PostgreSQL, two claimers run at
// once, each on a snapshot that does not show the other's uncommitted
// leases: A leases d1 of lane X, B does not see it and leases d2 of X,
// and X's messages race each other.
//
// So a claim works lane by lane, and a lane's deliveries are only ever
// leased by a transaction that holds the row lock of the lane's chat
// (tables.LaneChat), which covers every lane of that chat:
//
//  1. claimLanes picks the lanes whose oldest pending delivery is due and
//     which have nothing in flight, in turn (see ClaimDue), and locks
//     their chats' rows FOR NO KEY UPDATE SKIP LOCKED: a chat another
//     claimer is working on is skipped, never waited for. (NO KEY: the
//     lock does not block the foreign-key checks of messages being
//     ingested into the chat.)
//  2. claimPending and claimRuns, later statements of the same
//     transaction, so on snapshots taken after the locks were granted,
//     lease each locked lane's head run: its deliveries in id order up to
//     the first that is not due, and only if none of the lane's
//     deliveries is in flight. A claimer that committed before our lock
//     was granted is visible here, so its leases stop us.
//
// ExtendLeases, the only other writer that sets a lease, takes the same
// chat locks, so it cannot revive an expired lease while another claimer
// takes the lane over. Every other writer only ends leases (Finish,
// Release), removes deliveries from the queue (discard, delete) or adds
// new ones (Ingest, FlushChats, unbundle) or old ones again (Recover:
// those come before the lane's prefix in flight, which claimLanes waits
// for), which can never put two of a lane's deliveries in flight at once.
//
// Hence: at any moment at most one claimer holds leases on a lane's
// deliveries, and it holds a prefix of the lane's pending deliveries.

// claimLanes walks the lanes that have pending deliveries in order, from
// after $1 up to $2, one index seek per lane on (lane, id) (a loose index
// scan: the cost is the lanes looked at, not the deliveries waiting
// behind them, and the same plan whatever the planner's statistics say),
// and locks up to $4 lanes that may send now ($3): their oldest pending
// delivery is due and not leased, nothing of theirs is in flight, and
// their endpoint is enabled with a URL and not among the endpoint keys
// in $5. The lock is the lane's chat's row.
//
// The checks and the lock are in a LATERAL subquery with a locking
// clause, which PostgreSQL never flattens into a join: each lane is
// looked at in walk order, one after the other, and the walk stops as
// soon as $4 lanes are locked.
const claimLanes = `
WITH RECURSIVE heads (lane, id) AS (
  (SELECT lane, id FROM deliveries WHERE state = 'pending' AND lane > $1 ORDER BY lane, id LIMIT 1)
  UNION ALL
  SELECT n.lane, n.id FROM heads h CROSS JOIN LATERAL (
    SELECT lane, id FROM deliveries
    WHERE state = 'pending' AND lane > h.lane
    ORDER BY lane, id LIMIT 1) n
  WHERE h.lane < $2
)
SELECT h.lane FROM heads h
LEFT JOIN LATERAL (
  SELECT c.id FROM chats c
  JOIN deliveries d ON d.id = h.id
  JOIN endpoints w ON w.id = d.endpoint_id
  WHERE (h.lane & ` + tables.SQLAccountBit + `) = 0 AND c.id = (h.lane & ` + tables.SQLLaneChat + `) AND ` + mayClaim + `
  FOR NO KEY UPDATE OF c SKIP LOCKED
) c ON true
LEFT JOIN LATERAL (
  SELECT a.id FROM accounts a
  JOIN deliveries d ON d.id = h.id
  JOIN endpoints w ON w.id = d.endpoint_id
  WHERE (h.lane & ` + tables.SQLAccountBit + `) <> 0 AND a.id = (h.lane & ` + tables.SQLLaneAccount + `) AND ` + mayClaim + `
  FOR NO KEY UPDATE OF a SKIP LOCKED
) a ON true
WHERE h.lane <= $2 AND (c.id IS NOT NULL OR a.id IS NOT NULL)
LIMIT $4`

// mayClaim is, in claimLanes, what lets lane h's head d of endpoint w go
// now ($3), unless w is among $5.
const mayClaim = `d.due_at <= $3 AND d.lease_until < $3 AND w.enabled AND w.url <> ''
    AND d.endpoint_id <> ALL($5::bigint[])
    AND NOT EXISTS (SELECT 1 FROM deliveries e
      WHERE e.lane = h.lane AND e.state = 'pending' AND e.lease_until > 0 AND e.lease_until >= $3)`

// claimPending lists the oldest $3 pending deliveries of each locked lane
// ($2, in turn order) that has nothing in flight, with whether each is due
// ($1), off the (lane, id) index, lane by lane. ClaimDue cuts each lane's
// list at its first delivery that is not due, which leaves the lane's
// head run.
const claimPending = `
SELECT c.lane, d.id, d.due FROM unnest($2::bigint[]) WITH ORDINALITY AS c(lane, turn)
CROSS JOIN LATERAL (
  SELECT d.id, d.due_at <= $1 AS due FROM deliveries d
  WHERE d.lane = c.lane AND d.state = 'pending'
  ORDER BY d.id
  LIMIT $3
) d
WHERE NOT EXISTS (SELECT 1 FROM deliveries e
  WHERE e.lane = c.lane AND e.state = 'pending' AND e.lease_until > 0 AND e.lease_until >= $1)
ORDER BY c.turn, d.id`

// claimRuns leases the deliveries $4 and returns them with what a payload
// needs, in id order. A bundle has no message of its own (COALESCE fills
// in zeros); its messages are loaded with BundleMessages when it is sent.
const claimRuns = `
WITH claimed AS (
  UPDATE deliveries SET lease_until = $2, lease_owner = $3
  WHERE id = ANY($4) AND state = 'pending' AND lease_until < $1
  RETURNING id
)
SELECT ` + deliveryColumns + `
FROM claimed
JOIN deliveries d ON d.id = claimed.id
JOIN endpoints w ON w.id = d.endpoint_id
LEFT JOIN chats c ON c.id = d.chat_id
JOIN accounts a ON a.id = CASE WHEN d.chat_id = 0 THEN d.lane & ` + tables.SQLLaneAccount + ` ELSE c.account_id END
LEFT JOIN messages m ON m.id = d.message_id
ORDER BY d.id`

// deliveryColumns are tables.DeliveryColumns where an account's event
// has no chat.
const deliveryColumns = tables.DeliveryOwnColumns + ",\n" + tables.OptionalChatContextColumns

// relax makes a transaction commit without waiting for its WAL to reach
// the disk. Only the dispatcher's bookkeeping (claims, outcomes) uses it:
// a claim or an outcome lost to a server crash means the delivery is
// claimed or POSTed again with the same webhook-id, so at-least-once holds
// (and the next durable commit, such as an ingest, flushes it anyway).
func relax(ctx context.Context, tx pgx.Tx) error {
	_, err := tx.Exec(ctx, `SET LOCAL synchronous_commit = off`)
	return err
}

// ClaimDue leases due deliveries; see store.Store and the comment above.
// Lanes take turns: each claim goes on from the lane after the last one
// the previous claim of this Store took, round the lanes in order, so a
// lane with a deep backlog cannot starve the others. A claimed lane gives
// a run of its oldest deliveries, as many as are due, up to
// store.RunShare.
func (s *Store) ClaimDue(ctx context.Context, owner string, now time.Time, lease time.Duration, limit int, skip ...int64) ([]chathook.Delivery, error) {
	skip = append([]int64{}, skip...) // never NULL
	s.mu.Lock()
	cursor := s.cursor
	s.mu.Unlock()
	var out []chathook.Delivery
	var last int64
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		out, last = nil, 0
		if err := relax(ctx, tx); err != nil {
			return err
		}
		chats, err := lockLanes(ctx, tx, cursor, math.MaxInt64, ms(now), limit, skip)
		if err == nil && len(chats) < limit && cursor > 0 {
			var more []int64 // round again from the first lane
			more, err = lockLanes(ctx, tx, 0, cursor, ms(now), limit-len(chats), skip)
			chats = append(chats, more...)
		}
		if err != nil {
			return fmt.Errorf("claim: lock lanes: %w", err)
		}
		if len(chats) == 0 {
			return nil
		}
		share := store.RunShare(limit, len(chats))
		rows, err := tx.Query(ctx, claimPending, ms(now), chats, share)
		if err != nil {
			return fmt.Errorf("claim: %w", err)
		}
		type queued struct {
			id  int64
			due bool
		}
		runs := map[int64][]queued{}
		var chat int64
		var q queued
		if _, err := pgx.ForEachRow(rows, []any{&chat, &q.id, &q.due}, func() error {
			runs[chat] = append(runs[chat], q)
			return nil
		}); err != nil {
			return fmt.Errorf("claim: %w", err)
		}
		var take []int64
		last = chats[len(chats)-1] // the last lane that gets a turn
		for i, chat := range chats {
			if len(take) == limit {
				last = chats[i-1]
				break
			}
			run := runs[chat]
			for _, q := range run[:min(len(run), share, limit-len(take))] {
				if !q.due {
					break
				}
				take = append(take, q.id)
			}
		}
		if len(take) == 0 {
			return nil
		}
		rows, err = tx.Query(ctx, claimRuns, ms(now), ms(now.Add(lease)), owner, take)
		if err != nil {
			return fmt.Errorf("claim: %w", err)
		}
		out, err = pgx.CollectRows(rows, scanDelivery)
		if err != nil {
			return fmt.Errorf("claim: %w", err)
		}
		// The attachments of the messages that have some, in one more
		// query (only event deliveries have such messages).
		msgs := make([]*chathook.Message, len(out))
		for i := range out {
			msgs[i] = &out[i].Message
		}
		if err := attach(ctx, tx, msgs); err != nil {
			return fmt.Errorf("claim: attachments: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if last != 0 {
		s.mu.Lock()
		s.cursor = last
		s.mu.Unlock()
	}
	return out, nil
}

// lockLanes runs claimLanes: the lanes after after, up to upTo, that may
// send at now and are not of the endpoints in skip, locked, in turn
// order.
func lockLanes(ctx context.Context, tx pgx.Tx, after, upTo, now int64, limit int, skip []int64) ([]int64, error) {
	rows, err := tx.Query(ctx, claimLanes, after, upTo, now, limit, skip)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[int64])
}

func scanDelivery(row pgx.CollectableRow) (chathook.Delivery, error) { return tables.Delivery(row) }

// ExtendLeases keeps long-running claims from expiring. It takes the
// locks of the deliveries' chats first (in id order, so two extenders
// never deadlock), like a claim: an expired lease that another claimer is
// taking over at this moment is either taken over first (and then no
// longer ours to extend) or extended first (and then not taken over).
func (s *Store) ExtendLeases(ctx context.Context, owner string, ids []int64, until time.Time) error {
	if len(ids) == 0 {
		return nil
	}
	return s.inTx(ctx, func(tx pgx.Tx) error {
		// Accounts before chats, as ingest locks them.
		if _, err := tx.Exec(ctx, `SELECT id FROM accounts
			WHERE id IN (SELECT lane & `+tables.SQLLaneAccount+` FROM deliveries WHERE id = ANY($1) AND chat_id = 0)
			ORDER BY id FOR NO KEY UPDATE`, ids); err != nil {
			return fmt.Errorf("extend leases: lock accounts: %w", err)
		}
		if _, err := tx.Exec(ctx, `SELECT id FROM chats
			WHERE id IN (SELECT chat_id FROM deliveries WHERE id = ANY($1)) ORDER BY id FOR NO KEY UPDATE`, ids); err != nil {
			return fmt.Errorf("extend leases: lock chats: %w", err)
		}
		_, err := tx.Exec(ctx, `UPDATE deliveries SET lease_until = $1
			WHERE lease_owner = $2 AND state = 'pending' AND id = ANY($3)`, ms(until), owner, ids)
		return err
	})
}

// Release gives back leases without an attempt. Ending a lease needs no
// chat lock: it can only let the chat's next claim start sooner.
func (s *Store) Release(ctx context.Context, owner string, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	_, err := s.pool.Exec(ctx, `UPDATE deliveries SET lease_until = 0, lease_owner = ''
		WHERE lease_owner = $1 AND state = 'pending' AND id = ANY($2)`, owner, ids)
	return err
}
