package delivery

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/plugin/kprom"
	"go.uber.org/zap"

	"github.com/claimable/eventrouter/config"
	"github.com/claimable/eventrouter/events"
	"github.com/claimable/eventrouter/internal/membership"
	"github.com/claimable/eventrouter/subscriptions"
)

// Subscriptions looks up a subscription in the live index (no Redis on the hot path).
type Subscriptions interface {
	Get(id string) (*subscriptions.Subscription, bool)
}

// Disabler disables a subscription, recording why (implemented by subscriptions.Service).
type Disabler interface {
	Disable(ctx context.Context, id, reason string) error
}

// Poster makes one HTTP delivery attempt (implemented by *Client).
type Poster interface {
	Send(ctx context.Context, sub *subscriptions.Subscription, d *events.Delivery, now time.Time) Result
}

// CircuitBreakers is the per-subscription breaker state (implemented by *Breakers).
type CircuitBreakers interface {
	Allow(subID string) (allowed bool, probe bool)
	Wait(subID string) (next time.Time, probing <-chan struct{})
	Record(subID string, ok bool)
	State(subID string) BreakerState
}

// RateLimiters paces each subscription (implemented by *Limiters).
type RateLimiters interface {
	Wait(ctx context.Context, subID string, perSec float64) error
}

// AttemptRecorder keeps the attempt log and the failing-since clock (implemented by
// *AttemptLog).
type AttemptRecorder interface {
	Record(ctx context.Context, a Attempt) error
	Outcome(ctx context.Context, subID string, ok bool, at time.Time) (failingSince time.Time, err error)
}

// RetryPlanner decides the delay before the next attempt (implemented by RetryPolicy).
type RetryPlanner interface {
	Next(attempt int, res Result) (delay time.Duration, ok bool)
}

var (
	_ Poster          = (*Client)(nil)
	_ CircuitBreakers = (*Breakers)(nil)
	_ RateLimiters    = (*Limiters)(nil)
	_ AttemptRecorder = (*AttemptLog)(nil)
	_ RetryPlanner    = RetryPolicy{}
)

// Config configures a Sender. Zero values take the defaults noted.
type Config struct {
	Delivery config.Delivery
	Topics   config.Topics
	// MaxQueuedPerSubscription bounds the deliveries one subscription may hold queued in
	// this process; the excess goes to the first retry tier (ReasonBackpressure).
	// Default 1000.
	MaxQueuedPerSubscription int
	// CommitInterval is how often finished offsets are committed. Default 1s.
	CommitInterval time.Duration
	// DrainTimeout bounds the wait for in-flight work on shutdown and on revocation;
	// work still running then is abandoned (not committed: redelivered). Default 10s;
	// keep it well below the group's rebalance timeout (60s).
	DrainTimeout time.Duration
	// FetchMaxWait is the broker's long-poll bound; short so tier heads are re-checked
	// promptly. Default 250ms (at most 500ms is sensible).
	FetchMaxWait time.Duration
	// MaxPollRecords bounds one poll. Default 1000.
	MaxPollRecords int
	// InstanceID, when set, makes this process a static group member (KIP-345, see
	// config.Kafka.InstanceID): a sender restarted after a crash with the same id takes
	// its partitions back at once instead of waiting out the dead member's session
	// timeout. A graceful shutdown leaves the group explicitly (membership.LeaveStatic),
	// so its partitions move at once whether or not the process comes back.
	InstanceID string
}

// Validate checks the settings New needs, naming the bad key.
func (c *Config) Validate() error {
	switch {
	case c.Topics.Deliveries == "":
		return errors.New("delivery: topics.deliveries is required")
	case c.Topics.DLQ == "":
		return errors.New("delivery: topics.dlq is required")
	case c.Delivery.Group == "":
		return errors.New("delivery: delivery.group is required")
	}
	hasTier := false
	for i, d := range c.Delivery.RetrySchedule {
		if d <= 0 {
			return fmt.Errorf("delivery: delivery.retry_schedule[%d]: must be > 0, got %s", i, d)
		}
		hasTier = true
	}
	if !hasTier {
		return errors.New("delivery: delivery.retry_schedule: needs at least one delay (retry tiers also carry backpressure and open-circuit deliveries)")
	}
	return nil
}

