// Package router is the ingest stage: a consumer group on the ingest topics that
// validates each event, matches it against the subscriptions, and fans it out to the
// deliveries topic (key = subscription id), exactly once, in Kafka transactions that
// commit each batch's output together with its input offsets. Invalid records go,
// byte for byte, to the invalid topic with the reason in headers. See
// docs/exactly-once.md.
package router

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"

	"github.com/claimable/eventrouter/events"
	"github.com/claimable/eventrouter/internal/membership"
	"github.com/claimable/eventrouter/internal/tracing"
	"github.com/claimable/eventrouter/subscriptions"
)

// ErrConfig is wrapped by every configuration error New returns; the message names the
// field.
var ErrConfig = errors.New("router: invalid config")

// Matcher returns the subscriptions (enabled or not: a disabled one's deliveries are
// held by the sender) whose events pattern and filter select e,
// appended to dst. It must be safe for concurrent use and must not block on I/O
// (subscriptions.Index serves it from memory).
type Matcher interface {
	Match(e *events.Event, dst []*subscriptions.Subscription) []*subscriptions.Subscription
}

// Parser validates one ingest record value. Errors should be *events.InvalidError; any
// other error is routed to the invalid topic with reason "invalid".
type Parser interface {
	Parse(value []byte) (*events.Event, error)
}

// readier is implemented by a Matcher that needs a first load (subscriptions.Index). The
// router does not join the group before it is ready: routing against an empty index
// would silently drop every event as unmatched.
type readier interface{ Ready() bool }

// What Config.WrongTopic does with a valid event found on another object's ingest topic.
const (
	// WrongTopicInvalid sends it to the invalid topic with reason wrong_topic.
	WrongTopicInvalid = "invalid"
	// WrongTopicDeliver routes it as usual.
	WrongTopicDeliver = "deliver"
)

// Config configures a Router. Zero values take the documented defaults.
type Config struct {
	// Group is the consumer group of every router instance. Required.
	Group string
	// TransactionalIDPrefix starts this instance's transactional id. Required. The id is
	// prefix + "-" + InstanceID when InstanceID is set (the operator guarantees it is
	// unique per live process, and a restart then fences its predecessor at once), else
	// prefix + "-" + host name + "-" + a random suffix.
	TransactionalIDPrefix string
	// InstanceID, when set, is the static group member id (KIP-345).
	// A graceful shutdown leaves the group explicitly (membership.LeaveStatic); a crash
	// does not, so a restart with the same id takes the partitions back at once.
	InstanceID string
	// IngestTopics are consumed. Required.
	IngestTopics []string
	// DeliveriesTopic receives one record per (event, subscription). Required.
	DeliveriesTopic string
	// InvalidTopic receives ingest records that fail validation. Required.
	InvalidTopic string
	// TopicObjects maps an ingest topic to the objects it carries
	// (topics.ingest_objects). A valid event on a mapped topic whose object is not
	// listed is on the wrong topic and handled as WrongTopic says; unmapped topics
	// carry any object. Nil: no check.
	TopicObjects map[string][]string
	// WrongTopic is WrongTopicInvalid (default: the record goes to InvalidTopic with
	// reason wrong_topic) or WrongTopicDeliver (it is routed as usual).
	// Either way it is counted in events_wrong_topic_total and logged.
	WrongTopic string
	// TransactionTimeout bounds an open transaction (default 60 s). After a crash, the
	// partitions it held stall at most this long unless the instance restarts with the
	// same InstanceID.
	TransactionTimeout time.Duration
	// MaxPollRecords bounds the records of one poll (default 1000). A transaction
	// starts with one poll.
	MaxPollRecords int
	// MaxTransactionRecords bounds the records of one transaction (default 10 000).
	// While more records are already buffered (a backlog), a transaction keeps polling
	// and routing them, up to this many records and MaxTransactionSpan, so a backlog
	// pays the transaction's fixed cost (about four broker round trips) less often.
	// Values below MaxPollRecords are raised to it.
	MaxTransactionRecords int
	// MaxTransactionSpan bounds how long a transaction stays open taking more records
	// (default 50 ms) — buffered ones in a backlog, or the next fetches while commits
	// are paced (pace.go: the next End waits for four recent End durations, so a busy
	// broker is not flooded with transactions; after a quiet spell it commits at once)
	// — which bounds the extra latency either adds to a transaction's first records.
	// 1 ms turns pacing off.
	MaxTransactionSpan time.Duration
	// Workers is how many goroutines route (parse, match, render) a large poll
	// concurrently (default GOMAXPROCS). Output is produced in ingest order whatever
	// the value; 1 routes on the polling goroutine only.
	Workers int
	// MaxRecordBytes bounds one produced record, headers included (default 1 000 000,
	// franz-go's and close to the broker's default). A delivery larger than this is
	// routed to the invalid topic with reason too_large; an invalid record larger
	// than this keeps its headers but not its value.
	MaxRecordBytes int
	// RetryBackoff is the first pause after a transaction aborted on a produce error,
	// doubling to MaxRetryBackoff while errors persist (defaults 250 ms, 30 s).
	RetryBackoff    time.Duration
	MaxRetryBackoff time.Duration
	// ReadyPoll is how often Run checks a Matcher's Ready before joining (default 100 ms).
	ReadyPoll time.Duration
	// TopicWaitInterval is how often a router whose ingest topics do not all exist logs
	// (WARN) which ones it waits for (default 10 s).
	TopicWaitInterval time.Duration
	// Compression is the codec of the record batches the router produces (deliveries
	// and invalid records): CompressionNone (default), CompressionSnappy,
	// CompressionLZ4, CompressionZstd or CompressionGzip. See compressionCodec.
	Compression string
	// FetchMaxWait is how long an ingest fetch waits for FetchMinBytes (1 MiB) before
	// returning what it has; at a steady rate it sets the shortest transaction cadence (pace.go
	// may space commits further on a busy broker), so it
	// trades per-event latency for transactions per second (default 10 ms; see
	// clientOptions).
	FetchMaxWait time.Duration
}

