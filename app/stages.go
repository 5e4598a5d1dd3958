package app

import (
	"github.com/claimable/eventrouter/config"
	"github.com/claimable/eventrouter/router"
	"github.com/claimable/eventrouter/topics"
)

// The pipeline stages (router, topics) never read the configuration package: these
// functions translate its sections into each stage's own Config. Zero values a stage
// receives fall back to its own defaults, which match config.Default().

// TopicsConfig translates the topics section.
func TopicsConfig(t config.Topics) topics.Config {
	return topics.Config{
		Ingest:            append([]string(nil), t.Ingest...),
		Deliveries:        t.Deliveries,
		Invalid:           t.Invalid,
		DLQ:               t.DLQ,
		Operational:       t.Operational,
		RetryPrefix:       t.RetryPrefix,
		Partitions:        t.Partitions,
		ReplicationFactor: t.ReplicationFactor,
		Retention:         t.Retention,
		DLQRetention:      t.DLQRetention,
	}
}

// TopicSpecs returns every topic cfg's system uses (see topics.Specs), with the ingest
// topics when includeIngest.
func TopicSpecs(cfg config.Config, includeIngest bool) []topics.Spec {
	return topics.Specs(TopicsConfig(cfg.Topics), cfg.Delivery.RetrySchedule, includeIngest)
}

// RouterConfig translates the router, topics and kafka sections. The instance id is
// kafka.instance_id as configured; Build derives the default one.
func RouterConfig(cfg config.Config) router.Config {
	r, t := cfg.Router, cfg.Topics
	return router.Config{
		Group:                 r.Group,
		TransactionalIDPrefix: r.TransactionalIDPrefix,
		InstanceID:            cfg.Kafka.InstanceID,
		IngestTopics:          append([]string(nil), t.Ingest...),
		DeliveriesTopic:       t.Deliveries,
		InvalidTopic:          t.Invalid,
		TopicObjects:          t.ObjectTopics(),
		// config.WrongTopic* and router.WrongTopic* are the same words; router.New
		// rejects anything else naming router.wrong_topic.
		WrongTopic:            r.WrongTopic,
		TransactionTimeout:    r.TransactionTimeout,
		MaxPollRecords:        r.MaxPollRecords,
		MaxRecordBytes:        r.MaxRecordBytes,
		MaxTransactionRecords: r.MaxTransactionRecords,
		MaxTransactionSpan:    r.MaxTransactionSpan,
		Workers:               r.Workers,
		RetryBackoff:          r.RetryBackoff,
		MaxRetryBackoff:       r.MaxRetryBackoff,
		Compression:           r.Compression,
		FetchMaxWait:          r.FetchMaxWait,
	}
}
