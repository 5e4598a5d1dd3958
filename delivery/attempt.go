package delivery

import (
	"context"
	"time"
	"unicode/utf8"

	"github.com/claimable/eventrouter/events"
	"github.com/claimable/eventrouter/subscriptions"
)

// process runs one job to its end on a lane goroutine: finished (delivered, or handed
// off with an acknowledged produce) or abandoned (left uncommitted).
func (s *Sender) process(j *job) {
	if !j.part.begin() {
		return // partition revoked meanwhile: abandoned
	}
	j.part.end(j.rec.Offset, s.handle(s.work.ctx, j))
}

// handle decides one delivery's fate and reports whether it is finished.
func (s *Sender) handle(ctx context.Context, j *job) bool {
	d := j.d
	sub, ok := s.subs.Get(d.SubscriptionID)
	switch {
	case !ok:
		return s.toDLQ(ctx, j, ReasonDeleted)
	case !s.health.enabled(sub):
		return s.toDLQ(ctx, j, ReasonDisabled)
	}
	if now := s.now(); d.NotBefore.After(now) {
		// Surfaced from a tier before its due time (a hop; see tiers): park it again.
		return s.repark(ctx, j, Reason(d.Reason), d.NotBefore.Sub(now))
	}
	if allowed, next, err := s.gate.admit(ctx, sub.ID); err != nil {
		return false // shutting down
	} else if !allowed {
		return s.parkUntilProbe(ctx, j, next)
	}
	if err := s.gate.pace(ctx, sub); err != nil {
		return false // shutting down
	}
	if err := s.gate.acquire(ctx); err != nil {
		return false // shutting down
	}
	s.metrics.inFlight.Inc()
	now := s.now()
	if d.FirstAttemptAt.IsZero() {
		d.FirstAttemptAt = now
	}
	actx, span := s.startAttempt(ctx, d)
	res := s.client.Send(actx, sub, d, now)
	endAttempt(span, res)
	s.metrics.inFlight.Dec()
	s.gate.release()
	if ctx.Err() != nil {
		return false // cut off by the drain deadline: not an endpoint failure
	}
	if s.gate.breakers.Record(sub.ID, res.OK()) {
		s.notifyFailing(ctx, sub, res, now)
	}
	if !res.OK() || s.metrics.anyOpen() {
		// A success always leaves the circuit closed; only then can the state have changed.
		s.metrics.breaker(sub.ID, s.gate.breakers.State(sub.ID))
	}
	s.metrics.attempt(res)
	return s.outcome(ctx, j, sub, res, now)
}

// outcome acts on an attempt's result.
func (s *Sender) outcome(ctx context.Context, j *job, sub *subscriptions.Subscription, res Result, now time.Time) bool {
	d := j.d
	if res.OK() {
		s.recordSuccess(j, res, now)
		s.metrics.delivered(d.OccurredAt, s.now())
		return true
	}
	// Every other outcome writes the delivery again (a retry tier or the DLQ), carrying
	// this attempt in its history; a delivered one is never written again, so it skips
	// the allocation.
	d.History = append(d.History, events.AttemptSummary{Attempt: d.Attempt, At: now, Status: res.Status,
		Reason: string(res.Reason), LatencyMS: res.Latency.Milliseconds()})
	if res.Reason == ReasonGone {
		s.recordAttempt(j, res, now, true)
		if s.health.disable(ctx, sub, "endpoint_gone", "endpoint_gone") {
			s.notifyDisabled(ctx, sub, "endpoint_gone", res, time.Time{}, now)
		}
		return s.toDLQ(ctx, j, ReasonGone)
	}
	since := s.health.failed(ctx, sub.ID, now)
	if limit := s.cfg.DisableAfter; limit > 0 && !since.IsZero() && now.Sub(since) >= limit {
		if s.health.disable(ctx, sub, "failing_since:"+since.UTC().Format(time.RFC3339), "failing") {
			s.notifyDisabled(ctx, sub, "failing", res, since, now)
			s.recordAttempt(j, res, now, true)
			return s.toDLQ(ctx, j, ReasonDisabled)
		}
	}
	delay, retry := s.retries.policy.Next(d.Attempt, res)
	s.recordAttempt(j, res, now, !retry)
	if !retry {
		reason := res.Reason
		if res.Reason.Retryable() {
			reason = ReasonRetryExhausted
		}
		j.failure = failureText(res.Err)
		if !s.toDLQ(ctx, j, reason) {
			return false
		}
		s.notifyExhausted(ctx, sub, j, reason, res, now)
		return true
	}
	d.Attempt++
	return s.park(ctx, j, res.Reason, delay)
}

// recordAttempt queues the attempt for the attempt log (see attemptWriter); a failed
// write is logged, never fatal (the attempt log is for people; the Kafka records are
// the truth).
func (s *Sender) recordAttempt(j *job, res Result, at time.Time, final bool) {
	if s.observe.attempts.enabled() {
		s.observe.attempts.add(attemptEntry{a: attemptOf(j, res, at, final)})
	}
}

// recordSuccess queues a successful attempt for the attempt log; its write also clears
// the subscription's failing-since record unless this process knows it is clear
// (health.succeeded): no Redis round trip on the delivery path.
func (s *Sender) recordSuccess(j *job, res Result, at time.Time) {
	if s.observe.attempts.enabled() {
		s.observe.attempts.add(attemptEntry{a: attemptOf(j, res, at, true), clearFailing: s.health.succeeded(j.d.SubscriptionID)})
	}
}

// attemptOf is the attempt log's entry for an attempt at j.
func attemptOf(j *job, res Result, at time.Time, final bool) Attempt {
	d := j.d
	// Only the excerpt the log keeps is copied (the body may be 64 KiB); a few bytes
	// more let RecordBatch cut on a rune boundary.
	body := res.Body[:min(len(res.Body), maxResponseLog+utf8.UTFMax)]
	a := Attempt{DeliveryID: d.ID, SubscriptionID: d.SubscriptionID, AccountID: d.AccountID, EventID: d.EventID,
		EventName: d.EventName, Attempt: d.Attempt, At: at, Status: res.Status, Reason: res.Reason,
		LatencyMS: res.Latency.Milliseconds(), Response: string(body), Topic: j.rec.Topic,
		Partition: j.rec.Partition, Offset: j.rec.Offset, Final: final}
	if res.Err != nil {
		a.Error = res.Err.Error()
	}
	return a
}
