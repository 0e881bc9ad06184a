package deliver_test

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chathook/chathook/chathooktest"
)

// Each kind of failure is an error, recorded in words a person
// understands; once the schedule is spent the delivery is failed, never
// dropped.
func TestEveryFailureIsRecordedInWords(t *testing.T) {
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refusedURL := "http://" + closed.Addr().String() + "/hook"
	closed.Close()
	untrusted := httptest.NewTLSServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer untrusted.Close()
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/hang":
			io.Copy(io.Discard, r.Body) // so the server notices the client hang up
			<-r.Context().Done()
		case "/moved":
			http.Redirect(w, r, "https://elsewhere.example/hook", http.StatusFound)
		default:
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer plain.Close()

	for _, tc := range []struct {
		name, url, want string
		status          int
	}{
		{"connection refused", refusedURL, "connection refused", 0},
		{"unresolvable host", "http://chathook-test.invalid/hook", "DNS lookup", 0},
		{"TLS certificate not trusted", untrusted.URL, "TLS certificate not trusted", 0},
		{"TLS spoken to a plain server", strings.Replace(plain.URL, "http:", "https:", 1), "TLS handshake failed", 0},
		{"timeout", plain.URL + "/hang", "timed out after 200ms", 0},
		{"redirect", plain.URL + "/moved", "HTTP 302 Found: redirect to https://elsewhere.example/hook not followed", 302},
		{"non-2xx", plain.URL + "/down", "HTTP 503 Service Unavailable", 503},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := fast // three retries: four attempts, then failed
			// Only the hanging case needs a short timeout; the others keep a
			// long one, so a TLS handshake on a busy machine is not cut off.
			cfg.DeliveryTimeout = 10 * time.Second
			if strings.HasSuffix(tc.url, "/hang") {
				cfg.DeliveryTimeout = 200 * time.Millisecond
			}
			svc := chathooktest.Start(t, chathooktest.Options{Config: cfg})
			ws := svc.NewWorkspace(t, "acme")
			ws.PointAt(t, tc.url)
			post(t, ws, message(1, 1))
			var rows []chathooktest.LogRow
			deadline := time.Now().Add(10 * time.Second)
			for len(rows) < 4 && time.Now().Before(deadline) {
				time.Sleep(20 * time.Millisecond)
				rows = ws.Log(t)
			}
			if len(rows) != 4 {
				t.Fatalf("%d attempts logged, want 4: %+v", len(rows), rows)
			}
			for i, r := range rows {
				want := "retrying"
				if i == 3 {
					want = "failed"
				}
				if r.Attempt != i+1 || r.Outcome != want || r.HTTPStatus != tc.status || !strings.HasPrefix(r.Error, tc.want) ||
					r.URL != tc.url || r.WebhookID != rows[0].WebhookID {
					t.Errorf("attempt %d: %+v, want outcome %s, status %d, error starting %q", i+1, r, want, tc.status, tc.want)
				}
			}
			_, body := ws.Do(t, http.MethodGet, "/api/v1/webhooks/outbound/activity", nil)
			if !strings.Contains(string(body), `"status":"failed"`) {
				t.Errorf("activity after the last retry: %s", body)
			}
		})
	}
}
