package app_test

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chathook/chathook/app"
	"github.com/chathook/chathook/chathooktest"
)

// quick retries: enough of them that a delivery is still retrying when
// the webhook is disabled.
func quick() app.Config {
	sched := make([]time.Duration, 30)
	for i := range sched {
		sched[i] = 5 * time.Millisecond
	}
	return app.Config{
		BaseURL: "https://chathook.example.com", RetrySchedule: sched,
		MailPoll: 20 * time.Millisecond, MailSchedule: []time.Duration{20 * time.Millisecond, 20 * time.Millisecond, 20 * time.Millisecond},
	}
}

func chatMessage(chat, n int) string {
	return fmt.Sprintf(`{"account": {"phone": "+15550000000"}, "chat": {"external_id": "+1555100%04d"},
		"message_id": "c%d-m%d", "direction": "received", "text": "message %d"}`, chat, chat, n, n)
}

func postAll(t *testing.T, ws *chathooktest.Workspace, msgs ...string) {
	t.Helper()
	if status, body := ws.Do(t, http.MethodPost, "/api/v1/messages/batch", `{"messages": [`+strings.Join(msgs, ",")+`]}`); status != http.StatusAccepted {
		t.Fatalf("ingest: %d %s", status, body)
	}
}

type webhookState struct {
	URL                 string `json:"url"`
	Enabled             bool   `json:"enabled"`
	ConsecutiveFailures int    `json:"consecutive_failures"`
	DisabledReason      string `json:"disabled_reason"`
	DisabledAt          string `json:"disabled_at"`
	LastError           string `json:"last_error"`
}

func state(t *testing.T, ws *chathooktest.Workspace) webhookState {
	t.Helper()
	status, body := ws.Do(t, http.MethodGet, "/api/v1/webhooks/outbound", nil)
	var s webhookState
	if err := json.Unmarshal(body, &s); status != 200 || err != nil {
		t.Fatalf("GET webhook: %d %s", status, body)
	}
	return s
}

// until polls cond every 10ms for up to 10s: for states the API shows
// but no event announces.
func until(t *testing.T, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(10 * time.Second)
	for !cond() {
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("gave up waiting for %s", what)
		}
	}
}

// failing is a receiver that answers 500 while broken is true.
func failing(t *testing.T) (*chathooktest.Sink, *atomic.Bool) {
	sink := chathooktest.NewSink(t)
	var broken atomic.Bool
	broken.Store(true)
	sink.Respond = func(int, *http.Request) int {
		if broken.Load() {
			return http.StatusInternalServerError
		}
		return http.StatusOK
	}
	return sink, &broken
}

// TestTenFailuresDisableAndMailOwnerOnce: a receiver that fails 10 times
// disables the webhook, and exactly one mail per disable reaches a real
// SMTP server.
func TestTenFailuresDisableAndMailOwnerOnce(t *testing.T) {
	smtp := chathooktest.NewSMTPServer(t, nil)
	cfg := quick()
	cfg.SMTPURL, cfg.MailFrom = smtp.URL, "alerts@chathook.example.com"
	svc := chathooktest.Start(t, chathooktest.Options{Config: cfg})
	ws := svc.NewWorkspace(t, "acme")
	sink, _ := failing(t)
	ws.PointAt(t, sink.URL)
	postAll(t, ws, chatMessage(1, 1), chatMessage(2, 1), chatMessage(3, 1))

	mail := smtp.WaitFor(t, 1, 10*time.Second)[0]
	s := state(t, ws)
	if s.Enabled || s.ConsecutiveFailures < 10 || !strings.Contains(s.DisabledReason, "consecutive") ||
		s.LastError != "HTTP 500 Internal Server Error" || s.DisabledAt == "" {
		t.Errorf("after the disable: %+v", s)
	}
	if mail.From != "alerts@chathook.example.com" || len(mail.To) != 1 || mail.To[0] != "owner@acme.example" {
		t.Errorf("mail from %s to %v", mail.From, mail.To)
	}
	for _, want := range []string{"HTTP 500 Internal Server Error", "https://chathook.example.com/settings/webhooks/outbound", "acme", "Owner of acme"} {
		if !strings.Contains(mail.Body, want) {
			t.Errorf("the mail does not say %q:\n%s", want, mail.Body)
		}
	}
	if !strings.Contains(mail.Subject, "disabled") {
		t.Errorf("subject %q", mail.Subject)
	}

	// Enabled again with the receiver still down: a second disable, a
	// second mail, and no more.
	ws.Do(t, http.MethodPut, "/api/v1/webhooks/outbound", map[string]bool{"enabled": true})
	smtp.WaitFor(t, 2, 10*time.Second)
	until(t, "the second disable", func() bool { return !state(t, ws).Enabled })
	svc.Stop(t)
	if n := len(smtp.Mails()); n != 2 {
		t.Errorf("%d mails for 2 disables", n)
	}
}

func TestSuccessAfterNineFailuresResetsTheCount(t *testing.T) {
	sink := chathooktest.NewSink(t)
	sink.Respond = func(n int, _ *http.Request) int {
		if n <= 9 {
			return http.StatusBadGateway
		}
		return http.StatusNoContent
	}
	svc := chathooktest.Start(t, chathooktest.Options{Config: quick()})
	ws := svc.NewWorkspace(t, "acme")
	ws.PointAt(t, sink.URL)
	postAll(t, ws, chatMessage(1, 1))
	sink.WaitFor(t, 1, 10*time.Second)
	until(t, "the success to be recorded", func() bool { return state(t, ws).ConsecutiveFailures == 0 })
	if s := state(t, ws); !s.Enabled || s.DisabledReason != "" {
		t.Errorf("after 9 failures and a success: %+v", s)
	}
	_, body := ws.Do(t, http.MethodGet, "/api/v1/webhooks/outbound/activity", nil)
	if !strings.Contains(string(body), `"status":"delivered"`) || !strings.Contains(string(body), `"attempts":10`) {
		t.Errorf("activity: %s", body)
	}
}

