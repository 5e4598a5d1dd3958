package delivery

import (
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/claimable/eventrouter/events"
)

// job is one fetched delivery record on its way through a lane.
type job struct {
	rec  *kgo.Record
	d    *events.Delivery
	part *partition
	// size is the job's cost in its subscription's byte budget (jobSize), fixed at
	// enqueue so that the same amount is released when it ends.
	size int64
	// failure is the last attempt's error text when the delivery ends in the DLQ after
	// an attempt; it goes into the DLQ record's er-error header.
	failure string
}

// lanes schedules deliveries so that one subscription never delays another:
//
//   - each subscription has a lane; inside it each object id (d.ObjectID) has a FIFO
//     object lane that sends one delivery at a time, in fetch (offset) order, so a
//     subscription's deliveries about one claim go out first-attempt in event order;
//   - different objects of a subscription run concurrently up to the subscription's
//     max in-flight; different subscriptions are independent (the global cap is applied
//     by the runner, which waits for a slot on its own goroutine);
//   - enqueue never blocks: the polling goroutine only appends to a queue. Memory is
//     bounded by flow control (see flowConfig): a subscription at its budget pauses the
//     partitions that feed it, and one that overflows (pausing would stall a neighbour,
//     or it cannot drain in time) refuses more while at its budget (the caller hands
//     the excess to the first retry tier).
//
// Subscription lanes are per process, keyed by subscription id, across every partition
// the process owns. Safe for concurrent use.
type lanes struct {
	flow  flowConfig
	limit func(subID string) int // the subscription's max in-flight, ≥ 1
	run   func(*job)             // runs one job to its end on the calling goroutine
	gauge func(queued, active, saturated int)
	gate  *fetchGate
	// overflow is told when a subscription stays saturated past flow.parkAfter.
	overflow func(subID, why string, queued int, bytes int64)
	// afterFunc schedules saturation checks (time.AfterFunc) and now reads the clock
	// (time.Now); fakes in tests.
	afterFunc func(time.Duration, func()) (stop func() bool)
	now       func() time.Time

	mu   sync.Mutex
	subs map[string]*subLane
	// recent is, by source partition, when each subscription last had a delivery from
	// it: the neighbours a pause of that partition would hold back.
	recent    map[*partition]map[string]time.Time
	queued    int
	saturated int // subscriptions paused or overflowing
	wg        sync.WaitGroup
}

type subLane struct {
	id       string
	objects  map[string]*objLane
	ready    []*objLane // object lanes with queued work and nothing in flight, FIFO
	inFlight int
	queued   int // queued plus in flight
	limit    int // max in flight, ≥ 1; refreshed on every enqueue

	// Flow control (l.mu): bytes queued plus in flight, by source partition how many
	// jobs, and the partitions paused for this subscription.
	bytes     int64
	parts     map[*partition]int
	held      map[*partition]bool
	state     flowState
	epoch     int // saturation episode, so a stale check does nothing
	stopTimer func() bool
	pausedAt  time.Time // when this episode paused
}

// flowState is a subscription lane's flow-control state.
type flowState int

const (
	flowOpen       flowState = iota // below budget, or over it without having paused yet
	flowPaused                      // at its budget: its partitions are paused
	flowOverflowed                  // saturated past the deadline: the excess is parked
)

type objLane struct {
	key  string
	q    []*job
	busy bool
}

// lanesConfig are newLanes' collaborators; gate, overflow, afterFunc and now may be nil.
type lanesConfig struct {
	flow      flowConfig
	limit     func(subID string) int
	run       func(*job)
	gauge     func(queued, active, saturated int)
	gate      *fetchGate
	overflow  func(subID, why string, queued int, bytes int64)
	afterFunc func(time.Duration, func()) (stop func() bool)
	now       func() time.Time
}

