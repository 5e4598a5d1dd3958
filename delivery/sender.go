package delivery

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"

	"github.com/claimable/eventrouter/internal/tracing"
)

// Sender is the sender consumer group member: it consumes webhooks.deliveries and every
// retry tier, delivers each record through per-subscription lanes, hands failures to
// retry tiers or the DLQ, and commits only finished offsets. See docs/delivery.md (Code
// map) for which file holds what.
type Sender struct {
	cfg     Config
	log     *zap.Logger
	now     func() time.Time
	metrics *metrics
	cl      *kgo.Client
	member  *member // group membership, readiness, the static member's leave

	subs    Subscriptions
	client  Poster
	gate    *gate      // circuit, rate limit and in-flight cap before each attempt
	health  *health    // failing-since clock and this process's disables
	observe *observers // attempt log, attempt spans, operational events
	retries *retries   // retry schedule, tier topics, paused tier heads
	lanes   *lanes     // per-subscription, per-object scheduling
	owned   *owned     // owned partitions, their commits and hand-offs
	work    *workScope // delivery work's context and background goroutines
}

// New builds a Sender; it validates cfg and creates (but does not connect) the Kafka
// client. Run starts it. A nil log logs nothing.
func New(cfg Config, deps Deps, log *zap.Logger) (*Sender, error) {
	if log == nil {
		log = zap.NewNop()
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.setDefaults()
	if deps.Subscriptions == nil || deps.Disabler == nil || deps.Client == nil {
		return nil, errors.New("delivery: New needs Deps.Subscriptions, Deps.Disabler and Deps.Client")
	}
	if deps.Breakers == nil {
		deps.Breakers = NewBreakers(cfg.BreakerThreshold, cfg.BreakerCooldown, deps.Now)
	}
	if deps.Limiters == nil {
		deps.Limiters = NewLimiters()
	}
	if deps.Retry == nil {
		deps.Retry = RetryPolicy{Schedule: cfg.RetrySchedule, Jitter: cfg.Jitter, RetryAfterMax: cfg.RetryAfterMax}
	}
	if deps.Registerer == nil {
		deps.Registerer = prometheus.NewRegistry()
	}
	if deps.Now == nil {
		deps.Now = time.Now
	}
	if deps.Notifier == nil {
		deps.Notifier = noNotifier{}
	}
	m, err := newMetrics(deps.Registerer)
	if err != nil {
		return nil, fmt.Errorf("delivery: register metrics: %w", err)
	}
	s := &Sender{
		cfg: cfg, log: log, now: deps.Now, metrics: m,
		member: newMember(cfg.Group, cfg.InstanceID, deps.KafkaOpts),
		subs:   subscriptionLookup(deps), client: deps.Client,
		gate:    newGate(deps.Breakers, deps.Limiters, cfg.MaxInFlight, deps.Now),
		health:  newHealth(deps.Disabler, deps.AttemptLog, deps.Now, m, log),
		observe: &observers{attempts: &attemptSink{rec: deps.AttemptLog}, notifier: deps.Notifier},
		retries: &retries{policy: deps.Retry, tiers: newTiers(cfg.RetryPrefix, cfg.RetrySchedule)},
		owned:   newOwned(cfg.Group, deps.Handoff),
		work:    newWorkScope(),
	}
	if deps.TracerProvider != nil {
		s.observe.tracer = deps.TracerProvider.Tracer(tracing.ScopeDelivery)
	}
	cl, err := kgo.NewClient(s.clientOptions(deps.KafkaOpts, deps.Registerer)...)
	if err != nil {
		return nil, fmt.Errorf("delivery: kafka client: %w", err)
	}
	s.cl = cl
	s.member.tracker.Attach(cl)
	fetch := newFetchGate(cl, time.Now, m.flowPaused) // tier heads and flow control pause through it
	s.retries.heads = newPauser(cl, fetch)
	s.lanes = newLanes(lanesConfig{
		flow: flowConfig{maxBytes: cfg.MaxQueuedBytesPerSubscription, maxQueued: cfg.MaxQueuedPerSubscription,
			parkAfter: cfg.SaturationParkAfter},
		limit: s.maxInFlight, run: s.process, gauge: m.lanesState, gate: fetch, overflow: s.overflowed,
		resumeTier: s.retries.heads.resume,
	})
	log.Info("sender configured", zap.String("group", cfg.Group), zap.String("deliveries", cfg.DeliveriesTopic),
		zap.Strings("retry_tiers", s.retries.tiers.topics()), zap.String("dlq", cfg.DLQTopic),
		zap.Int("max_in_flight", cfg.MaxInFlight), zap.Int("default_max_in_flight", cfg.DefaultMaxInFlight),
		zap.Duration("fetch_max_wait", cfg.FetchMaxWait), zap.Duration("drain_timeout", cfg.DrainTimeout),
		zap.Int64("max_queued_bytes_per_subscription", cfg.MaxQueuedBytesPerSubscription),
		zap.Int("max_queued_per_subscription", cfg.MaxQueuedPerSubscription),
		zap.Duration("saturation_park_after", cfg.SaturationParkAfter),
		zap.String("instance_id", cfg.InstanceID))
	return s, nil
}

// Ready returns nil when the sender is doing its job (for /readyz): Run is polling,
// the broker answers, and the sender owns partitions of its group or the group is
// stable with it as a standby (more senders than partitions). Otherwise the error says
// what is missing, e.g. the group is PreparingRebalance after a crashed member.
func (s *Sender) Ready(ctx context.Context) error { return s.member.ready(ctx) }

// Run consumes until ctx is canceled, then shuts down gracefully: it stops fetching,
// lets fetched work finish within DrainTimeout, abandons what is left (uncommitted, so
// it is redelivered, with the same webhook-id), commits what finished and leaves the
// group. It returns nil on
// cancel and an error if the client fails fatally. Run may be called once.
func (s *Sender) Run(ctx context.Context) error {
	if !s.member.running.CompareAndSwap(false, true) {
		return errors.New("delivery: Sender.Run called twice")
	}
	defer s.member.polling.Store(false)
	s.observe.attempts.start(attemptHooks{
		dropped: s.metrics.attemptLogDropped.Inc,
		batch:   s.metrics.attemptLogBatch,
		cleared: s.health.cleared,
	}, s.log)
	var fatal error
	for fatal == nil {
		pollCtx, cancel := context.WithTimeout(ctx, s.cfg.CommitInterval)
		fetches := s.cl.PollRecords(pollCtx, s.cfg.MaxPollRecords)
		cancel()
		if ctx.Err() != nil {
			s.cl.AllowRebalance()
			break
		}
		if fetches.IsClientClosed() {
			fatal = kgo.ErrClientClosed
			break
		}
		fetches.EachError(func(topic string, p int32, err error) {
			if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
				return
			}
			s.log.Warn("fetch error", zap.String("topic", topic), zap.Int32("partition", p), zap.Error(err))
		})
		fetches.EachPartition(s.dispatch)
		s.commit(ctx, false)
		s.cl.AllowRebalance()
		s.member.polling.Store(true)
	}
	s.shutdown()
	return fatal
}