func (c *Config) setDefaults() {
	if c.MaxQueuedPerSubscription <= 0 {
		c.MaxQueuedPerSubscription = 1000
	}
	if c.CommitInterval <= 0 {
		c.CommitInterval = time.Second
	}
	if c.DrainTimeout <= 0 {
		c.DrainTimeout = 10 * time.Second
	}
	if c.FetchMaxWait <= 0 {
		c.FetchMaxWait = 250 * time.Millisecond
	}
	if c.MaxPollRecords <= 0 {
		c.MaxPollRecords = 1000
	}
	if c.Delivery.MaxInFlight <= 0 {
		c.Delivery.MaxInFlight = 1024
	}
	if c.Delivery.DefaultMaxInFlight <= 0 {
		c.Delivery.DefaultMaxInFlight = 16
	}
	// DisableAfter 0 means never (config.Delivery documents it); no default here.
	if c.Delivery.BreakerCooldown <= 0 {
		c.Delivery.BreakerCooldown = 30 * time.Second
	}
}

// Deps are the Sender's collaborators. Subscriptions, Disabler and Client are required;
// the rest default: Breakers from Delivery.BreakerThreshold/Cooldown, Limiters
// NewLimiters(), Retry a RetryPolicy from the config, Registerer a private registry,
// Now time.Now. AttemptLog may be nil (no attempt log, no auto-disable on persistent
// failure).
type Deps struct {
	KafkaOpts     []kgo.Opt // seed brokers, TLS, SASL, logger (internal/kafkaclient.Options)
	Subscriptions Subscriptions
	Disabler      Disabler
	Client        Poster
	Breakers      CircuitBreakers
	Limiters      RateLimiters
	AttemptLog    AttemptRecorder
	// Handoff (may be nil) carries finished work across graceful rebalances, so a planned
	// hand-over does not resend it.
	Handoff    Handoff
	Retry      RetryPlanner
	Registerer prometheus.Registerer
	Now        func() time.Time
}

// Sender is the sender consumer group member: it consumes webhooks.deliveries and every
// retry tier, delivers each record through per-subscription lanes, hands failures to
// retry tiers or the DLQ, and commits only finished offsets. See docs/delivery.md.
type Sender struct {
	cfg      Config
	log      *zap.Logger
	cl       *kgo.Client
	subs     Subscriptions
	disabler Disabler
	client   Poster
	breakers CircuitBreakers
	limiters RateLimiters
	attempts AttemptRecorder
	attemptW *attemptWriter // writes attempts off the delivery path; set by Run
	handoff  Handoff
	retry    RetryPlanner
	now      func() time.Time
	metrics  *metrics
	tiers    tiers
	lanes    *lanes
	pauser   *pauser
	slots    chan struct{} // global in-flight cap

	workCtx    context.Context // canceled when in-flight work must stop (drain deadline)
	cancelWork context.CancelFunc
	bg         sync.WaitGroup // goroutines outside lanes (backpressure, invalid records)

	partsMu sync.Mutex
	parts   map[topicPartition]*partition

	commitMu   sync.Mutex
	lastCommit time.Time

	stateMu    sync.Mutex
	disabledAt map[string]localDisable // subscriptions this process disabled, until the index agrees
	clean      map[string]bool         // subscriptions whose failing-since clock is known clear

	ready   atomic.Bool // polling (not starting, not shutting down)
	running atomic.Bool
	member  *membership.Tracker // owned partitions, for Ready
	// kafkaOpts are the shared client options, for the static member's leave.
	kafkaOpts []kgo.Opt
}

