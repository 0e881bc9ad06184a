package sqlite

import (
	"context"
	"database/sql"

	"github.com/chathook/chathook/store"
	"github.com/chathook/chathook/store/group"
)

// sqlBacklog counts on the partial indexes of what waits; the oldest
// delivery is the one with the least id, as ids are given in queue order.
const sqlBacklog = `SELECT
	(SELECT count(*) FROM deliveries WHERE state = 'pending'),
	coalesce((SELECT created_at FROM deliveries WHERE id = (SELECT min(id) FROM deliveries WHERE state = 'pending')), 0),
	(SELECT count(*) FROM emails WHERE state = 'pending'),
	(SELECT count(*) FROM endpoints WHERE enabled = 0 AND disabled_reason <> '' AND deleted_at = 0),
	(SELECT count(*) FROM endpoints WHERE enabled = 0 AND disabled_reason = '' AND deleted_at = 0)`

// Backlog reads on the readers, in one statement; see store.Metrics.
func (s *Store) Backlog(ctx context.Context) (store.Backlog, error) {
	var b store.Backlog
	var oldest int64
	err := s.r.QueryRowContext(ctx, sqlBacklog).Scan(&b.Deliveries, &oldest, &b.Emails, &b.DisabledByFailures, &b.DisabledByUser)
	if oldest > 0 {
		b.OldestDelivery = fromMS(oldest)
	}
	return b, err
}

// Pools are the writer, the readers, the detailed log's readers and
// whatsmeow's sessions.
func (s *Store) Pools() map[string]sql.DBStats {
	return map[string]sql.DBStats{
		"writer": s.w.Stats(), "reader": s.r.Stats(), "log": s.logs.Stats(), "session": s.session.Stats(),
	}
}

// IngestStats returns the totals of Ingest's group commit; see store.Metrics.
func (s *Store) IngestStats() group.Stats { return s.group.Stats() }
