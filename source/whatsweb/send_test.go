package whatsweb

import (
	"context"
	"fmt"
	"testing"

	"github.com/chathook/chathook"
	"go.mau.fi/whatsmeow"
)

// TestChatJID: a chat's messages go to its number, its LID or its group,
// as its external id says; what is no address is refused, not guessed.
func TestChatJID(t *testing.T) {
	for _, c := range []struct{ external, want string }{
		{"+972500000002", "972500000002@s.whatsapp.net"},
		{"120363000000000001@g.us", "120363000000000001@g.us"},
		{"123456789012345@lid", "123456789012345@lid"},
		{"972500000002:7@s.whatsapp.net", "972500000002@s.whatsapp.net"},
		{"not an address", ""},
		{"@g.us", ""},
		{"status@broadcast", ""},
		{"120363000000000002@broadcast", ""},
		{"120363000000000003@newsletter", ""},
		{"+97250000000a", ""},
		{"+", ""},
	} {
		got, err := chatJID(chathook.Chat{ExternalID: c.external})
		if c.want == "" {
			if err == nil {
				t.Errorf("%q: sent to %s, want an error", c.external, got)
			}
			continue
		}
		if err != nil || got.String() != c.want {
			t.Errorf("%q: %s (%v), want %s", c.external, got, err, c.want)
		}
	}
}

// TestSendError: WhatsApp's refusals are final and say so; a dropped
// connection or a timeout is tried again; only what may have left (a
// timeout or a drop while WhatsApp was answering) is maybe sent.
func TestSendError(t *testing.T) {
	for _, c := range []struct {
		err       error
		retry     bool
		maybeSent bool
		reason    string
	}{
		{fmt.Errorf("%w 479", whatsmeow.ErrServerReturnedError), false, false, "WhatsApp refused it: server returned error 479"},
		{whatsmeow.ErrNotInGroup, false, false, "WhatsApp refused it: the account is no longer a member of this group"},
		{whatsmeow.ErrNotConnected, true, false, "the account is not connected to WhatsApp right now"},
		{whatsmeow.ErrIQDisconnected, true, false, "the account is not connected to WhatsApp right now"},
		{fmt.Errorf("failed to get device list: %w", whatsmeow.ErrIQTimedOut), true, false,
			"WhatsApp did not answer: failed to get device list: info query timed out"},
		{whatsmeow.ErrMessageTimedOut, true, true, "WhatsApp did not answer: " + whatsmeow.ErrMessageTimedOut.Error()},
		{context.DeadlineExceeded, true, true, "WhatsApp did not answer: context deadline exceeded"},
		{&whatsmeow.DisconnectedError{Action: "message send"}, true, true, "the connection to WhatsApp dropped while it was taking the message"},
		{&whatsmeow.DisconnectedError{Action: "message send (retry)"}, true, true, "the connection to WhatsApp dropped while it was taking the message"},
	} {
		got := sendError(c.err)
		if got.Retry != c.retry || got.MaybeSent != c.maybeSent || got.Reason != c.reason {
			t.Errorf("%v: %+v, want retry %v, maybe sent %v, %q", c.err, got, c.retry, c.maybeSent, c.reason)
		}
	}
}
