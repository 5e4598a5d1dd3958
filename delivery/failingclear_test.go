package delivery

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/claimable/eventrouter/events"
	"github.com/claimable/eventrouter/internal/testenv"
	"github.com/claimable/eventrouter/subscriptions"
)

// TestAttemptLogWriteBatchClearsFailing: the clears ride in the attempts' pipeline and
// end only the named subscriptions' runs of failures; the attempts are stored as usual.
func TestAttemptLogWriteBatchClearsFailing(t *testing.T) {
	l, _ := newTestLog(t, AttemptLogOptions{TTL: time.Hour})
	ctx := context.Background()
	t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	for _, sub := range []string{"sub_1", "sub_2"} {
		if _, err := l.Outcome(ctx, sub, false, t0); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.WriteBatch(ctx, []Attempt{attempt("dlv_1", 1, ReasonOK, true)}, []string{"sub_1"}); err != nil {
		t.Fatal(err)
	}
	t1 := t0.Add(time.Hour)
	if since, _ := l.Outcome(ctx, "sub_1", false, t1); !since.Equal(t1) {
		t.Fatalf("sub_1 after the clear: failing since %v, want a new run from %v", since, t1)
	}
	if since, _ := l.Outcome(ctx, "sub_2", false, t1); !since.Equal(t0) {
		t.Fatalf("sub_2 (not cleared): failing since %v, want %v", since, t0)
	}
	if st, err := l.Delivery(ctx, "dlv_1"); err != nil || st.Status != StatusDelivered {
		t.Fatalf("Delivery = %+v, %v; want the attempt stored as delivered", st, err)
	}
}

// newTestHealth is a health whose failing-since clock is an attempt log on miniredis.
func newTestHealth(t *testing.T) (*health, *AttemptLog) {
	l, _ := newTestLog(t, AttemptLogOptions{TTL: time.Hour})
	return newHealth(nil, l, time.Now, nil, zap.NewNop()), l
}

// TestHealthFailureAfterUnwrittenClear: a success's clear that has not reached Redis
// yet (queued in the attempt writer) is made before the next failure is recorded, so
// that failure starts a new run instead of inheriting the one the success ended (which
// could disable a recovered subscription on an old clock).
func TestHealthFailureAfterUnwrittenClear(t *testing.T) {
	h, l := newTestHealth(t)
	ctx := context.Background()
	t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	if _, err := l.Outcome(ctx, "sub_1", false, t0); err != nil { // a run of failures, 5 days long
		t.Fatal(err)
	}
	if !h.succeeded("sub_1") {
		t.Fatal("a success on a subscription of unknown state asked for no clear")
	}
	t1 := t0.Add(5 * 24 * time.Hour)
	if since := h.failed(ctx, "sub_1", t1); !since.Equal(t1) {
		t.Fatalf("failure after an unwritten clear: failing since %v, want %v", since, t1)
	}
}

// TestHealthKnowsClearOnlyWhenConfirmed: successes stop asking for clears once one was
// written after the last failure; a confirmation that arrives after a newer failure,
// or a partition assignment (another sender may have recorded failures), makes the
// next success clear again.
func TestHealthKnowsClearOnlyWhenConfirmed(t *testing.T) {
	h, _ := newTestHealth(t)
	ctx := context.Background()
	at := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

	for i := range 2 {
		if !h.succeeded("sub_1") {
			t.Fatalf("success %d before the clear is confirmed asked for none (the clear may be lost)", i+1)
		}
	}
	h.cleared([]string{"sub_1"})
	if h.succeeded("sub_1") {
		t.Fatal("a success after a confirmed clear asked for another")
	}

	h.failed(ctx, "sub_1", at)
	if !h.succeeded("sub_1") {
		t.Fatal("a success after a failure asked for no clear")
	}
	h.failed(ctx, "sub_1", at)   // fails again before the clear is written
	h.cleared([]string{"sub_1"}) // the earlier clear's confirmation arrives late
	if !h.succeeded("sub_1") {
		t.Fatal("a late confirmation hid the newer failure: the success asked for no clear")
	}

	h.cleared([]string{"sub_1"})
	h.forgetClear()
	if !h.succeeded("sub_1") {
		t.Fatal("after a partition assignment a success asked for no clear")
	}
}

// clearsRecorder writes batches and remembers the clears it was given; fail makes
// every write fail.
type clearsRecorder struct {
	fakeRecorder
	fail   bool
	clears []string
}

func (c *clearsRecorder) WriteBatch(_ context.Context, _ []Attempt, clears []string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.clears = append(c.clears, clears...)
	if c.fail {
		return errors.New("redis down")
	}
	return nil
}

// TestAttemptWriterConfirmsWrittenClears: the writer passes each entry's clear to the
// recorder and confirms exactly the clears that were written: none when the write
// failed, so the subscription's next success clears again.
func TestAttemptWriterConfirmsWrittenClears(t *testing.T) {
	for _, tc := range []struct {
		name string
		rec  AttemptRecorder
		want []string
	}{
		{"batched", &clearsRecorder{}, []string{"sub_1", "sub_3"}},
		{"batched, write fails", &clearsRecorder{fail: true}, nil},
		{"one by one", &fakeRecorder{}, []string{"sub_1", "sub_3"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var (
				mu        sync.Mutex
				confirmed []string
			)
			hooks := testHooks(func() {})
			hooks.cleared = func(ids []string) {
				mu.Lock()
				defer mu.Unlock()
				confirmed = append(confirmed, ids...)
			}
			w := newAttemptWriter(tc.rec, hooks, zap.NewNop())
			for i, sub := range []string{"sub_1", "sub_2", "sub_3"} {
				w.add(attemptEntry{a: Attempt{DeliveryID: "d" + sub, SubscriptionID: sub}, clearFailing: i != 1})
			}
			w.close()
			if cr, ok := tc.rec.(*clearsRecorder); ok && !slices.Equal(cr.clears, []string{"sub_1", "sub_3"}) {
				t.Fatalf("recorder was asked to clear %v, want [sub_1 sub_3]", cr.clears)
			}
			if !slices.Equal(confirmed, tc.want) {
				t.Fatalf("confirmed clears %v, want %v", confirmed, tc.want)
			}
		})
	}
}

// outcomeCounter is the real attempt log, counting the failing-since calls made on the
// delivery path (Outcome: one Redis round trip each).
type outcomeCounter struct {
	*AttemptLog
	calls atomic.Int64
}

func (o *outcomeCounter) Outcome(ctx context.Context, subID string, ok bool, at time.Time) (time.Time, error) {
	o.calls.Add(1)
	return o.AttemptLog.Outcome(ctx, subID, ok, at)
}

// TestSenderSuccessClearsFailingOffPath: a subscription another sender saw failing for
// two hours recovers here. Its successes make no failing-since round trip on the
// delivery path, yet the record is cleared (with the attempt log's write), so when the
// endpoint fails again the run starts anew and DisableAfter (one hour) does not
// disable it on the old run's clock.
func TestSenderSuccessClearsFailingOffPath(t *testing.T) {
	h := newHarness(t, 1, 2*time.Second)
	h.cfg.DisableAfter = time.Hour
	l, mr := newTestLog(t, AttemptLogOptions{Prefix: "t:", TTL: 24 * time.Hour})
	rec := &outcomeCounter{AttemptLog: l}
	ctx := context.Background()
	oldRun := time.Now().Add(-2 * time.Hour)
	if _, err := l.Outcome(ctx, "sub_1", false, oldRun); err != nil { // the other sender's record
		t.Fatal(err)
	}
	var failing atomic.Bool
	poster := posterFunc(func(context.Context, *subscriptions.Subscription, *events.Delivery, time.Time) Result {
		if failing.Load() {
			return Result{Status: http.StatusInternalServerError, Reason: ReasonHTTPStatus, Err: errors.New("500")}
		}
		return Result{Status: http.StatusNoContent, Reason: ReasonOK}
	})
	subs := newFakeIndex(senderSub("sub_1"), senderSub("sub_2"))
	h.start(Deps{Subscriptions: subs, Disabler: subs, Client: poster, AttemptLog: rec})

	for i := range 5 {
		h.produce(newTestDelivery("sub_1", "clm_a", i), newTestDelivery("sub_2", "clm_b", i))
	}
	testenv.Eventually(t, 15*time.Second, "ten successes in the attempt log", func() bool {
		a, _ := l.List(ctx, "sub_1", 0)
		b, _ := l.List(ctx, "sub_2", 0)
		return len(a) == 5 && len(b) == 5
	})
	if mr.Exists(l.failKey("sub_1")) {
		t.Fatal("the successes left the other sender's failing-since record")
	}
	if n := rec.calls.Load(); n != 0 {
		t.Fatalf("%d failing-since round trips on the delivery path for successes, want 0", n)
	}

	failing.Store(true)
	h.produce(newTestDelivery("sub_1", "clm_a", 5))
	testenv.Eventually(t, 15*time.Second, "the failed attempt in the attempt log (after its outcome was acted on)", func() bool {
		a, _ := l.List(ctx, "sub_1", 0)
		return len(a) == 6
	})
	since, err := l.Outcome(ctx, "sub_1", false, time.Now())
	if err != nil || since.Before(oldRun.Add(time.Hour)) {
		t.Fatalf("failing since %v, %v; want the new run (after %v)", since, err, oldRun.Add(time.Hour))
	}
	if r := subs.disabledReason("sub_1"); r != "" {
		t.Fatalf("the recovered subscription was disabled (%s) on the old run's clock", r)
	}
}