// New builds a Sender; it validates cfg and creates (but does not connect) the Kafka
// client. Run starts it.
func New(cfg Config, deps Deps, log *zap.Logger) (*Sender, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.setDefaults()
	if deps.Subscriptions == nil || deps.Disabler == nil || deps.Client == nil {
		return nil, errors.New("delivery: New needs Deps.Subscriptions, Deps.Disabler and Deps.Client")
	}
	if deps.Breakers == nil {
		deps.Breakers = NewBreakers(cfg.Delivery.BreakerThreshold, cfg.Delivery.BreakerCooldown, deps.Now)
	}
	if deps.Limiters == nil {
		deps.Limiters = NewLimiters()
	}
	if deps.Retry == nil {
		deps.Retry = RetryPolicy{Schedule: cfg.Delivery.RetrySchedule, Jitter: cfg.Delivery.Jitter, RetryAfterMax: cfg.Delivery.RetryAfterMax}
	}
	if deps.Registerer == nil {
		deps.Registerer = prometheus.NewRegistry()
	}
	if deps.Now == nil {
		deps.Now = time.Now
	}
	m, err := newMetrics(deps.Registerer)
	if err != nil {
		return nil, fmt.Errorf("delivery: register metrics: %w", err)
	}
	s := &Sender{
		cfg: cfg, log: log, subs: deps.Subscriptions, disabler: deps.Disabler, client: deps.Client,
		breakers: deps.Breakers, limiters: deps.Limiters, attempts: deps.AttemptLog, handoff: deps.Handoff, retry: deps.Retry,
		now: deps.Now, metrics: m, tiers: newTiers(cfg.Topics.RetryPrefix, cfg.Delivery.RetrySchedule),
		slots: make(chan struct{}, cfg.Delivery.MaxInFlight), parts: map[topicPartition]*partition{},
		disabledAt: map[string]localDisable{}, clean: map[string]bool{},
		member: membership.New(cfg.Delivery.Group), kafkaOpts: deps.KafkaOpts,
	}
	s.workCtx, s.cancelWork = context.WithCancel(context.Background())
	s.lanes = newLanes(cfg.MaxQueuedPerSubscription, s.maxInFlight, s.process, func(q, a int) {
		m.queued.Set(float64(q))
		m.lanes.Set(float64(a))
	})
	opts := append([]kgo.Opt{}, deps.KafkaOpts...)
	opts = append(opts,
		kgo.ConsumerGroup(cfg.Delivery.Group),
		kgo.ConsumeTopics(append([]string{cfg.Topics.Deliveries}, s.tiers.topics()...)...),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), // the router writes transactionally
		kgo.DisableAutoCommit(),                      // commits follow the offset trackers
		kgo.BlockRebalanceOnPoll(),                   // SetOffsets/pause only while we own the partition
		kgo.FetchMaxWait(cfg.FetchMaxWait),
		kgo.RequiredAcks(kgo.AllISRAcks()), // idempotent producer, acks=all (kgo defaults, made explicit)
		kgo.OnPartitionsAssigned(s.assigned),
		kgo.OnPartitionsRevoked(s.revoked),
		kgo.OnPartitionsLost(s.lost),
		kgo.WithHooks(kprom.NewMetrics(metricsNamespace, kprom.Registerer(deps.Registerer))),
	)
	if cfg.InstanceID != "" {
		opts = append(opts, kgo.InstanceID(cfg.InstanceID))
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("delivery: kafka client: %w", err)
	}
	s.cl = cl
	s.member.Attach(cl)
	s.pauser = newPauser(cl)
	log.Info("sender configured", zap.String("group", cfg.Delivery.Group), zap.String("deliveries", cfg.Topics.Deliveries),
		zap.Strings("retry_tiers", s.tiers.topics()), zap.String("dlq", cfg.Topics.DLQ),
		zap.Int("max_in_flight", cfg.Delivery.MaxInFlight), zap.Int("default_max_in_flight", cfg.Delivery.DefaultMaxInFlight),
		zap.Duration("fetch_max_wait", cfg.FetchMaxWait), zap.Duration("drain_timeout", cfg.DrainTimeout),
		zap.String("instance_id", cfg.InstanceID))
	return s, nil
}

// Ready returns nil when the sender is doing its job (for /readyz): Run is polling,
// the broker answers, and the sender owns partitions of its group or the group is
// stable with it as a standby (more senders than partitions). Otherwise the error says
// what is missing, e.g. the group is PreparingRebalance after a crashed member.
func (s *Sender) Ready(ctx context.Context) error {
	if !s.ready.Load() {
		return errors.New("sender is not polling (starting or shutting down)")
	}
	return s.member.Check(ctx)
}

