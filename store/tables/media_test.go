package tables_test

import (
	"slices"
	"strconv"
	"testing"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/event"
	"github.com/chathook/chathook/store"
	"github.com/chathook/chathook/store/tables"
)

// The SQL numeral of a held delivery's due time is the Go one.
func TestHeldDueNumeral(t *testing.T) {
	if got, err := strconv.ParseInt(tables.SQLHeldDue, 10, 64); err != nil || got != store.HeldDue {
		t.Errorf("%q is not %d", tables.SQLHeldDue, store.HeldDue)
	}
}

// A skipped message (attachments) goes to event endpoints only; history
// goes nowhere; a new chat is announced either way.
func TestFanOutSkipped(t *testing.T) {
	targets := []tables.Target{
		{Key: 1, Slot: 0, Format: event.Seed, Granularity: chathook.NoAggregation, Events: []string{event.MessageNew}},
		{Key: 2, Slot: 1, Format: event.Seed, Granularity: chathook.Hourly, Events: []string{event.MessageNew}},
		{Key: 3, Slot: 2, Format: event.Envelope, Granularity: chathook.NoAggregation, Events: []string{event.MessageNew, event.ChatCreated}},
	}
	id := func() string { return "evt" }
	for _, c := range []struct {
		name string
		m    tables.Stored
		want []string
	}{
		{"text", tables.Stored{ChatID: 7, Live: true}, []string{"1/message/", "2/bundle", "3/event/message:new"}},
		{"skipped", tables.Stored{ChatID: 7, Live: true, Skipped: true}, []string{"3/event/message:new"}},
		{"skipped in a new chat", tables.Stored{ChatID: 7, Live: true, Skipped: true, NewChat: true},
			[]string{"3/event/chat:created", "3/event/message:new"}},
		{"history", tables.Stored{ChatID: 7, Skipped: true}, nil},
	} {
		var got []string
		for _, q := range tables.FanOut(nil, targets, c.m, id) {
			s := strconv.FormatInt(q.Target.Key, 10) + "/" + q.Kind + "/" + q.Type
			if q.Bundle {
				s = strconv.FormatInt(q.Target.Key, 10) + "/bundle"
			}
			got = append(got, s)
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}
