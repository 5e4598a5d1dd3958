//go:build integration

package app

import (
	"context"
	"testing"
	"time"

	"github.com/claimable/eventrouter/config"
	"github.com/claimable/eventrouter/internal/testenv"
	"github.com/claimable/eventrouter/topics"
)

// realReadinessEnv is readinessEnv on the real broker and redis-server: every topic and
// group of the configuration is named for the test, and the topics are deleted after.
func realReadinessEnv(t *testing.T) *readinessEnv {
	t.Helper()
	seeds := testenv.Kafka(t)
	rdb, prefix := testenv.RedisDB(t)
	p := testenv.Name(t, "ready") + "."
	cfg := config.Default()
	cfg.Kafka.Brokers = seeds
	cfg.Redis.KeyPrefix = prefix
	cfg.Topics.Ingest = []string{p + "claims.events"}
	cfg.Topics.IngestObjects = []string{p + "claims.events=claim"}
	cfg.Topics.Deliveries = p + "webhooks.deliveries"
	cfg.Topics.Invalid = p + "webhooks.invalid"
	cfg.Topics.DLQ = p + "webhooks.dlq"
	cfg.Topics.Operational = p + "webhooks.operational"
	cfg.Topics.RetryPrefix = p + "webhooks.retry."
	cfg.Topics.Partitions = 2
	cfg.Router.Group = p + "router"
	cfg.Router.OperationalGroup = p + "operational"
	cfg.Router.TransactionalIDPrefix = p + "router"
	cfg.Delivery.Group = p + "sender"
	cfg.Delivery.RetrySchedule = []time.Duration{time.Second}
	adm := testenv.KafkaAdmin(t)
	specs := TopicSpecs(cfg, true)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := topics.Create(ctx, adm, specs); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		names := make([]string, len(specs))
		for i, s := range specs {
			names[i] = s.Name
		}
		_, _ = adm.DeleteTopics(ctx, names...)
		_, _ = adm.DeleteGroups(ctx, cfg.Router.Group, cfg.Delivery.Group, cfg.Router.OperationalGroup)
	})
	return &readinessEnv{cfg: cfg, rdb: rdb, seeds: seeds}
}

// TestSenderNotReadyUntilAssignedAfterCrashRealKafka: TestSenderNotReadyUntilAssignedAfterCrash
// on Apache Kafka, whose group coordinator is the one production runs.
func TestSenderNotReadyUntilAssignedAfterCrashRealKafka(t *testing.T) {
	realReadinessEnv(t).senderAfterCrash(t)
}

// TestRouterNotReadyUntilAssignedAfterCrashRealKafka is the same for the router.
func TestRouterNotReadyUntilAssignedAfterCrashRealKafka(t *testing.T) {
	realReadinessEnv(t).routerAfterCrash(t)
}
