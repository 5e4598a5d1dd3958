package delivery

import (
	"context"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/claimable/eventrouter/subscriptions"
)

// localDisableTTL is how long this process trusts its own disable over an index that
// still shows the subscription enabled (the index catches up within about a second).
const localDisableTTL = time.Minute

// health tracks whether subscriptions' endpoints are healthy and disables those that
// are not: it feeds the failing-since clock (in the attempt log, so a restart does not
// reset it), disables a subscription through the Disabler, and remembers its own
// disables until the index agrees. It has its own lock, apart from the sender's
// partition and lane state.
type health struct {
	disabler Disabler
	clock    AttemptRecorder // nil: no failing-since clock
	now      func() time.Time
	metrics  *metrics
	log      *zap.Logger

	mu         sync.Mutex
	disabledAt map[string]localDisable // subscriptions this process disabled, until the index agrees
	clean      map[string]bool         // subscriptions whose failing-since clock is known clear
}

// localDisable remembers a subscription this process disabled: when, and the index
// version of the subscription at that moment.
type localDisable struct {
	at      time.Time
	version int64
}

func newHealth(d Disabler, clock AttemptRecorder, now func() time.Time, m *metrics, log *zap.Logger) *health {
	return &health{disabler: d, clock: clock, now: now, metrics: m, log: log,
		disabledAt: map[string]localDisable{}, clean: map[string]bool{}}
}

// failingSince feeds the failing-since clock and returns it (zero when healthy or
// unknown). Successes clear it only when this process may not know it is clear, to keep
// Redis off the hot path of healthy endpoints.
func (h *health) failingSince(ctx context.Context, subID string, ok bool, at time.Time) time.Time {
	if h.clock == nil {
		return time.Time{}
	}
	h.mu.Lock()
	clean := h.clean[subID]
	h.mu.Unlock()
	if ok && clean {
		return time.Time{}
	}
	since, err := h.clock.Outcome(ctx, subID, ok, at)
	if err != nil {
		h.log.Warn("failing-since update failed", zap.String("subscription_id", subID), zap.Error(err))
		return time.Time{}
	}
	h.mu.Lock()
	h.clean[subID] = ok
	h.mu.Unlock()
	return since
}

// disable disables a subscription and remembers it locally until the index agrees, so
// its queued deliveries are held (DLQ, subscription_disabled) at once. It reports
// success.
func (h *health) disable(ctx context.Context, sub *subscriptions.Subscription, reason, metric string) bool {
	if err := h.disabler.Disable(ctx, sub.ID, reason); err != nil {
		h.log.Error("disable subscription failed", zap.String("subscription_id", sub.ID), zap.String("reason", reason), zap.Error(err))
		return false
	}
	h.mu.Lock()
	h.disabledAt[sub.ID] = localDisable{at: h.now(), version: sub.Version}
	h.mu.Unlock()
	h.metrics.disabled.WithLabelValues(metric).Inc()
	h.log.Warn("subscription disabled", zap.String("subscription_id", sub.ID), zap.String("reason", reason))
	return true
}

// enabled reports whether sub may receive deliveries. The local memory of a disable
// applies only while the index still shows the version this process disabled: any
// newer version is the disable itself (then the index says disabled) or a later change,
// such as a user re-enabling it, which must win at once, or the deliveries that follow
// would be held after the re-enable's recovery had already run.
func (h *health) enabled(sub *subscriptions.Subscription) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !sub.Enabled {
		delete(h.disabledAt, sub.ID) // the index caught up; trust it from now on
		return false
	}
	ld, ok := h.disabledAt[sub.ID]
	if !ok {
		return true
	}
	if sub.Version == ld.version && h.now().Sub(ld.at) < localDisableTTL {
		return false
	}
	delete(h.disabledAt, sub.ID)
	return true
}
