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

// plainValue reads an unlabelled counter or gauge from reg (0 when absent).
func plainValue(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) == 1 {
			m := mf.GetMetric()[0]
			return m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	return 0
}

// A burst larger than a subscription's budget is paced by pausing its partition, not
// parked: every delivery is sent on its first pass, in order per object, and nothing
// goes to a retry tier.
func TestSenderBurstOverBudgetPausesInsteadOfParking(t *testing.T) {
	h := newHarness(t, 1)
	h.cfg.MaxQueuedPerSubscription = 5
	h.cfg.SaturationParkAfter = time.Minute // the lane drains long before: never park
	var mu sync.Mutex
	order := map[string][]int{}
	poster := posterFunc(func(_ context.Context, _ *subscriptions.Subscription, d *events.Delivery, _ time.Time) Result {
		time.Sleep(2 * time.Millisecond)
		mu.Lock()
		order[d.ObjectID] = append(order[d.ObjectID], d.Attempt)
		mu.Unlock()
		return Result{Reason: ReasonOK, Status: 200}
	})
	sub := senderSub("sub_burst")
	sub.MaxInFlight = 2
	subs := newFakeIndex(sub)
	reg := prometheus.NewRegistry()
	h.start(Deps{Subscriptions: subs, Disabler: subs, Client: poster, Registerer: reg})

	const n = 60
	objects := []string{"clm_a", "clm_b", "clm_c"}
	var ds []*events.Delivery
	for i := range n {
		d := newTestDelivery(sub.ID, objects[i%3], i)
		d.Attempt = i + 1 // carries the sequence to the poster (attempts are not checked here)
		ds = append(ds, d)
	}
	h.produce(ds...)
	testenv.Eventually(t, 30*time.Second, "the whole burst delivered", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(order["clm_a"])+len(order["clm_b"])+len(order["clm_c"]) >= n
	})
	mu.Lock()
	for obj, seqs := range order {
		for i := 1; i < len(seqs); i++ {
			if seqs[i] <= seqs[i-1] {
				t.Errorf("object %s delivered out of order or twice: %v", obj, seqs)
				break
			}
		}
	}
	mu.Unlock()
	if got := counterValue(t, reg, "eventrouter_sender_skipped_total", "reason", string(ReasonBackpressure)); got != 0 {
		t.Errorf("%v deliveries parked for backpressure, want 0 (paused instead)", got)
	}
	testenv.Eventually(t, 10*time.Second, "the flow-control pause to end", func() bool {
		return plainValue(t, reg, "eventrouter_sender_flow_paused_partitions") == 0
	})
	if plainValue(t, reg, "eventrouter_sender_flow_paused_seconds_total") <= 0 {
		t.Error("flow_paused_seconds_total is 0: a burst 12× the budget never paused its partition")
	}
}

// A subscription that stays saturated past delivery.saturation_park_after stops holding
// its partition: the other subscription on it is delivered, and the saturated one's
// excess is parked in the first retry tier (reason backpressure, attempt not consumed).
func TestSenderSaturatedSubscriptionParksAfterDeadline(t *testing.T) {
	h := newHarness(t, 1) // both subscriptions share the one partition
	h.cfg.MaxQueuedPerSubscription = 3
	h.cfg.SaturationParkAfter = 300 * time.Millisecond
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	var hungCalls, fastCalls atomic.Int32
	poster := posterFunc(func(ctx context.Context, sub *subscriptions.Subscription, _ *events.Delivery, _ time.Time) Result {
		if sub.ID == "sub_fast" {
			fastCalls.Add(1)
			return Result{Reason: ReasonOK, Status: 200}
		}
		hungCalls.Add(1)
		select { // a dead endpoint that never answers
		case <-release:
		case <-ctx.Done():
		}
		return Result{Reason: ReasonTimeout}
	})
	hung := senderSub("sub_hung")
	hung.MaxInFlight = 1
	subs := newFakeIndex(hung, senderSub("sub_fast"))
	reg := prometheus.NewRegistry()
	h.start(Deps{Subscriptions: subs, Disabler: subs, Client: poster, Registerer: reg})

	var first []*events.Delivery
	for i := range 3 { // fills sub_hung's budget: its partition pauses
		first = append(first, newTestDelivery("sub_hung", "clm_1", i))
	}
	h.produce(first...)
	testenv.Eventually(t, 10*time.Second, "the hung endpoint's first call", func() bool { return hungCalls.Load() == 1 })
	var more []*events.Delivery
	for i := range 7 {
		more = append(more, newTestDelivery("sub_hung", "clm_1", 3+i))
	}
	for i := range 5 {
		more = append(more, newTestDelivery("sub_fast", "clm_2", i))
	}
	h.produce(more...)
	testenv.Eventually(t, 20*time.Second, "the other subscription on the paused partition delivered", func() bool {
		return fastCalls.Load() == 5
	})
	recs := h.read(h.cfg.RetryPrefix+"50ms", 7, 10*time.Second)
	if len(recs) < 7 {
		t.Fatalf("%d deliveries parked, want the 7 beyond the saturated subscription's budget", len(recs))
	}
	for i, r := range recs[:7] {
		d, err := events.ParseDelivery(r)
		if err != nil {
			t.Fatal(err)
		}
		if d.SubscriptionID != "sub_hung" || d.Reason != string(ReasonBackpressure) || d.Attempt != 1 {
			t.Fatalf("parked %s with reason %q attempt %d; want sub_hung, backpressure, attempt 1", d.SubscriptionID, d.Reason, d.Attempt)
		}
		// Parked together, in fetch order: they come back from the tier in event order.
		if want := more[i].ID; d.ID != want {
			t.Errorf("parked delivery %d is %s, want %s (the excess parked in its fetch order)", i, d.ID, want)
		}
	}
	if hungCalls.Load() != 1 {
		t.Errorf("hung endpoint called %d times, want 1 (max in flight 1, the rest queued or parked)", hungCalls.Load())
	}
}
