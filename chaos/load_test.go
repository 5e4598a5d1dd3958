//go:build chaos

package chaos

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/claimable/eventrouter/events"
	"github.com/claimable/eventrouter/internal/testenv"
)

// eventNames are produced in rotation (all claim events: one ingest topic).
var eventNames = []string{"claim.created", "claim.assigned", "claim.label_added", "claim.closed"}

// produced is what a load run did.
type produced struct {
	Acked   int
	Failed  int
	Rate    int
	Elapsed time.Duration
}

// loadGen produces good events round-robin over the stack's accounts at a fixed rate,
// expecting each (event, subscription) pair in the ledger before the record is sent
// (so an early delivery is never "unexpected") and forgetting it if the broker never
// acknowledges the record.
type loadGen struct {
	s      *stack
	seq    atomic.Int64
	acked  atomic.Int64
	failed atomic.Int64
	wg     sync.WaitGroup
}

func newLoadGen(s *stack) *loadGen { return &loadGen{s: s} }

// one produces one good event for account acct and returns its id.
func (g *loadGen) one(ctx context.Context, acct string) string {
	s := g.s
	n := int(g.seq.Add(1))
	now := time.Now()
	e := events.Sample(eventNames[n%len(eventNames)], acct, fmt.Sprintf("clm_%s_%03d", s.id, n%97), n, now)
	e.ID = fmt.Sprintf("evt_chaos_%s_%08d", s.id, n)
	var ids []string
	for _, sb := range s.byAcct[acct] {
		id := events.DeliveryID(e.ID, sb.ID)
		s.ledger.expect(id, sb.ID, now)
		ids = append(ids, id)
	}
	rec := &kgo.Record{Topic: s.cfg.Topics.Ingest[0], Key: []byte(acct), Value: e.Marshal()}
	g.wg.Add(1)
	s.prod.Produce(ctx, rec, func(_ *kgo.Record, err error) {
		defer g.wg.Done()
		if err != nil {
			g.failed.Add(1)
			s.ledger.forget(ids...)
			return
		}
		g.acked.Add(1)
	})
	return e.ID
}

// run produces rate events per second for d (or until ctx ends), then waits (at most
// 3 minutes: the broker may be coming back) for every acknowledgement.
func (g *loadGen) run(ctx context.Context, rate int, d time.Duration) produced {
	timer := time.NewTimer(d)
	defer timer.Stop()
	return g.runUntil(ctx, rate, timer.C)
}

// runUntil is run for a load whose end is not known in advance: it produces until stop
// fires (or ctx ends), then waits for the acknowledgements as run does.
func (g *loadGen) runUntil(ctx context.Context, rate int, stop <-chan time.Time) produced {
	start := time.Now()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	sent := 0
	for running := true; running && ctx.Err() == nil; {
		due := int(time.Since(start).Seconds() * float64(rate))
		for ; sent < due; sent++ {
			g.one(ctx, g.s.accts[sent%len(g.s.accts)])
		}
		select {
		case <-stop:
			running = false
		case <-ctx.Done():
		case <-tick.C:
		}
	}
	elapsed := time.Since(start)
	flushCtx, cancelFlush := context.WithTimeout(ctx, 3*time.Minute)
	defer cancelFlush()
	_ = g.s.prod.Flush(flushCtx)
	done := make(chan struct{})
	go func() { g.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-flushCtx.Done():
		g.s.t.Errorf("producer: records still unacknowledged 3 minutes after the load ended")
	}
	return produced{Acked: int(g.acked.Load()), Failed: int(g.failed.Load()), Rate: rate, Elapsed: elapsed}
}

// warmUp produces one event per account and waits until all its deliveries arrived, so
// the measured phase starts with both groups joined and the indexes loaded.
func (g *loadGen) warmUp(ctx context.Context) {
	s := g.s
	s.t.Helper()
	for _, a := range s.accts {
		g.one(ctx, a)
	}
	if err := s.prod.Flush(ctx); err != nil {
		s.t.Fatalf("warm-up produce: %v", err)
	}
	defer func() {
		if s.t.Failed() {
			s.t.Logf("warm-up: %d deliveries missing; first %v\n%s", s.ledger.pending(nil), s.ledger.missing(5, nil), s.logTail(4000))
		}
	}()
	testenv.Eventually(s.t, 2*time.Minute, "every warm-up delivery", func() bool { return s.ledger.pending(nil) == 0 })
}
