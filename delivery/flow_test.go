package delivery

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/claimable/eventrouter/events"
	"github.com/claimable/eventrouter/internal/testenv"
)

// fakePauser records which partitions the gate has paused.
type fakePauser struct {
	mu      sync.Mutex
	paused  map[topicPartition]bool
	pauses  int
	resumes int
}

func newFakePauser() *fakePauser { return &fakePauser{paused: map[topicPartition]bool{}} }

func (f *fakePauser) PauseFetchPartitions(m map[string][]int32) map[string][]int32 {
	f.mu.Lock()
	defer f.mu.Unlock()
	for t, ps := range m {
		for _, p := range ps {
			f.paused[topicPartition{t, p}] = true
			f.pauses++
		}
	}
	return nil
}

func (f *fakePauser) ResumeFetchPartitions(m map[string][]int32) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for t, ps := range m {
		for _, p := range ps {
			delete(f.paused, topicPartition{t, p})
			f.resumes++
		}
	}
}

func (f *fakePauser) isPaused(tp topicPartition) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.paused[tp]
}

// flowRig drives lanes with jobs that block until released, a fake pauser and a
// deadline the test fires by hand.
type flowRig struct {
	t        *testing.T
	l        *lanes
	pauser   *fakePauser
	mu       sync.Mutex
	release  map[string]chan struct{} // by subscription: one token lets one running job end
	stopped  chan struct{}            // closed at cleanup: every job ends
	deadline []func()                 // pending saturation checks, in order scheduled
	clock    time.Time
	overflow []string
	seq      int
}

func newFlowRig(t *testing.T, flow flowConfig, inFlight int) *flowRig {
	r := &flowRig{t: t, pauser: newFakePauser(), release: map[string]chan struct{}{}, stopped: make(chan struct{}),
		clock: time.Unix(1e9, 0)}
	gate := newFetchGate(r.pauser, time.Now, nil)
	r.l = newLanes(lanesConfig{
		flow:  flow,
		limit: func(string) int { return inFlight },
		run: func(j *job) {
			select {
			case <-r.releaseOf(j.d.SubscriptionID):
			case <-r.stopped:
			}
		},
		gate: gate,
		now: func() time.Time {
			r.mu.Lock()
			defer r.mu.Unlock()
			return r.clock
		},
		overflow: func(sub, _ string, _ int, _ int64) {
			r.mu.Lock()
			r.overflow = append(r.overflow, sub)
			r.mu.Unlock()
		},
		afterFunc: func(_ time.Duration, f func()) func() bool {
			r.mu.Lock()
			defer r.mu.Unlock()
			i := len(r.deadline)
			r.deadline = append(r.deadline, f)
			return func() bool {
				r.mu.Lock()
				defer r.mu.Unlock()
				r.deadline[i] = nil // stopped
				return true
			}
		},
	})
	t.Cleanup(func() {
		close(r.stopped)
		r.l.abandon(func(*partition) bool { return true })
		r.l.wait()
	})
	return r
}

func (r *flowRig) releaseOf(sub string) chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	ch := r.release[sub]
	if ch == nil {
		ch = make(chan struct{})
		r.release[sub] = ch
	}
	return ch
}

// enqueue offers one delivery of sub from part (value bytes of payload) to the lanes.
func (r *flowRig) enqueue(sub string, part *partition, value int) bool {
	r.seq++
	d := &events.Delivery{ID: fmt.Sprintf("d%d", r.seq), SubscriptionID: sub, ObjectID: fmt.Sprintf("o%d", r.seq)}
	return r.l.enqueue(&job{rec: &kgo.Record{Value: make([]byte, value)}, d: d, part: part})
}

// finish lets n running jobs end and waits until the lanes have counted them.
func (r *flowRig) finish(sub string, n int) {
	r.t.Helper()
	before := r.queued(sub)
	for range n {
		r.releaseOf(sub) <- struct{}{}
	}
	testenv.Eventually(r.t, 10*time.Second, "finished jobs to leave the lane", func() bool { return r.queued(sub) <= before-n })
}

func (r *flowRig) queued(sub string) int {
	r.l.mu.Lock()
	defer r.l.mu.Unlock()
	if sl := r.l.subs[sub]; sl != nil {
		return sl.queued
	}
	return 0
}

// advance moves the lanes' clock.
func (r *flowRig) advance(d time.Duration) {
	r.mu.Lock()
	r.clock = r.clock.Add(d)
	r.mu.Unlock()
}

// fireDeadlines runs every saturation check scheduled and not stopped.
func (r *flowRig) fireDeadlines() {
	r.mu.Lock()
	fs := slices.Clone(r.deadline)
	clear(r.deadline) // fired: a later stop of one of them is a no-op
	r.mu.Unlock()
	for _, f := range fs {
		if f != nil {
			f()
		}
	}
}

var (
	tpDeliveries0 = topicPartition{"webhooks.deliveries", 0}
	tpDeliveries1 = topicPartition{"webhooks.deliveries", 1}
)

