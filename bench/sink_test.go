package bench

import (
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"
)

// The sink reads the message ids of both payload forms over real HTTP.
func TestSinkCountsSinglesAndBundles(t *testing.T) {
	tl := newTally(plan{messages: 5, chats: 2, clients: 1, batch: 5})
	s, err := startSink(tl, clock{start: time.Now()}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	for _, body := range []string{
		`{"whatsapp_account":{},"chat":{"chat_id":"1"},"message":{"message_id":"bench-0","text":"a"}}`,
		`{"whatsapp_account":{},"chat":{"chat_id":"2"},"messages":[{"message_id":"bench-1"},{"message_id":"bench-3"}],"aggregation":""}`,
		`{"chat":{},"message":{"message_id":"bench-0"}}`, // delivered again
		`not json`,
	} {
		resp, err := http.Post(s.URL, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNoContent {
			t.Errorf("sink answered %d", resp.StatusCode)
		}
	}
	c := tl.counts()
	if c.posts != 4 || c.delivered != 3 || c.duplicated != 1 || c.unexpected != 1 || c.outOfOrder != 0 {
		t.Errorf("counts = %+v", c)
	}
}
