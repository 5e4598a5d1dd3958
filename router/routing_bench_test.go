package router

import (
	"fmt"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"

	"github.com/claimable/eventrouter/events"
	"github.com/claimable/eventrouter/internal/tracing"
	"github.com/claimable/eventrouter/subscriptions"
)

// BenchmarkRoute measures the router's CPU work per ingest record (parse, match,
// render, delivery records), without Kafka, for a 1 KiB event at fan-out 1 and 5: the
// per-event cost that bounds the router's throughput beside the raw client's.
// tracing=on adds a sampled route span (SDK provider, no exporter) per record; off is
// the default, which must cost nothing.
func BenchmarkRoute(b *testing.B) {
	for _, traced := range []bool{false, true} {
		for _, k := range []int{1, 5} {
			name := fmt.Sprintf("fanout=%d", k)
			if traced {
				name = "tracing=on/" + name
			}
			b.Run(name, func(b *testing.B) { benchmarkRoute(b, k, traced, nil) })
		}
	}
	// Every subscription redacts the same field: the shaped body is rendered once per
	// event, not once per subscription.
	b.Run("redacted/fanout=5", func(b *testing.B) { benchmarkRoute(b, 5, false, []string{"claim.notes"}) })
}

func benchmarkRoute(b *testing.B, k int, traced bool, redact []string) {
	var m fixedMatcher
	for i := range k {
		m = append(m, &subscriptions.Subscription{ID: fmt.Sprintf("sub_bench_%d", i), Enabled: true, Redact: redact})
	}
	deps := Deps{Matcher: m, Parser: events.NewParser(benchCatalogue(b), 0)}
	if traced {
		deps.TracerProvider = tracing.NewSDKProvider(tracing.Options{ServiceName: "bench", SampleRatio: 1})
	}
	r, err := New(Config{
		Group: "g", TransactionalIDPrefix: "t", IngestTopics: []string{tIngest},
		DeliveriesTopic: tDeliveries, InvalidTopic: tInvalid,
	}, deps, zap.NewNop())
	if err != nil {
		b.Fatal(err)
	}
	rec, ev := eventRecord("claim.created", "acc_1", "clm_1", 1)
	ev.Data = []byte(fmt.Sprintf(`{"id":%q,"notes":%q}`, ev.ObjectID, strings.Repeat("x", 600)))
	rec.Value = ev.Marshal()
	b.SetBytes(int64(len(rec.Value)))
	b.ReportAllocs()
	var out []*kgo.Record
	var subs []*subscriptions.Subscription
	for b.Loop() {
		var rt routed
		rt, out, subs = r.route(rec, out[:0], subs)
		if rt.reason != "" || len(out) != k {
			b.Fatalf("routed %+v to %d records", rt, len(out))
		}
	}
}

// fixedMatcher matches every event to the same subscriptions.
type fixedMatcher []*subscriptions.Subscription

func (m fixedMatcher) Match(_ *events.Event, dst []*subscriptions.Subscription) []*subscriptions.Subscription {
	return append(dst, m...)
}

func benchCatalogue(b *testing.B) *events.Catalogue {
	cat, err := events.NewCatalogue(testCatalogue)
	if err != nil {
		b.Fatal(err)
	}
	return cat
}
