package notify_test

import (
	"context"
	"io"
	"mime/quotedprintable"
	"net/mail"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/store/sqlite"
)

// t0 is when the notify tests' workspaces are created.
var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// acme opens a fresh SQLite store with the workspace "Acme" (id ws1) of
// owner, whose email is ownerEmail; the store is closed when the test ends.
func acme(t *testing.T, owner, ownerEmail string) (*sqlite.Store, chathook.Workspace) {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "chathook.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ws := chathook.Workspace{ID: "ws1", Name: "Acme", OwnerName: owner, OwnerEmail: ownerEmail, CreatedAt: t0}
	if _, err := st.CreateWorkspace(ctx, ws, []byte("token"), "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"); err != nil {
		t.Fatal(err)
	}
	return st, ws
}

// mailBody decodes the quoted-printable body of a mail as sent, with
// "\n" line ends.
func mailBody(t *testing.T, sent string) string {
	t.Helper()
	msg, err := mail.ReadMessage(strings.NewReader(sent))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(quotedprintable.NewReader(msg.Body))
	if err != nil {
		t.Fatal(err)
	}
	return strings.ReplaceAll(string(raw), "\r\n", "\n")
}
