package delivery

import (
	"sync"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/claimable/eventrouter/events"
)

// job is one fetched delivery record on its way through a lane.
type job struct {
	rec  *kgo.Record
	d    *events.Delivery
	part *partition
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
//   - enqueue never blocks: the polling goroutine only appends to a queue. A
//     subscription with maxQueued deliveries already queued refuses more (the caller
//     hands the excess to the first retry tier), which bounds memory without pausing a
//     partition shared with other subscriptions.
//
// Subscription lanes are per process, keyed by subscription id, across every partition
// the process owns. Safe for concurrent use.
type lanes struct {
	maxQueued int
	limit     func(subID string) int // the subscription's max in-flight, ≥ 1
	run       func(*job)             // runs one job to its end on the calling goroutine
	gauge     func(queued, active int)

	mu     sync.Mutex
	subs   map[string]*subLane
	queued int
	wg     sync.WaitGroup
}

type subLane struct {
	id       string
	objects  map[string]*objLane
	ready    []*objLane // object lanes with queued work and nothing in flight, FIFO
	inFlight int
	queued   int // queued plus in flight
	limit    int // max in flight, ≥ 1; refreshed on every enqueue
}

type objLane struct {
	key  string
	q    []*job
	busy bool
}

func newLanes(maxQueued int, limit func(string) int, run func(*job), gauge func(queued, active int)) *lanes {
	return &lanes{maxQueued: maxQueued, limit: limit, run: run, gauge: gauge, subs: map[string]*subLane{}}
}

// enqueue adds j to its lanes, or returns false when its subscription already holds
// maxQueued deliveries. It never blocks on delivery work.
func (l *lanes) enqueue(j *job) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	sl := l.subs[j.d.SubscriptionID]
	if sl == nil {
		sl = &subLane{id: j.d.SubscriptionID, objects: map[string]*objLane{}}
		l.subs[sl.id] = sl
	}
	if sl.queued >= l.maxQueued {
		return false
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
	l.queued++
	if !ol.busy && len(ol.q) == 1 {
		sl.ready = append(sl.ready, ol)
	}
	l.pump(sl)
	l.gauge(l.queued, len(l.subs))
	return true
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
		sl.queued--
		l.queued--
		ol.busy = false
		if len(ol.q) > 0 {
			sl.ready = append(sl.ready, ol)
		} else {
			delete(sl.objects, ol.key)
		}
		if sl.inFlight <= sl.limit && len(sl.ready) > 0 {
			ol, j = sl.take() // keeps this goroutine's in-flight place
			l.pump(sl)        // the limit may have grown meanwhile
			l.gauge(l.queued, len(l.subs))
			l.mu.Unlock()
			continue
		}
		sl.inFlight--
		l.pump(sl)
		if sl.queued == 0 {
			delete(l.subs, sl.id)
		}
		l.gauge(l.queued, len(l.subs))
		l.mu.Unlock()
		return
	}
}

// abandon drops every queued (not yet started) job that belongs to a partition for
// which drop returns true, and returns them. Dropped jobs are never finished, so their
// offsets stay uncommitted and the partition's next owner redelivers them.
func (l *lanes) abandon(drop func(*partition) bool) []*job {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []*job
	for id, sl := range l.subs {
		for key, ol := range sl.objects {
			kept := ol.q[:0]
			for _, j := range ol.q {
				if drop(j.part) {
					out = append(out, j)
					sl.queued--
					l.queued--
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
		if sl.queued == 0 {
			delete(l.subs, id)
		}
	}
	l.gauge(l.queued, len(l.subs))
	return out
}

// wait blocks until every started job has ended.
func (l *lanes) wait() { l.wg.Wait() }
