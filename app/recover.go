package app

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/claimable/eventrouter/api"
	"github.com/claimable/eventrouter/delivery"
	"github.com/claimable/eventrouter/events"
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
		KafkaOpts:       d.kafkaOpts,
		DLQTopic:        d.topics.DLQ,
		DeliveriesTopic: d.topics.Deliveries,
		SubscriptionID:  sub.ID,
		Since:           since,
		Reasons:         delivery.HeldReasons,
	})
	rep.Scanned, rep.Redriven = r.Scanned, r.Redriven
	if err != nil {
		return rep, fmt.Errorf("recover %s: %w", sub.ID, err)
	}
	if d.notifier != nil {
		d.notifier.Publish(ctx, recoveredEvent(sub, rep, time.Now()))
	}
	return rep, nil
}

// recoveredEvent is the subscription.recovered event of one finished recovery; its id
// names the subscription's version and where the recovery started, so a repeated
// recovery of the same re-enable carries the same id.
func recoveredEvent(sub *subscriptions.Subscription, rep api.RecoverReport, at time.Time) events.OpEvent {
	redriven := rep.Redriven
	return events.OpEvent{
		Type:           events.OpSubscriptionRecovered,
		ID:             events.OpEventID(events.OpSubscriptionRecovered, sub.ID, strconv.FormatInt(sub.Version, 10), rep.Since.UTC().Format(time.RFC3339Nano)),
		OccurredAt:     at.UTC(),
		AccountID:      sub.AccountID,
		SubscriptionID: sub.ID,
		Data:           events.OpData{Since: rep.Since.UTC(), Redriven: &redriven},
	}
}
