package notify

import "context"

// SendDue sends what is due now and returns once each outcome is
// recorded: one round of Run, for tests that count what was sent.
func (n *Notifier) SendDue(ctx context.Context) { n.sendDue(ctx) }
