package bench

import (
	"context"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/claimable/eventrouter/events"
)

// DefaultLeadIn is how long each run produces at its own pace, untimed, before its
// measured window (bench --lead-in).
//
// Every run starts new role processes on new topics. Their first load is slow for a
// few hundred milliseconds whatever happened before (the per-run warm-up's one event
// per account does not carry it): the first 0.5 s of a timed window had a p99 of
// 62–108 ms where every later half second had 22–26 ms, and so decided the run's p99.
// With a one-second lead-in the first half second is like the others. A real router
// meets that start once per process start, not at a steady rate, so the steady
// scenarios measure the pipeline after it; the lead-in's own latency is still reported
// (LeadInResult), so the start-up cost stays in view.
const DefaultLeadIn = time.Second

// LeadInResult is a run's untimed lead-in: how long it produced, how many events, and
// the latency of their deliveries (every one of them verified like the window's).
type LeadInResult struct {
	Seconds float64     `json:"seconds"`
	Events  int         `json:"events"`
	Latency Percentiles `json:"latency"`
}

// leadIn produces at the run's pace (its rate, or flat out within its window) for
// c.LeadIn to the run's accounts, then waits until every delivery of it has arrived,
// checked like the measured window's. Its events have their own ids.
func (r *run) leadIn(ctx context.Context, prod *kgo.Client, ep *endpoint, gen *eventGen, byAccount [][]seeded) (*LeadInResult, error) {
	c := r.c
	l := NewLedger(nil)
	ep.ledger.Store(l)
	defer ep.ledger.Store(nil)
	lead := eventGen{run: r.id + "l", pad: gen.pad}
	p := pacer{start: time.Now(), rate: c.Rate, window: c.Window,
		outstanding: func(int) int { return l.Pending() / c.Fanout }}
	st, err := produceLoop(ctx, prod, c.LeadIn, p, func(n int, now time.Time) *kgo.Record {
		a := n % c.Accounts
		e := lead.event(n, accountID(r.id, a), now)
		for _, s := range byAccount[a] {
			l.Expect(events.DeliveryID(e.ID, s.ID), "lead-in", false)
		}
		return &kgo.Record{Topic: r.topic, Key: []byte(e.AccountID), Value: e.Marshal()}
	})
	if err != nil {
		return nil, fmt.Errorf("bench: lead-in: %w", err)
	}
	deadline := time.Now().Add(c.Drain)
	for l.Pending() > 0 {
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("bench: lead-in: %d of %d deliveries missing after %s (see the role logs)",
				l.Pending(), l.Counts().Expected, c.Drain)
		}
		if err := sleepCtx(ctx, 50*time.Millisecond); err != nil {
			return nil, err
		}
	}
	if n := l.Counts().BadSig; n > 0 {
		return nil, fmt.Errorf("%w: lead-in: %d signatures failed verification", ErrLost, n)
	}
	all, _ := l.Latencies()
	return &LeadInResult{Seconds: st.Elapsed.Seconds(), Events: st.Produced, Latency: all}, nil
}
