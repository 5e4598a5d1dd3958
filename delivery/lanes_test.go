package delivery

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/claimable/eventrouter/events"
)

// TestLanesOrderAndLimitUnderReuse drives the lanes directly with many short jobs, so
// goroutines are reused across jobs: every object's jobs must still run one at a time
// in enqueue order, the subscription must never exceed its max in-flight, and every
// job must run exactly once.
func TestLanesOrderAndLimitUnderReuse(t *testing.T) {
	const limit, objects, perObject = 3, 10, 40
	var active, peak atomic.Int32
	var mu sync.Mutex
	ran := map[string][]int{}
	var running sync.Map // object → true while one of its jobs runs
	var overlap atomic.Bool
	l := newLanes(lanesConfig{flow: flowConfig{maxBytes: 1 << 30, maxQueued: 1000, parkAfter: time.Hour},
		limit: func(string) int { return limit }, run: func(j *job) {
			if _, busy := running.LoadOrStore(j.d.ObjectID, true); busy {
				overlap.Store(true)
			}
			n := active.Add(1)
			for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
			}
			runtime.Gosched()
			mu.Lock()
			ran[j.d.ObjectID] = append(ran[j.d.ObjectID], j.d.Attempt)
			mu.Unlock()
			active.Add(-1)
			running.Delete(j.d.ObjectID)
		}})
	for seq := range perObject {
		for o := range objects {
			d := &events.Delivery{ID: fmt.Sprintf("d%d-%d", o, seq), SubscriptionID: "sub_1", ObjectID: fmt.Sprintf("obj%d", o), Attempt: seq}
			if !l.enqueue(&job{d: d}) {
				t.Fatalf("enqueue refused job %d of object %d below maxQueued", seq, o)
			}
		}
	}
	l.wait()
	if p := peak.Load(); p > limit {
		t.Errorf("peak in flight %d, want ≤ %d", p, limit)
	}
	if overlap.Load() {
		t.Error("two jobs of one object ran at the same time")
	}
	for o := range objects {
		got := ran[fmt.Sprintf("obj%d", o)]
		if len(got) != perObject {
			t.Fatalf("object %d: %d jobs ran, want %d", o, len(got), perObject)
		}
		for i, seq := range got {
			if seq != i {
				t.Fatalf("object %d ran out of order: %v", o, got)
			}
		}
	}
	if l.queued != 0 || len(l.subs) != 0 {
		t.Errorf("lanes not empty after wait: queued %d, subscriptions %d", l.queued, len(l.subs))
	}
}

// TestLanesIdleWorkersRunLaterJobsAndGoHomeOnWait: a job enqueued after an earlier one
// finished (the steady-rate case, where a lane is empty between deliveries) runs, in
// order, once each; after wait no worker goroutine is left behind, and a job enqueued
// after wait still runs.
func TestLanesIdleWorkersRunLaterJobsAndGoHomeOnWait(t *testing.T) {
	before := runtime.NumGoroutine()
	var mu sync.Mutex
	var ran []int
	done := make(chan struct{}, 64)
	l := newLanes(lanesConfig{flow: flowConfig{maxBytes: 1 << 30, maxQueued: 1000, parkAfter: time.Hour},
		limit: func(string) int { return 4 }, run: func(j *job) {
			mu.Lock()
			ran = append(ran, j.d.Attempt)
			mu.Unlock()
			done <- struct{}{}
		}})
	enqueue := func(seq int) {
		t.Helper()
		d := &events.Delivery{ID: fmt.Sprintf("d%d", seq), SubscriptionID: "sub_1", ObjectID: "obj", Attempt: seq}
		if !l.enqueue(&job{d: d}) {
			t.Fatalf("enqueue refused job %d", seq)
		}
	}
	for seq := range 20 {
		enqueue(seq) // one at a time: each finds the lane empty
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("job %d did not run", seq)
		}
	}
	l.wait()
	enqueue(20)
	l.wait()
	if len(ran) != 21 {
		t.Fatalf("%d jobs ran, want 21", len(ran))
	}
	for i, seq := range ran {
		if seq != i {
			t.Fatalf("jobs ran in order %v", ran)
		}
	}
	// Sooner than workerIdle: wait itself sent them home.
	deadline := time.Now().Add(workerIdle / 2)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Errorf("%d goroutines after wait, %d before the lanes: idle workers left behind", n, before)
	}
}
