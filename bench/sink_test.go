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
	tl := newTally(plan{messages: 5, chats: 2, clients: 1, batch: 5}, 1)
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

// TestSinkTalliesEndpointsByPath: an event's message is read from its
// data, and counted for the endpoint its path names.
func TestSinkTalliesEndpointsByPath(t *testing.T) {
	tl := newTally(plan{messages: 2, chats: 1, clients: 1, batch: 2}, 2)
	s, err := startSink(tl, clock{start: time.Now()}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	single := `{"whatsapp_account":{},"chat":{},"message":{"message_id":"bench-0"}}`
	event := `{"type":"message:new","event_id":"evt_1","data":{"chat":{},"message":{"message_id":"bench-0"}}}`
	for _, p := range []struct{ url, body string }{
		{s.URL, single}, {s.base + endpointPath(1), event}, {s.base + endpointPath(7), event},
	} {
		resp, err := http.Post(p.url, "application/json", strings.NewReader(p.body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	if c := tl.counts(); c.delivered != 2 || c.duplicated != 0 || c.unexpected != 1 {
		t.Errorf("counts = %+v: want bench-0 once per endpoint, and endpoint 7 unexpected", c)
	}
}