// Run consumes until ctx is canceled, then shuts down gracefully: it stops fetching,
// lets fetched work finish within DrainTimeout, abandons what is left (uncommitted, so
// it is redelivered, with the same webhook-id), commits what finished and leaves the
// group. It returns nil on
// cancel and an error if the client fails fatally. Run may be called once.
func (s *Sender) Run(ctx context.Context) error {
	if !s.running.CompareAndSwap(false, true) {
		return errors.New("delivery: Sender.Run called twice")
	}
	defer s.ready.Store(false)
	if s.attempts != nil {
		s.attemptW = newAttemptWriter(s.attempts, s.metrics.attemptLogDropped.Inc, s.log)
	}
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
		s.ready.Store(true)
	}
	s.shutdown()
	return fatal
}

// shutdown: stop fetching, abandon queued work, drain in-flight work, commit, leave.
func (s *Sender) shutdown() {
	s.ready.Store(false)
	s.member.Detach()
	s.cl.PauseFetchTopics(append([]string{s.cfg.Topics.Deliveries}, s.tiers.topics()...)...)
	s.pauser.stop()
	// Let fetched work finish within the drain deadline, then abandon the rest.
	deadline := time.Now().Add(s.cfg.DrainTimeout)
	s.partsMu.Lock()
	parts := make([]*partition, 0, len(s.parts))
	for _, p := range s.parts {
		parts = append(parts, p)
	}
	s.partsMu.Unlock()
	idle := true
	for _, p := range parts {
		idle = p.drain(time.Until(deadline)) && idle
	}
	abandoned := s.lanes.abandon(func(*partition) bool { return true })
	if !idle {
		s.log.Warn("drain timeout: abandoning unfinished deliveries (uncommitted: they will be redelivered)",
			zap.Int("abandoned_queued", len(abandoned)))
	}
	s.cancelWork()
	s.lanes.wait()
	s.bg.Wait()
	// No request can start any more: close the kept-alive connections now, so an
	// endpoint shutting down beside this process (dev mode's demo receiver) does not
	// wait on them — net/http gives a connection that never carried a request 5 s.
	if c, ok := s.client.(interface{ Close() }); ok {
		c.Close()
	}
	if s.attemptW != nil {
		s.attemptW.close() // every lane has ended: no more attempts come
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	s.commit(ctx, true)
	s.saveHandoffs(ctx, parts)
	cancel()
	s.partsMu.Lock()
	for tp, p := range s.parts {
		p.close()
		delete(s.parts, tp)
	}
	s.partsMu.Unlock()
	s.cl.Close() // leaves the group, unless static
	if s.cfg.InstanceID != "" {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if err := membership.LeaveStatic(ctx, s.kafkaOpts, s.cfg.Delivery.Group, s.cfg.InstanceID); err != nil {
			s.log.Warn("leaving the group failed: its partitions move after the session timeout", zap.Error(err))
		}
		cancel()
	}
	s.log.Info("sender stopped")
}

// maxInFlight is a subscription's concurrency cap.
func (s *Sender) maxInFlight(subID string) int {
	if sub, ok := s.subs.Get(subID); ok && sub.MaxInFlight > 0 {
		return sub.MaxInFlight
	}
	return s.cfg.Delivery.DefaultMaxInFlight
}

// dispatch routes one fetched partition's records into the lanes. It runs on the polling
// goroutine and never waits for delivery work.
func (s *Sender) dispatch(p kgo.FetchTopicPartition) {
	tp := topicPartition{p.Topic, p.Partition}
	s.partsMu.Lock()
	part := s.parts[tp]
	s.partsMu.Unlock()
	if part == nil || len(p.Records) == 0 {
		return
	}
	tierDelay, isTier := s.tiers.delayOf(p.Topic)
	if isTier && s.pauser.parked(tp) {
		return // buffered before the rewind; refetched when the head is due
	}
	now := s.now()
	next := p.Records[len(p.Records)-1].Offset + 1
	for _, rec := range p.Records {
		d, err := events.ParseDelivery(rec)
		if err != nil {
			if part.track(rec) {
				s.bg.Add(1)
				go s.invalidToDLQ(part, rec, err)
			}
			continue
		}
		if isTier {
			if at := surfaceAt(d.NotBefore, rec.Timestamp, tierDelay); at.After(now) {
				s.pauser.park(tp, rec, at.Sub(now))
				next = rec.Offset
				break
			}
		}
		if !part.track(rec) {
			continue
		}
		if part.handedOff(rec.Offset) {
			part.finishUnstarted(rec.Offset)
			continue
		}
		j := &job{rec: rec, d: d, part: part}
		if !s.lanes.enqueue(j) {
			s.bg.Add(1)
			go s.backpressure(j)
		}
	}
	s.metrics.lag(tp, p.HighWatermark-next, isTier)
}

// commit commits every owned partition's finished prefix, at most once per
// CommitInterval unless sync (revocation, shutdown).
func (s *Sender) commit(ctx context.Context, sync bool, only ...*partition) {
	s.commitMu.Lock()
	defer s.commitMu.Unlock()
	if !sync && time.Since(s.lastCommit) < s.cfg.CommitInterval {
		return
	}
	s.lastCommit = time.Now()
	parts := only
	if len(only) == 0 {
		s.partsMu.Lock()
		for _, p := range s.parts {
			parts = append(parts, p)
		}
		s.partsMu.Unlock()
	}
	offsets := map[string]map[int32]kgo.EpochOffset{}
	byTP := map[topicPartition]*partition{}
	for _, p := range parts {
		eo, ok := p.commitPoint()
		if !ok {
			continue
		}
		if offsets[p.tp.topic] == nil {
			offsets[p.tp.topic] = map[int32]kgo.EpochOffset{}
		}
		offsets[p.tp.topic][p.tp.partition] = eo
		byTP[p.tp] = p
	}
	if len(offsets) == 0 {
		return
	}
	onDone := func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
		if err != nil {
			s.metrics.commitErrs.Inc()
			s.log.Warn("offset commit failed", zap.Error(err))
			return
		}
		for _, t := range resp.Topics {
			for _, pr := range t.Partitions {
				p := byTP[topicPartition{t.Topic, pr.Partition}]
				if p == nil {
					continue
				}
				if pr.ErrorCode != 0 {
					s.metrics.commitErrs.Inc()
					continue
				}
				p.committedTo(offsets[t.Topic][pr.Partition].Offset)
			}
		}
	}
	if sync {
		s.cl.CommitOffsetsSync(ctx, offsets, onDone)
	} else {
		s.cl.CommitOffsets(ctx, offsets, onDone)
	}
}