// A subscription reaching its count budget pauses the partition that feeds it, still
// accepts what was already fetched (the budget is soft), and resumes the partition
// once it has drained to half its budget — nothing is parked.
func TestFlowPausesAtBudgetAndResumesOnDrain(t *testing.T) {
	r := newFlowRig(t, flowConfig{maxBytes: 1 << 30, maxQueued: 10, parkAfter: time.Hour}, 1)
	p0 := newPartition(tpDeliveries0)
	for i := range 9 {
		if !r.enqueue("sub_a", p0, 10) {
			t.Fatalf("delivery %d refused below the budget", i)
		}
	}
	if r.pauser.isPaused(tpDeliveries0) {
		t.Fatal("partition paused below the budget")
	}
	for i := range 5 { // the 10th reaches the budget; the rest were fetched in the same poll
		if !r.enqueue("sub_a", p0, 10) {
			t.Fatalf("delivery %d over the budget refused before any deadline: want it queued (soft budget)", 10+i)
		}
	}
	if !r.pauser.isPaused(tpDeliveries0) {
		t.Fatal("partition not paused with its subscription at its budget")
	}
	r.finish("sub_a", 8) // 14 → 6: above the low-water mark (5)
	if !r.pauser.isPaused(tpDeliveries0) {
		t.Fatal("partition resumed above the low-water mark")
	}
	r.finish("sub_a", 1) // 5: at the low-water mark
	if r.pauser.isPaused(tpDeliveries0) {
		t.Fatal("partition still paused after its subscription drained to half its budget")
	}
	if len(r.overflow) != 0 {
		t.Fatalf("overflow reported for a subscription that drained in time: %v", r.overflow)
	}
}

// The byte budget counts record bytes plus the per-delivery overhead.
func TestFlowByteBudget(t *testing.T) {
	const budget = 8 * (jobOverhead + 1000)
	r := newFlowRig(t, flowConfig{maxBytes: budget, maxQueued: 1000, parkAfter: time.Hour}, 1)
	p0 := newPartition(tpDeliveries0)
	for range 7 {
		r.enqueue("sub_a", p0, 1000)
	}
	if r.pauser.isPaused(tpDeliveries0) {
		t.Fatal("paused at 7/8 of the byte budget")
	}
	r.enqueue("sub_a", p0, 1000)
	if !r.pauser.isPaused(tpDeliveries0) {
		t.Fatal("not paused at the byte budget")
	}
}

// A subscription still saturated at its deadline overflows: the partition resumes for
// the other subscriptions on it, its own excess is refused (the sender parks it) while
// it stays at its budget, and other subscriptions are unaffected.
func TestFlowDeadlineParksOnlyTheSaturatedSubscription(t *testing.T) {
	r := newFlowRig(t, flowConfig{maxBytes: 1 << 30, maxQueued: 4, parkAfter: time.Hour}, 1)
	p0 := newPartition(tpDeliveries0)
	for range 4 {
		r.enqueue("sub_slow", p0, 10)
	}
	r.enqueue("sub_other", p0, 10)
	if !r.pauser.isPaused(tpDeliveries0) {
		t.Fatal("partition not paused for the saturated subscription")
	}
	r.advance(time.Hour)
	r.fireDeadlines()
	if r.pauser.isPaused(tpDeliveries0) {
		t.Fatal("partition still paused after the saturated subscription's deadline")
	}
	if len(r.overflow) != 1 || r.overflow[0] != "sub_slow" {
		t.Fatalf("overflow reported for %v, want [sub_slow]", r.overflow)
	}
	if r.enqueue("sub_slow", p0, 10) {
		t.Fatal("overflowed subscription at its budget accepted more: want it refused (parked)")
	}
	for i := range 6 {
		if !r.enqueue("sub_other", p0, 10) {
			t.Fatalf("other subscription refused delivery %d before any deadline of its own", i)
		}
	}
	r.l.mu.Lock()
	otherState := r.l.subs["sub_other"].state
	r.l.mu.Unlock()
	if otherState != flowPaused || !r.pauser.isPaused(tpDeliveries0) {
		t.Fatal("the other subscription at its own budget should pause the partition (its own flow control), not overflow")
	}
	// The overflowed subscription takes deliveries again as it drains below its budget,
	// without pausing anything.
	r.finish("sub_slow", 1)
	if !r.enqueue("sub_slow", p0, 10) {
		t.Fatal("overflowed subscription below its budget refused a delivery")
	}
	r.l.mu.Lock()
	held := len(r.l.subs["sub_slow"].held)
	r.l.mu.Unlock()
	if held != 0 {
		t.Fatal("overflowed subscription paused a partition again")
	}
}