func newLanes(c lanesConfig) *lanes {
	l := &lanes{flow: c.flow, limit: c.limit, run: c.run, gauge: c.gauge, gate: c.gate, overflow: c.overflow,
		afterFunc: c.afterFunc, now: c.now, subs: map[string]*subLane{}, recent: map[*partition]map[string]time.Time{}}
	if l.gauge == nil {
		l.gauge = func(int, int, int) {}
	}
	if l.overflow == nil {
		l.overflow = func(string, string, int, int64) {}
	}
	if l.afterFunc == nil {
		l.afterFunc = func(d time.Duration, f func()) func() bool { return time.AfterFunc(d, f).Stop }
	}
	if l.now == nil {
		l.now = time.Now
	}
	if l.gate == nil {
		l.gate = newFetchGate(noPauser{}, time.Now, nil)
	}
	return l
}

// noPauser is the gate's client when lanes run without Kafka (tests of scheduling only).
type noPauser struct{}

func (noPauser) PauseFetchPartitions(map[string][]int32) map[string][]int32 { return nil }
func (noPauser) ResumeFetchPartitions(map[string][]int32)                   {}

// enqueue adds j to its lanes, or returns false when its subscription has overflowed
// (see flowConfig) and is still at its budget. It never blocks on
// delivery work.
func (l *lanes) enqueue(j *job) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	sl := l.subs[j.d.SubscriptionID]
	if sl == nil {
		sl = &subLane{id: j.d.SubscriptionID, objects: map[string]*objLane{}, parts: map[*partition]int{}}
		l.subs[sl.id] = sl
	}
	if sl.state == flowOverflowed && l.full(sl) {
		return false
	}
	if j.size == 0 {
		j.size = jobSize(j.rec)
	}
	// The limit is looked up once per enqueue (on the polling goroutine), not on every
	// start: an edited max in-flight applies from the next fetched delivery.
	sl.limit = max(l.limit(sl.id), 1)
	key := j.d.ObjectID
	if key == "" {
		key = "\x00" + j.d.ID // no object: no ordering constraint
	}
	ol := sl.objects[key]
	if ol == nil {
		ol = &objLane{key: key}
		sl.objects[key] = ol
	}
	ol.q = append(ol.q, j)
	sl.queued++
	sl.bytes += j.size
	sl.parts[j.part]++
	l.queued++
	l.seen(j.part, sl.id)
	if !ol.busy && len(ol.q) == 1 {
		sl.ready = append(sl.ready, ol)
	}
	if sl.state == flowPaused || (sl.state == flowOpen && l.full(sl)) {
		l.pause(sl)
	}
	l.pump(sl)
	l.report()
	return true
}

// full reports whether sl has reached either budget. l.mu held.
func (l *lanes) full(sl *subLane) bool {
	return sl.bytes >= l.flow.maxBytes || sl.queued >= l.flow.maxQueued
}

// drained reports whether sl is at or below the low-water mark: half of both budgets.
// l.mu held.
func (l *lanes) drained(sl *subLane) bool {
	return sl.bytes <= l.flow.maxBytes/2 && sl.queued <= l.flow.maxQueued/2
}

// pause makes sl saturated (starting its deadline) and pauses every partition it has
// deliveries from that is not paused for it yet. l.mu held.
func (l *lanes) pause(sl *subLane) {
	if sl.state == flowOpen {
		sl.epoch++
		l.saturated++
		if l.starving(sl) {
			l.overflowNow(sl, overflowNeighbourDry) // a pause would stall it: park instead
			return
		}
		sl.state = flowPaused
		sl.pausedAt = l.now()
		l.scheduleCheck(sl)
	}
	for p := range sl.parts {
		if !sl.held[p] {
			if sl.held == nil {
				sl.held = map[*partition]bool{}
			}
			sl.held[p] = true
			l.gate.holdFlow(p.tp)
		}
	}
}

// unpause lifts sl's pauses. l.mu held.
func (l *lanes) unpause(sl *subLane) {
	for p := range sl.held {
		l.gate.releaseFlow(p.tp)
	}
	clear(sl.held)
}

