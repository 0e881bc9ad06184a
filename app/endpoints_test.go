package app_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/app"
	"github.com/chathook/chathook/bundle"
	"github.com/chathook/chathook/chathooktest"
	"github.com/chathook/chathook/event"
	"github.com/chathook/chathook/payload"
)

// addEndpoint adds an endpoint to the workspace through its store, as the
// API and the web UI do.
func addEndpoint(t *testing.T, svc *chathooktest.Service, ws *chathooktest.Workspace, id, url string, f event.Format,
	g chathook.Granularity, events ...string) chathook.Webhook {
	t.Helper()
	wh, err := svc.Store.CreateWebhook(context.Background(), ws.WorkspaceID, chathook.Webhook{ID: id, URL: url, Events: events,
		Format: f, Granularity: g, Enabled: true, Secret: payload.NewSecret()}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return wh
}

type envelope struct {
	Type        string `json:"type"`
	EventID     string `json:"event_id"`
	Timestamp   string `json:"timestamp"`
	WorkspaceID string `json:"workspace_id"`
	Data        struct {
		WhatsAppAccount struct {
			Phone string `json:"phone"`
		} `json:"whatsapp_account"`
		Chat struct {
			ChatID    string `json:"chat_id"`
			IsNewChat bool   `json:"is_new_chat"`
		} `json:"chat"`
		Message *struct {
			MessageID   string `json:"message_id"`
			MessageUUID string `json:"message_uuid"`
			Direction   string `json:"direction"`
			Timestamp   string `json:"timestamp"`
			Text        string `json:"text"`
		} `json:"message"`
	} `json:"data"`
}

// TestThreeFormats: one workspace, three endpoints: outbound (seed, one
// message per POST, byte for byte as before endpoints), a seed endpoint
// that bundles, and two event endpoints. Each gets what it subscribed to,
// signed with its own secret; the event endpoints get one event id for
// one event.
func TestThreeFormats(t *testing.T) { onEveryStore(t, testThreeFormats) }

func testThreeFormats(t *testing.T, db string) {
	svc := chathooktest.Start(t, chathooktest.Options{DB: db, Config: app.Config{BaseURL: baseURL}})
	ws := svc.NewWorkspace(t, "acme")
	seed, bundles, crm, ops := chathooktest.NewSink(t), chathooktest.NewSink(t), chathooktest.NewSink(t), chathooktest.NewSink(t)
	ws.PointAt(t, seed.URL+"/hook")
	zap := addEndpoint(t, svc, ws, "ep_00000000000000b1", bundles.URL, event.Seed, chathook.Hourly, event.MessageNew)
	all := addEndpoint(t, svc, ws, "ep_00000000000000e1", crm.URL, event.Envelope, chathook.NoAggregation, event.All)
	in := addEndpoint(t, svc, ws, "ep_00000000000000e2", ops.URL, event.Envelope, chathook.NoAggregation, event.MessageReceivedNew)

	ws.Post(t, received)
	ws.Post(t, sent)
	// outbound: as before endpoints, byte for byte (TestEndToEnd's golden
	// files, without the responsible teammate it sets).
	got := seed.WaitFor(t, 2, 10*time.Second)
	for i, r := range got {
		if !strings.HasPrefix(r.Header.Get("webhook-id"), "msg_") {
			t.Errorf("outbound delivery %d: webhook-id %q", i, r.Header.Get("webhook-id"))
		}
	}
	if !strings.Contains(string(got[0].Body), `"text":"Hi! 👋"`) || strings.Contains(string(got[0].Body), `"type"`) {
		t.Errorf("outbound got %s", got[0].Body)
	}

	// The event endpoint of every type: the chat's creation, then each message.
	events := crm.WaitFor(t, 3, 10*time.Second)
	var env []envelope
	for i, r := range events {
		var e envelope
		if err := json.Unmarshal(r.Body, &e); err != nil {
			t.Fatalf("event %d: %v: %s", i, err, r.Body)
		}
		if id := r.Header.Get("webhook-id"); id != e.EventID || !strings.HasPrefix(id, "evt_") {
			t.Errorf("event %d: webhook-id %q, event_id %q", i, id, e.EventID)
		}
		if !verifies(t, all.Secret, r) || verifies(t, ws.WebhookSecret, r) {
			t.Errorf("event %d is not signed with its endpoint's secret alone", i)
		}
		if _, err := time.Parse(time.RFC3339, e.Timestamp); err != nil || e.WorkspaceID != ws.WorkspaceID {
			t.Errorf("event %d: timestamp %q, workspace %q", i, e.Timestamp, e.WorkspaceID)
		}
		env = append(env, e)
	}
	if env[0].Type != event.ChatCreated || env[0].Data.Message != nil || !env[0].Data.Chat.IsNewChat || env[0].Data.Chat.ChatID != "10000001" {
		t.Errorf("first event %+v: want chat:created of chat 10000001", env[0])
	}
	if env[1].Type != event.MessageNew || env[1].Data.Message == nil || env[1].Data.Message.MessageID != "3EB0C767D26A1D2D" ||
		env[1].Data.Message.Timestamp != "2021-02-24T16:25:29Z" || env[1].Data.Message.MessageUUID == "" {
		t.Errorf("second event %+v: want message:new of the received message", env[1])
	}
	if env[2].Type != event.MessageNew || env[2].Data.Message.Direction != "sent" {
		t.Errorf("third event %+v: want message:new of the sent message", env[2])
	}

	// The endpoint of received messages only.
	only := ops.WaitFor(t, 1, 10*time.Second)
	var e envelope
	if err := json.Unmarshal(only[0].Body, &e); err != nil || e.Type != event.MessageReceivedNew ||
		e.Data.Message.MessageUUID != env[1].Data.Message.MessageUUID {
		t.Errorf("received-only endpoint got %s (%v)", only[0].Body, err)
	}
	if !verifies(t, in.Secret, only[0]) {
		t.Error("received-only endpoint: signature does not verify")
	}

	// The bundling endpoint: nothing until its window is flushed, then one
	// bundle of both messages.
	if n := bundles.Attempts(); n != 0 {
		t.Fatalf("the bundling endpoint got %d POSTs before its window ended", n)
	}
	ctx := context.Background()
	before := time.Now().Add(time.Second)
	chats, err := svc.Store.PendingChats(ctx, zap.Key, before, 0, 10)
	if err != nil || len(chats) != 1 {
		t.Fatalf("chats waiting for a bundle: %v %v", chats, err)
	}
	if b, m, err := svc.Store.FlushChats(ctx, zap.Key, chats, before, time.Now(), bundle.Split); err != nil || b != 1 || m != 2 {
		t.Fatalf("flush: %d bundles of %d messages, %v", b, m, err)
	}
	svc.Tick()
	b := bundles.WaitFor(t, 1, 10*time.Second)[0]
	if !strings.HasPrefix(b.Header.Get("webhook-id"), "bnd_") || !strings.Contains(string(b.Body), `"aggregation":"from John Doe on 2021-02-24 16:25`) {
		t.Errorf("bundle %s: %s", b.Header.Get("webhook-id"), b.Body)
	}
	if !verifies(t, zap.Secret, b) {
		t.Error("bundle: signature does not verify")
	}
	if n := seed.Attempts() + crm.Attempts() + ops.Attempts(); n != 2+3+1 {
		t.Errorf("%d POSTs in all, want each event once per endpoint", n+1)
	}
}

func verifies(t *testing.T, secret string, r chathooktest.Received) bool {
	t.Helper()
	key, err := payload.ParseSecret(secret)
	if err != nil {
		t.Fatal(err)
	}
	ts, _ := strconv.ParseInt(r.Header.Get("webhook-timestamp"), 10, 64)
	return payload.Verify(key, r.Header.Get("webhook-id"), ts, r.Body, r.Header.Get("webhook-signature"))
}

// TestStalledEndpointDelaysNoOther: one endpoint's receiver hangs on
// every POST; the workspace's other endpoint, and another workspace, get
// every message at once.
func TestStalledEndpointDelaysNoOther(t *testing.T) {
	svc := chathooktest.Start(t, chathooktest.Options{Config: app.Config{BaseURL: baseURL, DeliveryTimeout: 20 * time.Second}})
	ws, other := svc.NewWorkspace(t, "acme"), svc.NewWorkspace(t, "other")
	stalled, fine, theirs := chathooktest.NewSink(t), chathooktest.NewSink(t), chathooktest.NewSink(t)
	release := make(chan struct{})
	var hung atomic.Int32
	stalled.Respond = func(int, *http.Request) int {
		hung.Add(1)
		<-release
		return http.StatusNoContent
	}
	defer close(release)
	ws.PointAt(t, stalled.URL)
	addEndpoint(t, svc, ws, "ep_00000000000000f1", fine.URL, event.Envelope, chathook.NoAggregation, event.MessageNew)
	other.PointAt(t, theirs.URL)
	var msgs []string
	for i := range 40 {
		msgs = append(msgs, laneMessage(i%8, i))
	}
	ws.Post(t, msgs...)
	other.Post(t, msgs...)
	fine.WaitFor(t, 40, 10*time.Second)
	theirs.WaitFor(t, 40, 10*time.Second)
	if hung.Load() == 0 {
		t.Error("the stalled receiver was never called: the test proves nothing")
	}
}

// laneMessage is message n of chat c, as the ingest API takes it.
func laneMessage(c, n int) string {
	b, _ := json.Marshal(map[string]any{
		"account":    map[string]string{"phone": "+972500000000"},
		"chat":       map[string]string{"external_id": "+9725400000" + strconv.Itoa(10+c)},
		"message_id": "m" + strconv.Itoa(n), "direction": "received", "text": "message " + strconv.Itoa(n),
	})
	return string(b)
}
