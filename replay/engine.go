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
	// ResumeInterval is how often Resume looks for background jobs to take over
	// (default LeaseTTL: a crashed process's job is resumed at most about two lease
	// periods after its last checkpoint).
	ResumeInterval time.Duration
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

	mu      sync.Mutex
	running map[string]bool // background jobs running in this process
	resumer sync.Once
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
	if cfg.ResumeInterval <= 0 {
		cfg.ResumeInterval = cfg.LeaseTTL
	}
	if log == nil {
		log = zap.NewNop()
	}
	m, err := newMetrics(deps.Registerer)
	if err != nil {
		return nil, fmt.Errorf("replay: metrics: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Engine{cfg: cfg, deps: deps, log: log, metrics: m, now: time.Now, ctx: ctx, cancel: cancel,
		running: map[string]bool{}}, nil
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

// Start creates a job and runs it in the background; its state is in Get. The job is
// marked active until it ends (done or failed), so that if this process stops or dies
// first, Resume in this or another process takes it over.
func (e *Engine) Start(ctx context.Context, spec Spec) (*Job, error) {
	j, err := e.Create(ctx, spec)
	if err != nil {
		return nil, err
	}
	if err := e.deps.Jobs.MarkActive(ctx, j.ID); err != nil {
		return nil, err
	}
	e.background(j.ID, false)
	return j, nil
}

// background runs job id in the background unless this process already runs it.
func (e *Engine) background(id string, resumed bool) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.running[id] || e.ctx.Err() != nil {
		return false
	}
	e.running[id] = true
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		defer func() {
			e.mu.Lock()
			delete(e.running, id)
			e.mu.Unlock()
		}()
		_, err := e.run(e.ctx, id, resumed)
		switch {
		case resumed && errors.Is(err, ErrJobBusy):
			e.log.Debug("replay job still held by another process", zap.String("job", id))
		case err != nil:
			e.log.Warn("replay job stopped", zap.String("job", id), zap.Error(err))
		}
	}()
	return true
}

// Get returns a job's state as of its last checkpoint.
func (e *Engine) Get(ctx context.Context, id string) (*Job, error) {
	return e.deps.Jobs.Get(ctx, id)
}

// Close stops background jobs (they are left resumable, state "stopped") and waits
// for them.
func (e *Engine) Close() {
	e.mu.Lock() // background checks the context and joins wg under mu
	e.cancel()
	e.mu.Unlock()
	e.wg.Wait()
}

// Run runs (or resumes) job id to its end: plans it if it is new, then reads from each
// partition's checkpoint. It returns the job's final state; a job already done is
// returned as is. When ctx ends the job is saved as stopped, resumable.
func (e *Engine) Run(ctx context.Context, id string) (*Job, error) {
	return e.run(ctx, id, false)
}

// run is Run; resumed says Resume started it (logged and counted once it holds the lease).
func (e *Engine) run(ctx context.Context, id string, resumed bool) (*Job, error) {
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
	// Read the job again under the lease: the process that held it may have saved it
	// done or failed between the first read and its release, and running from that
	// stale checkpoint would deliver its last stretch twice.
	if j, err = e.deps.Jobs.Get(ctx, id); err != nil {
		return nil, err
	}
	if j.State == StateDone || (resumed && j.State == StateFailed) {
		return j, nil
	}
	if resumed {
		e.metrics.resumed.Inc()
		e.log.Info("replay job resumed", zap.String("job", id), zap.String("was", j.State),
			zap.Float64("progress", j.Progress()))
	}
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
	if j.State != StateStopped { // ended: nothing for Resume to take over
		if uerr := e.deps.Jobs.Unmark(sctx, j.ID); uerr != nil {
			e.log.Warn("replay job left marked active", zap.String("job", j.ID), zap.Error(uerr))
		}
	}
	e.log.Info("replay job", zap.String("job", j.ID), zap.String("state", j.State), zap.Int64("records_read", j.Read),
		zap.Int64("deliveries", j.Deliveries), zap.Bool("dry_run", j.Spec.DryRun), zap.Error(err))
	if err != nil {
		return j, fmt.Errorf("replay job %s: %w", j.ID, err)
	}
	return j, nil
}
