package delivery

import (
	"context"
	"fmt"
	"sync"
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

// batchRecorder supports RecordBatch and remembers batch sizes.
type batchRecorder struct {
	fakeRecorder
	sizes []int
}

func (b *batchRecorder) RecordBatch(_ context.Context, as []Attempt) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.sizes = append(b.sizes, len(as))
	for _, a := range as {
		b.got = append(b.got, a.DeliveryID)
	}
	return nil
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
			w := newAttemptWriter(tc.rec, zap.NewNop())
			for i := range n {
				w.add(Attempt{DeliveryID: fmt.Sprintf("d%05d", i), SubscriptionID: "s"})
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
