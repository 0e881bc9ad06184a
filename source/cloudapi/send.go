package cloudapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"strings"
	"sync/atomic"
	"time"
	"unicode"

	"github.com/chathook/chathook"
)

// DefaultGraphURL is Meta's Graph API, at the version chathook was
// written against: a newer one may change what an answer holds.
const DefaultGraphURL = "https://graph.facebook.com/v23.0"

// maxGraphAnswer is the most read of a Graph API answer: Meta's are a
// few hundred bytes, and a proxy's error page is not worth more.
const maxGraphAnswer = 1 << 20

// graphTimeout bounds one send when Graph has no client of its own: a
// send that hangs holds its reply's lease and the replies behind it.
const graphTimeout = 30 * time.Second

var defaultGraphClient = &http.Client{Timeout: graphTimeout}

// Graph sends replies through Meta's Graph API, as a Cloud API number.
// The zero Graph sends to DefaultGraphURL with a 30-second timeout.
type Graph struct {
	URL    string       // "": DefaultGraphURL
	Client *http.Client // nil: one with a 30-second timeout
}

// The Graph API's answers, as far as Send reads them.
type (
	graphSent struct {
		Messages []struct {
			ID string `json:"id"`
		} `json:"messages"`
	}
	graphError struct {
		Error *struct {
			Message   string `json:"message"`
			Type      string `json:"type"`
			Code      int    `json:"code"`
			Subcode   int    `json:"error_subcode"`
			ErrorData struct {
				Details string `json:"details"`
			} `json:"error_data"`
			FBTraceID string `json:"fbtrace_id"`
		} `json:"error"`
	}
)

// Send sends o's text to its chat's number as o.Account, with
// o.AccessToken, and returns the message's id at WhatsApp (a wamid).
//
// Any failure is a *chathook.SendError whose Reason a person can read in
// the chat page and the API, and whose Retry is true only when another
// attempt may succeed as it is (a 5xx, a rate limit, a dropped
// connection); a refusal that would be refused again is not retried. The
// access token is never in an error, and Send logs nothing.
//
// A message is sent at most once per call. Meta keeps no idempotency
// key: when the answer to a request Meta got is lost (a timeout), Meta
// may have sent it, so that failure is final rather than retried (a
// message in doubt beats one sent twice). o.ID goes with it as
// biz_opaque_callback_data, so that Meta's status webhooks name the reply.
func (g Graph) Send(ctx context.Context, o chathook.Outgoing) (wamid string, err error) {
	if o.AccessToken == "" {
		return "", &chathook.SendError{Reason: "this Cloud API number has no access token: set one in its settings to send replies"}
	}
	to := digits(o.Chat.Phone)
	if to == "" {
		to = digits(o.Chat.ExternalID)
	}
	if to == "" {
		return "", &chathook.SendError{Reason: "this chat has no phone number to send to"}
	}
	body, err := json.Marshal(map[string]any{
		"messaging_product":        "whatsapp",
		"recipient_type":           "individual",
		"to":                       to,
		"type":                     "text",
		"text":                     map[string]any{"preview_url": false, "body": o.Text},
		"biz_opaque_callback_data": o.ID,
	})
	if err != nil {
		return "", &chathook.SendError{Reason: "the reply could not be encoded: " + err.Error()}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, g.base()+"/"+o.Account.PhoneNumberID+"/messages", bytes.NewReader(body))
	if err != nil { // a --graph-api-url that is not a URL
		return "", &chathook.SendError{Reason: "the Graph API URL is not a URL: " + err.Error()}
	}
	req.Header.Set("Authorization", "Bearer "+o.AccessToken)
	req.Header.Set("Content-Type", "application/json")
	client := g.client()
	// Whether the request reached Meta whole: an error before that (a
	// refused connection, a DNS failure) sent nothing and is retried; one
	// after it (no answer in time, a cut connection) may have sent the
	// message, and with no idempotency key at Meta a retry could send it
	// twice, so it is not retried.
	var wrote atomic.Bool
	req = req.WithContext(httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		WroteRequest: func(w httptrace.WroteRequestInfo) { wrote.Store(w.Err == nil) },
	}))
	resp, err := client.Do(req)
	if err != nil {
		// *url.Error names the URL, never the headers: no token in it.
		if wrote.Load() {
			reason := "Meta's Graph API took the message but did not answer (" + err.Error() + ")"
			if errors.Is(err, context.DeadlineExceeded) || isTimeout(err) {
				reason = "Meta's Graph API took the message but did not answer in time"
			}
			return "", &chathook.SendError{MaybeSent: true, Reason: reason + ": it may have gone out, so chathook does not send it again; " +
				"look at the chat on the phone before you send it again"}
		}
		return "", &chathook.SendError{Reason: "could not reach Meta's Graph API: " + err.Error(), Retry: true}
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, maxGraphAnswer))
	if err != nil && resp.StatusCode == http.StatusOK {
		// Meta took it, and its id was lost on the way: a second attempt
		// would send it twice.
		return "", &chathook.SendError{MaybeSent: true, Reason: fmt.Sprintf("Meta's Graph API took the message, and its answer was cut off (%v): "+
			"it may have gone out, so chathook does not send it again; look at the chat on the phone before you send it again", err)}
	}
	if err != nil {
		return "", &chathook.SendError{Reason: fmt.Sprintf("Meta's Graph API answered HTTP %d, and the answer was cut off: %v", resp.StatusCode, err), Retry: true}
	}
	if resp.StatusCode == http.StatusOK {
		var sent graphSent
		if err := json.Unmarshal(answer, &sent); err != nil || len(sent.Messages) == 0 || sent.Messages[0].ID == "" {
			// Not retried: Meta may have taken it, and a second attempt
			// would send it twice.
			return "", &chathook.SendError{MaybeSent: true, Reason: "Meta's Graph API answered 200 without a message id: the message may or may not have gone out"}
		}
		return sent.Messages[0].ID, nil
	}
	return "", refusal(resp.StatusCode, answer, o.AccessToken)
}