// deliveredIDs returns the message ids a sink accepted, in order.
func deliveredIDs(t *testing.T, got []chathooktest.Received) []string {
	var ids []string
	for _, r := range got {
		var p struct {
			Message struct {
				MessageID string `json:"message_id"`
			} `json:"message"`
		}
		if err := json.Unmarshal(r.Body, &p); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, p.Message.MessageID)
	}
	return ids
}

// TestReenableDeliversWaitingInOrder: what waited behind a disabled
// webhook, including messages that came in while it was disabled, goes
// out once enabled, in order per chat, each once.
func TestReenableDeliversWaitingInOrder(t *testing.T) {
	svc := chathooktest.Start(t, chathooktest.Options{Config: quick()})
	ws := svc.NewWorkspace(t, "acme")
	sink, broken := failing(t)
	ws.PointAt(t, sink.URL)
	var first, later []string
	for n := range 5 {
		first = append(first, chatMessage(1, n), chatMessage(2, n))
		later = append(later, chatMessage(1, 5+n), chatMessage(2, 5+n))
	}
	postAll(t, ws, first...)
	until(t, "the disable", func() bool { return !state(t, ws).Enabled })
	postAll(t, ws, later...) // kept while disabled
	broken.Store(false)
	ws.Do(t, http.MethodPut, "/api/v1/webhooks/outbound", map[string]bool{"enabled": true})
	got := deliveredIDs(t, sink.WaitFor(t, 20, 10*time.Second))
	svc.Stop(t)
	if n := len(sink.Got()); n != 20 {
		t.Errorf("%d deliveries, want 20", n)
	}
	next := map[string]int{"1": 0, "2": 0}
	for _, id := range got {
		var chat string
		var n int
		fmt.Sscanf(id, "c%1s-m%d", &chat, &n)
		if n != next[chat] {
			t.Errorf("chat %s: got message %d, want %d (order: %v)", chat, n, next[chat], got)
		}
		next[chat] = n + 1
	}
}

// TestDiscardPending: the user may drop what waited; each dropped
// delivery is in the log as discarded, and new messages flow again.
func TestDiscardPending(t *testing.T) {
	svc := chathooktest.Start(t, chathooktest.Options{Config: quick()})
	ws := svc.NewWorkspace(t, "acme")
	sink, broken := failing(t)
	ws.PointAt(t, sink.URL)
	postAll(t, ws, chatMessage(1, 1), chatMessage(1, 2), chatMessage(2, 1))
	until(t, "the disable", func() bool { return !state(t, ws).Enabled })
	broken.Store(false)
	status, body := ws.Do(t, http.MethodPut, "/api/v1/webhooks/outbound", map[string]bool{"enabled": true, "discard_pending": true})
	if status != 200 {
		t.Fatalf("discard: %d %s", status, body)
	}
	postAll(t, ws, chatMessage(1, 3))
	got := deliveredIDs(t, sink.WaitFor(t, 1, 10*time.Second))
	svc.Stop(t)
	if len(sink.Got()) != 1 || got[0] != "c1-m3" {
		t.Errorf("delivered %v, want only the message after the discard", deliveredIDs(t, sink.Got()))
	}

	svc = chathooktest.Start(t, chathooktest.Options{DB: svc.DB})
	discarded := 0
	rows := ws.On(svc).Log(t)
	for _, row := range rows {
		if row.Outcome == "discarded" {
			discarded++
		}
	}
	if discarded != 3 {
		t.Errorf("%d discarded rows in the log, want 3: %+v", discarded, rows)
	}
}

// TestMailServerDownBlocksNothing: while the SMTP server refuses, other
// workspaces' deliveries flow; the mail is retried and arrives once the
// server is up.
func TestMailServerDownBlocksNothing(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := make(chan struct{})
	refused := make(chan struct{}, 100)
	go func() { // a mail server that hangs up at once
		for {
			select {
			case <-down:
				return
			default:
			}
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
			refused <- struct{}{}
		}
	}()
	cfg := quick()
	cfg.SMTPURL = "smtp://" + ln.Addr().String()
	svc := chathooktest.Start(t, chathooktest.Options{Config: cfg})
	broken, fine := svc.NewWorkspace(t, "broken"), svc.NewWorkspace(t, "fine")
	badSink, _ := failing(t)
	goodSink := chathooktest.NewSink(t)
	broken.PointAt(t, badSink.URL)
	fine.PointAt(t, goodSink.URL)
	postAll(t, broken, chatMessage(1, 1))
	until(t, "the disable", func() bool { return !state(t, broken).Enabled })
	<-refused // the mail was tried and failed
	var msgs []string
	for n := range 50 {
		msgs = append(msgs, chatMessage(n, 1))
	}
	postAll(t, fine, msgs...)
	goodSink.WaitFor(t, 50, 10*time.Second)

	close(down)
	net.Dial("tcp", ln.Addr().String()) // let the refusing loop see down
	smtp := chathooktest.NewSMTPServer(t, ln)
	got := smtp.WaitFor(t, 1, 10*time.Second)
	if !strings.Contains(got[0].Body, "broken") || got[0].To[0] != "owner@broken.example" {
		t.Errorf("mail to %v:\n%s", got[0].To, got[0].Body)
	}
}
