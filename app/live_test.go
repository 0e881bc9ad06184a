package app_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chathook/chathook/app"
	"github.com/chathook/chathook/chathooktest"
	"github.com/chathook/chathook/store"
)

// liveTab signs in to svc's web UI as email and opens GET /live; it
// returns the data lines of the stream's events.
func liveTab(t *testing.T, svc *chathooktest.Service, email, password string) <-chan string {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(svc.URL + "/signin")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	csrf := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindSubmatch(page)
	if csrf == nil {
		t.Fatalf("no CSRF field on the sign-in page")
	}
	resp, err = c.PostForm(svc.URL+"/signin", url.Values{"email": {email}, "password": {password}, "csrf": {string(csrf[1])}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign in: %d", resp.StatusCode)
	}
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, svc.URL+"/live", nil)
	resp, err = c.Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); resp.Body.Close() })
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /live: %d", resp.StatusCode)
	}
	data := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if d, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
				data <- d
			}
		}
		close(data)
	}()
	return data
}

// The service wires the hub: a message ingested through instance B's
// API reaches a stream open on instance A, of that workspace only.
func TestLiveAcrossInstances(t *testing.T) {
	db := chathooktest.Postgres(t)
	// With metrics on, the store A's parts see is wrapped twice over.
	a := chathooktest.Start(t, chathooktest.Options{DB: db, Config: app.Config{MetricsAddr: "127.0.0.1:0"}})
	b := chathooktest.Start(t, chathooktest.Options{DB: db})
	acme, beta := a.NewWorkspace(t, "acme"), a.NewWorkspace(t, "beta")
	acme.AddUser(t, "owner@acme.example", "Olga", "correct horse battery")
	onA := liveTab(t, a, "owner@acme.example", "correct horse battery")
	msg := func(id string) string {
		return fmt.Sprintf(`{"account": {"phone": "+15550000000"}, "chat": {"external_id": "+15551000001"},
			"message_id": %q, "direction": "received", "text": "hi"}`, id)
	}
	// A may not listen yet when the first message goes: post until one is heard.
	deadline := time.Now().Add(10 * time.Second)
	for i := 0; ; i++ {
		beta.On(b).Post(t, msg(fmt.Sprintf("beta-%d", i)))
		acme.On(b).Post(t, msg(fmt.Sprintf("acme-%d", i)))
		select {
		case d := <-onA:
			var ev struct{ Chats []int64 }
			if err := json.Unmarshal([]byte(d), &ev); err != nil || len(ev.Chats) == 0 {
				t.Fatalf("event %s, want {\"chats\":[...]} (%v)", d, err)
			}
			for _, ws := range []*chathooktest.Workspace{acme, beta} {
				chats, err := a.Store.Chats(context.Background(), ws.WorkspaceID, store.ChatQuery{Limit: 10})
				if err != nil || len(chats) != 1 {
					t.Fatalf("chats of %s: %v %v", ws.WorkspaceID, chats, err)
				}
				if mine := ws == acme; slices.Equal(ev.Chats, []int64{chats[0].ID}) != mine {
					t.Fatalf("event %s on acme's stream; %s's chat is %d", d, ws.WorkspaceID, chats[0].ID)
				}
			}
			return
		case <-time.After(500 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("no event on instance A for messages ingested through B")
		}
	}
}
