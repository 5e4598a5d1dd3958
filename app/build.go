package app

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"

	"github.com/claimable/eventrouter/api"
	"github.com/claimable/eventrouter/config"
	"github.com/claimable/eventrouter/delivery"
	"github.com/claimable/eventrouter/egress"
	"github.com/claimable/eventrouter/events"
	"github.com/claimable/eventrouter/internal/kafkaclient"
	"github.com/claimable/eventrouter/internal/tracing"
	"github.com/claimable/eventrouter/internal/version"
	"github.com/claimable/eventrouter/operational"
	"github.com/claimable/eventrouter/router"
	"github.com/claimable/eventrouter/subscriptions"
	"github.com/claimable/eventrouter/topics"
)

// Infra lets a caller hand in ready-made infrastructure (dev mode's embedded Redis);
// zero values mean "connect as cfg says".
type Infra struct {
	Redis redis.UniversalClient
}

// System is a process's wired components. Close releases what Build opened.
type System struct {
	Redis      redis.UniversalClient
	Store      subscriptions.Store
	sealer     *subscriptions.Sealer // the store's key ring, for the API's idempotency records
	Index      *subscriptions.Index
	Service    *subscriptions.Service
	AttemptLog *delivery.AttemptLog
	KafkaOpts  []kgo.Opt
	Router     *router.Router
	Sender     *delivery.Sender
	API        *api.Server
	// Operational publishes operational events (sender and api roles); Forwarder turns
	// them into deliveries (router role). Nil in processes without those roles.
	Operational *operational.Publisher
	Forwarder   *operational.Forwarder
	// Tracing is the process's tracer provider (TracerProvider nil: tracing off).
	Tracing *tracing.Provider
	// Runners are the long-running pieces to supervise, in start order.
	Runners []Runner
	closers []func()
}

// Close releases every connection Build opened.
func (s *System) Close() {
	for i := len(s.closers) - 1; i >= 0; i-- {
		s.closers[i]()
	}
}

// Build wires the selected roles from cfg. Metrics go to ops.Registry() and readiness
// checks to ops.
func Build(cfg config.Config, roles Roles, infra Infra, log *zap.Logger, ops *Ops) (*System, error) {
	if log == nil {
		log = zap.NewNop()
	}
	sys := &System{}
	ok := false
	defer func() {
		if !ok {
			sys.Close()
		}
	}()
	reg := ops.Registry()
	useZapForRedis(log)
	if err := buildTracing(cfg, roles, sys, log); err != nil {
		return nil, err
	}

	st, err := NewSubscriptionStore(cfg, infra.Redis, log)
	if err != nil {
		return nil, err
	}
	sys.closers = append(sys.closers, st.Close)
	sys.Redis, sys.Store, sys.sealer, sys.Service = st.Redis, st.RedisStore, st.Sealer(), st.Service
	sys.AttemptLog = delivery.NewAttemptLog(sys.Redis, delivery.AttemptLogOptions{
		Prefix: cfg.Redis.KeyPrefix, MaxPerSubscription: cfg.Delivery.AttemptLogSize, TTL: cfg.Delivery.AttemptLogTTL,
	})
	sys.KafkaOpts, err = kafkaclient.Options(cfg.Kafka, log)
	if err != nil {
		return nil, err
	}

	if roles.Router || roles.Sender {
		sys.Index = subscriptions.NewIndex(sys.Store, subscriptions.IndexOptions{
			ResyncInterval: cfg.Subscriptions.ResyncInterval, Catalogue: cfg.Events.Catalogue,
			MaxBackoff: cfg.Subscriptions.IndexMaxBackoff,
		}, log.Named("index"), reg)
		sys.Runners = append(sys.Runners, sys.Index)
		ops.AddCheck("subscriptions_index", func(context.Context) error {
			switch {
			case !sys.Index.Ready():
				return errors.New("first load from Redis not done")
			case sys.Index.Stale():
				return fmt.Errorf("stale since %s (Redis unreachable); serving the last snapshot", sys.Index.LastSync().Format(time.RFC3339))
			}
			return nil
		})
	}
	if roles.Sender || roles.API {
		pub, err := operational.NewPublisher(operational.PublisherConfig{Topic: cfg.Topics.Operational},
			sys.KafkaOpts, reg, log.Named("operational"))
		if err != nil {
			return nil, err
		}
		sys.Operational = pub
		sys.closers = append(sys.closers, pub.Close) // after the roles stopped: flushes their last events
	}
	if roles.Router {
		if err := buildRouter(cfg, sys, log, ops); err != nil {
			return nil, err
		}
		fwd, err := operational.NewForwarder(operational.ForwarderConfig{
			Topic: cfg.Topics.Operational, Group: cfg.Router.OperationalGroup, DeliveriesTopic: cfg.Topics.Deliveries,
		}, sys.KafkaOpts, sys.Index, reg, log.Named("operational"))
		if err != nil {
			return nil, err
		}
		sys.Forwarder = fwd
		sys.Runners = append(sys.Runners, fwd)
	}
	if roles.Sender {
		if err := buildSender(cfg, sys, log, ops); err != nil {
			return nil, err
		}
	}
	if roles.API {
		if err := buildAPI(cfg, sys, log, ops); err != nil {
			return nil, err
		}
	}
	if err := buildLagExporter(cfg, sys, log, ops); err != nil {
		return nil, err
	}
	ok = true
	return sys, nil
}

