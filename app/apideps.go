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
	"github.com/claimable/eventrouter/events"
	"github.com/claimable/eventrouter/subscriptions"
)

// deliveryAPI serves the API's delivery routes from the attempt log and Kafka: attempts,
// delivery status, redelivery (the same webhook-id, a fresh attempt count) and test events
// (a synthetic delivery through the real sender).
type deliveryAPI struct {
	log             *delivery.AttemptLog
	kafka           *kgo.Client // producer, and reader of single records for redelivery
	deliveriesTopic string
	now             func() time.Time
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
	out := &api.DeliveryStatus{ID: st.ID, SubscriptionID: st.SubscriptionID, EventID: st.EventID,
		EventName: st.EventName, State: apiState(st.Status)}
	for _, a := range st.Attempts {
		out.Attempts = append(out.Attempts, apiAttempt(a))
	}
	return out, nil
}

// Redeliver reads the delivery's newest record back from Kafka and queues it again on
// the deliveries topic: same webhook-id, attempt 1, marked as an API redelivery.
func (d *deliveryAPI) Redeliver(ctx context.Context, id string) error {
	st, err := d.log.Delivery(ctx, id)
	if errors.Is(err, delivery.ErrDeliveryNotFound) {
		return fmt.Errorf("delivery %s: %w", id, api.ErrNotFound)
	}
	if err != nil {
		return err
	}
	rec, err := readRecord(ctx, d.kafka, st.Topic, st.Partition, st.Offset)
	if err != nil {
		return fmt.Errorf("redeliver %s: %w", id, err)
	}
	dl, err := events.ParseDelivery(rec)
	if err != nil {
		return fmt.Errorf("redeliver %s: record %s/%d@%d: %w", id, st.Topic, st.Partition, st.Offset, err)
	}
	dl.Attempt, dl.NotBefore, dl.Reason, dl.History, dl.Redrive = 1, time.Time{}, "", nil, "api"
	return d.kafka.ProduceSync(ctx, dl.Record(d.deliveriesTopic)).FirstErr()
}

// SendTest queues a sample event of eventName for sub alone, through the sender and its
// real HTTP path; the event id is returned so the caller can find its delivery.
func (d *deliveryAPI) SendTest(ctx context.Context, sub *subscriptions.Subscription, eventName string) (string, error) {
	now := d.now()
	e := events.Sample(eventName, sub.AccountID, "test_"+strconv.FormatInt(now.UnixNano(), 36), 0, now)
	e.ID = "evt_test_" + strconv.FormatInt(now.UnixNano(), 36)
	e.PerformedBy = "eventrouter test"
	e.Source = events.SourceAPI
	dl := events.NewDelivery(e, sub.ID, events.Render(e))
	dl.Redrive = "test"
	if err := d.kafka.ProduceSync(ctx, dl.Record(d.deliveriesTopic)).FirstErr(); err != nil {
		return "", err
	}
	return e.ID, nil
}

// ErrRecordGone: the record is past the topic's retention.
var ErrRecordGone = errors.New("the delivery's record is no longer retained in Kafka")

// readRecord fetches the one record at topic/partition/offset, bounded to ten seconds.
func readRecord(ctx context.Context, base *kgo.Client, topic string, partition int32, offset int64) (*kgo.Record, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	opts := append(base.Opts(),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {partition: kgo.NewOffset().At(offset)}}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	for {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%w (%s/%d@%d)", ErrRecordGone, topic, partition, offset)
		}
		if err := fs.Err(); err != nil {
			return nil, err
		}
		var found *kgo.Record
		fs.EachRecord(func(r *kgo.Record) {
			if found == nil && r.Offset >= offset {
				found = r
			}
		})
		if found != nil {
			if found.Offset != offset {
				return nil, fmt.Errorf("%w (%s/%d@%d)", ErrRecordGone, topic, partition, offset)
			}
			return found, nil
		}
	}
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