// process runs one job to its end on a lane goroutine: finished (delivered, or handed
// off with an acknowledged produce) or abandoned (left uncommitted).
func (s *Sender) process(j *job) {
	if !j.part.begin() {
		return // partition revoked meanwhile: abandoned
	}
	j.part.end(j.rec.Offset, s.handle(s.workCtx, j))
}

// handle decides one delivery's fate and reports whether it is finished.
func (s *Sender) handle(ctx context.Context, j *job) bool {
	d := j.d
	sub, ok := s.subs.Get(d.SubscriptionID)
	switch {
	case !ok:
		return s.toDLQ(ctx, j, ReasonDeleted)
	case !s.enabled(sub):
		return s.toDLQ(ctx, j, ReasonDisabled)
	}
	if now := s.now(); d.NotBefore.After(now) {
		// Surfaced from a tier before its due time (a hop; see tiers): park it again.
		return s.repark(ctx, j, Reason(d.Reason), d.NotBefore.Sub(now))
	}
	if allowed, next, err := s.admit(ctx, sub.ID); err != nil {
		return false // shutting down
	} else if !allowed {
		return s.parkUntilProbe(ctx, j, next)
	}
	if sub.RateLimit > 0 {
		if err := s.limiters.Wait(ctx, sub.ID, sub.RateLimit); err != nil {
			return false // shutting down
		}
	}
	select {
	case s.slots <- struct{}{}:
	case <-ctx.Done():
		return false
	}
	s.metrics.inFlight.Inc()
	now := s.now()
	if d.FirstAttemptAt.IsZero() {
		d.FirstAttemptAt = now
	}
	res := s.client.Send(ctx, sub, d, now)
	s.metrics.inFlight.Dec()
	<-s.slots
	if ctx.Err() != nil {
		return false // cut off by the drain deadline: not an endpoint failure
	}
	s.breakers.Record(sub.ID, res.OK())
	if !res.OK() || s.metrics.anyOpen() {
		// A success always leaves the circuit closed; only then can the state have changed.
		s.metrics.breaker(sub.ID, s.breakers.State(sub.ID))
	}
	s.metrics.attempt(res)
	d.History = append(d.History, events.AttemptSummary{Attempt: d.Attempt, At: now, Status: res.Status,
		Reason: string(res.Reason), LatencyMS: res.Latency.Milliseconds()})
	return s.outcome(ctx, j, sub, res, now)
}