// refusal is the *chathook.SendError of a Graph API answer other than
// 200: Meta's error object, in words, or the HTTP status when there is
// none (a proxy's page). token is kept out of what Meta's message says.
func refusal(status int, answer []byte, token string) *chathook.SendError {
	var ge graphError
	if json.Unmarshal(answer, &ge) != nil || ge.Error == nil {
		return &chathook.SendError{
			Reason: fmt.Sprintf("Meta's Graph API answered HTTP %d", status),
			Retry:  status >= 500 || status == http.StatusTooManyRequests,
		}
	}
	e := ge.Error
	said := clean(e.Message, token)
	if d := clean(e.ErrorData.Details, token); d != "" && d != said {
		said = strings.TrimSuffix(said, ".") + ": " + d
	}
	if said == "" {
		said = fmt.Sprintf("HTTP %d", status)
	}
	code := fmt.Sprintf("code %d", e.Code)
	switch {
	case e.Code == 190 || status == http.StatusUnauthorized:
		return &chathook.SendError{Reason: "Meta refused this number's access token (" + code +
			"): it expired or was revoked. Set a new one in the number's settings in chathook"}
	case e.Code == 131047:
		return &chathook.SendError{Reason: "outside Meta's 24-hour window: the customer has not written in the last 24 hours, " +
			"and outside that window only a template message can reach them"}
	case e.Code == 130429 || e.Code == 80007 || e.Code == 4:
		return &chathook.SendError{Reason: "Meta's rate limit for this number was reached (" + code + "): " + said, Retry: true}
	case e.Code == 131056:
		return &chathook.SendError{Reason: "too many messages to this customer in a short time (" + code + ")", Retry: true}
	case e.Code == 131000 || e.Code == 131016 || e.Code == 2:
		return &chathook.SendError{Reason: "WhatsApp had a temporary problem (" + code + "): " + said, Retry: true}
	case status >= 500:
		return &chathook.SendError{Reason: fmt.Sprintf("Meta's Graph API failed (HTTP %d, %s): %s", status, code, said), Retry: true}
	}
	return &chathook.SendError{Reason: "WhatsApp refused it: " + said + " (" + code + ")"}
}

// clean is what Meta said, fit for a chat page: one line, at most 500
// characters, and without the access token should Meta ever echo it.
func clean(s, token string) string {
	if token != "" {
		s = strings.ReplaceAll(s, token, "[access token]")
	}
	s = strings.Join(strings.FieldsFunc(s, unicode.IsSpace), " ")
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, s)
	if r := []rune(s); len(r) > 500 {
		s = string(r[:500]) + "…"
	}
	return s
}

// digits is s without what is not a digit: "+972 50-000 0001" and
// "972500000001@s.whatsapp.net" are both "972500000001", as Meta's "to"
// takes a number. A device suffix (":12@") is not part of the number.
func digits(s string) string {
	if i := strings.IndexAny(s, ":@"); i >= 0 {
		s = s[:i]
	}
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, s)
}

func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}
