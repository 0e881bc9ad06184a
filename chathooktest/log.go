package chathooktest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net/http"
)

// LogRow is one attempt of the detailed log, as its JSON lines download
// gives it.
type LogRow struct {
	Time       string `json:"time"`
	WebhookID  string `json:"webhook_id"`
	DeliveryID int64  `json:"delivery_id"`
	Kind       string `json:"kind"`
	ChatID     string `json:"chat_id"`
	Messages   int    `json:"messages"`
	Attempt    int    `json:"attempt"`
	URL        string `json:"url"`
	Outcome    string `json:"outcome"`
	HTTPStatus int    `json:"http_status"`
	DurationMS int64  `json:"duration_ms"`
	Error      string `json:"error"`
}

// Log downloads the workspace's detailed log as JSON lines, oldest first.
func (w *Workspace) Log(t TB) []LogRow {
	t.Helper()
	status, body := w.Do(t, http.MethodGet, "/api/v1/webhooks/outbound/log?format=jsonl", nil)
	if status != http.StatusOK {
		t.Fatalf("log: %d %s", status, body)
	}
	var rows []LogRow
	sc := bufio.NewScanner(bytes.NewReader(body))
	for sc.Scan() {
		var r LogRow
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("log line %q: %v", sc.Text(), err)
		}
		rows = append(rows, r)
	}
	return rows
}
