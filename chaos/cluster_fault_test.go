//go:build chaos && cluster

package chaos

import (
	"context"
	"testing"
	"time"
)

// TestClusterLeaderKill SIGKILLs the broker leading the most partitions of the ingest
// and deliveries topics while events flow (full mode: first the ingest topic's busiest
// leader, then, once it is back and in sync, the deliveries topic's; short mode: one
// kill of the busiest leader of both), keeps it down 10 s (short: 5 s), starts it again
// and waits until every replica is back in sync. With replication factor 3,
// min.insync.replicas=2 and acks=all nothing acknowledged may be lost: every expected
// delivery must arrive; duplicates are counted and reported.
func TestClusterLeaderKill(t *testing.T) {
	s := newClusterStack(t)
	router, sender := s.startRoles()
	ctx := t.Context()
	g := newLoadGen(s)
	g.warmUp(ctx)

	ingest, deliveries := s.cfg.Topics.Ingest[0], s.cfg.Topics.Deliveries
	rounds := pick([][]string{{ingest}, {deliveries}}, [][]string{{ingest, deliveries}})
	down := pick(10*time.Second, 5*time.Second)

	stop := make(chan time.Time, 1)
	loadDone := make(chan produced, 1)
	go func() { loadDone <- g.runUntil(ctx, pick(200, 150), stop) }()
	time.Sleep(8 * time.Second)

	var kills []map[string]any
	for _, names := range rounds {
		victim, led, err := s.busiestLeader(ctx, names...)
		if err != nil {
			t.Fatal(err)
		}
		t0 := time.Now()
		if err := node("kill", victim); err != nil {
			t.Fatal(err)
		}
		moved, err := s.waitLeadersOff(ctx, victim, ingest, deliveries)
		if err != nil {
			t.Errorf("leadership did not move off killed broker %d: %v", victim, err)
		}
		time.Sleep(down)
		t1 := time.Now()
		if err := node("start", victim); err != nil {
			t.Fatal(err)
		}
		started := time.Since(t1)
		inSync, err := s.waitInSync(ctx)
		if err != nil {
			t.Errorf("replicas not back in sync after broker %d restarted: %v", victim, err)
		}
		s.reviveRoles(ctx, "after a broker was killed", router, sender)
		kills = append(kills, map[string]any{
			"broker": victim, "topics": names, "partitions_led": led, "leaders_moved_s": moved.Seconds(),
			"broker_down_s": t1.Sub(t0).Seconds(), "broker_start_s": started.Seconds(),
			"in_sync_after_start_s": inSync.Seconds(),
		})
	}
	time.Sleep(5 * time.Second) // load on the healed cluster
	stop <- time.Now()
	prod := <-loadDone
	s.finishClusterScenario("cluster-leader-kill", prod, map[string]any{"kills": kills})
}

// TestClusterRollingRestart restarts every broker in turn (scripts/kafka-cluster.sh
// stop: controlled shutdown; then start), under load, taking the next one down only
// once every replica is back in sync — the rolling-restart procedure of
// docs/operations.md. Nothing may be lost; duplicates are counted and reported.
func TestClusterRollingRestart(t *testing.T) {
	s := newClusterStack(t)
	router, sender := s.startRoles()
	ctx := t.Context()
	g := newLoadGen(s)
	g.warmUp(ctx)

	stop := make(chan time.Time, 1)
	loadDone := make(chan produced, 1)
	go func() { loadDone <- g.runUntil(ctx, pick(200, 150), stop) }()
	time.Sleep(8 * time.Second)

	var restarts []map[string]any
	for id := int32(1); id <= clusterSize; id++ {
		t0 := time.Now()
		if err := node("stop", id); err != nil {
			t.Fatal(err)
		}
		stopped := time.Since(t0)
		t1 := time.Now()
		if err := node("start", id); err != nil {
			t.Fatal(err)
		}
		started := time.Since(t1)
		inSync, err := s.waitInSync(ctx)
		if err != nil {
			t.Errorf("replicas not back in sync after broker %d restarted: %v", id, err)
		}
		s.reviveRoles(ctx, "during a rolling restart", router, sender)
		restarts = append(restarts, map[string]any{
			"broker": id, "stop_s": stopped.Seconds(), "start_s": started.Seconds(), "in_sync_after_start_s": inSync.Seconds(),
		})
	}
	time.Sleep(5 * time.Second)
	stop <- time.Now()
	prod := <-loadDone
	s.finishClusterScenario("cluster-rolling-restart", prod, map[string]any{"restarts": restarts})
}

// finishClusterScenario waits for the roles, drains, reports and asserts zero loss and
// a complete expected set.
func (s *stack) finishClusterScenario(scenario string, prod produced, extra map[string]any) {
	s.t.Helper()
	ctx := context.Background()
	extra["roles_ready_again_s"] = s.waitReadyAll(ctx, 2*time.Minute).Seconds()
	s.drain(pick(4*time.Minute, 3*time.Minute), nil)
	s.checkRoles()
	tl := s.ledger.tally(nil)
	s.report(scenario, prod, tl, extra)
	if tl.Lost != 0 {
		s.t.Errorf("lost %d of %d deliveries", tl.Lost, tl.Expected)
	}
	if prod.Acked == 0 || tl.Expected != prod.Acked*2 {
		s.t.Errorf("expected set %d does not match %d acknowledged events × fan-out 2", tl.Expected, prod.Acked)
	}
}
