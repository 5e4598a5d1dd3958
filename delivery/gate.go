package delivery

import (
	"context"
	"time"

	"github.com/claimable/eventrouter/subscriptions"
)

// gate admits one attempt, in this order: the subscription's circuit (admit), its rate
// limit (pace), and the process's global in-flight cap (acquire, then release).
type gate struct {
	breakers CircuitBreakers
	limiters RateLimiters
	slots    chan struct{} // global in-flight cap
	now      func() time.Time
}

func newGate(b CircuitBreakers, l RateLimiters, maxInFlight int, now func() time.Time) *gate {
	return &gate{breakers: b, limiters: l, slots: make(chan struct{}, maxInFlight), now: now}
}

// admit asks subID's breaker for a call. A closed circuit (the common case) costs one
// mutex. While a half-open probe is in flight the delivery waits in memory for the
// probe's outcome, at most until the probe would be handed out again (one cool-down;
// a probe lasts at most the attempt timeout): parking it instead would cost a tier
// write and a whole cool-down even when the probe succeeds a moment later. On refusal it
// returns the breaker's next probe time; err is set only when ctx ended (the sender is
// stopping: the delivery stays unfinished).
func (g *gate) admit(ctx context.Context, subID string) (allowed bool, next time.Time, err error) {
	for {
		if ok, _ := g.breakers.Allow(subID); ok {
			return true, time.Time{}, nil
		}
		next, probing := g.breakers.Wait(subID)
		switch {
		case next.IsZero():
			continue // closed meanwhile
		case probing == nil:
			return false, next, nil // open: park until the next probe
		}
		t := time.NewTimer(max(next.Sub(g.now()), time.Millisecond))
		select {
		case <-probing:
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return false, next, ctx.Err()
		}
		t.Stop()
	}
}

// pace waits for sub's rate limit, if it has one; err only when ctx ended.
func (g *gate) pace(ctx context.Context, sub *subscriptions.Subscription) error {
	if sub.RateLimit <= 0 {
		return nil
	}
	return g.limiters.Wait(ctx, sub.ID, sub.RateLimit)
}

// acquire takes one of the process's in-flight slots; err only when ctx ended. Every
// acquire is followed by one release.
func (g *gate) acquire(ctx context.Context) error {
	select {
	case g.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// release returns an acquired slot.
func (g *gate) release() { <-g.slots }