// A subscription reaching its budget does not pause a partition that another,
// unsaturated subscription has recently been fed from and that has (almost) nothing
// queued: that neighbour's next deliveries may sit right behind the pause, so the
// saturated subscription overflows at once instead. A neighbour with a backlog of its
// own loses nothing by a short pause, so then the partition is paused.
func TestFlowDoesNotPauseOverARunningDryNeighbour(t *testing.T) {
	r := newFlowRig(t, flowConfig{maxBytes: 1 << 30, maxQueued: 4, parkAfter: time.Second}, 1)
	p0 := newPartition(tpDeliveries0)
	r.enqueue("sub_quick", p0, 10)
	r.finish("sub_quick", 1) // delivered: its lane is empty, its next delivery may be in Kafka
	for range 4 {
		r.enqueue("sub_slow", p0, 10)
	}
	if r.pauser.isPaused(tpDeliveries0) {
		t.Fatal("paused a partition whose other subscription is running dry")
	}
	if len(r.overflow) != 1 || r.overflow[0] != "sub_slow" {
		t.Fatalf("overflow %v, want [sub_slow] at once", r.overflow)
	}

	p1 := newPartition(tpDeliveries1)
	for range 3 { // a neighbour with a backlog beyond its in-flight cap
		r.enqueue("sub_busy", p1, 10)
	}
	for range 4 {
		r.enqueue("sub_burst", p1, 10)
	}
	if !r.pauser.isPaused(tpDeliveries1) {
		t.Fatal("did not pause although the other subscription has a backlog of its own")
	}
}

// A deadline that fires after its subscription drained (the timer raced the drain)
// does nothing.
func TestFlowStaleDeadlineIgnored(t *testing.T) {
	r := newFlowRig(t, flowConfig{maxBytes: 1 << 30, maxQueued: 4, parkAfter: time.Hour}, 1)
	p0 := newPartition(tpDeliveries0)
	for range 4 {
		r.enqueue("sub_a", p0, 10)
	}
	r.mu.Lock()
	stale := r.deadline[0]
	r.mu.Unlock()
	r.finish("sub_a", 2)
	for range 2 { // saturated again: a new episode with its own deadline
		r.enqueue("sub_a", p0, 10)
	}
	r.advance(time.Hour)
	stale()
	if len(r.overflow) != 0 || !r.pauser.isPaused(tpDeliveries0) {
		t.Fatalf("a stale deadline overflowed the subscription (overflow %v, paused %v)", r.overflow, r.pauser.isPaused(tpDeliveries0))
	}
}

// Revoking a partition drops its queued jobs and lifts the flow-control pause on it,
// while a pause on a partition still owned stays.
func TestFlowRevokeResumes(t *testing.T) {
	r := newFlowRig(t, flowConfig{maxBytes: 1 << 30, maxQueued: 4, parkAfter: time.Hour}, 1)
	p0, p1 := newPartition(tpDeliveries0), newPartition(tpDeliveries1)
	for range 3 {
		r.enqueue("sub_a", p0, 10)
	}
	r.enqueue("sub_a", p1, 10)
	if !r.pauser.isPaused(tpDeliveries0) || !r.pauser.isPaused(tpDeliveries1) {
		t.Fatal("both feeding partitions should be paused at the budget")
	}
	// The first job of p0 is running; the rest are queued. Revoke p1 only.
	r.l.abandon(func(p *partition) bool { return p == p1 })
	if r.pauser.isPaused(tpDeliveries1) {
		t.Fatal("revoked partition left paused")
	}
	if !r.pauser.isPaused(tpDeliveries0) {
		t.Fatal("owned partition resumed by another partition's revocation while its subscription is above low water")
	}
	r.l.abandon(func(*partition) bool { return true })
	if r.pauser.isPaused(tpDeliveries0) {
		t.Fatal("partition left paused after every partition was revoked")
	}
}

// The tier pauser and flow control share partitions: a partition is resumed only when
// neither holds it.
func TestFetchGateCombinesHolds(t *testing.T) {
	fp := newFakePauser()
	var paused int
	var heldFor time.Duration
	g := newFetchGate(fp, time.Now, func(n int, d time.Duration) { paused, heldFor = n, heldFor+d })
	tp := topicPartition{"webhooks.retry.5s", 0}
	g.holdTier(tp)
	g.holdFlow(tp)
	g.holdFlow(tp) // two saturated subscriptions
	g.releaseTier(tp)
	if !fp.isPaused(tp) || paused != 1 {
		t.Fatalf("resumed while two subscriptions hold it (paused gauge %d)", paused)
	}
	g.releaseFlow(tp)
	if !fp.isPaused(tp) {
		t.Fatal("resumed while one subscription still holds it")
	}
	time.Sleep(time.Millisecond)
	g.releaseFlow(tp)
	if fp.isPaused(tp) || paused != 0 || heldFor <= 0 {
		t.Fatalf("after the last release: paused %v, gauge %d, held for %s", fp.isPaused(tp), paused, heldFor)
	}
	if fp.pauses != 1 || fp.resumes != 1 {
		t.Fatalf("client saw %d pauses and %d resumes, want 1 each", fp.pauses, fp.resumes)
	}
}
