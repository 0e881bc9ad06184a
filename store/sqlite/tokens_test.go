package sqlite_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"path/filepath"
	"testing"
	"time"
)

// A workspace created before API tokens had a table of their own keeps its
// token: migration 0009 makes it the workspace's token named "default".
func TestMigrationKeepsExistingTokens(t *testing.T) {
	path := filepath.Join(t.TempDir(), "chathook.db")
	ctx := context.Background()
	st := open(t, path)
	// The schema as it was before 0009, with a workspace of then.
	for _, q := range []string{
		`DROP TABLE api_tokens`,
		`DROP TABLE setup_codes`,
		`DELETE FROM schema_migrations WHERE version = '0009_api_tokens'`,
		`INSERT INTO workspaces (id, name, owner_email, token_hash, created_at)
			VALUES ('ws-old', 'Old', 'old@example.com', X'` + hexHash("chk_old") + `', 1000)`,
	} {
		if _, err := st.ExecForTest(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	st.Close()

	st = open(t, path)
	sum := sha256.Sum256([]byte("chk_old"))
	ws, err := st.UseToken(ctx, sum[:], time.Now())
	if err != nil || ws.ID != "ws-old" {
		t.Fatalf("the old token after the migration: %+v, %v", ws, err)
	}
	list, err := st.Tokens(ctx, "ws-old")
	if err != nil || len(list) != 1 || list[0].Name != "default" || list[0].CreatedAt.UnixMilli() != 1000 {
		t.Errorf("tokens %+v, %v; want the one named default", list, err)
	}
}

func hexHash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}
