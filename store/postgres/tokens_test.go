package postgres_test

import (
	"context"
	"crypto/sha256"
	"testing"
	"time"

	"github.com/chathook/chathook/store/postgres/pgtest"
)

// A workspace created before API tokens had a table of their own keeps its
// token: migration 0011 makes it the workspace's token named "default".
func TestMigrationKeepsExistingTokens(t *testing.T) {
	url := pgtest.URL(t)
	ctx := context.Background()
	st := open(t, url)
	sum := sha256.Sum256([]byte("chk_old"))
	// The schema as it was before 0011, with a workspace of then.
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{`DROP TABLE api_tokens`, nil},
		{`DROP TABLE setup_codes`, nil},
		{`DELETE FROM schema_migrations WHERE version = '0011_api_tokens'`, nil},
		{`INSERT INTO workspaces (id, name, owner_email, token_hash, created_at) VALUES ('ws-old', 'Old', 'old@example.com', $1, 1000)`,
			[]any{sum[:]}},
	} {
		if _, err := st.ExecForTest(ctx, q.sql, q.args...); err != nil {
			t.Fatalf("%s: %v", q.sql, err)
		}
	}
	st.Close()

	st = open(t, url)
	ws, err := st.UseToken(ctx, sum[:], time.Now())
	if err != nil || ws.ID != "ws-old" {
		t.Fatalf("the old token after the migration: %+v, %v", ws, err)
	}
	list, err := st.Tokens(ctx, "ws-old")
	if err != nil || len(list) != 1 || list[0].Name != "default" || list[0].CreatedAt.UnixMilli() != 1000 {
		t.Errorf("tokens %+v, %v; want the one named default", list, err)
	}
}
