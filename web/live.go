package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/live"
)

// liveHeartbeat is how often an idle stream sends a comment: under the
// 30 to 60 s after which proxies and load balancers drop idle connections.
// A variable for tests only.
var liveHeartbeat = 25 * time.Second

// liveEvent is the data of one event: the chats that changed, or all.
type liveEvent struct {
	Chats []int64 `json:"chats,omitempty"`
	All   bool    `json:"all,omitempty"`
}

// live streams the signed-in workspace's changes as Server-Sent Events
// (GET /live), one event per change, each {"chats":[ids]} or
// {"all":true}, until the client goes away. Nothing of another workspace
// ever reaches it. Behind a reverse proxy the stream needs buffering off:
// it sends X-Accel-Buffering: no, which nginx honours; other proxies must
// be told not to buffer text/event-stream, and their idle timeout be
// above the heartbeat. Without a hub it answers 204: the page's script
// then tries again now and then (live.js).
func (s *Server) live(w http.ResponseWriter, r *http.Request, v visit) {
	if s.cfg.Live == nil {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	sub, err := s.cfg.Live.Subscribe(v.Workspace.ID, v.token)
	switch {
	case errors.Is(err, live.ErrTooMany):
		// Too many tabs of one sign-in: this one falls back to reloading.
		http.Error(w, fmt.Sprintf("at most %d live tabs per sign-in: close some tabs and reload this one", live.MaxStreams),
			http.StatusTooManyRequests)
		return
	case err != nil: // shutting down: EventSource retries, and finds another instance or this one again
		http.Error(w, "chathook is restarting", http.StatusServiceUnavailable)
		return
	}
	defer sub.Close()
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	// retry: how soon EventSource reconnects after a drop. id: makes it
	// send Last-Event-ID when it does, and changes may have been missed
	// meanwhile: the tab is told to refetch.
	first := "retry: 2000\nid: 1\n\n"
	if r.Header.Get("Last-Event-ID") != "" {
		first += "data: {\"all\":true}\n\n"
	}
	if _, err := fmt.Fprint(w, first); err != nil {
		return
	}
	if rc.Flush() != nil {
		return
	}
	beat := time.NewTicker(liveHeartbeat)
	defer beat.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-s.cfg.Live.Done():
			return
		case <-beat.C:
			// A stream outlives neither its session (signed out, password
			// reset) nor its user: checked at each beat.
			if _, _, err := s.session(r); errors.Is(err, chathook.ErrUnauthorized) {
				return
			}
			_, err = fmt.Fprint(w, ": heartbeat\n\n")
		case <-sub.Ready():
			c, ok := sub.Next()
			if !ok {
				continue
			}
			b, _ := json.Marshal(liveEvent{Chats: c.Chats, All: c.All})
			_, err = fmt.Fprintf(w, "data: %s\n\n", b)
		}
		if err == nil {
			err = rc.Flush()
		}
		if err != nil {
			return
		}
	}
}