func buildRouter(cfg config.Config, sys *System, log *zap.Logger, ops *Ops) error {
	cat, err := events.NewCatalogue(cfg.Events.Catalogue)
	if err != nil {
		return err
	}
	rc := RouterConfig(cfg)
	rc.InstanceID = memberInstanceID(cfg.Kafka, cfg.Ops.Listen, "router", hostName)
	r, err := router.New(rc, router.Deps{
		KafkaOpts:      sys.KafkaOpts,
		Matcher:        sys.Index,
		Parser:         events.NewParser(cat, cfg.Events.MaxBytes),
		Registerer:     ops.Registry(),
		TracerProvider: sys.Tracing.TracerProvider,
	}, log.Named("router"))
	if err != nil {
		return err
	}
	sys.Router = r
	sys.Runners = append(sys.Runners, r)
	ops.AddCheck("router_group", r.Ready)
	return nil
}

func buildSender(cfg config.Config, sys *System, log *zap.Logger, ops *Ops) error {
	client, err := delivery.NewClient(delivery.ClientConfig{
		Timeout:          cfg.Delivery.Timeout,
		MaxResponseBytes: cfg.Delivery.MaxResponseBytes,
		Egress:           Egress(cfg),
		UserAgent:        version.UserAgent(),
		RetryAfterMax:    cfg.Delivery.RetryAfterMax,
		PropagateTrace:   cfg.Tracing.Enabled && cfg.Tracing.PropagateToReceiver,
	}, log.Named("http"))
	if err != nil {
		return err
	}
	sys.closers = append(sys.closers, client.Close)
	s, err := delivery.New(senderConfig(cfg), delivery.Deps{
		KafkaOpts:      sys.KafkaOpts,
		Subscriptions:  sys.Index,
		Store:          sys.Service,
		Disabler:       sys.Service,
		Client:         client,
		AttemptLog:     sys.AttemptLog,
		Handoff:        delivery.NewRedisHandoff(sys.Redis, cfg.Redis.KeyPrefix),
		Notifier:       sys.Operational,
		Registerer:     ops.Registry(),
		Now:            time.Now,
		TracerProvider: sys.Tracing.TracerProvider,
	}, log.Named("sender"))
	if err != nil {
		return err
	}
	sys.Sender = s
	sys.Runners = append(sys.Runners, s)
	ops.AddCheck("sender_group", s.Ready)
	return nil
}

// senderConfig translates the configuration file into the sender's own Config (the
// breakers and the retry policy are built by delivery.New from it).
func senderConfig(cfg config.Config) delivery.Config {
	d := cfg.Delivery
	return delivery.Config{
		Group:                         d.Group,
		DeliveriesTopic:               cfg.Topics.Deliveries,
		DLQTopic:                      cfg.Topics.DLQ,
		RetryPrefix:                   cfg.Topics.RetryPrefix,
		RetrySchedule:                 d.RetrySchedule,
		Jitter:                        d.Jitter,
		RetryAfterMax:                 d.RetryAfterMax,
		MaxInFlight:                   d.MaxInFlight,
		DefaultMaxInFlight:            d.DefaultMaxInFlight,
		BreakerThreshold:              d.BreakerThreshold,
		BreakerCooldown:               d.BreakerCooldown,
		DisableAfter:                  d.DisableAfter,
		MaxQueuedBytesPerSubscription: int64(d.MaxQueuedBytesPerSubscription),
		MaxQueuedPerSubscription:      d.MaxQueuedPerSubscription,
		SaturationParkAfter:           d.SaturationParkAfter,
		CommitInterval:                d.CommitInterval,
		DrainTimeout:                  d.DrainTimeout,
		FetchMaxWait:                  d.FetchMaxWait,
		MaxPollRecords:                d.MaxPollRecords,
		InstanceID:                    memberInstanceID(cfg.Kafka, cfg.Ops.Listen, "sender", hostName),
	}
}

