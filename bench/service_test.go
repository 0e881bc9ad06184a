package bench

import "testing"

// The bench passes on the service's log but for its answered requests.
func TestAnsweredLine(t *testing.T) {
	for line, drop := range map[string]bool{
		`time=2026-11-25T20:11:25.139Z level=INFO msg=request request_id=7784 method=POST route=/api/v1/messages status=202 duration=657.553µs bytes=55`:      true,
		`time=2026-11-25T20:11:25.139Z level=INFO msg=request request_id=7784 method=GET route="GET /{$}" status=303 duration=57.5µs bytes=0`:                 true,
		`time=2026-11-25T20:11:25.139Z level=INFO msg=request request_id=7784 method=POST route=/api/v1/messages status=401 duration=57.553µs bytes=55`:       false,
		`time=2026-11-25T20:11:25.139Z level=INFO msg=request request_id=7784 method=POST route=/api/v1/messages status=503 duration=57.553µs bytes=55`:       false,
		`time=2026-11-25T20:11:25.139Z level=WARN msg="delivery failed" webhook_id=msg_1 error="HTTP 503 Service Unavailable" status=202 duration=1s bytes=1`: false,
		`time=2026-11-25T20:11:25.144Z level=INFO msg="chathook serving" addr=127.0.0.1:4000`:                                                                 false,
	} {
		if got := answeredLine.MatchString(line); got != drop {
			t.Errorf("dropped %v, want %v: %s", got, drop, line)
		}
	}
}
