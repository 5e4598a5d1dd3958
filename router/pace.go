package router

import "time"

// commitPaceFactor is how many times the recent End duration must pass between one End
// and the next: a transaction's fixed cost (End's broker round trips, then the commit
// markers the broker writes to every partition the transaction touched, and the wake-up
// of every read_committed consumer of those partitions) then stays at most about a third
// of the pipeline's time, whatever the machine.
//
// Why pace at all: at a steady rate each poll commits at once, so the transaction rate
// follows the ingest fetch cadence (router.fetch_max_wait), not the broker's cost. On a
// broker with CPU to spare that is the lowest latency; on a busy one (measured on a
// 2-core machine running broker, router, sender and load together, 2 000 events/s) the
// transactions' broker work queued everything behind it: the end-to-end p99 fell from
// 325 ms to 152 ms when commits were spaced 50 ms apart instead of ~10 ms, because the
// broker's CPU fell from 8–11 s to 4.4 s per 11 s. A fixed wider spacing would cost every
// event on a fast broker up to that much latency; spacing by the measured End duration
// costs nothing there (End takes a few ms, so the pace is below the fetch cadence) and
// backs off exactly when the broker is the bottleneck.
//
// Why 2 and not more: every event waits for the pace before its transaction commits, so
// the factor is paid in latency at every rate. Measured on the same 2-core machine with
// realistic event bodies (one default latency benchmark per fresh broker, alternated),
// 2 instead of 4 took the p99 from 50–53 ms to 38–40 ms for ~0.7 s more broker CPU per
// 10 s; the broker was no longer the bottleneck once it ran HotSpot's C1 compiler alone.
const commitPaceFactor = 2

// pacer remembers the recent End durations of one session's committed transactions.
// Only the goroutine running the session touches it.
type pacer struct {
	smoothed time.Duration // exponentially weighted End duration
	lastEnd  time.Time     // when the previous End returned; zero before the first
}

// commitAt is when a transaction that began at start may End: commitPaceFactor smoothed
// End durations after the previous End returned, but never later than maxSpan after
// start. A transaction after a quiet spell commits at once (the time has passed).
func (p *pacer) commitAt(start time.Time, maxSpan time.Duration) time.Time {
	if p.lastEnd.IsZero() {
		return start
	}
	at := p.lastEnd.Add(commitPaceFactor * p.smoothed)
	return minTime(at, start.Add(maxSpan))
}

// ended records an End that took took and returned at now.
func (p *pacer) ended(took time.Duration, now time.Time) {
	if p.lastEnd.IsZero() {
		p.smoothed = took
	} else {
		p.smoothed += (took - p.smoothed) / 4
	}
	p.lastEnd = now
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
