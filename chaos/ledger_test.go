//go:build chaos

package chaos

import (
	"sort"
	"sync"
	"time"

	"github.com/claimable/eventrouter/internal/receiver"
)

// ledger is the expected-set accounting of a scenario: every (event, subscription) pair
// produced, by delivery id (= webhook-id), and what the receiver accepted for it. Safe
// for concurrent use.
type ledger struct {
	mu       sync.Mutex
	expected map[string]*want
	accepted map[string]int // 2xx answers per webhook-id, expected or not
	// firstByID is when each id was first accepted (expected or not).
	firstByID map[string]time.Time
	badSig    int
	rejected  int // non-2xx answers (injected failures, 410)
}

// want is one expected delivery.
type want struct {
	sub        string
	producedAt time.Time
}

func newLedger() *ledger {
	return &ledger{expected: map[string]*want{}, accepted: map[string]int{}, firstByID: map[string]time.Time{}}
}

func (l *ledger) expect(id, sub string, at time.Time) {
	l.mu.Lock()
	l.expected[id] = &want{sub: sub, producedAt: at}
	l.mu.Unlock()
}

// forget removes ids whose event the broker did not acknowledge.
func (l *ledger) forget(ids ...string) {
	l.mu.Lock()
	for _, id := range ids {
		delete(l.expected, id)
	}
	l.mu.Unlock()
}

// observe is the receiver's callback.
func (l *ledger) observe(d receiver.Delivery) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !d.Verified {
		l.badSig++
	}
	if d.Status < 200 || d.Status > 299 {
		l.rejected++
		return
	}
	l.accepted[d.WebhookID]++
	if l.accepted[d.WebhookID] == 1 {
		l.firstByID[d.WebhookID] = d.ReceivedAt
	}
}

// tally is a snapshot of a ledger. Lost is meaningful once the scenario drained.
type tally struct {
	Expected   int `json:"expected"`
	Delivered  int `json:"delivered"`
	Lost       int `json:"lost"`
	Duplicates int `json:"duplicates"` // 2xx answers beyond the first per webhook-id
	Unexpected int `json:"unexpected"` // accepted ids never expected
	BadSig     int `json:"bad_signatures"`
	Rejected   int `json:"rejected"` // non-2xx answers
}

// tally counts, leaving out the expected ids for which skip returns true (handled by
// the scenario itself).
func (l *ledger) tally(skip func(id string, w *want) bool) tally {
	l.mu.Lock()
	defer l.mu.Unlock()
	t := tally{BadSig: l.badSig, Rejected: l.rejected}
	for id, n := range l.accepted {
		t.Duplicates += n - 1
		if _, ok := l.expected[id]; !ok {
			t.Unexpected++
		}
	}
	for id, w := range l.expected {
		if skip != nil && skip(id, w) {
			continue
		}
		t.Expected++
		if l.accepted[id] > 0 {
			t.Delivered++
		} else {
			t.Lost++
		}
	}
	return t
}

// pending counts expected ids (not skipped) not accepted yet.
func (l *ledger) pending(skip func(id string, w *want) bool) int {
	t := l.tally(skip)
	return t.Lost
}

// missing returns up to n expected ids never accepted (sorted), with their subscription.
func (l *ledger) missing(n int, skip func(id string, w *want) bool) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for id, w := range l.expected {
		if (skip == nil || !skip(id, w)) && l.accepted[id] == 0 {
			out = append(out, id+" (subscription "+w.sub+")")
		}
	}
	sort.Strings(out)
	if len(out) > n {
		out = out[:n]
	}
	return out
}

// acceptedCount returns the number of 2xx answers for id.
func (l *ledger) acceptedCount(id string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.accepted[id]
}

// firstArrivalsBetween counts expected ids first accepted in [from, to).
func (l *ledger) firstArrivalsBetween(from, to time.Time) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for id, at := range l.firstByID {
		if _, ok := l.expected[id]; ok && !at.Before(from) && at.Before(to) {
			n++
		}
	}
	return n
}

// snapshot returns the expected ids and their wants, for scenario-specific checks.
func (l *ledger) snapshot() map[string]want {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make(map[string]want, len(l.expected))
	for id, w := range l.expected {
		out[id] = *w
	}
	return out
}

// firstArrivalProducedAfter returns when the receiver first accepted an expected
// delivery whose event was produced after t0: the moment the pipeline was delivering
// new events again.
func (l *ledger) firstArrivalProducedAfter(t0 time.Time) (time.Time, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var first time.Time
	for id, w := range l.expected {
		at, ok := l.firstByID[id]
		if ok && w.producedAt.After(t0) && (first.IsZero() || at.Before(first)) {
			first = at
		}
	}
	return first, !first.IsZero()
}
