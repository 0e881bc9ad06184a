package api

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/store/sqlite"
)

// budgetServer is the API on loopback with a body budget of size, and a
// workspace's token per name.
func budgetServer(t *testing.T, size int64, names ...string) (*Server, string, map[string]string) {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "chathook.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	tokens := map[string]string{}
	for _, name := range names {
		token, hash := NewToken()
		if _, err := st.CreateWorkspace(ctx, chathook.Workspace{ID: name, Name: name, OwnerEmail: name + "@example.com",
			CreatedAt: time.Now().UTC()}, hash, "secret"); err != nil {
			t.Fatal(err)
		}
		tokens[name] = token
	}
	s := New(Config{Store: st, BodyBudget: size, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return s, srv.URL, tokens
}

func post(t *testing.T, url, token, body string) (int, http.Header, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got, _ := io.ReadAll(resp.Body)
	if resp.Close { // net/http takes the header out
		resp.Header.Set("Connection", "close")
	}
	return resp.StatusCode, resp.Header, string(got)
}

// batchOf is a valid batch of 1000 messages of about 7 KB: 6.7 MiB.
func batchOf(prefix string) string {
	text := strings.Repeat("x", 7000)
	msgs := make([]string, 1000)
	for i := range msgs {
		msgs[i] = fmt.Sprintf(`{"account":{"phone":"+15550000000"},"chat":{"external_id":"+1555100%04d"},`+
			`"message_id":"%s-%d","direction":"received","text":%q}`, i%10, prefix, i, text)
	}
	return `{"messages":[` + strings.Join(msgs, ",") + `]}`
}

// TestBodyBudgetSpentMidBody: with the budget all but spent (held here by
// hand, as bodies in flight would hold it), a big batch is read until the
// budget runs out and answered 503 with Retry-After, closing the
// connection, and none of it is stored: once the budget is free, the
// same batch is accepted whole. A small message fits meanwhile. Nothing
// is held once the requests are answered.
func TestBodyBudgetSpentMidBody(t *testing.T) {
	s, url, tokens := budgetServer(t, MinBodyBudget, "acme")
	const left = 1 << 20 * BodyCost // 1 MiB of body
	if !s.budget.take(s.budget.workspace("others"), MinBodyBudget-left) {
		t.Fatal("the budget refused what it has")
	}
	batch := batchOf("b")
	status, h, body := post(t, url+"/api/v1/messages/batch", tokens["acme"], batch)
	if status != http.StatusServiceUnavailable || h.Get("Retry-After") == "" || h.Get("Connection") != "close" ||
		!strings.Contains(body, `"field":"body"`) {
		t.Errorf("a batch past the budget: %d %v %s; want 503 with Retry-After, Connection: close, naming the body", status, h, body)
	}
	msg := `{"account":{"phone":"+15550000000"},"chat":{"external_id":"+15551009999"},"message_id":"small","direction":"received","text":"hi"}`
	if status, _, body := post(t, url+"/api/v1/messages", tokens["acme"], msg); status != http.StatusAccepted {
		t.Errorf("a small message within the budget: %d %s", status, body)
	}
	s.budget.give(s.budget.workspace("others"), MinBodyBudget-left)
	if status, _, body := post(t, url+"/api/v1/messages/batch", tokens["acme"], batch); status != http.StatusAccepted ||
		strings.Count(body, `"accepted"`) != 1000 {
		t.Errorf("the refused batch again, with the budget free: %d %.200s; want every message accepted", status, body)
	}
	if s.budget.free != MinBodyBudget || len(s.budget.held) != 0 {
		t.Errorf("after every answer: %d free of %d, held %v", s.budget.free, MinBodyBudget, s.budget.held)
	}
}

// TestBodyShare: a workspace holds at most its share of the budget (a
// quarter of it, at least one largest batch and ShareSlack): with its
// share spent, its batch is answered 503, while another workspace's same
// batch is taken.
func TestBodyShare(t *testing.T) {
	size := int64(4 * MinBodyBudget)
	s, url, tokens := budgetServer(t, size, "hog", "acme")
	if s.budget.perKey != MinBodyBudget+ShareSlack {
		t.Fatalf("share %d of %d, want %d", s.budget.perKey, size, MinBodyBudget+ShareSlack)
	}
	if !s.budget.take(s.budget.workspace("hog"), s.budget.perKey-1<<20) {
		t.Fatal("the budget refused a share")
	}
	if status, _, body := post(t, url+"/api/v1/messages/batch", tokens["hog"], batchOf("h")); status != http.StatusServiceUnavailable {
		t.Errorf("a batch past the workspace's share: %d %.200s; want 503", status, body)
	}
	if status, _, body := post(t, url+"/api/v1/messages/batch", tokens["acme"], batchOf("a")); status != http.StatusAccepted {
		t.Errorf("another workspace's batch: %d %.200s; want 202", status, body)
	}
}
