package store

import (
	"context"
	"database/sql"
	"time"

	"github.com/chathook/chathook/store/group"
)

// Metrics are the reads of the metrics endpoint: totals over the whole
// database, every workspace together. Backlog is one short read on
// partial indexes (what waits, not what was), cheap enough for every
// scrape; Pools reads no database at all.
type Metrics interface {
	// Backlog returns what waits in the database now.
	Backlog(ctx context.Context) (Backlog, error)
	// Pools returns a snapshot of each of the store's connection pools,
	// by a name that stays the same from call to call (e.g. "reader").
	// Pools that are not database/sql's report the same fields.
	Pools() map[string]sql.DBStats
	// IngestStats returns the totals of Ingest's group commit since the
	// store opened: transactions, the calls and messages they held.
	IngestStats() group.Stats
}

// Backlog is what waits in the database, every workspace together.
type Backlog struct {
	// Deliveries wait to be sent: pending, in flight or not, due or
	// waiting for a retry or for their disabled webhook.
	Deliveries int
	// OldestDelivery is when the oldest of them was queued; zero if none.
	OldestDelivery time.Time
	// Emails wait in the outbox to be sent (or tried again).
	Emails int
	// DisabledByFailures are the webhooks disabled automatically after
	// chathook.DisableAfter failures, not enabled again since;
	// DisabledByUser those a user turned off.
	DisabledByFailures int
	DisabledByUser     int
}
