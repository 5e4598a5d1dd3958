package delivery

import (
	"context"
	"time"

	"go.uber.org/zap"

	"github.com/claimable/eventrouter/subscriptions"
)

// localDisable remembers a subscription this process disabled: when, and the index
// version of the subscription at that moment.
type localDisable struct {
	at      time.Time
	version int64
}

// disable disables a subscription and remembers it locally until the index agrees, so
// its queued deliveries are held (DLQ, subscription_disabled) at once. It reports
// success.
func (s *Sender) disable(ctx context.Context, sub *subscriptions.Subscription, reason, metric string) bool {
	if err := s.disabler.Disable(ctx, sub.ID, reason); err != nil {
		s.log.Error("disable subscription failed", zap.String("subscription_id", sub.ID), zap.String("reason", reason), zap.Error(err))
		return false
	}
	s.stateMu.Lock()
	s.disabledAt[sub.ID] = localDisable{at: s.now(), version: sub.Version}
	s.stateMu.Unlock()
	s.metrics.disabled.WithLabelValues(metric).Inc()
	s.log.Warn("subscription disabled", zap.String("subscription_id", sub.ID), zap.String("reason", reason))
	return true
}

// localDisableTTL is how long this process trusts its own disable over an index that
// still shows the subscription enabled (the index catches up within about a second).
const localDisableTTL = time.Minute

// enabled reports whether sub may receive deliveries. The local memory of a disable
// applies only while the index still shows the version this process disabled: any
// newer version is the disable itself (then the index says disabled) or a later change,
// such as a user re-enabling it, which must win at once, or the deliveries that follow
// would be held after the re-enable's recovery had already run.
func (s *Sender) enabled(sub *subscriptions.Subscription) bool {
	if !sub.Enabled {
		s.stateMu.Lock()
		delete(s.disabledAt, sub.ID) // the index caught up; trust it from now on
		s.stateMu.Unlock()
		return false
	}
	s.stateMu.Lock()
	defer s.stateMu.Unlock()
	ld, ok := s.disabledAt[sub.ID]
	if !ok {
		return true
	}
	if sub.Version == ld.version && s.now().Sub(ld.at) < localDisableTTL {
		return false
	}
	delete(s.disabledAt, sub.ID)
	return true
}
