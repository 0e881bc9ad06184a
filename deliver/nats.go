package deliver

import "github.com/chathook/chathook"

// newNATSTarget returns the target of a nats:// endpoint: NATS JetStream.
func newNATSTarget(b chathook.BrokerURL, dial dialFunc) Target {
	return brokenTarget("NATS endpoints are not built yet")
}
