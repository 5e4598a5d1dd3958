package router

import (
	"fmt"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/claimable/eventrouter/events"
)

// A failed End (franz-go: unrecoverable for that client — what a long broker outage
// produces) does not stop the router: it starts a new transactional session and every
// (event, subscription) pair is still delivered exactly once.
func TestFailedSessionIsReplacedWithoutLossOrDuplicates(t *testing.T) {
	e := newEnv(t, 1, 1)
	m := newMatcher(t, sub("sub_a", "acc_1", true, "", "*"), sub("sub_b", "acc_1", true, "", "*"))
	e.c.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.EndTxn}, Err: kerr.TransactionalIDAuthorizationFailed, Count: 1})
	var recs []*kgo.Record
	want := map[string]bool{}
	for i := range 50 {
		rec, ev := eventRecord("claim.created", "acc_1", fmt.Sprintf("clm_%d", i), i)
		recs = append(recs, rec)
		want[ev.ID] = true
	}
	e.produce(t, recs...)
	r := e.start(t, e.config("g-session"), m, newParser(t, 0))

	sentinel, sentinelEv := eventRecord("contact.created", "acc_1", "con_end", 1000)
	rd := e.reader(t, tDeliveries)
	out := rd.n(t, 100)
	e.produce(t, sentinel)
	out = append(out, rd.until(t, "the sentinel's deliveries", func(rs []*kgo.Record) bool {
		n := 0
		for _, r := range rs {
			if header(r, events.HeaderEventID) == sentinelEv.ID {
				n++
			}
		}
		return n == 2
	})...)
	seen := map[string]int{}
	for _, rec := range out {
		if id := header(rec, events.HeaderEventID); id != sentinelEv.ID {
			seen[id+"/"+string(rec.Key)]++
		}
	}
	var missing, dup int
	for id := range want {
		for _, s := range []string{"sub_a", "sub_b"} {
			switch n := seen[id+"/"+s]; {
			case n == 0:
				missing++
			case n > 1:
				dup++
			}
		}
	}
	if missing > 0 || dup > 0 {
		t.Fatalf("after a failed session: %d missing, %d duplicated", missing, dup)
	}
	if n := value(r.metrics.aborted.WithLabelValues(abortSession)); n < 1 {
		t.Fatalf("transactions_aborted_total{session_failed} = %v, want ≥ 1 (the fault never hit End?)", n)
	}
	if err := r.stop(); err != nil {
		t.Fatalf("Run returned %v after recovering; want nil on cancel", err)
	}
}
