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
	clocks     map[string]clockState   // what this process knows of each failing-since clock; absent: nothing
}

// clockState is what this process knows of a subscription's failing-since record in
// Redis. A subscription it knows nothing of (after a failure, a restart or a partition
// assignment) may have a record, written by this process or another sender.
type clockState uint8

const (
	// clockClearing: a success was seen and its clear (a DEL in the attempt writer's
	// next pipeline) is queued or was lost, not yet confirmed.
	clockClearing clockState = iota + 1
	// clockClear: a clear was written after this process's last failure for it.
	clockClear
)

// localDisable remembers a subscription this process disabled: when, and the index
// version of the subscription at that moment.
type localDisable struct {
	at      time.Time
	version int64
}

func newHealth(d Disabler, clock AttemptRecorder, now func() time.Time, m *metrics, log *zap.Logger) *health {
	return &health{disabler: d, clock: clock, now: now, metrics: m, log: log,
		disabledAt: map[string]localDisable{}, clocks: map[string]clockState{}}
}

// succeeded notes a success and reports whether the subscription's failing-since record
// must be cleared: true unless this process knows it is clear. The clear is not made
// here but folded into the attempt writer's pipeline with the success's attempt (off the
// delivery path, no read), which confirms it through cleared.
func (h *health) succeeded(subID string) (clear bool) {
	if h.clock == nil {
		return false
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.clocks[subID] == clockClear {
		return false
	}
	h.clocks[subID] = clockClearing
	return true
}

// cleared confirms written clears (the attempt writer calls it after a pipeline that
// carried them succeeded). A subscription that failed since its clear was queued stays
// unknown: its failure's record may be newer than the clear.
func (h *health) cleared(subIDs []string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, id := range subIDs {
		if h.clocks[id] == clockClearing {
			h.clocks[id] = clockClear
		}
	}
}

// failed feeds a failure to the failing-since clock and returns it (zero when unknown).
// Failures are written through, one round trip: they are rare on a healthy system and
// the clock decides auto-disable. When a success's clear may not have reached Redis yet
// (queued behind it, or lost with Redis down), it is made first, so the failure does not
// inherit the failing-since time of the run of failures that success ended.
func (h *health) failed(ctx context.Context, subID string, at time.Time) time.Time {
	if h.clock == nil {
		return time.Time{}
	}
	h.mu.Lock()
	pending := h.clocks[subID] == clockClearing
	delete(h.clocks, subID)
	h.mu.Unlock()
	if pending {
		if _, err := h.clock.Outcome(ctx, subID, true, at); err != nil {
			h.log.Warn("failing-since clear failed", zap.String("subscription_id", subID), zap.Error(err))
			h.mu.Lock()
			h.clocks[subID] = clockClearing // still to be made before the next failure
			h.mu.Unlock()
			return time.Time{}
		}
	}
	since, err := h.clock.Outcome(ctx, subID, false, at)
	if err != nil {
		h.log.Warn("failing-since update failed", zap.String("subscription_id", subID), zap.Error(err))
		return time.Time{}
	}
	return since
}

// forgetClear drops what this process knows to be clear, for partitions newly assigned
// to it: while another sender owned them it may have recorded failures. Their next
// success queues a clear again. Clears still pending stay pending.
func (h *health) forgetClear() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for id, st := range h.clocks {
		if st == clockClear {
			delete(h.clocks, id)
		}
	}
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
