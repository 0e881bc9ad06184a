package sqlite

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
)

// The queries that run per message, per claim or per page read their
// tables through an index: a full scan of deliveries, messages or attempts
// would grow with the history kept, and slow everything the writer does.
func TestHotQueriesUseIndexes(t *testing.T) {
	st, err := Open(context.Background(), filepath.Join(t.TempDir(), "chathook.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	queries := append(append([]string{}, writerSQL...), readerSQL...)
	queries = append(queries, sqlActivity, sqlPrune, sqlPending, sqlDueNow, sqlLogDiscards, sqlDiscard, sqlAttempts,
		sqlRecover, sqlHoldBehindFlight)
	for _, q := range queries {
		if strings.HasPrefix(q, "INSERT") && strings.Contains(q, "VALUES") {
			// The plan of a single-row insert lists the foreign-key scan
			// SQLite runs only when a violation is outstanding: never here.
			continue
		}
		args := make([]any, strings.Count(q, "?"))
		for i := range args {
			args[i] = 1
		}
		rows, err := st.w.Query("EXPLAIN QUERY PLAN "+q, args...)
		if err != nil {
			t.Fatalf("%v:\n%s", err, q)
		}
		for rows.Next() {
			var id, parent, notused int
			var detail string
			if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
				t.Fatal(err)
			}
			for _, table := range []string{"deliveries", "messages", "attempts", "chats"} {
				if strings.HasPrefix(detail, "SCAN "+table) || strings.HasPrefix(detail, "SCAN "+table[:1]+" ") {
					t.Errorf("%s in:\n%s", detail, q)
				}
			}
		}
		rows.Close()
	}
}
