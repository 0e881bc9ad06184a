package bundle

import (
	"testing"
	"time"

	"github.com/chathook/chathook"
)

func TestUntilNextFlush(t *testing.T) {
	at := func(h, m, s int) time.Time { return time.Date(2026, 3, 2, h, m, s, 0, time.UTC) }
	for _, tc := range []struct {
		now  time.Time
		want time.Duration
	}{
		{at(10, 59, 59), 3 * time.Second},
		{at(11, 0, 0), 2 * time.Second},
		{at(11, 0, 1), time.Second},
		{at(11, 0, 2), time.Hour},
		{at(11, 30, 0), 30*time.Minute + 2*time.Second},
		{at(23, 59, 59), 3 * time.Second},
	} {
		if got := untilNextFlush(tc.now, 2*time.Second); got != tc.want {
			t.Errorf("at %s: %s, want %s", tc.now.Format("15:04:05"), got, tc.want)
		}
	}
}

// Windows are aligned to the clock in UTC, whatever zone a time is in:
// 05:59:59.999 UTC and 06:00:00 UTC share a 12h and a 24h window, not a 1h
// or a 6h one.
func TestWindowStart(t *testing.T) {
	tokyo := time.FixedZone("JST", 9*3600)
	before := time.Date(2026, 3, 2, 14, 59, 59, 999e6, tokyo) // 05:59:59.999 UTC
	six := before.Add(time.Millisecond)
	for _, tc := range []struct {
		g             chathook.Granularity
		before, after string
	}{
		{chathook.Hourly, "2026-03-02 05:00", "2026-03-02 06:00"},
		{chathook.SixHourly, "2026-03-02 00:00", "2026-03-02 06:00"},
		{chathook.TwelveHourly, "2026-03-02 00:00", "2026-03-02 00:00"},
		{chathook.Daily, "2026-03-02 00:00", "2026-03-02 00:00"},
	} {
		const layout = "2006-01-02 15:04"
		if got := tc.g.WindowStart(before).Format(layout); got != tc.before {
			t.Errorf("%s: 05:59:59.999 is in the window of %s, want %s", tc.g, got, tc.before)
		}
		if got := tc.g.WindowStart(six).Format(layout); got != tc.after {
			t.Errorf("%s: 06:00:00 is in the window of %s, want %s", tc.g, got, tc.after)
		}
	}
}
