// Package topics declares the Kafka topics eventrouter uses, creates them idempotently
// and describes them (partitions, consumer-group lag) for `eventrouter topics`.
//
// Partition counts: webhooks.deliveries and every retry tier get the same count
// (config topics.partitions). Nothing depends on it for correctness — the sender reads
// the subscription id from the record key/headers on every topic, and a retry tier is
// consumed by whichever sender owns its partition — but equal counts keep a
// subscription's retries on the same partition number as its first attempts, which
// keeps load and lag dashboards readable. Changing the count of webhooks.deliveries on
// a live system moves subscriptions between partitions (key hash modulo count), so
// per-subscription order is only guaranteed across such a change once the old
// partitions drain.
package topics

import (
	"strconv"
	"time"
)

// Roles a topic plays, carried by Spec.Role.
const (
	RoleIngest     = "ingest"
	RoleDeliveries = "deliveries"
	RoleRetry      = "retry"
	RoleInvalid    = "invalid"
	RoleDLQ        = "dlq"
	// RoleOperational: operational events (docs/operational-events.md), key = account.
	RoleOperational = "operational"
)

// Config names the topics and how `topics create` makes them: the topics.* settings,
// translated by package app.
type Config struct {
	Ingest     []string
	Deliveries string
	Invalid    string
	DLQ        string
	// Operational carries operational events (subscription.disabled, delivery.exhausted,
	// ...); empty: not created.
	Operational string
	RetryPrefix string // + a tier's delay written short ("5s", "5m") names each retry tier
	// Partitions and ReplicationFactor of every topic; ≤ 0: the broker's default.
	Partitions        int
	ReplicationFactor int
	Retention         time.Duration
	DLQRetention      time.Duration
}

// Spec is how one topic should be created.
type Spec struct {
	Name              string
	Role              string // one of the Role* constants
	Partitions        int32
	ReplicationFactor int16
	// Configs are topic-level configs (retention.ms, cleanup.policy).
	Configs map[string]string
}

// Specs returns the topics the system needs, in a stable order: ingest topics (only
// when includeIngest: they usually belong to the upstream services), deliveries, each
// retry tier of schedule, invalid, DLQ, operational (when named).
//
// Every topic uses cleanup.policy=delete and cfg.Partitions / cfg.ReplicationFactor
// (a value ≤ 0 becomes -1: the broker's default).
// Retention is cfg.Retention, except: the DLQ and the invalid topic (both dead letters
// a human inspects and re-drives) keep cfg.DLQRetention; a retry tier keeps at least
// twice its delay, so a record is never deleted before it is due.
func Specs(cfg Config, schedule []time.Duration, includeIngest bool) []Spec {
	var out []Spec
	add := func(name, role string, retention time.Duration) {
		out = append(out, Spec{
			Name:              name,
			Role:              role,
			Partitions:        orBrokerDefault[int32](cfg.Partitions),
			ReplicationFactor: orBrokerDefault[int16](cfg.ReplicationFactor),
			Configs: map[string]string{
				"cleanup.policy": "delete",
				"retention.ms":   strconv.FormatInt(retention.Milliseconds(), 10),
			},
		})
	}
	if includeIngest {
		for _, t := range cfg.Ingest {
			add(t, RoleIngest, cfg.Retention)
		}
	}
	add(cfg.Deliveries, RoleDeliveries, cfg.Retention)
	delays := make(map[string]time.Duration, len(schedule))
	for _, d := range schedule {
		name := RetryTopic(cfg.RetryPrefix, d)
		delays[name] = max(delays[name], d)
	}
	for _, name := range RetryTopics(cfg.RetryPrefix, schedule) {
		add(name, RoleRetry, max(cfg.Retention, 2*delays[name]))
	}
	add(cfg.Invalid, RoleInvalid, max(cfg.Retention, cfg.DLQRetention))
	add(cfg.DLQ, RoleDLQ, max(cfg.Retention, cfg.DLQRetention))
	if cfg.Operational != "" {
		add(cfg.Operational, RoleOperational, cfg.Retention)
	}
	return out
}

// orBrokerDefault maps a non-positive count to -1, which CreateTopics reads as "the
// broker's default".
func orBrokerDefault[T int16 | int32](n int) T {
	if n <= 0 {
		return -1
	}
	return T(n)
}
