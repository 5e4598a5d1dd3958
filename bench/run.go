package bench

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"

	"github.com/claimable/eventrouter/app"
	"github.com/claimable/eventrouter/config"
	"github.com/claimable/eventrouter/events"
	"github.com/claimable/eventrouter/topics"
)

// ErrLost is returned (wrapped) by Run when an expected delivery never arrived or a
// signature failed verification: the run's correctness check, unlike performance
// targets, which are reported, not failed.
var ErrLost = errors.New("bench: deliveries lost or signatures invalid")

// retrySchedule is the sender's schedule in a run: short, so deliveries failed by
// --failure-rate are retried within the drain period.
const retrySchedule = "1s,2s,5s"

// stopGrace bounds a role's graceful shutdown.
const stopGrace = 30 * time.Second

// run holds the state of one benchmark run.
type run struct {
	c     Config
	id    string
	cfg   config.Config // what the roles are configured with
	log   *zap.Logger
	logw  io.Writer
	topic string // the ingest topic
	specs []topics.Spec
}

// Run executes one benchmark run and returns its result. The error wraps ErrLost when
// the correctness check failed (the Result is complete then too); other errors mean the
// run could not be carried out. Role processes write their logs to roleLog.
func Run(ctx context.Context, c Config, roleLog io.Writer, log *zap.Logger) (*Result, error) {
	if log == nil {
		log = zap.NewNop()
	}
	c = c.Defaults()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	r := &run{c: c, id: randomID(), log: log, logw: roleLog}
	r.configure()
	return r.execute(ctx)
}

func randomID() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// configure derives the roles' configuration: every name unique to this run.
func (r *run) configure() {
	cfg := config.Default()
	p := "bench-" + r.id + "."
	cfg.Kafka.Brokers = r.c.Brokers
	cfg.Redis.Addr = r.c.RedisAddr
	cfg.Redis.KeyPrefix = "bench:" + r.id + ":"
	cfg.Topics.Ingest = []string{p + "claims.events"}
	cfg.Topics.IngestObjects = nil // the one ingest topic carries every object
	cfg.Topics.Deliveries = p + "webhooks.deliveries"
	cfg.Topics.Invalid = p + "webhooks.invalid"
	cfg.Topics.DLQ = p + "webhooks.dlq"
	cfg.Topics.Operational = p + "webhooks.operational"
	cfg.Topics.RetryPrefix = p + "webhooks.retry."
	cfg.Topics.Partitions = r.c.Partitions
	cfg.Topics.Retention = time.Hour
	cfg.Topics.DLQRetention = time.Hour
	cfg.Router.Group = p + "router"
	cfg.Router.OperationalGroup = p + "operational"
	cfg.Router.TransactionalIDPrefix = p + "router"
	cfg.Delivery.Group = p + "sender"
	cfg.Delivery.RetrySchedule = []time.Duration{time.Second, 2 * time.Second, 5 * time.Second}
	cfg.Delivery.DefaultMaxInFlight = r.c.MaxInFlight
	cfg.Subscriptions.MaxPerAccount = 0
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	cfg.Subscriptions.EncryptionKey = base64.StdEncoding.EncodeToString(key)
	cfg.Egress.AllowHTTP = true
	cfg.Egress.AllowCIDRs = []string{"127.0.0.0/8"}
	r.cfg = cfg
	r.topic = cfg.Topics.Ingest[0]
	r.specs = app.TopicSpecs(cfg, true)
}

