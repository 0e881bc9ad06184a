package store

import (
	"context"
	"time"

	"github.com/chathook/chathook"
)

// Recovery is what gets a workspace through an outage of its receiver, and
// through a change of signing secret, without losing a delivery.
type Recovery interface {
	// Recover queues again, in one transaction, every delivery of the
	// workspace queued (created) at or after since and before until
	// whose state is failed or discarded, and returns how many. Each
	// keeps its row: the same id and webhook-id, its bundle's messages and
	// its log; its attempts keep counting, but the retry schedule starts
	// again (see chathook.Delivery.Attempts).
	//
	// Order: deliveries are claimed by id within a chat (see ClaimDue),
	// so a recovered delivery goes out before every later delivery of its
	// chat that is still waiting, and the recovered ones of a chat go out
	// in the order they were first queued. One of the chat's deliveries
	// that is in flight at the recovery goes first: a recovered delivery
	// is due at now or, when its chat has something in flight, when that
	// lease ends, and later while that lease is extended: it is never
	// claimed while its chat has a delivery in flight.
	// What was delivered before the recovery stays delivered before it: a
	// receiver that sorts by message timestamp sees old messages late.
	//
	// A discarded delivery whose POST is still under way keeps its lease:
	// the outcome of that POST decides it, as for any delivery. Recovering
	// is idempotent: a recovered delivery is pending, so a second call in
	// the same range finds nothing (0) until it fails or is discarded
	// again. A disabled webhook's recovered deliveries wait like any.
	Recover(ctx context.Context, workspaceID, endpointID string, since, until, now time.Time) (int, error)

	// RotateSecret makes secret the webhook's signing secret; the one it
	// replaces becomes the previous secret, which still signs every POST
	// until until. A previous secret of an earlier rotation stops at
	// once: at most two secrets sign.
	RotateSecret(ctx context.Context, workspaceID, endpointID, secret string, now, until time.Time) (chathook.Webhook, error)
}
