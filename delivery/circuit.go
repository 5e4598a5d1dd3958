package delivery

import (
	"context"
	"time"
)

// admit asks subID's breaker for a call. A closed circuit (the common case) costs one
// mutex. While a half-open probe is in flight the delivery waits in memory for the
// probe's outcome, at most until the probe would be handed out again (one cool-down;
// a probe lasts at most the attempt timeout): parking it instead would cost a tier
// write and a whole cool-down even when the probe succeeds a moment later. On refusal it
// returns the breaker's next probe time; err is set only when ctx ended (the sender is
// stopping: the delivery stays unfinished).
func (s *Sender) admit(ctx context.Context, subID string) (allowed bool, next time.Time, err error) {
	for {
		if ok, _ := s.breakers.Allow(subID); ok {
			return true, time.Time{}, nil
		}
		next, probing := s.breakers.Wait(subID)
		switch {
		case next.IsZero():
			continue // closed meanwhile
		case probing == nil:
			return false, next, nil // open: park until the next probe
		}
		t := time.NewTimer(max(next.Sub(s.now()), time.Millisecond))
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

// parkUntilProbe parks a delivery its open circuit refused, once, until the breaker's
// next probe time, in a tier whose delay covers the wait (so it surfaces when due rather
// than hopping through a short tier every few seconds). No attempt is consumed.
func (s *Sender) parkUntilProbe(ctx context.Context, j *job, next time.Time) bool {
	s.metrics.skipped.WithLabelValues(string(ReasonCircuitOpen)).Inc()
	return s.repark(ctx, j, ReasonCircuitOpen, max(next.Sub(s.now()), time.Millisecond))
}

// repark parks a delivery without an attempt (open circuit, or a hop: surfaced before
// its due time) and counts it in retry_reparked_total when it came from a retry tier.
func (s *Sender) repark(ctx context.Context, j *job, reason Reason, delay time.Duration) bool {
	if !s.park(ctx, j, reason, delay) {
		return false
	}
	if _, fromTier := s.tiers.delayOf(j.rec.Topic); fromTier {
		s.metrics.reparked.WithLabelValues(string(reason)).Inc()
	}
	return true
}
