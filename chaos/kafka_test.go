//go:build chaos

package chaos

import (
	"context"
	"testing"
	"time"

	"github.com/claimable/eventrouter/bench"
)

// TestBrokerRestart stops the Kafka broker mid-run (scripts/kafka.sh stop: a controlled
// shutdown, data kept), keeps it down for a while (15 s; short mode 5 s), then starts it
// again, while the load generator keeps producing (its client buffers and retries). The
// router and sender must ride it out without exiting, and every event acknowledged by
// the broker must be delivered.
//
// It disrupts every other user of the shared broker: run it sparingly. The broker is
// started again in t.Cleanup whatever happens.
func TestBrokerRestart(t *testing.T) {
	s := newStack(t, options{accounts: 10, fanout: 2})
	router, sender := s.startRoles()
	ctx := t.Context()
	g := newLoadGen(s)
	g.warmUp(ctx)

	down := pick(15*time.Second, 5*time.Second)
	dur := pick(60*time.Second, 35*time.Second)
	loadDone := make(chan produced, 1)
	go func() { loadDone <- g.run(ctx, 200, dur) }()

	time.Sleep(8 * time.Second)
	t0 := time.Now()
	stopService(t, "kafka")
	stoppedIn := time.Since(t0)
	time.Sleep(down)
	t1 := time.Now()
	if err := service("kafka", "start"); err != nil {
		t.Fatal(err)
	}
	startedIn := time.Since(t1)
	outage := time.Since(t0)

	// Roles must not have exited; give them time to reconnect and report ready.
	s.reviveRoles(ctx, "while the broker was down", router, sender)
	recovered := s.waitReadyAll(ctx, 2*time.Minute)

	prod := <-loadDone
	s.drain(pick(4*time.Minute, 3*time.Minute), nil)
	s.checkRoles()
	tl := s.ledger.tally(nil)
	s.report("broker-restart", prod, tl, map[string]any{
		"broker_down_s": outage.Seconds(), "broker_stop_s": stoppedIn.Seconds(), "broker_start_s": startedIn.Seconds(),
		"roles_ready_again_s": recovered.Seconds(),
	})
	if tl.Lost != 0 {
		t.Errorf("lost %d of %d deliveries", tl.Lost, tl.Expected)
	}
}

// waitReadyAll waits until every running role answers /readyz with 200 and returns how
// long that took; it fails the test after limit.
func (s *stack) waitReadyAll(ctx context.Context, limit time.Duration) time.Duration {
	s.t.Helper()
	t0 := time.Now()
	rctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	for _, p := range s.procs {
		if err := p.WaitReady(rctx); err != nil {
			s.t.Errorf("FINDING: %v after the fault", err)
		}
	}
	return time.Since(t0)
}

// reviveRoles fails the test for every role that exited during a fault (when says
// which) and starts it again, so the scenario can still count what was lost.
func (s *stack) reviveRoles(ctx context.Context, when string, roles ...*bench.Role) {
	s.t.Helper()
	for _, p := range roles {
		if p.Alive() {
			continue
		}
		s.t.Errorf("FINDING: %s exited %s: %v", p.Name, when, p.UnexpectedExits())
		sctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		if err := p.Start(sctx); err != nil {
			s.t.Errorf("restart %s: %v", p.Name, err)
		}
		cancel()
	}
}
