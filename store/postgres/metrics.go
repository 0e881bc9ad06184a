package postgres

import (
	"context"
	"database/sql"

	"github.com/chathook/chathook/store"
	"github.com/chathook/chathook/store/group"
)

// Backlog counts on the partial indexes of what waits, in one statement;
// the oldest delivery is the one with the least id, as ids are given in
// queue order. See store.Metrics.
func (s *Store) Backlog(ctx context.Context) (store.Backlog, error) {
	var b store.Backlog
	var oldest int64
	err := s.pool.QueryRow(ctx, `SELECT
		(SELECT count(*) FROM deliveries WHERE state = 'pending'),
		coalesce((SELECT created_at FROM deliveries WHERE id = (SELECT min(id) FROM deliveries WHERE state = 'pending')), 0),
		(SELECT count(*) FROM emails WHERE state = 'pending'),
		(SELECT count(*) FROM endpoints WHERE NOT enabled AND disabled_reason <> '' AND deleted_at = 0),
		(SELECT count(*) FROM endpoints WHERE NOT enabled AND disabled_reason = '' AND deleted_at = 0)`).
		Scan(&b.Deliveries, &oldest, &b.Emails, &b.DisabledByFailures, &b.DisabledByUser)
	if oldest > 0 {
		b.OldestDelivery = fromMS(oldest)
	}
	return b, err
}

// Pools is the pgx pool, in database/sql's terms: whatsmeow's sessions
// (SessionDB) draw on it too, so it is the one pool there is.
func (s *Store) Pools() map[string]sql.DBStats {
	st := s.pool.Stat()
	return map[string]sql.DBStats{"pool": {
		MaxOpenConnections: int(st.MaxConns()),
		OpenConnections:    int(st.TotalConns()),
		InUse:              int(st.AcquiredConns()),
		Idle:               int(st.IdleConns()),
		WaitCount:          st.EmptyAcquireCount(),
		WaitDuration:       st.EmptyAcquireWaitTime(),
	}}
}

// IngestStats returns the totals of Ingest's group commit since Open.
func (s *Store) IngestStats() group.Stats { return s.group.Stats() }