func (c *Config) defaults() {
	if c.TransactionTimeout <= 0 {
		c.TransactionTimeout = 60 * time.Second
	}
	if c.MaxPollRecords <= 0 {
		c.MaxPollRecords = 1000
	}
	if c.MaxTransactionRecords <= 0 {
		c.MaxTransactionRecords = 10_000
	}
	c.MaxTransactionRecords = max(c.MaxTransactionRecords, c.MaxPollRecords)
	if c.MaxTransactionSpan <= 0 {
		c.MaxTransactionSpan = 50 * time.Millisecond
	}
	if c.Workers <= 0 {
		c.Workers = runtime.GOMAXPROCS(0)
	}
	if c.MaxRecordBytes <= 0 {
		c.MaxRecordBytes = 1_000_000
	}
	if c.RetryBackoff <= 0 {
		c.RetryBackoff = 250 * time.Millisecond
	}
	if c.MaxRetryBackoff < c.RetryBackoff {
		c.MaxRetryBackoff = max(30*time.Second, c.RetryBackoff)
	}
	if c.ReadyPoll <= 0 {
		c.ReadyPoll = 100 * time.Millisecond
	}
	if c.TopicWaitInterval <= 0 {
		c.TopicWaitInterval = 10 * time.Second
	}
	if c.WrongTopic == "" {
		c.WrongTopic = WrongTopicInvalid
	}
	if c.Compression == "" {
		c.Compression = CompressionNone
	}
	if c.FetchMaxWait <= 0 {
		c.FetchMaxWait = DefaultFetchMaxWait
	}
}

// Validate reports the first missing or contradictory field, wrapping ErrConfig.
func (c *Config) Validate() error {
	bad := func(field, why string) error { return fmt.Errorf("%w: %s: %s", ErrConfig, field, why) }
	switch {
	case c.Group == "":
		return bad("router.group", "required")
	case c.TransactionalIDPrefix == "":
		return bad("router.transactional_id_prefix", "required")
	case len(c.IngestTopics) == 0:
		return bad("topics.ingest", "at least one topic required")
	case c.DeliveriesTopic == "":
		return bad("topics.deliveries", "required")
	case c.InvalidTopic == "":
		return bad("topics.invalid", "required")
	}
	for _, t := range c.IngestTopics {
		switch t {
		case "":
			return bad("topics.ingest", "empty topic name")
		case c.DeliveriesTopic, c.InvalidTopic:
			return bad("topics.ingest", fmt.Sprintf("%q is also an output topic", t))
		}
	}
	for t := range c.TopicObjects {
		if !slices.Contains(c.IngestTopics, t) {
			return bad("topics.ingest_objects", fmt.Sprintf("%q is not an ingest topic %v", t, c.IngestTopics))
		}
	}
	if c.WrongTopic != WrongTopicInvalid && c.WrongTopic != WrongTopicDeliver {
		return bad("router.wrong_topic", fmt.Sprintf("%q: want %q or %q", c.WrongTopic, WrongTopicInvalid, WrongTopicDeliver))
	}
	if _, ok := compressionCodec(c.Compression); !ok {
		return bad("router.compression", fmt.Sprintf("%q: want one of %s", c.Compression, strings.Join(compressions, ", ")))
	}
	if c.FetchMaxWait != 0 && c.FetchMaxWait < DefaultFetchMaxWait {
		return bad("router.fetch_max_wait", fmt.Sprintf("%s: the Kafka client's minimum is %s", c.FetchMaxWait, DefaultFetchMaxWait))
	}
	return nil
}

