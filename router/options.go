package router

import (
	"context"
	"maps"
	"slices"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/plugin/kprom"
	"go.uber.org/zap"
)

// batchOverhead is room for a record batch's own header beyond its largest record.
const batchOverhead = 4 << 10

// clientOptions is the one place the router's franz-go options are chosen; the shared
// options (seeds, TLS, SASL, logger) come first. Each choice and why:
//   - ConsumerGroup + ConsumeTopics: the router scales out as one group over the ingest
//     topics; partitions bound its parallelism.
//   - TransactionalID + TransactionTimeout: every batch's output and input offsets
//     commit atomically (NewGroupTransactSession aborts on any rebalance). Stable fetch
//     offsets (KIP-447) are always on in franz-go ≥ 1.20, so RequireStableFetchOffsets
//     is no longer needed: a new owner of a partition waits for our open transaction.
//   - FetchIsolationLevel(ReadCommitted): never route an ingest record that a
//     transactional upstream producer later aborts.
//   - ConsumeResetOffset(AtStart): a new group, or an offset lost to retention, starts
//     from the oldest retained event; re-delivery is better than silent loss.
//   - ProducerBatchMaxBytes: fits Config.MaxRecordBytes (franz-go's default is 1 MB).
//   - InstanceID (when configured): static membership, so a restarted instance takes
//     its partitions back without a rebalance.
//   - kprom hooks under eventrouter_router_*, and callbacks that track readiness and
//     drop the lag gauges of partitions that left.
//
// The producer keeps franz-go's defaults otherwise: idempotent, acks=all, murmur2 key
// partitioning (a subscription id maps to a stable deliveries partition), linger 10 ms.
func (r *Router) clientOptions(shared []kgo.Opt, reg prometheus.Registerer) []kgo.Opt {
	cfg := r.cfg
	opts := append(slices.Clone(shared),
		kgo.ConsumerGroup(cfg.Group),
		kgo.ConsumeTopics(cfg.IngestTopics...),
		kgo.TransactionalID(r.txnID),
		kgo.TransactionTimeout(cfg.TransactionTimeout),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.ProducerBatchMaxBytes(int32(cfg.MaxRecordBytes+batchOverhead)),
		kgo.WithHooks(kprom.NewMetrics(namespace, kprom.Registerer(reg))),
		kgo.OnPartitionsAssigned(r.onAssigned),
		kgo.OnPartitionsRevoked(r.onRevoked),
		kgo.OnPartitionsLost(r.onLost),
	)
	if cfg.InstanceID != "" {
		opts = append(opts, kgo.InstanceID(cfg.InstanceID))
	}
	r.optionFields = []zap.Field{
		zap.String("group", cfg.Group),
		zap.Strings("ingest_topics", cfg.IngestTopics),
		zap.String("transactional_id", r.txnID),
		zap.Duration("transaction_timeout", cfg.TransactionTimeout),
		zap.String("isolation", "read_committed"),
		zap.String("reset_offset", "start"),
		zap.Int("max_poll_records", cfg.MaxPollRecords),
		zap.Int("producer_batch_max_bytes", cfg.MaxRecordBytes+batchOverhead),
		zap.String("instance_id", cfg.InstanceID),
		zap.String("metrics_namespace", namespace),
	}
	return opts
}

func (r *Router) onAssigned(_ context.Context, _ *kgo.Client, assigned map[string][]int32) {
	r.ready.Store(true)
	r.log.Info("partitions assigned", zap.Any("partitions", sortedParts(assigned)))
}

func (r *Router) onRevoked(_ context.Context, _ *kgo.Client, revoked map[string][]int32) {
	r.metrics.forget(revoked)
	if len(revoked) > 0 {
		r.log.Info("partitions revoked", zap.Any("partitions", sortedParts(revoked)))
	}
}

func (r *Router) onLost(_ context.Context, _ *kgo.Client, lost map[string][]int32) {
	r.ready.Store(false)
	r.metrics.forget(lost)
	r.log.Warn("partitions lost", zap.Any("partitions", sortedParts(lost)))
}

func sortedParts(m map[string][]int32) map[string][]int32 {
	out := make(map[string][]int32, len(m))
	for _, t := range slices.Sorted(maps.Keys(m)) {
		out[t] = slices.Sorted(slices.Values(m[t]))
	}
	return out
}
