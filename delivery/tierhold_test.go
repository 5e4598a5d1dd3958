package delivery

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/claimable/eventrouter/events"
	"github.com/claimable/eventrouter/internal/testenv"
	"github.com/claimable/eventrouter/subscriptions"
)

var tpTier0 = topicPartition{"webhooks.retry.1s", 0}

// overflowSlow makes sub_slow overflow at once (a neighbour on its partition is running
// dry) with its budget of 4 full.
func overflowSlow(r *flowRig) {
	p0 := newPartition(tpDeliveries0)
	r.enqueue("sub_quick", p0, 10)
	r.finish("sub_quick", 1)
	for range 4 {
		r.enqueue("sub_slow", p0, 10)
	}
	if len(r.overflow) != 1 {
		r.t.Fatalf("overflow %v, want sub_slow", r.overflow)
	}
}

// A delivery surfacing from a tier for a subscription that overflowed and is still at
// its budget is left in the tier partition (held) rather than parked again, until the
// subscription drains to its low-water mark; a subscription with room is never held.
func TestTierHoldUntilTheSubscriptionDrains(t *testing.T) {
	r := newFlowRig(t, flowConfig{maxBytes: 1 << 30, maxQueued: 4, parkAfter: time.Minute}, 1)
	var mu sync.Mutex
	var resumed []topicPartition
	r.l.resumeTier = func(tp topicPartition) {
		mu.Lock()
		resumed = append(resumed, tp)
		mu.Unlock()
	}
	overflowSlow(r)
	pt := newPartition(tpTier0)
	if _, held := r.l.holdTier(pt, "sub_other", 3, 9); held {
		t.Fatal("held the tier for a subscription that is not saturated")
	}
	wait, held := r.l.holdTier(pt, "sub_slow", 10, 20)
	if !held || wait != time.Minute {
		t.Fatalf("hold %v for %s, want the tier held for saturation_park_after (1m)", held, wait)
	}
	r.finish("sub_slow", 1) // 3 queued: above the low-water mark
	mu.Lock()
	if len(resumed) != 0 {
		t.Fatalf("tier resumed at 3 of 4 queued: %v", resumed)
	}
	mu.Unlock()
	r.finish("sub_slow", 1) // 2: the low-water mark
	mu.Lock()
	defer mu.Unlock()
	if len(resumed) != 1 || resumed[0] != tpTier0 {
		t.Fatalf("resumed %v when the subscription drained to half its budget, want [%v]", resumed, tpTier0)
	}
}

// A hold ends at saturation_park_after: what is in the tier partition then moves on
// (admitted or parked again), so other subscriptions' retries behind it wait no longer
// than that; only records that arrive afterwards can be held again. A neighbour fed from
// the tier partition that is running dry prevents the hold.
func TestTierHoldExpiresAndSparesADryNeighbour(t *testing.T) {
	r := newFlowRig(t, flowConfig{maxBytes: 1 << 30, maxQueued: 4, parkAfter: time.Minute}, 1)
	overflowSlow(r)
	pt := newPartition(tpTier0)
	if _, held := r.l.holdTier(pt, "sub_slow", 10, 20); !held {
		t.Fatal("not held")
	}
	r.advance(30 * time.Second)
	if wait, held := r.l.holdTier(pt, "sub_slow", 10, 20); !held || wait != 30*time.Second {
		t.Fatalf("refetched hold %v for %s, want the rest of the same hold (30s)", held, wait)
	}
	r.advance(30 * time.Second)
	if _, held := r.l.holdTier(pt, "sub_slow", 10, 25); held {
		t.Fatal("held past saturation_park_after")
	}
	if _, held := r.l.holdTier(pt, "sub_slow", 24, 25); held {
		t.Fatal("held a record that was in the partition when its hold expired")
	}
	if _, held := r.l.holdTier(pt, "sub_slow", 25, 26); !held {
		t.Fatal("a record parked after the hold expired was not held: the subscription cycles through the tier")
	}

	r.enqueue("sub_retrying", pt, 10) // a neighbour's retry from the tier, delivered
	r.finish("sub_retrying", 1)
	r.advance(time.Minute + time.Second) // the hold above expires
	if _, held := r.l.holdTier(pt, "sub_slow", 30, 31); held {
		t.Fatal("expired hold renewed")
	}
	r.enqueue("sub_retrying", pt, 10)
	r.finish("sub_retrying", 1)
	if _, held := r.l.holdTier(pt, "sub_slow", 40, 41); held {
		t.Fatal("held a tier partition whose other subscription is running dry")
	}
}

// A saturated subscription whose excess was parked gets every delivery, while each
// parked delivery waits in the tier instead of being parked again each time it surfaces.
func TestSenderSaturatedSubscriptionWaitsInTheTier(t *testing.T) {
	h := newHarness(t, 1, 50*time.Millisecond)
	h.cfg.MaxQueuedPerSubscription = 20
	h.cfg.SaturationParkAfter = 5 * time.Second
	var mu sync.Mutex
	got := map[string]int{}
	var fast atomic.Int32
	poster := posterFunc(func(_ context.Context, sub *subscriptions.Subscription, d *events.Delivery, _ time.Time) Result {
		if sub.ID == "sub_fast" {
			fast.Add(1)
			return Result{Reason: ReasonOK, Status: 200}
		}
		time.Sleep(20 * time.Millisecond)
		mu.Lock()
		got[d.ID]++
		mu.Unlock()
		return Result{Reason: ReasonOK, Status: 200}
	})
	slow := senderSub("sub_slow")
	slow.MaxInFlight = 1
	subs := newFakeIndex(slow, senderSub("sub_fast"))
	reg := prometheus.NewRegistry()
	h.start(Deps{Subscriptions: subs, Disabler: subs, Client: poster, Registerer: reg})

	h.produce(newTestDelivery("sub_fast", "clm_f", 0)) // a neighbour running dry: no pause
	testenv.Eventually(t, 10*time.Second, "the neighbour's delivery", func() bool { return fast.Load() == 1 })
	const n = 100
	var ds []*events.Delivery
	for i := range n {
		ds = append(ds, newTestDelivery("sub_slow", "clm_s", i))
	}
	h.produce(ds...)
	testenv.Eventually(t, 60*time.Second, "every delivery of the saturated subscription", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(got) == n
	})
	parked := counterValue(t, reg, "eventrouter_sender_skipped_total", "reason", string(ReasonBackpressure))
	t.Logf("parked %v", parked)
	// Its lane of 20 takes 400 ms to drain at 20 ms a call: cycling through the 50 ms tier
	// parked each waiting delivery again and again.
	if parked == 0 || parked > 2*n {
		t.Errorf("%v backpressure parks for %d deliveries, want some and at most %d (each waits in the tier)", parked, n, 2*n)
	}
}
