package app

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"

	"github.com/claimable/eventrouter/config"
	"github.com/claimable/eventrouter/events"
	"github.com/claimable/eventrouter/internal/kafkaclient"
	"github.com/claimable/eventrouter/replay"
	"github.com/claimable/eventrouter/subscriptions"
)

// NewReplayEngine wires a replay engine from cfg: the router's ingest topics, parser
// and record limit, the subscription store (each job matches against a fresh load of
// it), jobs kept in Redis. The API process and the replay command share it.
// Metrics go to reg (nil: nowhere).
func NewReplayEngine(cfg config.Config, rdb redis.UniversalClient, store subscriptions.Store, kafkaOpts []kgo.Opt, reg prometheus.Registerer, log *zap.Logger) (*replay.Engine, error) {
	if log == nil {
		log = zap.NewNop()
	}
	cat, err := events.NewCatalogue(cfg.Events.Catalogue)
	if err != nil {
		return nil, err
	}
	return replay.New(replay.Config{
		IngestTopics:    cfg.Topics.Ingest,
		DeliveriesTopic: cfg.Topics.Deliveries,
		Rate:            cfg.API.ReplayRate,
		MaxRecordBytes:  cfg.Router.MaxRecordBytes,
	}, replay.Deps{
		KafkaOpts:     kafkaOpts,
		Subscriptions: store,
		Parser:        events.NewParser(cat, cfg.Events.MaxBytes),
		Jobs:          replay.NewJobs(rdb, cfg.Redis.KeyPrefix, 0),
		Registerer:    reg,
	}, log)
}

// OpenReplayEngine opens what the replay command needs — the subscription store and its
// Redis client, the Kafka client options — and the engine over them, without metrics.
// release closes the store's client; call it after the engine's Close.
func OpenReplayEngine(cfg config.Config, log *zap.Logger) (eng *replay.Engine, release func(), err error) {
	if log == nil {
		log = zap.NewNop()
	}
	st, err := NewSubscriptionStore(cfg, nil, nil)
	if err != nil {
		return nil, nil, err
	}
	opts, err := kafkaclient.Options(cfg.Kafka, log)
	if err == nil {
		eng, err = NewReplayEngine(cfg, st.Redis, st, opts, nil, log.Named("replay"))
	}
	if err != nil {
		st.Close()
		return nil, nil, err
	}
	return eng, st.Close, nil
}
