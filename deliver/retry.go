package deliver

import (
	"math/rand/v2"
	"time"
)

// Schedule is the wait before each retry, after the first attempt; after
// the last the delivery is failed. It is Svix's: quick at first for a
// receiver that blips, then spread over about 28 hours for one that is
// down for a day.
var Schedule = []time.Duration{
	5 * time.Second, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour, 5 * time.Hour, 10 * time.Hour, 10 * time.Hour,
}

// retryAt returns when to retry after a failed attempt that was number
// attempts (1 for the first), with ±20% jitter so that the deliveries of
// a receiver that came back do not all arrive in the same second. Zero
// means no retries are left.
func retryAt(now time.Time, attempts int, schedule []time.Duration) time.Time {
	if attempts < 1 || attempts > len(schedule) {
		return time.Time{}
	}
	wait := schedule[attempts-1]
	jitter := time.Duration(rand.Int64N(int64(wait)*2/5+1)) - wait/5
	return now.Add(wait + jitter)
}