// settle ends sl's saturation once it has drained to the low-water mark; an
// overflowing subscription keeps overflowing until its lane is empty. l.mu held.
func (l *lanes) settle(sl *subLane) {
	if sl.state == flowPaused && l.drained(sl) {
		sl.stopChecks()
		l.unpause(sl)
		sl.state = flowOpen
		l.saturated--
	}
	if sl.queued == 0 {
		if sl.state != flowOpen {
			sl.stopChecks()
			l.unpause(sl)
			l.saturated--
		}
		delete(l.subs, sl.id)
	}
}

// stopChecks cancels sl's pending saturation check, if any. l.mu held.
func (sl *subLane) stopChecks() {
	if sl.stopTimer != nil {
		sl.stopTimer()
		sl.stopTimer = nil
	}
}

// checksPerDeadline is how often, within flow.parkAfter, a paused subscription's
// progress is checked.
const checksPerDeadline = 50

// scheduleCheck arms sl's next saturation check. l.mu held.
func (l *lanes) scheduleCheck(sl *subLane) {
	epoch := sl.epoch
	sl.stopTimer = l.afterFunc(max(l.flow.parkAfter/checksPerDeadline, time.Millisecond), func() { l.check(sl, epoch) })
}

// check ends sl's pause when a neighbour on its partitions is running dry (starving) or
// flow.parkAfter has passed since it paused, and otherwise checks again later.
func (l *lanes) check(sl *subLane, epoch int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.subs[sl.id] != sl || sl.state != flowPaused || sl.epoch != epoch {
		return // drained, emptied or abandoned meanwhile
	}
	switch {
	case l.now().Sub(sl.pausedAt) >= l.flow.parkAfter:
		l.overflowNow(sl, overflowDeadline)
	case l.starving(sl):
		l.overflowNow(sl, overflowNeighbourDry)
	default:
		l.scheduleCheck(sl)
	}
}

// seen notes that subscription id had a delivery from p now. l.mu held.
func (l *lanes) seen(p *partition, id string) {
	r := l.recent[p]
	if r == nil {
		r = map[string]time.Time{}
		l.recent[p] = r
	}
	now := l.now()
	if _, ok := r[id]; !ok && len(r) >= 1024 {
		for k, t := range r { // bound the map: forget subscriptions long gone from p
			if now.Sub(t) > l.flow.parkAfter {
				delete(r, k)
			}
		}
	}
	r[id] = now
}

// starving reports whether pausing sl's partitions holds back another subscription that
// is running dry: one that had a delivery from one of them within the last
// flow.parkAfter, is not saturated itself, and has no more queued than it may have in
// flight (or nothing). Its next deliveries may be right behind the pause, so the pause
// would stall it; subscriptions with a backlog of their own lose nothing by it. l.mu
// held.
func (l *lanes) starving(sl *subLane) bool {
	now := l.now()
	dry := func(p *partition) bool {
		for id, at := range l.recent[p] {
			if id == sl.id || now.Sub(at) > l.flow.parkAfter {
				continue
			}
			o := l.subs[id]
			if o == nil || (o.state == flowOpen && o.queued <= o.limit) {
				return true
			}
		}
		return false
	}
	for p := range sl.parts {
		if dry(p) {
			return true
		}
	}
	for p := range sl.held {
		if dry(p) {
			return true
		}
	}
	return false
}

// Why a subscription overflowed, for the log.
const (
	overflowNeighbourDry = "a subscription sharing its partitions is running dry"
	overflowDeadline     = "saturation_park_after passed"
)

// overflowNow ends sl's pause: it overflows, and the partitions it held resume for the
// other subscriptions. l.mu held.
func (l *lanes) overflowNow(sl *subLane, why string) {
	sl.state = flowOverflowed
	l.unpause(sl)
	l.overflow(sl.id, why, sl.queued, sl.bytes)
	l.report()
}

