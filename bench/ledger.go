package bench

import (
	"sync"
	"time"
)

// Ledger is the expected-set accounting of a run: every (event, subscription) pair the
// load generator expects to be delivered, by its deterministic delivery id
// (events.DeliveryID), and what the receiver saw for it. Safe for concurrent use.
type Ledger struct {
	mu        sync.Mutex
	expected  map[string]*entry
	excused   int // expected pairs whose loss is part of the scenario (a hanging endpoint)
	accepted  int
	dupes     int
	unknown   int // 2xx for a webhook-id nobody expected (e.g. warm-up traffic)
	badSig    int
	rejected  int // non-2xx answers (failure injection, hanging endpoint timeouts)
	latencies []time.Duration
	byGroup   map[string][]time.Duration
	series    *Series
	// acceptedExcused counts accepted ids that were excused, so Pending is O(1).
	acceptedExcused int
}

type entry struct {
	group    string // latency group, e.g. "healthy" / "hanging"
	excused  bool
	accepted int
	at       time.Time // first acceptance
}

// NewLedger returns an empty ledger; series (may be nil) receives every first
// acceptance's latency by arrival time.
func NewLedger(series *Series) *Ledger {
	return &Ledger{expected: map[string]*entry{}, byGroup: map[string][]time.Duration{}, series: series}
}

// Expect adds delivery id to the expected set, in latency group group. An excused
// delivery is not counted as lost when it does not arrive.
func (l *Ledger) Expect(id, group string, excused bool) {
	l.mu.Lock()
	if _, ok := l.expected[id]; !ok {
		l.expected[id] = &entry{group: group, excused: excused}
		if excused {
			l.excused++
		}
	}
	l.mu.Unlock()
}

// Observe records one request the receiver answered: its webhook-id, whether its
// signature verified, whether it was accepted (2xx), and its end-to-end latency.
func (l *Ledger) Observe(id string, verified, accepted bool, at time.Time, latency time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !verified {
		l.badSig++
	}
	if !accepted {
		l.rejected++
		return
	}
	e, ok := l.expected[id]
	if !ok {
		l.unknown++
		return
	}
	e.accepted++
	if e.accepted > 1 {
		l.dupes++
		return
	}
	l.accepted++
	e.at = at
	if e.excused {
		l.acceptedExcused++
	}
	l.latencies = append(l.latencies, latency)
	l.byGroup[e.group] = append(l.byGroup[e.group], latency)
	if l.series != nil {
		l.series.Add(at, latency)
	}
}

// Counts is a snapshot of a Ledger.
type Counts struct {
	Expected   int `json:"expected"`
	Excused    int `json:"excused"`    // expected but allowed to be missing (scenario's hanging endpoint)
	Delivered  int `json:"delivered"`  // distinct expected ids accepted
	Lost       int `json:"lost"`       // expected, not excused, never accepted
	Duplicates int `json:"duplicates"` // acceptances beyond the first per id
	Unexpected int `json:"unexpected"` // accepted ids outside the expected set
	BadSig     int `json:"bad_signatures"`
	Rejected   int `json:"rejected"` // non-2xx answers
}

// Counts returns the current counts. Lost is meaningful once the run has drained.
func (l *Ledger) Counts() Counts {
	l.mu.Lock()
	defer l.mu.Unlock()
	c := Counts{Expected: len(l.expected), Excused: l.excused, Duplicates: l.dupes,
		Unexpected: l.unknown, BadSig: l.badSig, Rejected: l.rejected}
	for _, e := range l.expected {
		switch {
		case e.accepted > 0:
			c.Delivered++
		case !e.excused:
			c.Lost++
		}
	}
	return c
}

// Pending returns how many expected, non-excused ids have not arrived yet.
func (l *Ledger) Pending() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.expected) - l.excused - (l.accepted - l.acceptedExcused)
}

// Accepted returns how many distinct expected ids have been accepted so far.
func (l *Ledger) Accepted() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.accepted
}

// Latencies returns the percentiles of every first acceptance, and per group.
func (l *Ledger) Latencies() (all Percentiles, byGroup map[string]Percentiles) {
	l.mu.Lock()
	sample := append([]time.Duration(nil), l.latencies...)
	groups := make(map[string][]time.Duration, len(l.byGroup))
	for g, s := range l.byGroup {
		groups[g] = append([]time.Duration(nil), s...)
	}
	l.mu.Unlock()
	byGroup = make(map[string]Percentiles, len(groups))
	for g, s := range groups {
		byGroup[g] = Summarise(s)
	}
	return Summarise(sample), byGroup
}

// Arrivals returns the first-acceptance time of every accepted expected id.
func (l *Ledger) Arrivals() map[string]time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make(map[string]time.Time, l.accepted)
	for id, e := range l.expected {
		if e.accepted > 0 {
			out[id] = e.at
		}
	}
	return out
}
