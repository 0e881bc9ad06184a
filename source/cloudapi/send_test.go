package cloudapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/source/cloudapi"
)

// graphToken is the access token of the tests' sends: it must never be in
// an error.
const graphToken = "EAAGm0PX4ZCpsBAKZBZCtest-access-token"

// graphCall is a request as the fake Graph API received it.
type graphCall struct {
	Method, Path, Authorization, ContentType string
	Body                                     map[string]any
}

// graphAPI is an httptest.Server answering every POST with status and
// answer, as Meta's Graph API does, and recording what it was sent.
type graphAPI struct {
	*httptest.Server
	mu    sync.Mutex
	calls []graphCall
}

func newGraphAPI(t *testing.T, status int, answer string) *graphAPI {
	t.Helper()
	g := &graphAPI{}
	g.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		c := graphCall{Method: r.Method, Path: r.URL.Path, Authorization: r.Header.Get("Authorization"), ContentType: r.Header.Get("Content-Type")}
		if err := json.Unmarshal(raw, &c.Body); err != nil {
			t.Errorf("the body sent is not JSON: %s", raw)
		}
		g.mu.Lock()
		g.calls = append(g.calls, c)
		g.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		io.WriteString(w, answer)
	}))
	t.Cleanup(g.Close)
	return g
}

func (g *graphAPI) recorded() []graphCall {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]graphCall(nil), g.calls...)
}

// outgoing is a reply of a Cloud API number to Sheena, with the tests'
// token.
func outgoing() chathook.Outgoing {
	return chathook.Outgoing{
		Reply: chathook.Reply{ID: "0b7f6c1e-9d1a-4c55-8a3e-2f0c9a4d7e11", Text: "Hi Sheena, your order shipped today."},
		Account: chathook.Account{ID: 7, Kind: chathook.KindCloudAPI, Phone: "+15550783881", PhoneNumberID: "106540352242922",
			State: chathook.AccountConnected},
		Chat:        chathook.Chat{ID: 3, ExternalID: "16505551234", Phone: "+16505551234", FullName: "Sheena Nelson"},
		AccessToken: graphToken,
	}
}

// Meta's answer to a message it took, as its documentation shows it.
const graphSentAnswer = `{"messaging_product":"whatsapp","contacts":[{"input":"16505551234","wa_id":"16505551234"}],` +
	`"messages":[{"id":"wamid.HBgLMTY1MDU1NTEyMzQVAgARGBI5QTNDQTVCM0Q0Q0Q2RTY3RTcA"}]}`

// A reply goes to {URL}/{phone number id}/messages with the number's
// token, as the text message Meta documents, and its wamid comes back.
func TestGraphSend(t *testing.T) {
	g := newGraphAPI(t, http.StatusOK, graphSentAnswer)
	for _, c := range []struct {
		name string
		url  string
		chat chathook.Chat
	}{
		{"the chat's phone", g.URL, outgoing().Chat},
		{"a trailing slash", g.URL + "/", outgoing().Chat},
		{"no phone: the external id", g.URL, chathook.Chat{ExternalID: "16505551234"}},
		{"a phone as a person writes it", g.URL, chathook.Chat{ExternalID: "x", Phone: "+1 (650) 555-1234"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			o := outgoing()
			o.Chat = c.chat
			wamid, err := cloudapi.Graph{URL: c.url}.Send(context.Background(), o)
			if err != nil || wamid != "wamid.HBgLMTY1MDU1NTEyMzQVAgARGBI5QTNDQTVCM0Q0Q0Q2RTY3RTcA" {
				t.Fatalf("Send: %q, %v", wamid, err)
			}
			calls := g.recorded()
			got := calls[len(calls)-1]
			if got.Method != http.MethodPost || got.Path != "/106540352242922/messages" {
				t.Errorf("sent %s %s, want POST /106540352242922/messages", got.Method, got.Path)
			}
			if got.Authorization != "Bearer "+graphToken || got.ContentType != "application/json" {
				t.Errorf("headers: Authorization %q, Content-Type %q", got.Authorization, got.ContentType)
			}
			want := map[string]any{
				"messaging_product": "whatsapp", "recipient_type": "individual", "to": "16505551234", "type": "text",
				"text":                     map[string]any{"preview_url": false, "body": "Hi Sheena, your order shipped today."},
				"biz_opaque_callback_data": "0b7f6c1e-9d1a-4c55-8a3e-2f0c9a4d7e11",
			}
			gotJSON, _ := json.Marshal(got.Body)
			wantJSON, _ := json.Marshal(want)
			if string(gotJSON) != string(wantJSON) {
				t.Errorf("body sent:\n%s\nwant\n%s", gotJSON, wantJSON)
			}
		})
	}
}

