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
	// resumeTier resumes a tier partition held for a subscription (tierhold.go) before
	// its hold expires.
	resumeTier func(topicPartition)

	mu   sync.Mutex
	subs map[string]*subLane
	// recent is, by source partition, when each subscription last had a delivery from
	// it: the neighbours a pause of that partition would hold back.
	recent    map[*partition]map[string]time.Time
	queued    int
	saturated int // subscriptions paused or overflowing
	// holds are the tier partitions held for an overflowing subscription, and holdCut
	// by tier partition the offset below which a record is not held again (tierhold.go).
	holds   map[*partition]*tierHold
	holdCut map[*partition]int64
	wg      sync.WaitGroup

	// idle hands a ready job to a worker goroutine waiting for one (see worker); quit,
	// closed by wait, sends idle workers home.
	idle     chan laneTask
	quit     chan struct{}
	quitOnce sync.Once
}

// laneTask is one job pump starts, with the lanes it runs in.
type laneTask struct {
	sl *subLane
	ol *objLane
	j  *job
}

// subLane is one subscription's lane: its object lanes, what it has queued and in
// flight against its budgets, and its flow-control state (lanes_flow.go). lanes.mu
// guards it.
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
	holding   int       // tier partitions held for it (tierhold.go)
}

type objLane struct {
	key  string
	q    []*job
	busy bool
}

// lanesConfig are newLanes' collaborators; gate, overflow, afterFunc and now may be nil.
type lanesConfig struct {
	flow       flowConfig
	limit      func(subID string) int
	run        func(*job)
	gauge      func(queued, active, saturated int)
	gate       *fetchGate
	overflow   func(subID, why string, queued int, bytes int64)
	afterFunc  func(time.Duration, func()) (stop func() bool)
	now        func() time.Time
	resumeTier func(topicPartition)
}

func newLanes(c lanesConfig) *lanes {
	l := &lanes{flow: c.flow, limit: c.limit, run: c.run, gauge: c.gauge, gate: c.gate, overflow: c.overflow,
		afterFunc: c.afterFunc, now: c.now, resumeTier: c.resumeTier, subs: map[string]*subLane{},
		recent: map[*partition]map[string]time.Time{}, holds: map[*partition]*tierHold{}, holdCut: map[*partition]int64{},
		idle: make(chan laneTask), quit: make(chan struct{})}
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
	if l.resumeTier == nil {
		l.resumeTier = func(topicPartition) {}
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
	for p := range l.holds {
		if drop(p) {
			l.unhold(p) // the caller resumes the partitions it gives up
		}
	}
	for p := range l.holdCut {
		if drop(p) {
			delete(l.holdCut, p)
		}
	}
	l.report()
	return out
}

// wait blocks until every started job has ended, and sends idle workers home (a job
// started after wait runs on a goroutine of its own, which exits when it ends).
func (l *lanes) wait() {
	l.wg.Wait()
	l.quitOnce.Do(func() { close(l.quit) })
}
