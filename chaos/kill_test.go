//go:build chaos

package chaos

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/claimable/eventrouter/bench"
)

// TestKillRolesUnderLoad SIGKILLs the router and the sender at random moments (every
// 1–4 s, alternating, at least 5 kills each; short mode 1–2.5 s) while events flow at a
// few hundred per second with fan-out 2, restarting each at once. Every expected
// delivery must arrive; duplicates (same webhook-id) are allowed and reported.
func TestKillRolesUnderLoad(t *testing.T) {
	s := newStack(t, options{accounts: 10, fanout: 2})
	router, sender := s.startRoles()
	ctx := t.Context()
	g := newLoadGen(s)
	g.warmUp(ctx)

	rate := pick(300, 250)
	dur := pick(45*time.Second, 25*time.Second)
	minKills := pick(8, 5)
	lo, hi := pick(time.Second, time.Second), pick(4*time.Second, 2500*time.Millisecond)

	loadDone := make(chan produced, 1)
	go func() { loadDone <- g.run(ctx, rate, dur) }()

	var restarts []time.Duration // how long each restart took to be ready
	roles := []*bench.Role{router, sender}
	var prod produced
	loadOver := false
	for i := 0; !loadOver || router.Kills() < minKills || sender.Kills() < minKills; i++ {
		wait := lo + time.Duration(rand.Int64N(int64(hi-lo)))
		select {
		case prod = <-loadDone:
			loadOver = true
		case <-time.After(wait):
		}
		if loadOver && router.Kills() >= minKills && sender.Kills() >= minKills {
			break
		}
		p := roles[i%2]
		p.Kill()
		t0 := time.Now()
		sctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		err := p.Start(sctx)
		cancel()
		if err != nil {
			t.Fatalf("restart %s after kill %d: %v\n%s", p.Name, p.Kills(), err, s.logTail(4000))
		}
		restarts = append(restarts, time.Since(t0))
	}
	if !loadOver {
		prod = <-loadDone
	}
	s.drain(pick(3*time.Minute, 2*time.Minute), nil)
	s.checkRoles()
	tl := s.ledger.tally(nil)
	var worst time.Duration
	for _, d := range restarts {
		worst = max(worst, d)
	}
	s.report("kill", prod, tl, map[string]any{
		"router_kills": router.Kills(), "sender_kills": sender.Kills(),
		"slowest_restart_s": worst.Seconds(),
	})
	if tl.Lost != 0 {
		t.Errorf("lost %d of %d deliveries", tl.Lost, tl.Expected)
	}
	if prod.Acked == 0 || tl.Expected != prod.Acked*2 {
		t.Errorf("expected set %d does not match %d acknowledged events × fan-out 2", tl.Expected, prod.Acked)
	}
}
