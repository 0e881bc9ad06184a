package event_test

import (
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chathook/chathook/event"
)

func TestCheck(t *testing.T) {
	for _, c := range []struct {
		events []string
		format event.Format
		want   []string
		err    string
	}{
		{[]string{event.MessageReceivedNew, event.ChatCreated, event.MessageReceivedNew}, event.Envelope,
			[]string{event.ChatCreated, event.MessageReceivedNew}, ""},
		{[]string{event.All}, event.Envelope, []string{event.All}, ""},
		{[]string{event.All}, event.Seed, []string{event.MessageNew}, ""},
		{[]string{event.MessageSentNew, event.MessageReceivedNew}, event.Seed, []string{event.MessageReceivedNew, event.MessageSentNew}, ""},
		{nil, event.Envelope, nil, "at least one"},
		{[]string{"message:nwe"}, event.Envelope, nil, `"message:nwe" is not an event type`},
		{[]string{event.All, event.MessageNew}, event.Envelope, nil, "alone"},
		{[]string{event.MessageNew, event.MessageSentNew}, event.Envelope, nil, `"message:new" already includes "message:sent:new"`},
		{[]string{event.ChatCreated, event.ChatSentNew}, event.Envelope, nil, "already includes"},
		{[]string{event.ChatCreated}, event.Seed, nil, "seed format"},
		{[]string{event.AccountLost}, event.Seed, nil, "seed format"},
	} {
		got, err := event.Check(c.events, c.format)
		if c.err == "" && (err != nil || !slices.Equal(got, c.want)) {
			t.Errorf("Check(%v, %s) = %v, %v; want %v", c.events, c.format, got, err, c.want)
		}
		if c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)) {
			t.Errorf("Check(%v, %s) = %v; want an error saying %q", c.events, c.format, err, c.err)
		}
	}
}

func TestSubscribed(t *testing.T) {
	for _, c := range []struct {
		events []string
		want   string
	}{
		{[]string{event.All}, event.MessageNew},
		{[]string{event.MessageNew}, event.MessageNew},
		{[]string{event.MessageReceivedNew}, event.MessageReceivedNew},
		{[]string{event.MessageSentNew}, ""},
		{[]string{event.ChatCreated, event.AccountLost}, ""},
	} {
		if got := event.Subscribed(c.events, event.MessageNew, event.MessageReceivedNew); got != c.want {
			t.Errorf("Subscribed(%v) = %q, want %q", c.events, got, c.want)
		}
	}
	if !event.Has([]string{event.All}, event.AccountConnected) || event.Has([]string{event.MessageNew}, event.AccountConnected) {
		t.Error("Has")
	}
}

// Event ids are ULIDs: 26 Crockford digits, in the order they were made
// (by millisecond), and never the same twice.
func TestNewID(t *testing.T) {
	ulid := regexp.MustCompile(`^evt_[0-7][0-9A-HJKMNP-TV-Z]{25}$`)
	at := time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)
	seen := map[string]bool{}
	prev := ""
	for i := range 1000 {
		id := event.NewID(at.Add(time.Duration(i) * time.Millisecond))
		if !ulid.MatchString(id) || seen[id] || id <= prev {
			t.Fatalf("id %d: %q after %q", i, id, prev)
		}
		seen[id], prev = true, id
	}
	// The time is the first 10 digits: 2026-12-05T10:00:00Z is 1796464800000 ms.
	if got := event.NewID(at)[4:14]; got != "01M92TAW80" {
		t.Errorf("time digits %q", got)
	}
}
