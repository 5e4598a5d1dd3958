package operational

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"

	"github.com/claimable/eventrouter/events"
	"github.com/claimable/eventrouter/subscriptions"
)

// Subscriptions lists an account's subscriptions from the live index (implemented by
// *subscriptions.Index).
type Subscriptions interface {
	OfAccount(accountID string, dst []*subscriptions.Subscription) []*subscriptions.Subscription
	Ready() bool
}

// ForwarderConfig configures a Forwarder. Zero values take the defaults noted.
type ForwarderConfig struct {
	// Topic is the operational topic, Group the forwarder's consumer group
	// (router.operational_group) and DeliveriesTopic where its deliveries go. Required.
	Topic           string
	Group           string
	DeliveriesTopic string
	// ReadyPoll is how often Run checks the index's first load before joining. Default 100ms.
	ReadyPoll time.Duration
	// MaxBackoff bounds the pause between retries of a failed produce. Default 5s.
	MaxBackoff time.Duration
}

// Forwarder consumes the operational topic and produces one delivery to the
// deliveries topic for each subscription of the event's account that wants it
// (Subscription.WantsOperational), so the sender signs, retries and holds it like any
// webhook. It is at least once: a poll's deliveries are acknowledged before its offsets
// are committed, and a repeat carries the same webhook-id (events.DeliveryID of the
// event id and the subscription id), which receivers dedupe on.
//
// Loop guards: an event about subscription X is never delivered to X (X's own failure
// would feed itself), and a delivery.exhausted about a delivery that was itself an
// operational event is published but delivered to nobody.
type Forwarder struct {
	cfg  ForwarderConfig
	subs Subscriptions
	cl   *kgo.Client
	log  *zap.Logger
	now  func() time.Time

	forwarded *prometheus.CounterVec // type
	skipped   *prometheus.CounterVec // reason
}

// Reasons counted in eventrouter_operational_forward_skipped_total.
const (
	SkipInvalid  = "invalid"   // the record is not an operational event (logged)
	SkipNoTarget = "no_target" // no other subscription of the account wants it
	SkipLoop     = "loop"      // delivery.exhausted about an operational delivery
)

// NewForwarder builds a Forwarder; Run starts it.
func NewForwarder(cfg ForwarderConfig, kafkaOpts []kgo.Opt, subs Subscriptions, reg prometheus.Registerer, log *zap.Logger) (*Forwarder, error) {
	if log == nil {
		log = zap.NewNop()
	}
	switch {
	case cfg.Topic == "":
		return nil, errors.New("operational: topics.operational is required")
	case cfg.Group == "":
		return nil, errors.New("operational: router.operational_group is required")
	case cfg.DeliveriesTopic == "":
		return nil, errors.New("operational: topics.deliveries is required")
	case subs == nil:
		return nil, errors.New("operational: NewForwarder needs the subscriptions index")
	}
	if cfg.ReadyPoll <= 0 {
		cfg.ReadyPoll = 100 * time.Millisecond
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = 5 * time.Second
	}
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	f := &Forwarder{cfg: cfg, subs: subs, log: log, now: time.Now,
		forwarded: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: metricsNamespace, Name: "forwarded_total",
			Help: "Deliveries of operational events the forwarder produced, by type.",
		}, []string{"type"}),
		skipped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: metricsNamespace, Name: "forward_skipped_total",
			Help: "Operational records the forwarder delivered to nobody, by reason (invalid, no_target, loop).",
		}, []string{"reason"}),
	}
	for _, c := range []prometheus.Collector{f.forwarded, f.skipped} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("operational: register metrics: %w", err)
		}
	}
	opts := append([]kgo.Opt{}, kafkaOpts...)
	opts = append(opts,
		kgo.ConsumerGroup(cfg.Group),
		kgo.ConsumeTopics(cfg.Topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.DisableAutoCommit(),
		kgo.RequiredAcks(kgo.AllISRAcks()),
	)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("operational: kafka client: %w", err)
	}
	f.cl = cl
	return f, nil
}

// Run consumes until ctx ends, then commits what it forwarded and leaves the group. It
// joins only once the index has loaded: forwarding against an empty index would
// deliver to nobody and commit.
func (f *Forwarder) Run(ctx context.Context) error {
	defer f.cl.Close()
	for !f.subs.Ready() {
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(f.cfg.ReadyPoll):
		}
	}
	f.log.Info("operational forwarder started", zap.String("topic", f.cfg.Topic), zap.String("group", f.cfg.Group),
		zap.String("deliveries", f.cfg.DeliveriesTopic))
	for {
		fetches := f.cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if fetches.IsClientClosed() {
			return kgo.ErrClientClosed
		}
		fetches.EachError(func(topic string, p int32, err error) {
			f.log.Warn("fetch error", zap.String("topic", topic), zap.Int32("partition", p), zap.Error(err))
		})
		recs := fetches.Records()
		if len(recs) == 0 {
			continue
		}
		out := f.deliveries(recs)
		if !f.produce(ctx, out) {
			return nil // stopping: the poll stays uncommitted and is forwarded again
		}
		if err := f.cl.CommitRecords(ctx, recs...); err != nil && ctx.Err() == nil {
			f.log.Warn("offset commit failed (the records will be forwarded again, same webhook-ids)", zap.Error(err))
		}
	}
}

// deliveries turns a poll's operational records into delivery records.
func (f *Forwarder) deliveries(recs []*kgo.Record) []*kgo.Record {
	var out []*kgo.Record
	var subs []*subscriptions.Subscription
	for _, rec := range recs {
		e, err := events.ParseOpEvent(rec.Value)
		if err != nil {
			f.skipped.WithLabelValues(SkipInvalid).Inc()
			f.log.Warn("not an operational event: skipped", zap.Int32("partition", rec.Partition), zap.Int64("offset", rec.Offset), zap.Error(err))
			continue
		}
		if e.Type == events.OpDeliveryExhausted && events.IsOperational(e.Data.EventName) {
			f.skipped.WithLabelValues(SkipLoop).Inc()
			continue
		}
		n := len(out)
		subs = f.subs.OfAccount(e.AccountID, subs[:0])
		for _, sub := range subs {
			if sub.ID == e.SubscriptionID || !sub.WantsOperational(e.Type) {
				continue
			}
			out = append(out, e.DeliveryTo(sub.ID, rec.Value).Record(f.cfg.DeliveriesTopic))
			f.forwarded.WithLabelValues(e.Type).Inc()
		}
		if len(out) == n {
			f.skipped.WithLabelValues(SkipNoTarget).Inc()
		}
	}
	return out
}

// produce sends recs and waits for every acknowledgement, retrying failures with
// backoff until ctx ends (then it returns false).
func (f *Forwarder) produce(ctx context.Context, recs []*kgo.Record) bool {
	backoff := 100 * time.Millisecond
	for len(recs) > 0 {
		var failed []*kgo.Record
		for _, r := range f.cl.ProduceSync(ctx, recs...) {
			if r.Err != nil {
				r.Record.Partition, r.Record.Offset = 0, 0
				failed = append(failed, r.Record)
			}
		}
		if len(failed) == 0 {
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		f.log.Warn("producing operational deliveries failed, retrying", zap.Int("records", len(failed)))
		select {
		case <-ctx.Done():
			return false
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, f.cfg.MaxBackoff)
		recs = failed
	}
	return true
}
