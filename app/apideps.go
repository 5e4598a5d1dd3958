package app

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/claimable/eventrouter/api"
	"github.com/claimable/eventrouter/config"
	"github.com/claimable/eventrouter/delivery"
	"github.com/claimable/eventrouter/subscriptions"
)

// deliveryAPI serves the API's delivery routes from the attempt log and Kafka: attempts,
// delivery status, redelivery (the same webhook-id, a fresh attempt count) and test events
// (a synthetic delivery through the real sender).
type deliveryAPI struct {
	log     *delivery.AttemptLog
	requeue *delivery.Requeuer // redelivery and test events
	// For Recover: the DLQ re-drive's clients and topics, and its settle wait.
	kafkaOpts []kgo.Opt
	topics    config.Topics
	settle    time.Duration
	// notifier (may be nil) publishes subscription.recovered after a recovery.
	notifier delivery.Notifier
}

var (
	_ api.Attempts    = (*deliveryAPI)(nil)
	_ api.Deliveries  = (*deliveryAPI)(nil)
	_ api.Redeliverer = (*deliveryAPI)(nil)
	_ api.TestSender  = (*deliveryAPI)(nil)
)

// maxAttemptsPage bounds how deep the attempts cursor reaches into the log.
const maxAttemptsPage = 1000

// ListAttempts pages through a subscription's attempts, newest first. The cursor is the
// number of attempts already returned.
func (d *deliveryAPI) ListAttempts(ctx context.Context, subID, after string, limit int) ([]api.Attempt, string, error) {
	skip := 0
	if after != "" {
		n, err := strconv.Atoi(after)
		if err != nil || n < 0 {
			return nil, "", fmt.Errorf("attempts: %w", api.ErrBadCursor)
		}
		skip = n
	}
	if skip+limit > maxAttemptsPage {
		limit = max(0, maxAttemptsPage-skip)
	}
	all, err := d.log.List(ctx, subID, skip+limit+1)
	if err != nil {
		return nil, "", err
	}
	if skip >= len(all) {
		return nil, "", nil
	}
	page := all[skip:]
	next := ""
	if len(page) > limit {
		page = page[:limit]
		next = strconv.Itoa(skip + limit)
	}
	out := make([]api.Attempt, len(page))
	for i, a := range page {
		out[i] = apiAttempt(a)
	}
	return out, next, nil
}

// GetDelivery returns a delivery's status and attempts.
func (d *deliveryAPI) GetDelivery(ctx context.Context, id string) (*api.DeliveryStatus, error) {
	st, err := d.log.Delivery(ctx, id)
	if errors.Is(err, delivery.ErrDeliveryNotFound) {
		return nil, fmt.Errorf("delivery %s: %w", id, api.ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	return apiDelivery(st), nil
}

// GetDeliveries returns several deliveries' statuses and attempts in one round trip;
// nil for an id the log does not know.
func (d *deliveryAPI) GetDeliveries(ctx context.Context, ids []string) ([]*api.DeliveryStatus, error) {
	sts, err := d.log.Deliveries(ctx, ids)
	if err != nil {
		return nil, err
	}
	out := make([]*api.DeliveryStatus, len(sts))
	for i, st := range sts {
		if st != nil {
			out[i] = apiDelivery(st)
		}
	}
	return out, nil
}

func apiDelivery(st *delivery.DeliveryStatus) *api.DeliveryStatus {
	out := &api.DeliveryStatus{ID: st.ID, SubscriptionID: st.SubscriptionID, EventID: st.EventID,
		EventName: st.EventName, State: apiState(st.Status)}
	for _, a := range st.Attempts {
		out.Attempts = append(out.Attempts, apiAttempt(a))
	}
	return out
}

// Redeliver restarts a past delivery (delivery.Requeuer.Redeliver): same webhook-id,
// attempt 1.
func (d *deliveryAPI) Redeliver(ctx context.Context, id string) error {
	err := d.requeue.Redeliver(ctx, id)
	if errors.Is(err, delivery.ErrDeliveryNotFound) {
		return fmt.Errorf("delivery %s: %w", id, api.ErrNotFound)
	}
	return err
}

// SendTest queues a test event for sub alone (delivery.Requeuer.SendTest).
func (d *deliveryAPI) SendTest(ctx context.Context, sub *subscriptions.Subscription, eventName string) (string, error) {
	return d.requeue.SendTest(ctx, sub, eventName)
}

func apiAttempt(a delivery.Attempt) api.Attempt {
	return api.Attempt{
		DeliveryID: a.DeliveryID, EventID: a.EventID, EventName: a.EventName, SubscriptionID: a.SubscriptionID,
		Attempt: a.Attempt, At: a.At, LatencyMS: a.LatencyMS, Reason: string(a.Reason), Status: a.Status,
		ResponseBody: a.Response, Error: a.Error, Final: a.Final,
	}
}

func apiState(s string) string {
	if s == delivery.StatusDeadLettered {
		return "dead"
	}
	return s
}
