package chathooktest

import (
	"encoding/json"
	"strconv"

	"github.com/chathook/chathook/payload"
)

// Wire is the payload of one message's POST (4.1 of the wire format), as
// end-to-end tests read it.
type Wire struct {
	Account Person `json:"whatsapp_account"`
	Chat    struct {
		FullName string `json:"full_name"`
		IsNew    bool   `json:"is_new_chat"`
		IsGroup  bool   `json:"is_group"`
		Phone    string `json:"phone"`
	} `json:"chat"`
	Message struct {
		Direction string `json:"direction"`
		Timestamp string `json:"timestamp"`
		ID        string `json:"message_id"`
		Sender    Person `json:"sender"`
		Recipient Person `json:"recipient"`
		Text      string `json:"text"`
	} `json:"message"`
}

// Person is an account, sender or recipient of a Wire; only an account
// has an email.
type Person struct {
	FullName string `json:"full_name"`
	Email    string `json:"email,omitempty"`
	Phone    string `json:"phone"`
}

// Verified checks a POST's Standard Webhooks signature with the
// workspace's secret and returns its payload.
func Verified(t TB, ws *Workspace, got Received) Wire {
	t.Helper()
	key, err := payload.ParseSecret(ws.WebhookSecret)
	if err != nil {
		t.Fatal(err)
	}
	ts, err := strconv.ParseInt(got.Header.Get("webhook-timestamp"), 10, 64)
	if err != nil || !payload.Verify(key, got.Header.Get("webhook-id"), ts, got.Body, got.Header.Get("webhook-signature")) {
		t.Errorf("signature %q (timestamp %q) does not verify", got.Header.Get("webhook-signature"), got.Header.Get("webhook-timestamp"))
	}
	var w Wire
	if err := json.Unmarshal(got.Body, &w); err != nil {
		t.Fatalf("%v: %s", err, got.Body)
	}
	return w
}
