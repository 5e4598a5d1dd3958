//go:build chaos

package chaos

import (
	"net/http"
	"testing"
	"time"

	"github.com/claimable/eventrouter/events"
)

// TestEndpointOutageRecovers makes one endpoint of every account answer 503 for a while
// (20 s; short mode 10 s) under load, then recover. Its deliveries must all arrive
// through the retry tiers (schedule 1,2,4,8,16,32 s: longer than the outage, so none
// is exhausted), none may reach the DLQ, and the healthy endpoints must keep receiving
// during the outage (isolation).
func TestEndpointOutageRecovers(t *testing.T) {
	s := newStack(t, options{
		accounts: 10, fanout: 2,
		retry: []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second, 32 * time.Second},
		env:   []string{"EVENTROUTER_DELIVERY_BREAKER_THRESHOLD=5", "EVENTROUTER_DELIVERY_BREAKER_COOLDOWN=3s"},
	})
	s.startRoles()
	ctx := t.Context()
	g := newLoadGen(s)
	g.warmUp(ctx)

	failing := map[string]bool{} // subscription ids whose endpoint fails
	for _, a := range s.accts {
		failing[s.byAcct[a][0].ID] = true
	}
	outage := pick(20*time.Second, 10*time.Second)
	dur := pick(40*time.Second, 25*time.Second)
	loadDone := make(chan produced, 1)
	go func() { loadDone <- g.run(ctx, 200, dur) }()

	time.Sleep(5 * time.Second) // the outage starts mid-load
	from := time.Now()
	for _, a := range s.accts {
		s.setStatus(s.byAcct[a][0].Path, http.StatusServiceUnavailable)
	}
	time.Sleep(outage)
	for _, a := range s.accts {
		s.setStatus(s.byAcct[a][0].Path, 0)
	}
	to := time.Now()
	prod := <-loadDone
	healthyDuring := s.healthyArrivals(from, to, failing)

	s.drain(pick(3*time.Minute, 2*time.Minute), nil)
	s.checkRoles()
	dlq := s.readTopic(s.cfg.Topics.DLQ, 15*time.Second, nil)
	tl := s.ledger.tally(nil)
	s.report("endpoint-503", prod, tl, map[string]any{
		"outage_s": outage.Seconds(), "failing_endpoints": len(failing),
		"healthy_deliveries_during_outage": healthyDuring, "dlq_records": len(dlq),
	})
	if tl.Duplicates != 0 {
		t.Errorf("FINDING: %d duplicate deliveries although no process crashed", tl.Duplicates)
	}
	if tl.Lost != 0 {
		t.Errorf("lost %d of %d deliveries", tl.Lost, tl.Expected)
	}
	if tl.Rejected == 0 {
		t.Error("the receiver never answered 503: the outage did not happen")
	}
	if healthyDuring == 0 {
		t.Error("no healthy endpoint received anything during the outage: a failing endpoint held up the others")
	}
	for _, r := range dlq {
		id, _ := header(r, events.HeaderDeliveryID)
		reason, _ := header(r, events.HeaderReason)
		t.Errorf("delivery %s reached the DLQ (reason %s) although the outage was shorter than the retry schedule", id, reason)
	}
}

// healthyArrivals counts first arrivals in [from, to) of deliveries to subscriptions
// not in failing.
func (s *stack) healthyArrivals(from, to time.Time, failing map[string]bool) int {
	s.ledger.mu.Lock()
	defer s.ledger.mu.Unlock()
	n := 0
	for id, at := range s.ledger.firstByID {
		if w, ok := s.ledger.expected[id]; ok && !failing[w.sub] && !at.Before(from) && at.Before(to) {
			n++
		}
	}
	return n
}