// Deps are the Router's collaborators.
type Deps struct {
	// KafkaOpts are the shared client options (kafkaclient.Options): seeds, TLS, SASL,
	// logger. The router adds its own (group, transactions, isolation) after them.
	KafkaOpts  []kgo.Opt
	Matcher    Matcher
	Parser     Parser
	Registerer prometheus.Registerer // nil: metrics are not exported
	// TracerProvider, when set, traces each ingest record in a route span (see
	// tracing.go). Nil: tracing is off and costs routing nothing.
	TracerProvider trace.TracerProvider
}

// Router consumes the ingest topics and fans events out, exactly once. Run it once.
type Router struct {
	cfg     Config
	txnID   string
	opts    []kgo.Opt
	matcher Matcher
	parser  Parser
	metrics *metrics
	tracer  trace.Tracer // nil: tracing off
	log     *zap.Logger
	member  *membership.Tracker // owned partitions of the current session, for Ready
	ran     atomic.Bool
	// reg receives each session's client metrics (kprom).
	reg prometheus.Registerer
	// shared are the shared client options, for the static member's leave.
	shared []kgo.Opt
	// optionFields describe the role-specific client options, logged by Run.
	optionFields []zap.Field
}

// New validates cfg, applies its defaults and registers the router's metrics on
// deps.Registerer. It does not connect: Run does.
func New(cfg Config, deps Deps, log *zap.Logger) (*Router, error) {
	if log == nil {
		log = zap.NewNop()
	}
	cfg.defaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if deps.Matcher == nil || deps.Parser == nil {
		return nil, fmt.Errorf("%w: Deps.Matcher and Deps.Parser are required", ErrConfig)
	}
	reg := deps.Registerer
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	m, err := newMetrics(reg)
	if err != nil {
		return nil, fmt.Errorf("router: register metrics: %w", err)
	}
	for t := range cfg.TopicObjects {
		m.wrongTopic.WithLabelValues(t) // exported at 0 from the start, for alerts
	}
	r := &Router{cfg: cfg, matcher: deps.Matcher, parser: deps.Parser, metrics: m, log: log, member: membership.New(cfg.Group)}
	if deps.TracerProvider != nil {
		r.tracer = deps.TracerProvider.Tracer(tracing.ScopeRouter)
	}
	r.txnID = transactionalID(cfg)
	r.opts = r.clientOptions(deps.KafkaOpts, reg)
	r.reg = reg
	r.shared = deps.KafkaOpts
	return r, nil
}

// transactionalID is unique per live instance: see Config.TransactionalIDPrefix.
func transactionalID(cfg Config) string {
	if cfg.InstanceID != "" {
		return cfg.TransactionalIDPrefix + "-" + cfg.InstanceID
	}
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "unknown"
	}
	var b [6]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	return cfg.TransactionalIDPrefix + "-" + strings.ReplaceAll(host, ".", "_") + "-" + hex.EncodeToString(b[:])
}

// TransactionalID returns this instance's transactional id (for logs and tests).
func (r *Router) TransactionalID() string { return r.txnID }

// Ready returns nil when the router is doing its job (for /readyz): its session runs,
// the broker answers, and it owns ingest partitions or the group is stable with it as a
// standby (more routers than partitions). Otherwise the error says what is missing.
func (r *Router) Ready(ctx context.Context) error { return r.member.Check(ctx) }

// Run consumes until ctx is canceled, then finishes (commits) the batch in hand, leaves
// the group and returns nil. When the transactional session fails — franz-go reports a
// failed Begin or End as unrecoverable for that client, e.g. after the broker was
// unreachable for longer than the client's retries — Run closes it and starts a new
// session with the same transactional id after a backoff: the broker aborts the old
// session's open transaction, and the new one resumes from the committed offsets, so a
// broker outage is ridden out without loss or duplicates. Run returns an error only
// when the Kafka client cannot be built (configuration). Run may be called once.
func (r *Router) Run(ctx context.Context) error {
	if !r.ran.CompareAndSwap(false, true) {
		return errors.New("router: Run called twice")
	}
	if err := r.waitMatcher(ctx); err != nil {
		return nil // canceled before starting
	}
	backoff := max(r.cfg.RetryBackoff, 500*time.Millisecond)
	for {
		progressed, err := r.runSession(ctx)
		if err == nil || ctx.Err() != nil {
			r.leaveStatic()
			return nil
		}
		var fatal *clientError
		if errors.As(err, &fatal) {
			return err
		}
		if progressed {
			backoff = max(r.cfg.RetryBackoff, 500*time.Millisecond)
		}
		r.metrics.abortedTxn(abortSession)
		r.log.Error("transactional session failed; starting a new one from the committed offsets",
			zap.Error(err), zap.Duration("backoff", backoff))
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, max(r.cfg.MaxRetryBackoff, time.Second))
	}
}

