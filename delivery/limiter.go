package delivery

import (
	"context"
	"math"
	"sync"

	"golang.org/x/time/rate"
)

// Limiters holds one token bucket per subscription (its rate_limit_per_sec). State is
// in-process: one sender owns a subscription's partition at a time. Safe for concurrent
// use.
type Limiters struct {
	mu sync.Mutex
	m  map[string]*rate.Limiter
}

// NewLimiters returns an empty set of limiters.
func NewLimiters() *Limiters { return &Limiters{m: map[string]*rate.Limiter{}} }

// Wait blocks until subID may make one more request at perSec requests per second, or
// ctx ends (its error is returned). perSec ≤ 0 (or NaN/Inf) means unlimited. The burst is
// max(1, ceil(perSec)). A changed perSec (the subscription was edited) applies from this
// call on.
func (l *Limiters) Wait(ctx context.Context, subID string, perSec float64) error {
	if !(perSec > 0) || math.IsInf(perSec, 1) {
		return ctx.Err()
	}
	burst := max(1, int(math.Ceil(min(perSec, math.MaxInt32))))
	l.mu.Lock()
	lim := l.m[subID]
	if lim == nil {
		lim = rate.NewLimiter(rate.Limit(perSec), burst)
		l.m[subID] = lim
	} else if lim.Limit() != rate.Limit(perSec) || lim.Burst() != burst {
		lim.SetLimit(rate.Limit(perSec))
		lim.SetBurst(burst)
	}
	l.mu.Unlock()
	return lim.Wait(ctx)
}

// Forget drops subID's bucket, e.g. when its partition is revoked from this sender.
func (l *Limiters) Forget(subID string) {
	l.mu.Lock()
	delete(l.m, subID)
	l.mu.Unlock()
}
