//go:build chaos

package chaos

import (
	"context"
	"testing"
	"time"

	"github.com/claimable/eventrouter/bench"
)

// maxResume is how soon after a kill -9 (and an immediate restart) deliveries of new
// events must flow again with default settings.
const maxResume = 10 * time.Second

// TestKillWithDefaults SIGKILLs the sender, then the router, each restarted at once
// with the same environment and ops port (as a container restart would) and no
// kafka.instance_id: the default, derived static membership must let each take its
// partitions back at once (and the router fence its predecessor's open transaction),
// so that deliveries of events produced after the kill arrive within maxResume. Without
// it the group waits out the dead member's session timeout (45 s), and a router's open
// transaction blocks its partitions for router.transaction_timeout (60 s).
func TestKillWithDefaults(t *testing.T) {
	s := newStack(t, options{accounts: 5, fanout: 2})
	router, sender := s.role("router"), s.role("sender")
	s.mustStart(router)
	s.mustStart(sender)
	ctx := t.Context()
	g := newLoadGen(s)
	g.warmUp(ctx)

	loadDone := make(chan produced, 1)
	go func() { loadDone <- g.run(ctx, 100, pick(40*time.Second, 30*time.Second)) }()
	resumed := map[string]float64{}
	for _, p := range []*bench.Role{sender, router} {
		s.waitFlowing(5 * time.Second)
		t0 := time.Now()
		p.Kill()
		sctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		err := p.Start(sctx)
		cancel()
		if err != nil {
			t.Fatalf("restart %s: %v\n%s", p.Name, err, s.logTail(4000))
		}
		d := s.waitResumed(t0, 90*time.Second)
		resumed[p.Name+"_resume_s"] = d.Seconds()
		if d > maxResume {
			t.Errorf("after kill -9 of the %s, deliveries of new events resumed after %s, want ≤ %s", p.Name, d.Round(100*time.Millisecond), maxResume)
		}
	}
	prod := <-loadDone
	s.drain(2*time.Minute, nil)
	s.checkRoles()
	tl := s.ledger.tally(nil)
	s.report("kill_defaults", prod, tl, map[string]any{"resume": resumed})
	if tl.Lost != 0 {
		t.Errorf("lost %d of %d deliveries", tl.Lost, tl.Expected)
	}
}

// waitFlowing waits until deliveries of events produced in the last second arrive, so
// a kill lands on a flowing pipeline.
func (s *stack) waitFlowing(limit time.Duration) {
	s.t.Helper()
	since := time.Now()
	if _, ok := s.waitArrival(since, limit); !ok {
		s.t.Fatalf("no deliveries flowing within %s before the kill\n%s", limit, s.logTail(4000))
	}
}

// waitResumed returns how long after t0 the first delivery of an event produced after
// t0 arrived (limit when none did).
func (s *stack) waitResumed(t0 time.Time, limit time.Duration) time.Duration {
	at, ok := s.waitArrival(t0, limit)
	if !ok {
		return limit
	}
	return at.Sub(t0)
}

func (s *stack) waitArrival(t0 time.Time, limit time.Duration) (time.Time, bool) {
	deadline := t0.Add(limit)
	for time.Now().Before(deadline) {
		if at, ok := s.ledger.firstArrivalProducedAfter(t0); ok {
			return at, true
		}
		time.Sleep(50 * time.Millisecond)
	}
	return time.Time{}, false
}
