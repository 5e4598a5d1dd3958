package delivery

import (
	"context"
	"math/rand/v2"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/claimable/eventrouter/events"
	"github.com/claimable/eventrouter/internal/testenv"
	"github.com/claimable/eventrouter/subscriptions"
)

// committed returns the group's committed offset for the deliveries topic partition p.
func (h *senderHarness) committed(p int32) int64 {
	h.t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(h.seeds...))
	if err != nil {
		h.t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	offs, err := kadm.NewClient(cl).FetchOffsets(ctx, h.cfg.Group)
	if err != nil {
		h.t.Fatal(err)
	}
	o, ok := offs.Lookup(h.cfg.DeliveriesTopic, p)
	if !ok {
		return -1
	}
	return o.At
}

func TestSenderNeverCommitsPastUnfinishedDelivery(t *testing.T) {
	h := newHarness(t, 1)
	release := make(chan struct{})
	var mu sync.Mutex
	delivered := 0
	poster := posterFunc(func(ctx context.Context, _ *subscriptions.Subscription, d *events.Delivery, _ time.Time) Result {
		if d.ObjectID == "clm_3" {
			select {
			case <-release:
			case <-ctx.Done():
				return Result{Reason: ReasonTimeout}
			}
		}
		mu.Lock()
		delivered++
		mu.Unlock()
		return Result{Reason: ReasonOK, Status: 200}
	})
	subs := newFakeIndex(senderSub("sub_c"))
	h.start(Deps{Subscriptions: subs, Disabler: subs, Client: poster})
	var ds []*events.Delivery
	for i := range 10 {
		ds = append(ds, newTestDelivery("sub_c", "clm_"+strconv.Itoa(i), i)) // offsets 0..9
	}
	h.produce(ds...)
	testenv.Eventually(t, 10*time.Second, "9 deliveries and a commit at offset 3", func() bool {
		mu.Lock()
		n := delivered
		mu.Unlock()
		return n == 9 && h.committed(0) == 3
	})
	// Several more commit intervals: the commit must stay below the unfinished record.
	time.Sleep(5 * h.cfg.CommitInterval)
	if got := h.committed(0); got != 3 {
		t.Fatalf("committed offset %d while offset 3 is still in flight", got)
	}
	close(release)
	testenv.Eventually(t, 10*time.Second, "commit of everything", func() bool { return h.committed(0) == 10 })
}

func TestSenderRebalanceMidRunLosesNothing(t *testing.T) {
	h := newHarness(t, 4)
	h.log = zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel))
	h.cfg.DrainTimeout = 100 * time.Millisecond // cut hand-overs short: unfinished work must move
	var mu sync.Mutex
	seen := map[string]int{}
	bySender := [2]int{}
	poster := func(sender int) posterFunc {
		return func(ctx context.Context, _ *subscriptions.Subscription, d *events.Delivery, _ time.Time) Result {
			select {
			case <-time.After(time.Duration(5+rand.IntN(10)) * time.Millisecond):
			case <-ctx.Done():
				return Result{Reason: ReasonTimeout}
			}
			mu.Lock()
			seen[d.ID]++
			bySender[sender]++
			mu.Unlock()
			return Result{Reason: ReasonOK, Status: 200}
		}
	}
	var subList []*subscriptions.Subscription
	for i := range 30 {
		s := senderSub("sub_" + strconv.Itoa(i))
		s.MaxInFlight = 1
		subList = append(subList, s)
	}
	subs := newFakeIndex(subList...)
	distinct := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(seen)
	}
	_, stop1 := h.start(Deps{Subscriptions: subs, Disabler: subs, Client: poster(0)})
	want := map[string]bool{}
	var ds []*events.Delivery
	for i := range 1200 {
		d := newTestDelivery("sub_"+strconv.Itoa(i%30), "clm_"+strconv.Itoa(i%7), i)
		want[d.ID] = true
		ds = append(ds, d)
	}
	h.produce(ds...)
	testenv.Eventually(t, 20*time.Second, "first deliveries", func() bool { return distinct() >= 100 })
	h.start(Deps{Subscriptions: subs, Disabler: subs, Client: poster(1)}) // joins: rebalance
	testenv.Eventually(t, 20*time.Second, "more deliveries", func() bool { return distinct() >= 500 })
	stop1() // leaves mid-run: its partitions move to the second sender
	testenv.Eventually(t, 30*time.Second, "every delivery after the rebalances", func() bool { return distinct() == len(want) })
	mu.Lock()
	defer mu.Unlock()
	dups := 0
	for id, n := range seen {
		if !want[id] {
			t.Fatalf("received unknown webhook-id %s", id)
		}
		dups += n - 1
	}
	if bySender[1] == 0 {
		t.Fatal("the second sender delivered nothing: no work was handed over")
	}
	t.Logf("%d deliveries (first sender %d, second %d), %d duplicates (same webhook-id)", len(want), bySender[0], bySender[1], dups)
}
