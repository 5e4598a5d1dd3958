package delivery

import (
	"math/rand/v2"
	"time"
)

// DefaultRetrySchedule is Standard Webhooks' example schedule after the immediate first
// attempt: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h, 24 h (about 75.5 h in all).
func DefaultRetrySchedule() []time.Duration {
	return []time.Duration{
		5 * time.Second, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour,
		5 * time.Hour, 10 * time.Hour, 14 * time.Hour, 20 * time.Hour, 24 * time.Hour,
	}
}

// RetryPolicy decides when a failed delivery is tried again. The zero value has no
// retries. A RetryPolicy is a value; it is safe for concurrent use if Rand is.
type RetryPolicy struct {
	// Schedule[i] is the delay before retry i+1, i.e. after failed attempt i+1. Its length
	// is the number of retries; then the delivery goes to the DLQ.
	Schedule []time.Duration
	// Jitter is the ± fraction applied to each scheduled delay (0.2 = ±20 %), clamped to
	// [0, 1]. It spreads retries of an outage's backlog.
	Jitter float64
	// RetryAfterMax bounds a receiver's Retry-After; 0 means Retry-After is ignored.
	RetryAfterMax time.Duration
	// Rand returns a float in [0, 1); nil uses math/rand/v2.
	Rand func() float64
}

// Next returns the delay before the retry that follows failed attempt number attempt
// (1-based), or ok=false when there is none: the schedule is exhausted, or the reason is
// final (res.Reason.Retryable() is false, e.g. 410 Gone). Both mean "go to the DLQ".
//
// The delay is Schedule[attempt-1] ± Jitter. On 429 and 503 a Retry-After (res.RetryAfter,
// clamped to RetryAfterMax) is honoured: delay = max(jittered schedule, Retry-After).
func (p RetryPolicy) Next(attempt int, res Result) (delay time.Duration, ok bool) {
	if attempt < 1 || attempt > len(p.Schedule) || !res.Reason.Retryable() {
		return 0, false
	}
	delay = p.jitter(p.Schedule[attempt-1])
	if res.RetryAfter > 0 && p.RetryAfterMax > 0 &&
		(res.Reason == ReasonRateLimited || res.Status == 503) {
		delay = max(delay, min(res.RetryAfter, p.RetryAfterMax))
	}
	return delay, true
}

func (p RetryPolicy) jitter(d time.Duration) time.Duration {
	j := min(max(p.Jitter, 0), 1)
	if j == 0 || d <= 0 {
		return max(d, 0)
	}
	r := rand.Float64
	if p.Rand != nil {
		r = p.Rand
	}
	f := 1 + j*(2*r()-1) // in [1-j, 1+j)
	return time.Duration(float64(d) * f)
}
