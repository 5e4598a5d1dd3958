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
)

// Outcomes counted in eventrouter_operational_events_total.
const (
	OutcomePublished = "published" // acknowledged by the broker
	OutcomeDropped   = "dropped"   // the buffer was full or the publisher closed
	OutcomeFailed    = "failed"    // the broker did not acknowledge it within the delivery timeout
	OutcomeInvalid   = "invalid"   // the event misses a field (a bug: logged at ERROR)
)

// PublisherConfig configures a Publisher. Zero values take the defaults noted.
type PublisherConfig struct {
	// Topic is the operational topic (config topics.operational). Required.
	Topic string
	// MaxBuffered bounds the events waiting for the broker; past it Publish drops (and
	// counts) rather than wait. Default 10 000.
	MaxBuffered int
	// DeliveryTimeout bounds how long one event is retried against the broker. Default 30s.
	DeliveryTimeout time.Duration
	// CloseTimeout bounds Close's wait for buffered events. Default 5s.
	CloseTimeout time.Duration
}

// Publisher produces operational events to the operational topic, key = account id.
// Publish never blocks and never fails its caller: publishing is bounded (MaxBuffered)
// and asynchronous, and every outcome is counted in eventrouter_operational_events_total
// {type,outcome}; failures are logged. Safe for concurrent use.
type Publisher struct {
	cfg   PublisherConfig
	cl    *kgo.Client
	log   *zap.Logger
	total *prometheus.CounterVec
}

// NewPublisher builds a Publisher with its own producer client (kafkaOpts: seeds, TLS,
// SASL, logger), registering its metrics on reg (nil: a private registry).
func NewPublisher(cfg PublisherConfig, kafkaOpts []kgo.Opt, reg prometheus.Registerer, log *zap.Logger) (*Publisher, error) {
	if log == nil {
		log = zap.NewNop()
	}
	if cfg.Topic == "" {
		return nil, errors.New("operational: topics.operational is required")
	}
	if cfg.MaxBuffered <= 0 {
		cfg.MaxBuffered = 10_000
	}
	if cfg.DeliveryTimeout <= 0 {
		cfg.DeliveryTimeout = 30 * time.Second
	}
	if cfg.CloseTimeout <= 0 {
		cfg.CloseTimeout = 5 * time.Second
	}
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	total := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: metricsNamespace, Name: "events_total",
		Help: "Operational events this process published, by type and outcome (published, dropped, failed, invalid).",
	}, []string{"type", "outcome"})
	if err := reg.Register(total); err != nil {
		var are prometheus.AlreadyRegisteredError
		if !errors.As(err, &are) {
			return nil, fmt.Errorf("operational: register metrics: %w", err)
		}
		total = are.ExistingCollector.(*prometheus.CounterVec) // one process, two roles
	}
	opts := append([]kgo.Opt{}, kafkaOpts...)
	opts = append(opts,
		kgo.DefaultProduceTopic(cfg.Topic),
		kgo.MaxBufferedRecords(cfg.MaxBuffered),
		kgo.RecordDeliveryTimeout(cfg.DeliveryTimeout),
		kgo.RequiredAcks(kgo.AllISRAcks()),
	)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("operational: kafka client: %w", err)
	}
	return &Publisher{cfg: cfg, cl: cl, log: log, total: total}, nil
}

// Publish hands e to the producer and returns at once. The context is not used to
// cancel the produce: an event already decided is worth sending even while the caller
// stops (Close flushes within CloseTimeout).
func (p *Publisher) Publish(_ context.Context, e events.OpEvent) {
	value, err := e.Encode()
	if err != nil {
		p.total.WithLabelValues(e.Type, OutcomeInvalid).Inc()
		p.log.Error("operational event not published", zap.String("type", e.Type), zap.String("id", e.ID), zap.Error(err))
		return
	}
	rec := &kgo.Record{Topic: p.cfg.Topic, Key: []byte(e.AccountID), Value: value}
	p.cl.TryProduce(context.Background(), rec, func(_ *kgo.Record, err error) {
		outcome := OutcomePublished
		switch {
		case errors.Is(err, kgo.ErrMaxBuffered) || errors.Is(err, kgo.ErrClientClosed):
			outcome = OutcomeDropped
		case err != nil:
			outcome = OutcomeFailed
		}
		p.total.WithLabelValues(e.Type, outcome).Inc()
		if err != nil {
			p.log.Warn("operational event not published", zap.String("type", e.Type), zap.String("id", e.ID),
				zap.String("subscription_id", e.SubscriptionID), zap.String("outcome", outcome), zap.Error(err))
			return
		}
		p.log.Info("operational event published", zap.String("type", e.Type), zap.String("id", e.ID),
			zap.String("account_id", e.AccountID), zap.String("subscription_id", e.SubscriptionID))
	})
}

// Close waits at most CloseTimeout for buffered events, then closes the client (what
// is still buffered is counted as failed or dropped by its promise).
func (p *Publisher) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), p.cfg.CloseTimeout)
	defer cancel()
	if err := p.cl.Flush(ctx); err != nil {
		p.log.Warn("operational events still buffered at close", zap.Int64("buffered", p.cl.BufferedProduceRecords()), zap.Error(err))
	}
	p.cl.Close()
}
