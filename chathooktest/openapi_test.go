package chathooktest_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/chathook/chathook/chathooktest"
)

// errorsOf records what CheckAPI reports instead of failing the test.
type errorsOf struct {
	testing.TB
	got []string
}

func (e *errorsOf) Helper()                        {}
func (e *errorsOf) Errorf(format string, a ...any) { e.got = append(e.got, fmt.Sprintf(format, a...)) }

const goodWebhook = `{"url":"","enabled":true,"granularity":"none","secret":"whsec_a2V5","consecutive_failures":0,` +
	`"disabled_reason":"","disabled_at":"","last_error":"","previous_secret_valid_until":""}`

// CheckAPI passes exchanges that match docs/openapi.json and reports,
// naming the operation, those that do not: an answer with a missing
// field, an undocumented status or without a required header, a request
// that does not match yet was answered 2xx, and answers to paths and
// methods the document lacks that are not its 404 or 405.
func TestCheckAPI(t *testing.T) {
	jsonHeader := func(kv ...string) http.Header {
		h := http.Header{"Content-Type": {"application/json"}}
		for i := 0; i < len(kv); i += 2 {
			h.Set(kv[i], kv[i+1])
		}
		return h
	}
	message := `{"account":{"phone":"+15550000000"},"chat":{"external_id":"+15551000000"},"message_id":"m1","direction":"received","text":"hi"}`
	badMessage := strings.Replace(message, `"received"`, `"sideways"`, 1)
	accepted := `{"status":"accepted","chat_id":"1","reason":""}`
	errorBody := `{"error":"body: no","field":"body"}`
	for _, c := range []struct {
		name, method, path, reqBody string
		status                      int
		header                      http.Header
		body                        string
		want                        string // in the report; "" for none
	}{
		{"a documented answer", "GET", "/api/v1/webhooks/outbound", "", 200, jsonHeader(), goodWebhook, ""},
		{"a missing field", "GET", "/api/v1/webhooks/outbound", "", 200, jsonHeader(),
			strings.Replace(goodWebhook, `"disabled_at":"",`, "", 1), "getWebhook"},
		{"an unknown field", "GET", "/api/v1/webhooks/outbound", "", 200, jsonHeader(),
			strings.TrimSuffix(goodWebhook, "}") + `,"extra":1}`, "getWebhook"},
		{"an undocumented status", "GET", "/api/v1/webhooks/outbound", "", 418, jsonHeader(), errorBody, "status is not supported"},
		{"a good message", "POST", "/api/v1/messages", message, 202, jsonHeader(), accepted, ""},
		{"a bad message accepted", "POST", "/api/v1/messages", badMessage, 202, jsonHeader(), accepted, "request does not match"},
		{"a bad message refused", "POST", "/api/v1/messages", badMessage, 400, jsonHeader(), errorBody, ""},
		{"an error that is not the error schema", "POST", "/api/v1/messages", badMessage, 400, jsonHeader(), `{"message":"no"}`, "postMessage"},
		{"503 with Retry-After", "POST", "/api/v1/messages", message, 503, jsonHeader("Retry-After", "2"), errorBody, ""},
		{"503 without Retry-After", "POST", "/api/v1/messages", message, 503, jsonHeader(), errorBody, "Retry-After"},
		{"an unknown path, 404", "GET", "/api/v1/nothing", "", 404, jsonHeader(), errorBody, ""},
		{"an unknown path, 200", "GET", "/api/v1/nothing", "", 200, jsonHeader(), `{}`, "no such operation"},
		{"a wrong method, 405", "DELETE", "/api/v1/messages", "", 405, jsonHeader("Allow", "POST"), errorBody, ""},
		{"a wrong method, 405 without Allow", "DELETE", "/api/v1/messages", "", 405, jsonHeader(), errorBody, "Allow"},
		{"a wrong method on a path with a parameter", "GET", "/api/v1/chats/7", "", 404, jsonHeader(), errorBody, "not 404"},
		{"not the API", "GET", "/settings", "", 200, http.Header{}, "<html>", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			req, err := http.NewRequest(c.method, "http://chathook"+c.path, strings.NewReader(c.reqBody))
			if err != nil {
				t.Fatal(err)
			}
			rec := &errorsOf{}
			chathooktest.CheckAPI(rec, req, []byte(c.reqBody), c.status, c.header, []byte(c.body))
			report := strings.Join(rec.got, "\n")
			switch {
			case c.want == "" && report != "":
				t.Errorf("reported:\n%s", report)
			case c.want != "" && !strings.Contains(report, c.want):
				t.Errorf("reported %q, want a report naming %q", report, c.want)
			}
		})
	}
}
