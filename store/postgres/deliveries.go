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

// Per-chat order across instances
//
// SQLite's claim ("take due deliveries that no earlier unfinished delivery
// of their chat holds back") is safe there because SQLite has one writer.
// In PostgreSQL, two claimers run at once, each on a snapshot that does
// not show the other's uncommitted leases: A leases d1 of chat X, B does
// not see it and leases d2 of X, and X's messages race each other.
//
// So a claim works chat by chat, and a chat's deliveries are only ever
// leased by a transaction that holds the chat's row lock:
//
//  1. claimChats picks the chats whose oldest pending delivery is due and
//     which have nothing in flight, in turn (see ClaimDue), and locks
//     their rows FOR NO KEY UPDATE SKIP LOCKED: a chat another claimer
//     is working on is skipped, never waited for. (NO KEY: the lock does
//     not block the foreign-key checks of messages being ingested into
//     the chat.)
//  2. claimPending and claimRuns, later statements of the same
//     transaction, so on snapshots taken after the locks were granted,
//     lease each locked chat's head run: its deliveries in id order up to
//     the first that is not due, and only if none of the chat's
//     deliveries is in flight. A claimer that committed before our lock
//     was granted is visible here, so its leases stop us.
//
// ExtendLeases, the only other writer that sets a lease, takes the same
// chat locks, so it cannot revive an expired lease while another claimer
// takes the chat over. Every other writer only ends leases (Finish,
// Release), removes deliveries from the queue (discard) or adds new ones
// (Ingest, FlushChats, unbundle) or old ones again (Recover: those come
// before the chat's prefix in flight, which claimChats waits for), which
// can never put two of a chat's deliveries in flight at once.
//
// Hence: at any moment at most one claimer holds leases on a chat's
// deliveries, and it holds a prefix of the chat's pending deliveries.

// claimChats walks the chats that have pending deliveries in id order,
// from after $1 up to $2, one index seek per chat on (chat_id, id) (a
// loose index scan: the cost is the chats looked at, not the deliveries
// waiting behind them, and the same plan whatever the planner's
// statistics say), and locks up to $4 chats that may send now ($3):
// their oldest pending delivery is due and not leased, nothing of theirs
// is in flight, and their webhook is enabled with a URL and not of the
// workspaces in $5.
//
// The checks and the lock are in a LATERAL subquery with a locking
// clause, which PostgreSQL never flattens into a join: each chat is
// looked at in walk order, one after the other, and the walk stops as
// soon as $4 chats are locked.
const claimChats = `
WITH RECURSIVE heads (chat_id, id) AS (
  (SELECT chat_id, id FROM deliveries WHERE state = 'pending' AND chat_id > $1 ORDER BY chat_id, id LIMIT 1)
  UNION ALL
  SELECT n.chat_id, n.id FROM heads h CROSS JOIN LATERAL (
    SELECT chat_id, id FROM deliveries
    WHERE state = 'pending' AND chat_id > h.chat_id
    ORDER BY chat_id, id LIMIT 1) n
  WHERE h.chat_id < $2
)
SELECT c.id FROM heads h CROSS JOIN LATERAL (
  SELECT c.id FROM chats c
  JOIN deliveries d ON d.id = h.id
  JOIN webhooks w ON w.workspace_id = d.workspace_id
  WHERE c.id = h.chat_id AND d.due_at <= $3 AND d.lease_until < $3 AND w.enabled AND w.url <> ''
    AND d.workspace_id <> ALL($5::text[])
    AND NOT EXISTS (SELECT 1 FROM deliveries e
      WHERE e.chat_id = h.chat_id AND e.state = 'pending' AND e.lease_until > 0 AND e.lease_until >= $3)
  FOR NO KEY UPDATE OF c SKIP LOCKED
) c
WHERE h.chat_id <= $2
LIMIT $4`

// claimPending lists the oldest $3 pending deliveries of each locked chat
// ($2, in turn order) that has nothing in flight, with whether each is due
// ($1), off the (chat_id, id) index, chat by chat. ClaimDue cuts each
// chat's list at its first delivery that is not due, which leaves the
// chat's head run.
const claimPending = `
SELECT c.id, d.id, d.due FROM unnest($2::bigint[]) WITH ORDINALITY AS c(id, turn)
CROSS JOIN LATERAL (
  SELECT d.id, d.due_at <= $1 AS due FROM deliveries d
  WHERE d.chat_id = c.id AND d.state = 'pending'
  ORDER BY d.id
  LIMIT $3
) d
WHERE NOT EXISTS (SELECT 1 FROM deliveries e
  WHERE e.chat_id = c.id AND e.state = 'pending' AND e.lease_until > 0 AND e.lease_until >= $1)
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
JOIN webhooks w ON w.workspace_id = d.workspace_id
JOIN chats c ON c.id = d.chat_id
JOIN accounts a ON a.id = c.account_id
LEFT JOIN messages m ON m.id = d.message_id
ORDER BY d.id`

const deliveryColumns = tables.DeliveryColumns

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
// Chats take turns: each claim goes on from the chat after the last one
// the previous claim of this Store took, round the chats in id order, so a
// chat with a deep backlog cannot starve the others. A claimed chat gives
// a run of its oldest deliveries, as many as are due, up to
// store.RunShare.
func (s *Store) ClaimDue(ctx context.Context, owner string, now time.Time, lease time.Duration, limit int, skip ...string) ([]chathook.Delivery, error) {
	skip = append([]string{}, skip...) // never NULL
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
		chats, err := lockChats(ctx, tx, cursor, math.MaxInt64, ms(now), limit, skip)
		if err == nil && len(chats) < limit && cursor > 0 {
			var more []int64 // round again from the first chat
			more, err = lockChats(ctx, tx, 0, cursor, ms(now), limit-len(chats), skip)
			chats = append(chats, more...)
		}
		if err != nil {
			return fmt.Errorf("claim: lock chats: %w", err)
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
		last = chats[len(chats)-1] // the last chat that gets a turn
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

// lockChats runs claimChats: the chats after after, up to upTo, that may
// send at now and are not of the workspaces in skip, locked, in turn
// order.
func lockChats(ctx context.Context, tx pgx.Tx, after, upTo, now int64, limit int, skip []string) ([]int64, error) {
	rows, err := tx.Query(ctx, claimChats, after, upTo, now, limit, skip)
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
