package deliver

import "github.com/chathook/chathook"

// newAMQPTarget returns the target of an amqp:// endpoint: RabbitMQ.
func newAMQPTarget(b chathook.BrokerURL, dial dialFunc) Target {
	return brokenTarget("RabbitMQ endpoints are not built yet")
}
