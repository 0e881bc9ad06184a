package api_test

import (
	"context"
	"encoding/csv"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/api"
	"github.com/chathook/chathook/app"
	"github.com/chathook/chathook/chathooktest"
	"github.com/chathook/chathook/store"
	"github.com/google/uuid"
)

// The detailed log is valid CSV with a header row, whatever an error text
// holds: commas, quotes and newlines are quoted, not split into columns.
func TestLogDownloadIsValidCSV(t *testing.T) {
	ctx := context.Background()
	st, err := app.OpenStore(ctx, "sqlite:"+filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	created, err := app.CreateWorkspace(ctx, st, "acme", "o@acme.example", "")
	if err != nil {
		t.Fatal(err)
	}
	hook := "https://hook.example.com/in?a=1,b=2"
	if _, err := st.UpdateWebhook(ctx, created.WorkspaceID, chathook.Outbound, time.Now(), chathook.WebhookUpdate{URL: &hook}); err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	in := chathook.Incoming{
		Account: chathook.Account{Phone: "+15550000000"}, Chat: chathook.Chat{ExternalID: "+15551000000", FullName: "Jo"},
		MessageID: "m1", UUID: uuid.NewString(), Direction: chathook.Received, Timestamp: t0, Text: "hi",
	}
	if _, err := st.Ingest(ctx, created.WorkspaceID, t0, []chathook.Incoming{in}); err != nil {
		t.Fatal(err)
	}
	errs := []string{`HTTP 500: {"error": "boom, again"}`, "first line\nsecond line, with \"quotes\"", ""}
	for i, text := range errs {
		at := t0.Add(time.Duration(i) * time.Minute)
		got, err := st.ClaimDue(ctx, "test", at, time.Minute, 1)
		if err != nil || len(got) != 1 {
			t.Fatalf("claim %d: %v %v", i, got, err)
		}
		out := store.Finished{Outcome: chathook.Outcome{DeliveryID: got[0].ID, URL: hook, At: at, Status: 500, Err: text,
			Duration: 1500 * time.Millisecond}, RetryAt: at}
		if text == "" {
			out.Status = 204
		}
		if err := st.Finish(ctx, []store.Finished{out}); err != nil {
			t.Fatal(err)
		}
	}
	srv := httptest.NewServer(chathooktest.CheckedHandler(t, api.New(api.Config{Store: st})))
	defer srv.Close()

	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/api/v1/webhooks/outbound/log", nil)
	req.Header.Set("Authorization", "Bearer "+created.APIToken)
	resp, err := chathooktest.Client(t).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/csv") {
		t.Fatalf("%d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if cd := resp.Header.Get("Content-Disposition"); !regexp.MustCompile(`^attachment; filename="chathook-log-\d{8}-\d{6}\.csv"$`).MatchString(cd) {
		t.Errorf("Content-Disposition %q", cd)
	}
	r := csv.NewReader(resp.Body)
	r.FieldsPerRecord = -1
	rows, err := r.ReadAll()
	if err != nil {
		t.Fatalf("not valid CSV: %v", err)
	}
	want := []string{"time", "webhook_id", "delivery_id", "kind", "chat_id", "messages", "attempt", "url", "outcome", "http_status", "duration_ms", "error"}
	if strings.Join(rows[0], "|") != strings.Join(want, "|") {
		t.Errorf("header %q", rows[0])
	}
	if len(rows) != 1+len(errs) {
		t.Fatalf("%d rows, want a header and %d attempts: %q", len(rows), len(errs), rows)
	}
	outcomes := []string{"retrying", "retrying", "delivered"}
	for i, row := range rows[1:] {
		if len(row) != len(want) {
			t.Errorf("row %d has %d columns: %q", i+1, len(row), row)
			continue
		}
		if row[11] != errs[i] || row[7] != hook || row[8] != outcomes[i] || row[6] != string(rune('1'+i)) ||
			row[0] != t0.Add(time.Duration(i)*time.Minute).Format("2006-01-02T15:04:05-0700") || row[10] != "1500" || row[3] != "message" {
			t.Errorf("row %d: %q", i+1, row)
		}
	}

	since := t0.Add(time.Minute).Format(time.RFC3339)
	status, body := get(t, srv.URL+"/api/v1/webhooks/outbound/log?format=jsonl&since="+since, created.APIToken)
	if lines := strings.Count(string(body), "\n"); status != 200 || lines != 2 {
		t.Errorf("since %s: %d, %d lines, want the last 2 attempts:\n%s", since, status, lines, body)
	}
	status, body = get(t, srv.URL+"/api/v1/webhooks/outbound/log?since=yesterday", created.APIToken)
	wantError(t, status, body, http.StatusBadRequest, "since")
	status, body = get(t, srv.URL+"/api/v1/webhooks/outbound/log?format=xml", created.APIToken)
	wantError(t, status, body, http.StatusBadRequest, "format")
}

func get(t *testing.T, url, token string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := chathooktest.Client(t).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, body
}
