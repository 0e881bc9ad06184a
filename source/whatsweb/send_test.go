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
// connection or a timeout is tried again.
func TestSendError(t *testing.T) {
	for _, c := range []struct {
		err    error
		retry  bool
		reason string
	}{
		{fmt.Errorf("%w 479", whatsmeow.ErrServerReturnedError), false, "WhatsApp refused it: server returned error 479"},
		{whatsmeow.ErrNotInGroup, false, "WhatsApp refused it: the account is no longer a member of this group"},
		{whatsmeow.ErrNotConnected, true, "the account is not connected to WhatsApp right now"},
		{whatsmeow.ErrIQDisconnected, true, "the account is not connected to WhatsApp right now"},
		{whatsmeow.ErrMessageTimedOut, true, "WhatsApp did not answer: " + whatsmeow.ErrMessageTimedOut.Error()},
		{context.DeadlineExceeded, true, "WhatsApp did not answer: context deadline exceeded"},
	} {
		got := sendError(c.err)
		if got.Retry != c.retry || got.Reason != c.reason {
			t.Errorf("%v: %+v, want retry %v, %q", c.err, got, c.retry, c.reason)
		}
	}
}
