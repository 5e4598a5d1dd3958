//go:build chaos && cluster

package chaos

import (
	"context"
	"testing"
	"time"

	"github.com/claimable/eventrouter/bench"
)

// TestClusterLeaderKill SIGKILLs the broker leading the most partitions of the ingest
// and deliveries topics while events flow (full mode: first the ingest topic's busiest
// leader, then, once it is back and in sync, the deliveries topic's; short mode: one
// kill of the busiest leader of both), keeps it down 10 s (short: 5 s), starts it again
// and waits until every replica is back in sync. With replication factor 3,
// min.insync.replicas=2 and acks=all nothing acknowledged may be lost: every expected
// delivery must arrive; duplicates are counted and reported.
func TestClusterLeaderKill(t *testing.T) {
	r := startClusterRun(t)
	s, router, sender, ctx := r.s, r.router, r.sender, t.Context()

	ingest, deliveries := s.cfg.Topics.Ingest[0], s.cfg.Topics.Deliveries
	rounds := pick([][]string{{ingest}, {deliveries}}, [][]string{{ingest, deliveries}})
	down := pick(10*time.Second, 5*time.Second)

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
		fig := s.bringBack(ctx, victim, "after a broker was killed", router, sender)
		fig["topics"], fig["partitions_led"], fig["leaders_moved_s"] = names, led, moved.Seconds()
		fig["broker_down_s"] = time.Since(t0).Seconds() - fig["start_s"].(float64)
		kills = append(kills, fig)
	}
	r.finish("cluster-leader-kill", map[string]any{"kills": kills})
}

// TestClusterRollingRestart restarts every broker in turn (scripts/kafka-cluster.sh
// stop: controlled shutdown; then start), under load, taking the next one down only
// once every replica is back in sync — the rolling-restart procedure of
// docs/operations.md. Nothing may be lost; duplicates are counted and reported.
func TestClusterRollingRestart(t *testing.T) {
	r := startClusterRun(t)
	s, router, sender, ctx := r.s, r.router, r.sender, t.Context()

	var restarts []map[string]any
	for id := int32(1); id <= clusterSize; id++ {
		t0 := time.Now()
		if err := node("stop", id); err != nil {
			t.Fatal(err)
		}
		stopped := time.Since(t0)
		fig := s.bringBack(ctx, id, "during a rolling restart", router, sender)
		fig["stop_s"] = stopped.Seconds()
		restarts = append(restarts, fig)
	}
	r.finish("cluster-rolling-restart", map[string]any{"restarts": restarts})
}

// bringBack starts cluster node id again, waits until every replica is in sync and
// restarts any role that exited meanwhile (a finding, named by when). It returns the
// figures: broker, start_s, in_sync_after_start_s.
func (s *stack) bringBack(ctx context.Context, id int32, when string, roles ...*bench.Role) map[string]any {
	s.t.Helper()
	t0 := time.Now()
	if err := node("start", id); err != nil {
		s.t.Fatal(err)
	}
	started := time.Since(t0)
	inSync, err := s.waitInSync(ctx)
	if err != nil {
		s.t.Errorf("replicas not back in sync after broker %d restarted: %v", id, err)
	}
	s.reviveRoles(ctx, when, roles...)
	return map[string]any{"broker": id, "start_s": started.Seconds(), "in_sync_after_start_s": inSync.Seconds()}
}

// clusterRun is a cluster scenario under way: its stack, roles and running load.
type clusterRun struct {
	s              *stack
	router, sender *bench.Role
	stop           chan time.Time
	loadDone       chan produced
}

// startClusterRun deploys a scenario on the cluster, starts router and sender, warms
// up, and starts the load (200 events/s, short: 150) 8 s before returning, so the
// faults land on a busy system.
func startClusterRun(t *testing.T) *clusterRun {
	s := newClusterStack(t)
	r := &clusterRun{s: s, stop: make(chan time.Time, 1), loadDone: make(chan produced, 1)}
	r.router, r.sender = s.startRoles()
	g := newLoadGen(s)
	g.warmUp(t.Context())
	go func() { r.loadDone <- g.runUntil(t.Context(), pick(200, 150), r.stop) }()
	time.Sleep(8 * time.Second)
	return r
}

// finish keeps the load on the healed cluster 5 s more, stops it, waits for the roles,
// drains, reports and asserts zero loss and a complete expected set.
func (r *clusterRun) finish(scenario string, extra map[string]any) {
	s := r.s
	s.t.Helper()
	time.Sleep(5 * time.Second)
	r.stop <- time.Now()
	prod := <-r.loadDone
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