// env is the roles' environment for the receiver on port.
func (r *run) env(port int) []string {
	cfg := r.cfg
	return append([]string{
		"EVENTROUTER_KAFKA_BROKERS=" + strings.Join(cfg.Kafka.Brokers, ","),
		"EVENTROUTER_REDIS_ADDR=" + cfg.Redis.Addr,
		"EVENTROUTER_REDIS_KEY_PREFIX=" + cfg.Redis.KeyPrefix,
		"EVENTROUTER_TOPICS_INGEST=" + strings.Join(cfg.Topics.Ingest, ","),
		"EVENTROUTER_TOPICS_INGEST_OBJECTS=" + strings.Join(cfg.Topics.IngestObjects, ","),
		"EVENTROUTER_TOPICS_DELIVERIES=" + cfg.Topics.Deliveries,
		"EVENTROUTER_TOPICS_INVALID=" + cfg.Topics.Invalid,
		"EVENTROUTER_TOPICS_DLQ=" + cfg.Topics.DLQ,
		"EVENTROUTER_TOPICS_OPERATIONAL=" + cfg.Topics.Operational,
		"EVENTROUTER_ROUTER_OPERATIONAL_GROUP=" + cfg.Router.OperationalGroup,
		"EVENTROUTER_TOPICS_RETRY_PREFIX=" + cfg.Topics.RetryPrefix,
		"EVENTROUTER_TOPICS_PARTITIONS=" + strconv.Itoa(cfg.Topics.Partitions),
		"EVENTROUTER_ROUTER_GROUP=" + cfg.Router.Group,
		"EVENTROUTER_ROUTER_TRANSACTIONAL_ID_PREFIX=" + cfg.Router.TransactionalIDPrefix,
		"EVENTROUTER_DELIVERY_GROUP=" + cfg.Delivery.Group,
		"EVENTROUTER_DELIVERY_RETRY_SCHEDULE=" + retrySchedule,
		"EVENTROUTER_DELIVERY_DEFAULT_MAX_IN_FLIGHT=" + strconv.Itoa(cfg.Delivery.DefaultMaxInFlight),
		"EVENTROUTER_SUBSCRIPTIONS_MAX_PER_ACCOUNT=0",
		"EVENTROUTER_SUBSCRIPTIONS_ENCRYPTION_KEY=" + cfg.Subscriptions.EncryptionKey,
		"EVENTROUTER_EGRESS_ALLOW_HTTP=true",
		"EVENTROUTER_EGRESS_ALLOW_CIDRS=127.0.0.0/8",
		"EVENTROUTER_EGRESS_ALLOW_PORTS=" + strconv.Itoa(port),
		"EVENTROUTER_LOG_LEVEL=warn",
		"EVENTROUTER_OPS_PPROF=" + strconv.FormatBool(r.c.ProfileDir != ""),
	}, r.c.RoleEnv...)
}

func (r *run) execute(ctx context.Context) (res *Result, err error) {
	c := r.c
	res = newResult(c, r.id)
	adm, rdb, cleanup, err := r.infra(ctx)
	if err != nil {
		return nil, err
	}
	defer cleanup()

	ep, err := newEndpoint(c.ReceiverLatency, c.FailureRate)
	if err != nil {
		return nil, err
	}
	go func() { _ = ep.srv.Serve(ep.ln) }()
	defer ep.Close()

	// Subscriptions.
	cfg := r.cfg
	cfg.Egress.AllowPorts = []int{ep.Port}
	store, err := app.NewSubscriptionStore(cfg, rdb, nil)
	if err != nil {
		return nil, err
	}
	t := time.Now()
	byAccount, all, err := seed(ctx, store.Service, c, r.id, ep.Port)
	if err != nil {
		return nil, err
	}
	res.Setup.SeedSeconds = time.Since(t).Seconds()
	if err := ep.Register(secrets(all)); err != nil {
		return nil, err
	}

	// Roles, as separate processes.
	t = time.Now()
	env := r.env(ep.Port)
	router := NewRole("router", c.Binary, env, r.logw)
	sender := NewRole("sender", c.Binary, env, r.logw)
	roles := []*Role{router, sender}
	defer func() {
		for _, ro := range roles {
			if e := ro.Stop(stopGrace); e != nil && err == nil {
				err = e
			}
		}
	}()
	for _, ro := range roles {
		startCtx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		err := ro.Start(startCtx)
		cancel()
		if err != nil {
			return nil, err
		}
	}
	prod, err := kgo.NewClient(kgo.SeedBrokers(c.Brokers...), kgo.ProducerLinger(c.IngestLinger))
	if err != nil {
		return nil, err
	}
	defer prod.Close()
	gen := newEventGen(r.id, c.BodyBytes)
	if err := r.warmUp(ctx, prod, ep, gen, byAccount); err != nil {
		return nil, err
	}
	if r.c.LeadIn > 0 {
		if res.LeadIn, err = r.leadIn(ctx, prod, ep, gen, byAccount); err != nil {
			return nil, err
		}
	}
	res.Setup.ReadySeconds = time.Since(t).Seconds()

	tp, err := startTap(ctx, c.Brokers, r.cfg.Topics.Deliveries)
	if err != nil {
		return nil, err
	}
	err = r.measure(ctx, res, prod, ep, gen, byAccount, roles, tp)
	tp.close()
	if err != nil {
		return nil, err
	}
	for _, ro := range roles {
		if e := ro.Stop(stopGrace); e != nil {
			return nil, e
		}
		res.Roles = append(res.Roles, ro.Usage())
	}
	roles = nil

	if c.Baselines {
		if err := r.baselines(ctx, res, adm, ep, gen); err != nil {
			return nil, err
		}
	}
	res.finish()
	if !res.OK {
		return res, fmt.Errorf("%w: %s", ErrLost, strings.Join(res.Failures, "; "))
	}
	return res, nil
}

