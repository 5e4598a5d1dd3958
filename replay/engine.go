package replay

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"

	"github.com/claimable/eventrouter/events"
	"github.com/claimable/eventrouter/subscriptions"
)

// Config tunes the engine; zero values take the defaults.
type Config struct {
	// IngestTopics are the topics replayed (the router's ingest topics).
	IngestTopics []string
	// DeliveriesTopic receives the replayed deliveries.
	DeliveriesTopic string
	// Rate bounds produced deliveries per second (default 1000), Burst how many may go
	// at once (default Rate), so a replay leaves the sender capacity for live traffic.
	Rate  float64
	Burst int
	// CheckpointRecords and CheckpointInterval say how often progress is saved (after
	// the produced deliveries are acknowledged): every that many ingest records
	// (default 1000) or that long (default 1s), whichever comes first.
	CheckpointRecords  int
	CheckpointInterval time.Duration
	// MaxRecordBytes bounds one delivery record, as the router's router.max_record_bytes
	// does (default 1 000 000): larger deliveries are skipped, counted "too_large".
	MaxRecordBytes int
	// LeaseTTL is how long a crashed process keeps a job from being resumed elsewhere
	// (default 30s).
	LeaseTTL time.Duration
}

// Defaults.
const (
	DefaultRate               = 1000
	DefaultCheckpointRecords  = 1000
	DefaultCheckpointInterval = time.Second
	DefaultMaxRecordBytes     = 1_000_000
	DefaultLeaseTTL           = 30 * time.Second
)

// SubscriptionLoader loads every subscription (subscriptions.Store does).
type SubscriptionLoader interface {
	Load(ctx context.Context) (version int64, subs []*subscriptions.Subscription, err error)
}

// Deps are the engine's collaborators; all are required.
type Deps struct {
	KafkaOpts     []kgo.Opt
	Subscriptions SubscriptionLoader
	Parser        *events.Parser
	Jobs          *Jobs
	// Registerer receives the replay metrics; nil registers them nowhere.
	Registerer prometheus.Registerer
}

// Engine plans and runs replay jobs. Safe for concurrent use; Start runs jobs in the
// background until Close.
type Engine struct {
	cfg     Config
	deps    Deps
	log     *zap.Logger
	metrics *metrics
	now     func() time.Time

	ctx    context.Context // background jobs' context, cancelled by Close
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// New validates cfg and deps and returns an engine.
func New(cfg Config, deps Deps, log *zap.Logger) (*Engine, error) {
	if len(cfg.IngestTopics) == 0 || cfg.DeliveriesTopic == "" {
		return nil, errors.New("replay: IngestTopics and DeliveriesTopic are required")
	}
	if deps.Subscriptions == nil || deps.Parser == nil || deps.Jobs == nil {
		return nil, errors.New("replay: Deps.Subscriptions, Parser and Jobs are required")
	}
	if cfg.Rate <= 0 {
		cfg.Rate = DefaultRate
	}
	if cfg.Burst <= 0 {
		cfg.Burst = max(1, int(cfg.Rate))
	}
	if cfg.CheckpointRecords <= 0 {
		cfg.CheckpointRecords = DefaultCheckpointRecords
	}
	if cfg.CheckpointInterval <= 0 {
		cfg.CheckpointInterval = DefaultCheckpointInterval
	}
	if cfg.MaxRecordBytes <= 0 {
		cfg.MaxRecordBytes = DefaultMaxRecordBytes
	}
	if cfg.LeaseTTL <= 0 {
		cfg.LeaseTTL = DefaultLeaseTTL
	}
	if log == nil {
		log = zap.NewNop()
	}
	m, err := newMetrics(deps.Registerer)
	if err != nil {
		return nil, fmt.Errorf("replay: metrics: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Engine{cfg: cfg, deps: deps, log: log, metrics: m, now: time.Now, ctx: ctx, cancel: cancel}, nil
}

// Create stores a new pending job for spec (validated by the caller).
func (e *Engine) Create(ctx context.Context, spec Spec) (*Job, error) {
	now := e.now().UTC()
	j := &Job{ID: newJobID(), Spec: spec, State: StatePending, CreatedAt: now, UpdatedAt: now,
		Skipped: map[string]int64{}, Counts: map[string]map[string]int64{}}
	if err := e.deps.Jobs.Save(ctx, j); err != nil {
		return nil, err
	}
	return j, nil
}

// Start creates a job and runs it in the background; its state is in Get.
func (e *Engine) Start(ctx context.Context, spec Spec) (*Job, error) {
	j, err := e.Create(ctx, spec)
	if err != nil {
		return nil, err
	}
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		if _, err := e.Run(e.ctx, j.ID); err != nil {
			e.log.Warn("replay job stopped", zap.String("job", j.ID), zap.Error(err))
		}
	}()
	return j, nil
}

// Get returns a job's state as of its last checkpoint.
func (e *Engine) Get(ctx context.Context, id string) (*Job, error) {
	return e.deps.Jobs.Get(ctx, id)
}

// Close stops background jobs (they are left resumable, state "stopped") and waits
// for them.
func (e *Engine) Close() {
	e.cancel()
	e.wg.Wait()
}

// Run runs (or resumes) job id to its end: plans it if it is new, then reads from each
// partition's checkpoint. It returns the job's final state; a job already done is
// returned as is. When ctx ends the job is saved as stopped, resumable.
func (e *Engine) Run(ctx context.Context, id string) (*Job, error) {
	j, err := e.deps.Jobs.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	if j.State == StateDone {
		return j, nil
	}
	owner := newJobID()
	if err := e.deps.Jobs.Acquire(ctx, id, owner, e.cfg.LeaseTTL); err != nil {
		return j, err
	}
	defer func() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = e.deps.Jobs.Release(rctx, id, owner)
	}()
	r, err := e.newRun(ctx, j, owner)
	if err == nil {
		err = r.run(ctx)
	}
	return e.finish(ctx, j, err)
}

// finish records the outcome of a run and saves it, even when ctx has ended.
func (e *Engine) finish(ctx context.Context, j *Job, err error) (*Job, error) {
	switch {
	case err == nil:
		j.State, j.Error = StateDone, ""
	case ctx.Err() != nil:
		j.State, j.Error = StateStopped, ""
	default:
		j.State, j.Error = StateFailed, err.Error()
	}
	j.UpdatedAt = e.now().UTC()
	e.metrics.finished.WithLabelValues(j.State).Inc()
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if serr := e.deps.Jobs.Save(sctx, j); serr != nil && err == nil {
		err = serr
	}
	e.log.Info("replay job", zap.String("job", j.ID), zap.String("state", j.State), zap.Int64("records_read", j.Read),
		zap.Int64("deliveries", j.Deliveries), zap.Bool("dry_run", j.Spec.DryRun), zap.Error(err))
	if err != nil {
		return j, fmt.Errorf("replay job %s: %w", j.ID, err)
	}
	return j, nil
}
