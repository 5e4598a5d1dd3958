package topics

import (
	"context"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"
)

// produceTxn writes n records to topic's partition p in one transaction of the
// transactional producer txn, committed or aborted, and returns the offset after its
// last record.
func produceTxn(ctx context.Context, t *testing.T, txn *kgo.Client, topic string, p int32, n int, commit bool) int64 {
	t.Helper()
	if err := txn.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	var next int64
	for i := range n {
		r := &kgo.Record{Topic: topic, Partition: p, Value: []byte{byte(i)}}
		res := txn.ProduceSync(ctx, r)
		if err := res.FirstErr(); err != nil {
			t.Fatal(err)
		}
		next = res[0].Record.Offset + 1
	}
	if err := txn.EndTransaction(ctx, kgo.TransactionEndTry(commit)); err != nil {
		t.Fatal(err)
	}
	return next
}

// lagScenario checks Lag and the LagExporter against the cluster of cl on a 2-partition
// topic written transactionally (as the router writes webhooks.deliveries), for a group
// with no live member:
//
//  1. drained: partition 0 holds 5 committed records, partition 1 holds 3 committed
//     then 4 aborted ones; the group committed right after the last committed record of
//     each, as a consumer that read everything does. Only markers and aborted records
//     follow, so the lag must read 0 (end minus committed reads 7 here);
//  2. stalled: 7 more committed records on partition 0 that nobody consumes; the lag
//     must show them (≥ 7), both from Lag and on the exporter's gauge.
func lagScenario(t *testing.T, cl *kgo.Client, txn *kgo.Client, topic, group string) {
	ctx := testContext(t)
	adm := kadm.NewClient(cl)
	offs := kadm.Offsets{}
	offs.Add(kadm.Offset{Topic: topic, Partition: 0, At: produceTxn(ctx, t, txn, topic, 0, 5, true), LeaderEpoch: -1})
	offs.Add(kadm.Offset{Topic: topic, Partition: 1, At: produceTxn(ctx, t, txn, topic, 1, 3, true), LeaderEpoch: -1})
	produceTxn(ctx, t, txn, topic, 1, 4, false)
	if _, err := adm.CommitOffsets(ctx, group, offs); err != nil {
		t.Fatal(err)
	}
	raw, err := adm.Lag(ctx, group)
	if err != nil {
		t.Fatal(err)
	}
	if naive := raw[group].Lag.Total(); naive <= 0 {
		t.Fatalf("end minus committed = %d: the scenario must have markers after the commit", naive)
	}

	reg := prometheus.NewRegistry()
	exp, err := NewLagExporter(LagExporterConfig{Groups: []string{group}}, cl, reg, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	if got := topicLag(ctx, t, cl, group, topic); got != 0 {
		t.Fatalf("drained transactional topic: lag %d, want 0 (end minus committed reads %d)", got, raw[group].Lag.Total())
	}
	exp.Measure(ctx)
	if got := gaugeOf(t, exp.lag.WithLabelValues(group, topic)); got != 0 {
		t.Fatalf("exporter on a drained topic: %v, want 0", got)
	}

	produceTxn(ctx, t, txn, topic, 0, 7, true)
	if got := topicLag(ctx, t, cl, group, topic); got < 7 {
		t.Fatalf("stalled group: lag %d, want ≥ 7 (7 records nobody consumed)", got)
	}
	exp.Measure(ctx)
	if got := gaugeOf(t, exp.lag.WithLabelValues(group, topic)); got < 7 {
		t.Fatalf("exporter with a stalled group: %v, want ≥ 7", got)
	}
	if got := gaugeOf(t, exp.members.WithLabelValues(group)); got != 0 {
		t.Fatalf("members of the stalled group: %v, want 0", got)
	}
	if got := gaugeOf(t, exp.updated); got <= 0 {
		t.Fatalf("updated timestamp %v, want set", got)
	}
}

func topicLag(ctx context.Context, t *testing.T, cl *kgo.Client, group, topic string) int64 {
	t.Helper()
	lags, err := Lag(ctx, cl, group)
	if err != nil {
		t.Fatal(err)
	}
	if len(lags) != 1 || lags[0].Err != nil {
		t.Fatalf("Lag = %+v", lags)
	}
	for _, tl := range lags[0].Topics {
		if tl.Topic == topic {
			if tl.Errors > 0 {
				t.Fatalf("%d partitions of %s unknown", tl.Errors, topic)
			}
			return tl.Lag
		}
	}
	t.Fatalf("no lag for %s in %+v", topic, lags[0])
	return 0
}

// gaugeOf reads a gauge's current value.
func gaugeOf(t *testing.T, g prometheus.Gauge) float64 {
	t.Helper()
	var m dto.Metric
	if err := g.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetGauge().GetValue()
}