// infra connects to Kafka and Redis and creates the run's topics; cleanup deletes the
// topics and keys unless c.Keep.
func (r *run) infra(ctx context.Context) (*kadm.Client, *redis.Client, func(), error) {
	kcl, err := kgo.NewClient(kgo.SeedBrokers(r.c.Brokers...))
	if err != nil {
		return nil, nil, nil, err
	}
	adm := kadm.NewClient(kcl)
	rdb := redis.NewClient(&redis.Options{Addr: r.c.RedisAddr})
	if err := rdb.Ping(ctx).Err(); err != nil {
		kcl.Close()
		return nil, nil, nil, fmt.Errorf("bench: redis at %s: %w", r.c.RedisAddr, err)
	}
	var names []string
	for _, s := range r.specs {
		names = append(names, s.Name)
	}
	cleanup := func() {
		if !r.c.Keep {
			cctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if _, err := adm.DeleteTopics(cctx, append(names, r.baselineTopics()...)...); err != nil {
				r.log.Warn("bench topics not deleted", zap.Error(err))
			}
			if err := deletePrefix(cctx, rdb, r.cfg.Redis.KeyPrefix); err != nil {
				r.log.Warn("bench redis keys not deleted", zap.Error(err))
			}
			_, _ = adm.DeleteGroups(cctx, r.cfg.Router.Group, r.cfg.Delivery.Group, r.cfg.Router.OperationalGroup)
		}
		rdb.Close()
		kcl.Close()
	}
	if _, err := topics.Create(ctx, adm, r.specs); err != nil {
		cleanup()
		return nil, nil, nil, fmt.Errorf("bench: create topics: %w", err)
	}
	return adm, rdb, cleanup, nil
}

func (r *run) baselineTopics() []string {
	p := "bench-" + r.id + "."
	return []string{p + "passthrough.a", p + "passthrough.b"}
}

// deletePrefix deletes every key starting with prefix (SCAN + UNLINK in batches).
func deletePrefix(ctx context.Context, rdb *redis.Client, prefix string) error {
	var cursor uint64
	for {
		keys, next, err := rdb.Scan(ctx, cursor, prefix+"*", 1000).Result()
		if err != nil {
			return err
		}
		if len(keys) > 0 {
			if err := rdb.Unlink(ctx, keys...).Err(); err != nil {
				return err
			}
		}
		if cursor = next; cursor == 0 {
			return nil
		}
	}
}

// warmUp produces one event per account (up to 64 accounts) and waits until each has
// been delivered to every matching subscription, so the measured phase starts with
// both consumer groups joined and both indexes loaded.
func (r *run) warmUp(ctx context.Context, prod *kgo.Client, ep *endpoint, gen *eventGen, byAccount [][]seeded) error {
	l := NewLedger(nil)
	ep.ledger.Store(l)
	warm := eventGen{run: r.id + "w", pad: gen.pad}
	var recs []*kgo.Record
	for a := 0; a < len(byAccount) && a < 64; a++ {
		e := warm.event(a, accountID(r.id, a), time.Now())
		for _, s := range byAccount[a] {
			l.Expect(events.DeliveryID(e.ID, s.ID), "warmup", false)
		}
		recs = append(recs, &kgo.Record{Topic: r.topic, Key: []byte(e.AccountID), Value: e.Marshal()})
	}
	if err := prod.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		return fmt.Errorf("bench: warm-up produce: %w", err)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for l.Pending() > 0 {
		if time.Now().After(deadline) {
			return fmt.Errorf("bench: warm-up: %d of %d deliveries missing after 2m (see the role logs)", l.Pending(), l.Counts().Expected)
		}
		if err := sleepCtx(ctx, 50*time.Millisecond); err != nil {
			return err
		}
	}
	if n := l.Counts().BadSig; n > 0 {
		return fmt.Errorf("%w: warm-up: %d signatures failed verification", ErrLost, n)
	}
	return nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
