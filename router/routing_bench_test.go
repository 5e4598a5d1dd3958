package router

import (
	"fmt"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"

	"github.com/claimable/eventrouter/config"
	"github.com/claimable/eventrouter/events"
	"github.com/claimable/eventrouter/subscriptions"
)

// BenchmarkRoute measures the router's CPU work per ingest record (parse, match,
// render, delivery records), without Kafka, for a 1 KiB event at fan-out 1 and 5: the
// per-event cost that bounds the router's throughput beside the raw client's.
func BenchmarkRoute(b *testing.B) {
	for _, k := range []int{1, 5} {
		b.Run(fmt.Sprintf("fanout=%d", k), func(b *testing.B) {
			var m fixedMatcher
			for i := range k {
				m = append(m, &subscriptions.Subscription{ID: fmt.Sprintf("sub_bench_%d", i), Enabled: true})
			}
			r, err := New(Config{
				Group: "g", TransactionalIDPrefix: "t", IngestTopics: []string{tIngest},
				DeliveriesTopic: tDeliveries, InvalidTopic: tInvalid,
			}, Deps{Matcher: m, Parser: events.NewParser(benchCatalogue(b), 0)}, zap.NewNop())
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
		})
	}
}

// fixedMatcher matches every event to the same subscriptions.
type fixedMatcher []*subscriptions.Subscription

func (m fixedMatcher) Match(_ *events.Event, dst []*subscriptions.Subscription) []*subscriptions.Subscription {
	return append(dst, m...)
}

func benchCatalogue(b *testing.B) *events.Catalogue {
	cat, err := events.NewCatalogue(config.DefaultCatalogue)
	if err != nil {
		b.Fatal(err)
	}
	return cat
}
