package subscriptions_test

import (
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/claimable/eventrouter/events"
	"github.com/claimable/eventrouter/subscriptions"
)

var benchNames = []string{"claim.created", "claim.closed", "claim.reopened", "claim.assigned", "contact.created"}

// benchSubs builds n subscriptions over accounts: ≈60 % exact names, 30 % "claim.*",
// 10 % "*", one in five with a filter.
func benchSubs(n, accounts int) []*subscriptions.Subscription {
	subs := make([]*subscriptions.Subscription, n)
	for i := range subs {
		s := &subscriptions.Subscription{
			ID:        fmt.Sprintf("sub_%08d", i),
			AccountID: fmt.Sprintf("acct_%05d", i%accounts),
			URL:       fmt.Sprintf("https://hooks%d.example.com/in", i),
			Enabled:   true,
		}
		switch r := i % 10; {
		case r < 6:
			s.Events = []string{benchNames[i%len(benchNames)], benchNames[(i+1)%len(benchNames)]}
		case r < 9:
			s.Events = []string{"claim.*"}
		default:
			s.Events = []string{"*"}
		}
		if i%5 == 0 {
			s.Filter = `source == "api" and performed_by != "import-bot"`
		}
		subs[i] = s
	}
	return subs
}

func BenchmarkMatch(b *testing.B) {
	const n, accounts = 100_000, 10_000
	subs := benchSubs(n, accounts)
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	ix := subscriptions.NewStaticIndex(subs)
	runtime.GC()
	runtime.ReadMemStats(&after)
	evs := make([]*events.Event, 1024)
	for i := range evs {
		evs[i] = &events.Event{
			AccountID: fmt.Sprintf("acct_%05d", (i*7919)%accounts), EventName: "claim.closed",
			Object: "claim", Source: "api", PerformedBy: "alice",
		}
	}
	matchLoop(b, ix, evs)
	b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/n, "B/sub")
	runtime.KeepAlive(ix)
}

// BenchmarkMatchDataPredicates is BenchmarkMatch with one subscription in five
// carrying a data predicate over the claim (instead of an envelope filter): the cost
// of decoding the object once per event that reaches such a subscription and running
// the predicates. Events carry a 1 KiB claim object.
func BenchmarkMatchDataPredicates(b *testing.B) {
	const n, accounts = 100_000, 10_000
	subs := benchSubs(n, accounts)
	preds := []string{`claim.type == "theft"`, `"urgent" in claim.labels`, `claim.assignee?.id == "usr_42" and source == "api"`}
	for i, s := range subs {
		if i%5 == 0 {
			s.Filter = preds[i%len(preds)]
		}
	}
	ix := subscriptions.NewStaticIndex(subs)
	data := []byte(`{"id":"clm_1","type":"theft","labels":["urgent","vip"],"assignee":{"id":"usr_42","name":"Ada Lovelace"},"notes":"` +
		strings.Repeat("x", 900) + `"}`)
	evs := make([]*events.Event, 1024)
	for i := range evs {
		evs[i] = &events.Event{
			AccountID: fmt.Sprintf("acct_%05d", (i*7919)%accounts), EventName: "claim.closed",
			Object: "claim", Source: "api", PerformedBy: "alice", Data: data,
		}
	}
	matchLoop(b, ix, evs)
}

// matchLoop times ix.Match over evs in turn and reports the matches per event; it fails
// the benchmark when nothing matched (it would measure nothing).
func matchLoop(b *testing.B, ix *subscriptions.Index, evs []*events.Event) {
	dst := make([]*subscriptions.Subscription, 0, 64)
	hits := 0
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		dst = ix.Match(evs[i%len(evs)], dst[:0])
		hits += len(dst)
	}
	b.StopTimer()
	if hits == 0 {
		b.Fatal("no event matched: the benchmark measures nothing")
	}
	b.ReportMetric(float64(hits)/float64(b.N), "matches/op")
}
