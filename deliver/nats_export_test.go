package deliver

import "github.com/chathook/chathook"

// NewNATSTarget is the target of a nats:// URL as the dispatcher makes
// it, dialing as its dialer does, for tests of the target alone.
func NewNATSTarget(raw string, allowPrivate bool) (Target, error) {
	b, err := chathook.ParseBrokerURL(raw)
	if err != nil {
		return nil, err
	}
	return newNATSTarget(b, newDialer(allowPrivate).DialContext), nil
}

var NATSSubject = natsSubject