// report updates the gauges. l.mu held.
func (l *lanes) report() { l.gauge(l.queued, len(l.subs), l.saturated) }

// done releases a finished job's place in its subscription's budget. l.mu held.
func (l *lanes) done(sl *subLane, j *job) {
	sl.queued--
	sl.bytes -= j.size
	l.queued--
	if n := sl.parts[j.part] - 1; n > 0 {
		sl.parts[j.part] = n
	} else {
		delete(sl.parts, j.part)
	}
}

// pump starts as many ready object lanes as the subscription's limit allows, one
// goroutine each. l.mu held.
func (l *lanes) pump(sl *subLane) {
	for sl.inFlight < sl.limit && len(sl.ready) > 0 {
		ol, j := sl.take()
		sl.inFlight++
		l.wg.Add(1)
		go l.exec(sl, ol, j)
	}
}

// take pops the next ready object lane's head job and marks the lane busy. The caller
// holds l.mu.
func (sl *subLane) take() (*objLane, *job) {
	ol := sl.ready[0]
	sl.ready[0] = nil
	sl.ready = sl.ready[1:]
	j := ol.q[0]
	ol.q[0] = nil
	ol.q = ol.q[1:]
	ol.busy = true
	return ol, j
}

// exec runs j, then keeps its goroutine (and its grown stack) for the subscription's
// next ready job while there is one, instead of exiting and spawning another: under
// load most jobs then run without a goroutine start. Ordering is unchanged: a job is
// only ever taken from a ready (not busy) object lane, exactly as pump would.
func (l *lanes) exec(sl *subLane, ol *objLane, j *job) {
	defer l.wg.Done()
	for {
		l.run(j)
		l.mu.Lock()
		l.done(sl, j)
		ol.busy = false
		if len(ol.q) > 0 {
			sl.ready = append(sl.ready, ol)
		} else {
			delete(sl.objects, ol.key)
		}
		if sl.inFlight <= sl.limit && len(sl.ready) > 0 {
			ol, j = sl.take() // keeps this goroutine's in-flight place
			l.pump(sl)        // the limit may have grown meanwhile
			l.settle(sl)
			l.report()
			l.mu.Unlock()
			continue
		}
		sl.inFlight--
		l.pump(sl)
		l.settle(sl)
		l.report()
		l.mu.Unlock()
		return
	}
}

// abandon drops every queued (not yet started) job that belongs to a partition for
// which drop returns true, and returns them. Dropped jobs are never finished, so their
// offsets stay uncommitted and the partition's next owner redelivers them. Flow-control
// pauses of those partitions are lifted (they are no longer this process's to fetch).
func (l *lanes) abandon(drop func(*partition) bool) []*job {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []*job
	for _, sl := range l.subs {
		for key, ol := range sl.objects {
			kept := ol.q[:0]
			for _, j := range ol.q {
				if drop(j.part) {
					out = append(out, j)
					l.done(sl, j)
				} else {
					kept = append(kept, j)
				}
			}
			clear(ol.q[len(kept):])
			ol.q = kept
			if len(ol.q) == 0 && !ol.busy {
				delete(sl.objects, key)
			}
		}
		ready := sl.ready[:0]
		for _, ol := range sl.ready {
			if len(ol.q) > 0 {
				ready = append(ready, ol)
			}
		}
		clear(sl.ready[len(ready):])
		sl.ready = ready
		for p := range sl.parts {
			if drop(p) {
				delete(sl.parts, p) // its jobs still running end without a count
			}
		}
		for p := range sl.held {
			if drop(p) {
				delete(sl.held, p)
				l.gate.releaseFlow(p.tp)
			}
		}
		l.settle(sl)
	}
	for p := range l.recent {
		if drop(p) {
			delete(l.recent, p)
		}
	}
	l.report()
	return out
}

// wait blocks until every started job has ended.
func (l *lanes) wait() { l.wg.Wait() }