// Every failure is a *chathook.SendError in words for a person, retried
// only when another attempt may succeed, and never with the token in it.
func TestGraphSendErrors(t *testing.T) {
	for _, c := range []struct {
		name   string
		status int
		answer string
		retry  bool
		says   []string // in the reason
	}{
		{"expired token", http.StatusUnauthorized,
			`{"error":{"message":"Error validating access token: Session has expired on Tuesday, 01-Jul-25 09:00:00 PDT. The current time is Tuesday, 01-Jul-25 10:12:51 PDT.","type":"OAuthException","code":190,"error_subcode":463,"fbtrace_id":"AbCdEfGh12345"}}`,
			false, []string{"access token", "expired or was revoked", "settings"}},
		{"revoked token answered 400", http.StatusBadRequest,
			`{"error":{"message":"Error validating access token: The session has been invalidated because the user changed their password.","type":"OAuthException","code":190,"error_subcode":460,"fbtrace_id":"AbC"}}`,
			false, []string{"access token", "code 190"}},
		{"outside the 24-hour window", http.StatusBadRequest,
			`{"error":{"message":"(#131047) Re-engagement message","type":"OAuthException","code":131047,"error_data":{"messaging_product":"whatsapp","details":"Message failed to send because more than 24 hours have passed since the customer last replied to this number."},"fbtrace_id":"AbC"}}`,
			false, []string{"24-hour window", "template message"}},
		{"rate limited", http.StatusBadRequest,
			`{"error":{"message":"(#130429) Rate limit hit","type":"OAuthException","code":130429,"error_data":{"messaging_product":"whatsapp","details":"Cloud API message throughput has been reached."},"fbtrace_id":"AbC"}}`,
			true, []string{"rate limit", "code 130429"}},
		{"temporarily unavailable", http.StatusServiceUnavailable,
			`{"error":{"message":"(#131016) Service unavailable","type":"OAuthException","code":131016,"fbtrace_id":"AbC"}}`,
			true, []string{"temporary", "code 131016"}},
		{"a 500 of Meta", http.StatusInternalServerError,
			`{"error":{"message":"An unknown error has occurred.","type":"OAuthException","code":1,"fbtrace_id":"AbC"}}`,
			true, []string{"HTTP 500", "An unknown error has occurred"}},
		{"a proxy's 502", http.StatusBadGateway, `<html><body>Bad Gateway</body></html>`,
			true, []string{"HTTP 502"}},
		{"another refusal", http.StatusBadRequest,
			`{"error":{"message":"(#100) Invalid parameter","type":"OAuthException","code":100,"error_data":{"messaging_product":"whatsapp","details":"Parameter value is not valid"},"fbtrace_id":"AbC"}}`,
			false, []string{"WhatsApp refused it: (#100) Invalid parameter: Parameter value is not valid (code 100)"}},
		{"a refusal that quotes the token", http.StatusBadRequest,
			`{"error":{"message":"Malformed access token ` + graphToken + `","type":"OAuthException","code":100,"fbtrace_id":"AbC"}}`,
			false, []string{"WhatsApp refused it: Malformed access token [access token] (code 100)"}},
		{"a 200 without an id", http.StatusOK, `{"messaging_product":"whatsapp","contacts":[],"messages":[]}`,
			false, []string{"without a message id"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			g := newGraphAPI(t, c.status, c.answer)
			wamid, err := cloudapi.Graph{URL: g.URL}.Send(context.Background(), outgoing())
			se := wantSendError(t, wamid, err, c.retry)
			// Only a 200 that names no message leaves it unknown.
			if want := c.status == http.StatusOK; se.MaybeSent != want {
				t.Errorf("maybe sent %v, want %v", se.MaybeSent, want)
			}
			for _, s := range c.says {
				if !strings.Contains(se.Reason, s) {
					t.Errorf("reason %q does not say %q", se.Reason, s)
				}
			}
			if n := len(g.recorded()); n != 1 {
				t.Errorf("%d requests, want 1", n)
			}
		})
	}
}

