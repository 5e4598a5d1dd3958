package delivery

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/claimable/eventrouter/events"
	"github.com/claimable/eventrouter/internal/testenv"
	"github.com/claimable/eventrouter/subscriptions"
)

// An endpoint down for one breaker cool-down (the 30 s outage with the default
// 30 s cool-down, scaled to 3 s) while deliveries keep arriving: every delivery arrives,
// and none is written to the retry tiers more than twice (a failed attempt's retry, and
// one park until the breaker's probe). Before, skipped deliveries hopped through the
// first tier every 1.25 tier delays until the cool-down ended.
func TestSenderBreakerOutageParksOncePerDelivery(t *testing.T) {
	const outage, cooldown = 3 * time.Second, 3 * time.Second
	h := newHarness(t, 2, 200*time.Millisecond, 5*time.Second, 10*time.Second)
	h.cfg.BreakerThreshold = 3
	h.cfg.BreakerCooldown = cooldown

	var mu sync.Mutex
	var down time.Time // the outage starts with the first request
	delivered := map[string]int{}
	poster := posterFunc(func(_ context.Context, _ *subscriptions.Subscription, d *events.Delivery, _ time.Time) Result {
		mu.Lock()
		defer mu.Unlock()
		if down.IsZero() {
			down = time.Now()
		}
		if time.Since(down) < outage {
			return Result{Reason: ReasonHTTPStatus, Status: 503}
		}
		delivered[d.ID]++
		return Result{Reason: ReasonOK, Status: 204}
	})
	sub := senderSub("sub_outage")
	subs := newFakeIndex(sub)
	reg := prometheus.NewRegistry()
	s, _ := h.start(Deps{Subscriptions: subs, Disabler: subs, Client: poster, Registerer: reg})

	// Deliveries keep arriving through the outage: 10 every 250 ms for 3 s.
	var ids []string
	for batch := range 12 {
		var ds []*events.Delivery
		for i := range 10 {
			d := newTestDelivery(sub.ID, "clm_"+strconv.Itoa(i%4), batch*10+i)
			ds = append(ds, d)
			ids = append(ids, d.ID)
		}
		h.produce(ds...)
		time.Sleep(250 * time.Millisecond)
	}
	testenv.Eventually(t, 60*time.Second, "every delivery delivered", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(delivered) == len(ids)
	})

	writes := map[string]int{}
	total := 0
	for _, topic := range s.retries.tiers.topics() {
		for _, r := range h.read(topic, 1<<20, 2*time.Second) {
			writes[recHeader(r, events.HeaderDeliveryID)]++
			total++
		}
	}
	worst := 0
	for _, id := range ids {
		worst = max(worst, writes[id])
	}
	t.Logf("%d deliveries, %d tier writes, at most %d per delivery, %v re-parks", len(ids), total, worst,
		counterValue(t, reg, "eventrouter_sender_retry_reparked_total", "reason", string(ReasonCircuitOpen)))
	if worst > 2 {
		t.Errorf("a delivery was written to the retry tiers %d times during one cool-down's outage; want at most 2", worst)
	}
	if total == 0 {
		t.Error("no tier writes: the outage did not open the breaker")
	}
}
