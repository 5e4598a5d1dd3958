package router

import (
	"fmt"
	"slices"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"

	"github.com/claimable/eventrouter/events"
	"github.com/claimable/eventrouter/internal/testenv"
)

// emitted is one emit call, reduced to what identifies it.
type emitted struct {
	offset  int64
	reason  string
	fanout  int
	records []string // delivery ids, or the invalid record's reason header
}

func collect(r *Router, recs []*kgo.Record) []emitted {
	var got []emitted
	r.routeAll(recs, func(rec *kgo.Record, rt routed, out []*kgo.Record) {
		e := emitted{offset: rec.Offset, reason: rt.reason, fanout: rt.fanout}
		for _, o := range out {
			if o.Topic == tInvalid {
				e.records = append(e.records, "invalid:"+header(o, events.HeaderReason))
			} else {
				e.records = append(e.records, header(o, events.HeaderDeliveryID))
			}
		}
		got = append(got, e)
	})
	return got
}

// Routing a large poll on several workers emits exactly what routing it on one
// goroutine emits, in the same order: valid, unmatched and invalid records interleaved.
func TestParallelRoutingEmitsInIngestOrder(t *testing.T) {
	m := newMatcher(t, sub("sub_a", "acc_1", true, "", "*"), sub("sub_b", "acc_1", true, "", "claim.*"))
	var recs []*kgo.Record
	for i := range 10*chunkSize + 7 {
		var rec *kgo.Record
		switch {
		case i%13 == 0:
			rec = &kgo.Record{Value: []byte(`{"id":`)}
		case i%7 == 0:
			rec, _ = eventRecord("contact.created", "acc_2", fmt.Sprintf("con_%d", i), i) // unmatched
		case i%5 == 0:
			rec, _ = eventRecord("contact.created", "acc_1", fmt.Sprintf("con_%d", i), i) // sub_a only
		default:
			rec, _ = eventRecord("claim.closed", "acc_1", fmt.Sprintf("clm_%d", i%9), i)
		}
		rec.Topic, rec.Offset = tIngest, int64(i)
		recs = append(recs, rec)
	}
	build := func(workers int) *Router {
		cfg := newEnvConfig()
		cfg.Workers = workers
		r, err := New(cfg, Deps{Matcher: m, Parser: newParser(t, 0), Registerer: prometheus.NewRegistry()}, zap.NewNop())
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	want := collect(build(1), recs)
	if len(want) != len(recs) {
		t.Fatalf("inline routing emitted %d records for %d", len(want), len(recs))
	}
	for _, workers := range []int{2, 4} {
		got := collect(build(workers), recs)
		if !slices.EqualFunc(got, want, func(a, b emitted) bool {
			return a.offset == b.offset && a.reason == b.reason && a.fanout == b.fanout && slices.Equal(a.records, b.records)
		}) {
			t.Errorf("workers=%d: emitted sequence differs from inline routing (%d vs %d entries)", workers, len(got), len(want))
		}
	}
}

func newEnvConfig() Config { return (&env{}).config("g") }

// A backlog is routed in fewer, larger transactions than one per poll, and never more
// than MaxTransactionRecords per transaction.
func TestBacklogIsDrainedInTransactionsOfUpToMaxTransactionRecords(t *testing.T) {
	const n = 400
	for _, tc := range []struct {
		maxTxn           int
		minTxns, maxTxns uint64
	}{
		{maxTxn: 10_000, minTxns: 1, maxTxns: n/50 - 1}, // 50 per poll, merged
		{maxTxn: 100, minTxns: n / 100, maxTxns: n/50 - 1},
	} {
		t.Run(fmt.Sprint("max=", tc.maxTxn), func(t *testing.T) {
			e := newEnv(t, 1, 1)
			m := newMatcher(t, sub("sub_a", "acc_1", true, "", "*"))
			var recs []*kgo.Record
			for i := range n {
				rec, _ := eventRecord("claim.created", "acc_1", fmt.Sprintf("clm_%d", i), i)
				recs = append(recs, rec)
			}
			e.produce(t, recs...) // all buffered by the router's first fetch
			cfg := e.config("g-backlog")
			cfg.MaxPollRecords = 50
			cfg.MaxTransactionRecords = tc.maxTxn
			cfg.MaxTransactionSpan = testTimeout
			r := e.start(t, cfg, m, newParser(t, 0))
			if got := len(e.reader(t, tDeliveries).n(t, n)); got != n {
				t.Fatalf("%d deliveries, want %d", got, n)
			}
			testenv.Eventually(t, testTimeout, "all events committed", func() bool {
				return value(r.metrics.consumed.WithLabelValues(tIngest)) == n
			})
			var h dto.Metric
			if err := r.metrics.batch.Write(&h); err != nil {
				t.Fatal(err)
			}
			if txns := h.GetHistogram().GetSampleCount(); txns < tc.minTxns || txns > tc.maxTxns {
				t.Errorf("%d committed transactions for %d buffered events, want %d..%d", txns, n, tc.minTxns, tc.maxTxns)
			}
		})
	}
}