func buildAPI(cfg config.Config, sys *System, log *zap.Logger, ops *Ops) error {
	producer, err := kgo.NewClient(append(sys.KafkaOpts, kgo.RecordRetries(10))...)
	if err != nil {
		return err
	}
	sys.closers = append(sys.closers, producer.Close)
	dapi := &deliveryAPI{log: sys.AttemptLog, requeue: delivery.NewRequeuer(sys.AttemptLog, producer, cfg.Topics.Deliveries, time.Now),
		kafkaOpts: sys.KafkaOpts, topics: cfg.Topics, settle: recoverSettle, notifier: sys.Operational}
	replays, err := NewReplayEngine(cfg, sys.Redis, sys.Store, sys.KafkaOpts, ops.Registry(), log.Named("replay"))
	if err != nil {
		return err
	}
	sys.closers = append(sys.closers, replays.Close) // jobs stop resumable ("stopped")
	replays.Resume()                                 // and any API process takes them over
	srv, err := api.New(api.Config{
		Listen:          cfg.API.Listen,
		AdminTokens:     cfg.API.AdminTokens,
		AccountTokens:   cfg.API.AccountTokens,
		MaxBodyBytes:    cfg.API.MaxBodyBytes,
		EventTypes:      cfg.Events.Catalogue,
		ShutdownTimeout: cfg.Ops.ShutdownTimeout,
	}, api.Deps{
		Subscriptions: sys.Service,
		Attempts:      dapi,
		Deliveries:    dapi,
		Redeliverer:   dapi,
		TestSender:    dapi,
		Recoverer:     dapi,
		Idempotency: api.NewRedisIdempotency(sys.Redis, api.RedisIdempotencyConfig{
			Prefix: cfg.Redis.KeyPrefix, Sealer: sys.sealer,
		}),
		Replays:     replays,
		Operational: operationalAPI{kafkaOpts: sys.KafkaOpts, topic: cfg.Topics.Operational},
		Registerer:  ops.Registry(),
	}, log.Named("api"))
	if err != nil {
		return err
	}
	sys.API = srv
	sys.Runners = append(sys.Runners, srv)
	ops.AddCheck("redis", func(ctx context.Context) error {
		if _, err := sys.Store.Version(ctx); err != nil {
			return fmt.Errorf("subscription store unreachable: %w", err)
		}
		return nil
	})
	return nil
}

// Egress builds the outbound-address policy from cfg: the sender's dialer and
// subscriptions validation both use it, so they always agree.
func Egress(cfg config.Config) egress.Policy {
	return egress.Policy{AllowHTTP: cfg.Egress.AllowHTTP, AllowCIDRs: cfg.Egress.AllowPrefixes(), AllowPorts: cfg.Egress.AllowPorts}
}

// buildLagExporter exports both groups' lag from committed offsets in every role (see
// topics.LagExporter), so a stalled role's backlog is visible from the others.
func buildLagExporter(cfg config.Config, sys *System, log *zap.Logger, ops *Ops) error {
	if cfg.Ops.LagInterval <= 0 {
		return nil
	}
	cl, err := kgo.NewClient(sys.KafkaOpts...)
	if err != nil {
		return err
	}
	sys.closers = append(sys.closers, cl.Close)
	exp, err := topics.NewLagExporter(topics.LagExporterConfig{
		Groups: []string{cfg.Router.Group, cfg.Delivery.Group, cfg.Router.OperationalGroup}, Interval: cfg.Ops.LagInterval,
	}, cl, ops.Registry(), log.Named("lag"))
	if err != nil {
		return err
	}
	sys.Runners = append(sys.Runners, exp)
	return nil
}
