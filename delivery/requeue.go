package delivery

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/claimable/eventrouter/events"
	"github.com/claimable/eventrouter/subscriptions"
)

// DeliveryLookup finds what the attempt log knows about a delivery, or
// ErrDeliveryNotFound (implemented by *AttemptLog).
type DeliveryLookup interface {
	Delivery(ctx context.Context, deliveryID string) (*DeliveryStatus, error)
}

var _ DeliveryLookup = (*AttemptLog)(nil)

// ErrRecordGone: the delivery's record is past its topic's retention.
var ErrRecordGone = errors.New("the delivery's record is no longer retained in Kafka")

// Requeuer puts deliveries on the deliveries topic on request, outside the router: a
// past delivery restarted (the API's redeliver) and a test event for one subscription.
// Both then go through the sender like any other delivery.
type Requeuer struct {
	lookup          DeliveryLookup
	producer        *kgo.Client // also the base options of the single-record reader
	deliveriesTopic string
	now             func() time.Time
}

// NewRequeuer returns a Requeuer producing to deliveriesTopic with producer (owned by
// the caller); now nil means time.Now.
func NewRequeuer(lookup DeliveryLookup, producer *kgo.Client, deliveriesTopic string, now func() time.Time) *Requeuer {
	if now == nil {
		now = time.Now
	}
	return &Requeuer{lookup: lookup, producer: producer, deliveriesTopic: deliveriesTopic, now: now}
}

// Redeliver reads the delivery's newest record back from Kafka and queues it again,
// restarted (events.Delivery.Restart, by events.RedriveAPI): same webhook-id, attempt 1,
// history kept with the restart recorded. It returns an error wrapping
// ErrDeliveryNotFound when the attempt log does not know id, ErrRecordGone when the
// record is past retention.
func (r *Requeuer) Redeliver(ctx context.Context, id string) error {
	st, err := r.lookup.Delivery(ctx, id)
	if err != nil {
		return fmt.Errorf("redeliver %s: %w", id, err)
	}
	rec, err := readRecord(ctx, r.producer, st.Topic, st.Partition, st.Offset)
	if err != nil {
		return fmt.Errorf("redeliver %s: %w", id, err)
	}
	d, err := events.ParseDelivery(rec)
	if err != nil {
		return fmt.Errorf("redeliver %s: record %s/%d@%d: %w", id, st.Topic, st.Partition, st.Offset, err)
	}
	d.Restart(events.RedriveAPI, r.now())
	return r.producer.ProduceSync(ctx, d.Record(r.deliveriesTopic)).FirstErr()
}

// SendTest queues a sample event of eventName for sub alone, through the sender and its
// real HTTP path (er-redrive: test); the event id is returned so the caller can find its
// delivery. An operational type sends a sample operational event about sub itself.
func (r *Requeuer) SendTest(ctx context.Context, sub *subscriptions.Subscription, eventName string) (string, error) {
	now := r.now()
	if events.IsOperational(eventName) {
		return r.sendOperationalTest(ctx, sub, eventName, now)
	}
	e := events.Sample(eventName, sub.AccountID, "test_"+strconv.FormatInt(now.UnixNano(), 36), 0, now)
	e.ID = "evt_test_" + strconv.FormatInt(now.UnixNano(), 36)
	e.PerformedBy = "eventrouter test"
	e.Source = events.SourceAPI
	d := events.NewDelivery(e, sub.ID, events.Render(e))
	d.Redrive = events.RedriveTest
	if err := r.producer.ProduceSync(ctx, d.Record(r.deliveriesTopic)).FirstErr(); err != nil {
		return "", err
	}
	return e.ID, nil
}

// sendOperationalTest queues a sample operational event of typ for sub alone.
func (r *Requeuer) sendOperationalTest(ctx context.Context, sub *subscriptions.Subscription, typ string, now time.Time) (string, error) {
	e := events.SampleOpEvent(typ, sub.AccountID, sub.ID, now)
	body, err := e.Encode()
	if err != nil {
		return "", err
	}
	d := e.DeliveryTo(sub.ID, body)
	d.Redrive = events.RedriveTest
	if err := r.producer.ProduceSync(ctx, d.Record(r.deliveriesTopic)).FirstErr(); err != nil {
		return "", err
	}
	return e.ID, nil
}

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
