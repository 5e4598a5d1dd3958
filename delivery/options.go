package delivery

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/plugin/kprom"
)

// clientOptions is the one place the sender's franz-go options are chosen; the shared
// options (seeds, TLS, SASL, logger) come first. Each choice and why:
//   - ConsumerGroup + ConsumeTopics: one group consumes the deliveries topic and every
//     retry tier; partitions bound its parallelism.
//   - ConsumeResetOffset(AtStart): a new group, or an offset lost to retention, starts
//     from the oldest retained delivery; re-delivery is better than silent loss.
//   - FetchIsolationLevel(ReadCommitted): the router writes transactionally; never send
//     a delivery of an aborted transaction.
//   - DisableAutoCommit: commits follow the offset trackers (offsets.go), so the group
//     never commits past unfinished work.
//   - BlockRebalanceOnPoll: SetOffsets and pausing (tier heads, pauser.go) happen only
//     while this member owns the partition; the poll loop only appends to queues, so a
//     rebalance waits microseconds.
//   - FetchMaxWait(Config.FetchMaxWait): short, so tier heads are re-checked promptly.
//   - RequiredAcks(AllISRAcks): the idempotent producer's acks=all (the kgo default,
//     made explicit): a tier or DLQ record finishes its source only once durable.
//   - OnPartitionsAssigned/Revoked/Lost: rebalance.go.
//   - kprom hooks: the client's own metrics on the sender's registry.
//   - InstanceID (when configured): static membership, so a restarted sender takes its
//     partitions back at once (member.go leaves explicitly on shutdown).
func (s *Sender) clientOptions(shared []kgo.Opt, reg prometheus.Registerer) []kgo.Opt {
	opts := append([]kgo.Opt{}, shared...)
	opts = append(opts,
		kgo.ConsumerGroup(s.cfg.Group),
		kgo.ConsumeTopics(s.consumedTopics()...),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.DisableAutoCommit(),
		kgo.BlockRebalanceOnPoll(),
		kgo.FetchMaxWait(s.cfg.FetchMaxWait),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.OnPartitionsAssigned(s.assigned),
		kgo.OnPartitionsRevoked(s.revoked),
		kgo.OnPartitionsLost(s.lost),
		kgo.WithHooks(kprom.NewMetrics(metricsNamespace, kprom.Registerer(reg))),
	)
	if s.cfg.InstanceID != "" {
		opts = append(opts, kgo.InstanceID(s.cfg.InstanceID))
	}
	return opts
}