// fencePredecessor initialises the transactional producer before the first poll. With
// a stable transactional id (static membership) that fences a crashed predecessor and
// aborts its open transaction at once. Left to the first produce, it would never
// happen: a predecessor killed between committing its offsets into the transaction and
// ending it leaves those offsets pending, the group's offset fetch (stable offsets,
// KIP-447) waits for them, so nothing is polled, nothing produced, and the partitions
// stall for router.transaction_timeout. A failure is logged; the first produce retries.
func (r *Router) fencePredecessor(ctx context.Context, cl *kgo.Client) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if _, _, err := cl.ProducerID(ctx); err != nil && ctx.Err() == nil {
		r.log.Warn("initialising the transactional producer failed; retried at the first transaction", zap.Error(err))
	}
}

// leaveStatic leaves the group on a graceful shutdown when the router is a static
// member (whose client does not leave on close), so its partitions move at once rather
// than after the session timeout. See membership.LeaveStatic.
func (r *Router) leaveStatic() {
	if r.cfg.InstanceID == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := membership.LeaveStatic(ctx, r.shared, r.cfg.Group, r.cfg.InstanceID); err != nil {
		r.log.Warn("leaving the group failed: its partitions move after the session timeout", zap.Error(err))
	}
}

// clientError: the Kafka client could not be built; retrying cannot help.
type clientError struct{ err error }

func (e *clientError) Error() string { return "router: kafka client: " + e.err.Error() }
func (e *clientError) Unwrap() error { return e.err }

// runSession runs one transactional session until ctx ends (nil) or the session fails.
// progressed reports whether any transaction committed in it.
func (r *Router) runSession(ctx context.Context) (progressed bool, err error) {
	sess, err := kgo.NewGroupTransactSession(append(slices.Clone(r.opts), sessionHooks(r.reg))...)
	if err != nil {
		return false, &clientError{err}
	}
	r.member.Attach(sess.Client())
	r.fencePredecessor(ctx, sess.Client())
	defer func() {
		r.member.Detach()
		sess.Close() // leaves the group
	}()
	r.log.Info("router started", append(r.optionFields,
		zap.String("deliveries_topic", r.cfg.DeliveriesTopic),
		zap.String("invalid_topic", r.cfg.InvalidTopic))...)
	wctx, stopWatch := context.WithCancel(ctx)
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		r.watchIngestTopics(wctx, sess.Client(), r.cfg.TopicWaitInterval)
	}()
	defer func() { stopWatch(); <-watched }() // before the session closes

	backoff := r.cfg.RetryBackoff
	var pace pacer // per session: a new session starts unpaced
	for {
		fetches := sess.PollRecords(ctx, r.cfg.MaxPollRecords)
		if fetches.IsClientClosed() || ctx.Err() != nil {
			return progressed, nil
		}
		r.fetchErrors(fetches)
		if fetches.NumRecords() == 0 {
			continue
		}
		out, err := r.process(ctx, sess, &pace, fetches)
		if err != nil {
			return progressed, err
		}
		if out != outcomeProduceError {
			progressed = true
			backoff = r.cfg.RetryBackoff
			continue
		}
		select {
		case <-ctx.Done():
			return progressed, nil
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, r.cfg.MaxRetryBackoff)
	}
}

func (r *Router) waitMatcher(ctx context.Context) error {
	rd, ok := r.matcher.(readier)
	if !ok || rd.Ready() {
		return nil
	}
	r.log.Info("router waiting for the subscription index")
	t := time.NewTicker(r.cfg.ReadyPoll)
	defer t.Stop()
	for !rd.Ready() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return nil
}

// fetchErrors logs and counts partition errors. The client retries retryable errors by
// itself; a fatal one stops that partition, which then shows as growing lag.
func (r *Router) fetchErrors(fetches kgo.Fetches) {
	fetches.EachError(func(topic string, partition int32, err error) {
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, kgo.ErrClientClosed) {
			return
		}
		r.metrics.fetchError(topic)
		r.log.Error("fetch error", zap.String("topic", topic), zap.Int32("partition", partition), zap.Error(err))
	})
}
