package web

import "time"

// SetLiveHeartbeat makes streams beat every d until restore is called.
func SetLiveHeartbeat(d time.Duration) (restore func()) {
	old := liveHeartbeat
	liveHeartbeat = d
	return func() { liveHeartbeat = old }
}
