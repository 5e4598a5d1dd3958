package delivery

import (
	"sync"
	"time"
)

// BreakerState is one subscription's circuit state.
type BreakerState int

// Circuit states.
const (
	Closed   BreakerState = iota // calls flow
	Open                         // calls are refused until the cool-down passes
	HalfOpen                     // one probe call is in flight; its outcome decides
)

// String returns the state's stable metric label: "closed", "open" or "half_open".
func (s BreakerState) String() string {
	switch s {
	case Open:
		return "open"
	case HalfOpen:
		return "half_open"
	}
	return "closed"
}

type breaker struct {
	state    BreakerState
	failures int       // consecutive failures while closed
	since    time.Time // when opened, or when the probe was handed out
	// probed is closed when the half-open probe's outcome is recorded; nil unless
	// half-open. Deliveries that meet a half-open circuit wait on it (see Wait).
	probed chan struct{}
}

// settle ends a half-open period: whoever waits for the probe's outcome is woken.
func (br *breaker) settle() {
	if br.probed != nil {
		close(br.probed)
		br.probed = nil
	}
}

// Breakers holds one circuit breaker per subscription. State is in-process: one sender
// owns a subscription's partition at a time (docs/delivery.md). Subscriptions whose circuit
// is closed with no failures take no memory. Safe for concurrent use.
type Breakers struct {
	threshold int
	cooldown  time.Duration
	now       func() time.Time

	mu sync.Mutex
	m  map[string]*breaker
}

// NewBreakers returns breakers that open after threshold consecutive failures (default
// 10 when ≤ 0) and stay open for cooldown (default 30 s when ≤ 0). now is the clock
// (nil = time.Now).
func NewBreakers(threshold int, cooldown time.Duration, now func() time.Time) *Breakers {
	if threshold <= 0 {
		threshold = defaultBreakerThreshold
	}
	if cooldown <= 0 {
		cooldown = defaultBreakerCooldown
	}
	if now == nil {
		now = time.Now
	}
	return &Breakers{threshold: threshold, cooldown: cooldown, now: now, m: map[string]*breaker{}}
}

// Allow reports whether a call to subID's endpoint may be made now. Closed: (true,false).
// Open: (false,false) until the cool-down has passed; then exactly one caller gets
// (true,true), the half-open probe, and others get (false,false) until the probe is
// recorded. A probe never recorded (its caller vanished) is handed out again after
// another cool-down, so a circuit cannot stay stuck half-open.
func (b *Breakers) Allow(subID string) (allowed bool, probe bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	br := b.m[subID]
	if br == nil || br.state == Closed {
		return true, false
	}
	now := b.now()
	if now.Sub(br.since) < b.cooldown {
		return false, false
	}
	br.settle() // a probe never recorded is handed out again: wake its waiters
	br.state, br.since, br.probed = HalfOpen, now, make(chan struct{})
	return true, true
}

// Wait describes a refused call: next is when the circuit will let a call through
// again (the next probe: the end of the cool-down, or, while a probe is in flight, the
// time it would be handed out again), and probing, when not nil, is closed as soon as
// the probe in flight is recorded. Closed circuits return the zero time and nil.
func (b *Breakers) Wait(subID string) (next time.Time, probing <-chan struct{}) {
	b.mu.Lock()
	defer b.mu.Unlock()
	br := b.m[subID]
	if br == nil || br.state == Closed {
		return time.Time{}, nil
	}
	next = br.since.Add(b.cooldown)
	if br.state == HalfOpen {
		return next, br.probed
	}
	return next, nil
}

// Record reports the outcome of a call. A success closes the circuit and resets the
// count. A failure of the probe (or any failure while half-open) re-opens it for another
// cool-down; threshold consecutive failures while closed open it. Failures recorded while
// open (calls that started before it opened) do not extend the cool-down. opened is true
// only for the call that moved a closed circuit to open (once per opening; a failed
// probe re-opens a circuit that never closed, which is not a new opening).
func (b *Breakers) Record(subID string, ok bool) (opened bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	br := b.m[subID]
	if ok {
		if br != nil {
			br.settle()
		}
		delete(b.m, subID)
		return false
	}
	if br == nil {
		br = &breaker{}
		b.m[subID] = br
	}
	switch br.state {
	case Closed:
		br.failures++
		if br.failures >= b.threshold {
			br.state, br.since = Open, b.now()
			return true
		}
	case HalfOpen:
		br.state, br.since = Open, b.now()
		br.settle()
	}
	return false
}

// State returns subID's current state. An open circuit whose cool-down has passed still
// reads Open until a caller takes the probe.
func (b *Breakers) State(subID string) BreakerState {
	b.mu.Lock()
	defer b.mu.Unlock()
	if br := b.m[subID]; br != nil {
		return br.state
	}
	return Closed
}

// Forget drops subID's state, e.g. when its partition is revoked from this sender.
func (b *Breakers) Forget(subID string) {
	b.mu.Lock()
	if br := b.m[subID]; br != nil {
		br.settle()
	}
	delete(b.m, subID)
	b.mu.Unlock()
}
