package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/claimable/eventrouter/events"
)

// eventNames are the names the load generator produces, in rotation. Subscriptions that
// must not match subscribe to "contact.created", which it never produces.
var eventNames = []string{"claim.created", "claim.assigned", "claim.label_added", "claim.closed"}

// nonMatchingEvent is what the non-matching subscriptions of an account subscribe to.
const nonMatchingEvent = "contact.created"

// objectsPerAccount bounds distinct claim ids, so per-object ordering is exercised while
// different objects still proceed in parallel.
const objectsPerAccount = 997

// accountID names account i with a fixed width, so every event has the same size.
func accountID(run string, i int) string { return fmt.Sprintf("acct_%s_%06d", run, i) }

// eventGen builds events of a fixed rendered size.
type eventGen struct {
	run string
	pad int // the notes' length; each event's own text (events.SampleNotes)
}

// newEventGen returns a generator whose rendered bodies are bodyBytes long (± a byte or
// two for the event name).
func newEventGen(run string, bodyBytes int) *eventGen {
	g := &eventGen{run: run}
	probe := g.event(0, accountID(run, 0), time.Now())
	if n := bodyBytes - len(events.Render(probe)); n > 0 {
		g.pad = n
	}
	return g
}

type claimData struct {
	ID     string `json:"id"`
	Number string `json:"number"`
	Status string `json:"status"`
	Notes  string `json:"notes"`
}

// event returns event seq for account at now (its occurred_at: the latency origin).
func (g *eventGen) event(seq int, account string, now time.Time) *events.Event {
	obj := fmt.Sprintf("clm_%04d", seq%objectsPerAccount)
	data, _ := json.Marshal(claimData{ID: obj, Number: "CLM-" + obj[4:], Status: "open", Notes: events.SampleNotes(seq, g.pad)})
	return &events.Event{
		ID:          fmt.Sprintf("evt_%s_%010d", g.run, seq),
		AccountID:   account,
		EventName:   eventNames[seq%len(eventNames)],
		Object:      "claim",
		Source:      events.SourceAPI,
		PerformedBy: "token:bench",
		OccurredAt:  now.UTC(),
		Data:        data,
		ObjectID:    obj,
	}
}

// pacer decides when the next event may be produced: at Rate per second, or flat out
// with at most window events outstanding (produced, not yet fully delivered).
type pacer struct {
	start       time.Time
	rate        float64
	window      int
	outstanding func(produced int) int
}

// wait blocks until event n may be produced; false when ctx ended.
func (p pacer) wait(ctx context.Context, n int) bool {
	for {
		var d time.Duration
		if p.rate > 0 {
			due := p.start.Add(time.Duration(float64(n) / p.rate * float64(time.Second)))
			d = time.Until(due)
		} else if p.outstanding(n) >= p.window {
			d = time.Millisecond
		}
		if d <= 0 {
			return ctx.Err() == nil
		}
		if d < 200*time.Microsecond && p.rate > 0 {
			return ctx.Err() == nil // not worth a timer; stay on schedule on average
		}
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return false
		case <-t.C:
		}
	}
}

// produceStats is what a produce loop did.
type produceStats struct {
	Produced int           // acknowledged
	Failed   int           // not acknowledged
	Elapsed  time.Duration // from the first record to the end of the loop
}

// produceLoop produces records made by next(n) until ctx ends or d elapses, paced by
// p, then waits for every acknowledgement.
func produceLoop(ctx context.Context, cl *kgo.Client, d time.Duration, p pacer, next func(n int, now time.Time) *kgo.Record) (produceStats, error) {
	var acked, failed atomic.Int64
	var firstErr atomic.Value
	runCtx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	n := 0
	for p.wait(runCtx, n) {
		rec := next(n, time.Now())
		cl.Produce(ctx, rec, func(_ *kgo.Record, err error) {
			if err != nil {
				failed.Add(1)
				firstErr.CompareAndSwap(nil, err)
				return
			}
			acked.Add(1)
		})
		n++
	}
	elapsed := time.Since(p.start)
	if err := cl.Flush(ctx); err != nil {
		return produceStats{}, err
	}
	st := produceStats{Produced: int(acked.Load()), Failed: int(failed.Load()), Elapsed: elapsed}
	if e, _ := firstErr.Load().(error); e != nil {
		return st, fmt.Errorf("bench: %d of %d records not produced, first: %w", st.Failed, n, e)
	}
	return st, nil
}
