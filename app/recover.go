package app

import (
	"context"
	"fmt"
	"time"

	"github.com/claimable/eventrouter/api"
	"github.com/claimable/eventrouter/delivery"
	"github.com/claimable/eventrouter/subscriptions"
)

// recoverSettle is how long a recovery waits before it reads the DLQ, so that every
// sender's index shows the subscription enabled (the store's change feed reaches the
// indexes within milliseconds; this allows for a busy machine). A sender that still saw
// it disabled after the DLQ read ended would hold a delivery the recovery misses. A
// sender cut off from Redis for longer keeps its last snapshot; repeat the recovery
// (POST /v1/subscriptions/{id}/recover) once it is back.
const recoverSettle = 3 * time.Second

var _ api.Recoverer = (*deliveryAPI)(nil)

// Recover re-drives sub's held deliveries (delivery.HeldReasons) with a DLQ timestamp
// at or after since, through the DLQ re-drive (the same machinery as `eventrouter dlq
// redrive`): same webhook-id, attempt 1, in DLQ order.
func (d *deliveryAPI) Recover(ctx context.Context, sub *subscriptions.Subscription, since time.Time) (api.RecoverReport, error) {
	rep := api.RecoverReport{SubscriptionID: sub.ID, Since: since}
	select {
	case <-ctx.Done():
		return rep, ctx.Err()
	case <-time.After(d.settle):
	}
	r, err := delivery.Redrive(ctx, delivery.RedriveOptions{
		KafkaOpts:      d.kafkaOpts,
		Topics:         d.topics,
		SubscriptionID: sub.ID,
		Since:          since,
		Reasons:        delivery.HeldReasons,
	})
	rep.Scanned, rep.Redriven = r.Scanned, r.Redriven
	if err != nil {
		return rep, fmt.Errorf("recover %s: %w", sub.ID, err)
	}
	return rep, nil
}
