package delivery

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"
)

// fakeRecorder records attempts one by one (no batch support).
type fakeRecorder struct {
	mu  sync.Mutex
	got []string
}

func (f *fakeRecorder) Record(_ context.Context, a Attempt) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.got = append(f.got, a.DeliveryID)
	return nil
}

func (f *fakeRecorder) Outcome(context.Context, string, bool, time.Time) (time.Time, error) {
	return time.Time{}, nil
}

// batchRecorder supports WriteBatch and remembers batch sizes.
type batchRecorder struct {
	fakeRecorder
	sizes []int
}

func (b *batchRecorder) WriteBatch(_ context.Context, as []Attempt, _ []string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.sizes = append(b.sizes, len(as))
	for _, a := range as {
		b.got = append(b.got, a.DeliveryID)
	}
	return nil
}

// testHooks are writer hooks that count drops with dropped and ignore the rest.
func testHooks(dropped func()) attemptHooks {
	return attemptHooks{dropped: dropped, batch: func(int) {}, cleared: func([]string) {}}
}

// TestAttemptWriterKeepsOrderAndFlushesOnClose: every attempt added before close is
// written, in the order added, in batches no larger than the bound, whether or not the
// recorder can write batches.
func TestAttemptWriterKeepsOrderAndFlushesOnClose(t *testing.T) {
	const n = 3*attemptBatchMax + 7
	for _, tc := range []struct {
		name string
		rec  interface {
			AttemptRecorder
			ids() []string
		}
	}{{"one by one", &fakeRecorder{}}, {"batched", &batchRecorder{}}} {
		t.Run(tc.name, func(t *testing.T) {
			w := newAttemptWriter(tc.rec, testHooks(func() { t.Error("an entry was dropped with room in the queue") }), zap.NewNop())
			// n is well below attemptQueue: nothing may be dropped.
			for i := range n {
				w.add(attemptEntry{a: Attempt{DeliveryID: fmt.Sprintf("d%05d", i), SubscriptionID: "s"}})
			}
			w.close()
			got := tc.rec.ids()
			if len(got) != n {
				t.Fatalf("%d attempts written, want %d", len(got), n)
			}
			for i, id := range got {
				if id != fmt.Sprintf("d%05d", i) {
					t.Fatalf("attempt %d is %s: order not kept", i, id)
				}
			}
			if br, ok := tc.rec.(*batchRecorder); ok {
				for _, s := range br.sizes {
					if s < 1 || s > attemptBatchMax {
						t.Fatalf("batch of %d, want 1..%d", s, attemptBatchMax)
					}
				}
			}
		})
	}
}

func (f *fakeRecorder) ids() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.got...)
}

// blockingRecorder holds every write until released.
type blockingRecorder struct {
	fakeRecorder
	release chan struct{}
}

func (b *blockingRecorder) Record(ctx context.Context, a Attempt) error {
	<-b.release
	return b.fakeRecorder.Record(ctx, a)
}

// TestAttemptWriterDropsWhenFullNeverBlocks: with the attempt log stuck (Redis hanging),
// add never blocks a delivery; what does not fit is dropped and counted, and what was
// queued is still written once the log recovers.
func TestAttemptWriterDropsWhenFullNeverBlocks(t *testing.T) {
	rec := &blockingRecorder{release: make(chan struct{})}
	var dropped atomic.Int64
	w := newAttemptWriter(rec, testHooks(func() { dropped.Add(1) }), zap.NewNop())
	const extra = 100
	const total = attemptQueue + attemptBatchMax + extra
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range total { // the writer holds up to a batch, the queue the rest
			w.add(attemptEntry{a: Attempt{DeliveryID: fmt.Sprintf("d%05d", i), SubscriptionID: "s"}})
		}
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("add blocked while the attempt log was stuck")
	}
	if d := dropped.Load(); d < extra {
		t.Fatalf("%d dropped, want at least %d (more than queue plus one batch were added)", d, extra)
	}
	close(rec.release)
	w.close()
	if got, want := len(rec.ids()), total-int(dropped.Load()); got != want {
		t.Fatalf("%d written after recovery, want every entry not counted as dropped (%d)", got, want)
	}
}

// TestAttemptWriterGathersSteadyArrivals: attempts that finish one at a time, a fraction
// of attemptLinger apart (a steady delivery rate), share batches rather than each
// taking a round trip of its own; each is still written (close flushes the last batch),
// and the batch sizes reported for the metric add up to what was written.
func TestAttemptWriterGathersSteadyArrivals(t *testing.T) {
	rec := &batchRecorder{}
	var reported atomic.Int64
	hooks := testHooks(func() { t.Error("an entry was dropped with room in the queue") })
	hooks.batch = func(n int) { reported.Add(int64(n)) }
	w := newAttemptWriter(rec, hooks, zap.NewNop())
	const n = 20
	for i := range n {
		w.add(attemptEntry{a: Attempt{DeliveryID: fmt.Sprintf("d%d", i), SubscriptionID: "s"}})
		time.Sleep(attemptLinger / 20)
	}
	w.close()
	if got := len(rec.ids()); got != n {
		t.Fatalf("%d attempts written, want %d", got, n)
	}
	if got := reported.Load(); got != n {
		t.Fatalf("batch sizes reported add up to %d, want %d", got, n)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.sizes) > n/2 {
		t.Fatalf("%d attempts arriving %v apart took %d round trips (batches %v), want at most %d",
			n, attemptLinger/20, len(rec.sizes), rec.sizes, n/2)
	}
}