// wantSendError fails unless err is a *chathook.SendError with retry,
// no wamid and no token, and returns it.
func wantSendError(t *testing.T, wamid string, err error, retry bool) *chathook.SendError {
	t.Helper()
	var se *chathook.SendError
	if !errors.As(err, &se) {
		t.Fatalf("Send: %q, %v; want a *chathook.SendError", wamid, err)
	}
	if wamid != "" || se.Retry != retry || se.Reason == "" {
		t.Errorf("Send: %q, %+v; want Retry %v and a reason", wamid, se, retry)
	}
	if strings.Contains(se.Reason, graphToken) || strings.Contains(se.Reason, "EAAG") {
		t.Errorf("the reason shows the access token: %q", se.Reason)
	}
	return se
}

// What never reaches Meta is retried (a refused connection) or not sent
// at all (no token, no number); a request Meta got but never answered in
// time is not retried: it may have gone out.
func TestGraphSendWithoutAnswer(t *testing.T) {
	t.Run("no access token", func(t *testing.T) {
		g := newGraphAPI(t, http.StatusOK, graphSentAnswer)
		o := outgoing()
		o.AccessToken = ""
		se := wantSendError(t, "", func() error { _, err := (cloudapi.Graph{URL: g.URL}).Send(context.Background(), o); return err }(), false)
		if want := "this Cloud API number has no access token: set one in its settings to send replies"; se.Reason != want {
			t.Errorf("reason %q, want %q", se.Reason, want)
		}
		if n := len(g.recorded()); n != 0 {
			t.Errorf("%d requests without a token", n)
		}
	})
	t.Run("connection refused", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		url := "http://" + l.Addr().String()
		l.Close() // nothing listens there now
		wamid, err := cloudapi.Graph{URL: url}.Send(context.Background(), outgoing())
		se := wantSendError(t, wamid, err, true)
		if !strings.Contains(se.Reason, "could not reach Meta's Graph API") {
			t.Errorf("reason %q", se.Reason)
		}
	})
	t.Run("no answer in time", func(t *testing.T) {
		release := make(chan struct{})
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-release }))
		t.Cleanup(srv.Close)
		t.Cleanup(func() { close(release) })
		g := cloudapi.Graph{URL: srv.URL, Client: &http.Client{Timeout: 100 * time.Millisecond}}
		wamid, err := g.Send(context.Background(), outgoing())
		// Meta got the request: it may have sent the message, so it is
		// not tried again.
		se := wantSendError(t, wamid, err, false)
		if !strings.Contains(se.Reason, "did not answer in time") || !strings.Contains(se.Reason, "may have gone out") || !se.MaybeSent {
			t.Errorf("%+v, want maybe sent: it may have gone out", se)
		}
	})
	t.Run("answer cut off after 200", func(t *testing.T) {
		// Meta took the message; its answer's body ends early (a
		// Content-Length longer than what comes): the id is lost, and a
		// second attempt would send it twice.
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "500")
			w.WriteHeader(http.StatusOK)
			io.WriteString(w, `{"messaging_product":"whatsapp","messages":[{"id":"wamid.`)
		}))
		t.Cleanup(srv.Close)
		wamid, err := cloudapi.Graph{URL: srv.URL}.Send(context.Background(), outgoing())
		se := wantSendError(t, wamid, err, false)
		if !se.MaybeSent || !strings.Contains(se.Reason, "may have gone out") {
			t.Errorf("%+v, want maybe sent", se)
		}
	})
	t.Run("no number to send to", func(t *testing.T) {
		g := newGraphAPI(t, http.StatusOK, graphSentAnswer)
		o := outgoing()
		o.Chat = chathook.Chat{ExternalID: "", Phone: ""}
		_, err := cloudapi.Graph{URL: g.URL}.Send(context.Background(), o)
		wantSendError(t, "", err, false)
		if n := len(g.recorded()); n != 0 {
			t.Errorf("%d requests without a recipient", n)
		}
	})
}