// outcome acts on an attempt's result.
func (s *Sender) outcome(ctx context.Context, j *job, sub *subscriptions.Subscription, res Result, now time.Time) bool {
	d := j.d
	if res.OK() {
		s.recordAttempt(ctx, j, res, now, true)
		s.health(ctx, sub.ID, true, now)
		s.metrics.delivered(d.OccurredAt, s.now())
		return true
	}
	if res.Reason == ReasonGone {
		s.recordAttempt(ctx, j, res, now, true)
		s.disable(ctx, sub, "endpoint_gone", "endpoint_gone")
		return s.toDLQ(ctx, j, ReasonGone)
	}
	since := s.health(ctx, sub.ID, false, now)
	if limit := s.cfg.Delivery.DisableAfter; limit > 0 && !since.IsZero() && now.Sub(since) >= limit {
		if s.disable(ctx, sub, "failing_since:"+since.UTC().Format(time.RFC3339), "failing") {
			s.recordAttempt(ctx, j, res, now, true)
			return s.toDLQ(ctx, j, ReasonDisabled)
		}
	}
	delay, retry := s.retry.Next(d.Attempt, res)
	s.recordAttempt(ctx, j, res, now, !retry)
	if !retry {
		reason := res.Reason
		if res.Reason.Retryable() {
			reason = ReasonRetryExhausted
		}
		j.failure = failureText(res.Err)
		return s.toDLQ(ctx, j, reason)
	}
	d.Attempt++
	return s.park(ctx, j, res.Reason, delay)
}

// recordAttempt queues the attempt for the attempt log (see attemptWriter); a failed
// write is logged, never fatal (the attempt log is for people; the Kafka records are
// the truth).
func (s *Sender) recordAttempt(_ context.Context, j *job, res Result, at time.Time, final bool) {
	if s.attempts == nil {
		return
	}
	d := j.d
	// Only the excerpt the log keeps is copied (the body may be 64 KiB); a few bytes
	// more let RecordBatch cut on a rune boundary.
	body := res.Body[:min(len(res.Body), maxResponseLog+utf8.UTFMax)]
	a := Attempt{DeliveryID: d.ID, SubscriptionID: d.SubscriptionID, AccountID: d.AccountID, EventID: d.EventID,
		EventName: d.EventName, Attempt: d.Attempt, At: at, Status: res.Status, Reason: res.Reason,
		LatencyMS: res.Latency.Milliseconds(), Response: string(body), Topic: j.rec.Topic,
		Partition: j.rec.Partition, Offset: j.rec.Offset, Final: final}
	if res.Err != nil {
		a.Error = res.Err.Error()
	}
	s.attemptW.add(a)
}

// health feeds the failing-since clock and returns it (zero when healthy or unknown).
// Successes clear it only when this process may not know it is clear, to keep Redis off
// the hot path of healthy endpoints.
func (s *Sender) health(ctx context.Context, subID string, ok bool, at time.Time) time.Time {
	if s.attempts == nil {
		return time.Time{}
	}
	s.stateMu.Lock()
	clean := s.clean[subID]
	s.stateMu.Unlock()
	if ok && clean {
		return time.Time{}
	}
	since, err := s.attempts.Outcome(ctx, subID, ok, at)
	if err != nil {
		s.log.Warn("failing-since update failed", zap.String("subscription_id", subID), zap.Error(err))
		return time.Time{}
	}
	s.stateMu.Lock()
	s.clean[subID] = ok
	s.stateMu.Unlock()
	return since
}