// shutdown: stop fetching, abandon queued work, drain in-flight work, commit, leave.
func (s *Sender) shutdown() {
	s.member.polling.Store(false)
	s.member.tracker.Detach()
	s.cl.PauseFetchTopics(s.consumedTopics()...)
	s.retries.heads.stop()
	// Let fetched work finish within the drain deadline, then abandon the rest.
	deadline := time.Now().Add(s.cfg.DrainTimeout)
	parts := s.owned.list()
	idle := true
	for _, p := range parts {
		idle = p.drain(time.Until(deadline)) && idle
	}
	abandoned := s.lanes.abandon(func(*partition) bool { return true })
	if !idle {
		s.log.Warn("drain timeout: abandoning unfinished deliveries (uncommitted: they will be redelivered)",
			zap.Int("abandoned_queued", len(abandoned)))
	}
	s.work.cancel()
	s.lanes.wait()
	s.work.bg.Wait()
	// No request can start any more: close the kept-alive connections now, so an
	// endpoint shutting down beside this process (dev mode's demo receiver) does not
	// wait on them — net/http gives a connection that never carried a request 5 s.
	if c, ok := s.client.(interface{ Close() }); ok {
		c.Close()
	}
	s.observe.attempts.close() // every lane has ended: no more attempts come
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	s.commit(ctx, true)
	s.saveHandoffs(ctx, parts)
	cancel()
	s.owned.closeAll()
	s.cl.Close() // leaves the group, unless static
	s.member.leave(s.log)
	s.log.Info("sender stopped")
}

// consumedTopics are the deliveries topic and every retry tier.
func (s *Sender) consumedTopics() []string {
	return append([]string{s.cfg.DeliveriesTopic}, s.retries.tiers.topics()...)
}

// maxInFlight is a subscription's concurrency cap.
func (s *Sender) maxInFlight(subID string) int {
	if sub, ok := s.subs.Get(subID); ok && sub.MaxInFlight > 0 {
		return sub.MaxInFlight
	}
	return s.cfg.DefaultMaxInFlight
}

// workScope is the lifetime of delivery work: ctx is canceled when in-flight work must
// stop (the drain deadline); bg counts the goroutines that run outside lanes
// (backpressure, invalid records).
type workScope struct {
	ctx    context.Context
	cancel context.CancelFunc
	bg     sync.WaitGroup
}

func newWorkScope() *workScope {
	w := &workScope{}
	w.ctx, w.cancel = context.WithCancel(context.Background())
	return w
}

// goBackground runs f on its own goroutine, counted in bg.
func (w *workScope) goBackground(f func(ctx context.Context)) {
	w.bg.Add(1)
	go func() {
		defer w.bg.Done()
		f(w.ctx)
	}()
}

// observers record what happened to deliveries besides the Kafka records: the attempt
// log (for the API), attempt spans (tracer; nil: tracing off) and operational events
// (notifier, notify.go).
type observers struct {
	attempts *attemptSink
	tracer   trace.Tracer
	notifier Notifier
}
