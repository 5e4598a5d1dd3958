package delivery

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/claimable/eventrouter/events"
	"github.com/claimable/eventrouter/internal/testenv"
	"github.com/claimable/eventrouter/subscriptions"
)

// offsetClock is the wall clock moved forward by a settable offset: time still passes
// (retry tiers and pauses keep working) but the test can jump days ahead.
type offsetClock struct{ off atomic.Int64 }

func (c *offsetClock) Now() time.Time       { return time.Now().Add(time.Duration(c.off.Load())) }
func (c *offsetClock) jump(d time.Duration) { c.off.Add(int64(d)) }

// counterValue reads one labelled counter from reg (0 when absent).
func counterValue(t *testing.T, reg *prometheus.Registry, name, label, value string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if lp.GetName() == label && lp.GetValue() == value {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

// TestSenderDisablesPersistentlyFailingSubscription: an endpoint that answers 500 for
// longer than delivery.disable_after gets its subscription disabled with a
// failing_since:<first failure> reason (warn log, auto_disabled_total{reason="failing"});
// its parked retries and later deliveries then go to the DLQ as subscription_disabled,
// none is dropped, and a healthy subscription on the same partition is untouched.
//
// It runs the real AttemptLog (miniredis) as the failing-since clock and a sender clock
// that jumps two minutes ahead (DisableAfter is one minute) once the first three
// attempts have failed.
func TestSenderDisablesPersistentlyFailingSubscription(t *testing.T) {
	h := newHarness(t, 1, 2*time.Second, 4*time.Second) // retries wait long enough for the jump
	h.cfg.DisableAfter = time.Minute
	core, logs := observer.New(zapcore.WarnLevel)
	h.log = zap.New(core)
	clock := &offsetClock{}
	attemptLog, _ := newTestLog(t, AttemptLogOptions{Prefix: "t:", TTL: time.Hour})
	reg := prometheus.NewRegistry()

	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/fail" {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	client := loopbackClient(t, srv)

	var (
		mu        sync.Mutex
		failCalls int
		firstFail time.Time          // the sender's clock at the first failed attempt
		okGot     = map[string]int{} // delivery id → times delivered to the healthy endpoint
	)
	poster := posterFunc(func(ctx context.Context, sub *subscriptions.Subscription, d *events.Delivery, now time.Time) Result {
		res := client.Send(ctx, sub, d, now)
		mu.Lock()
		defer mu.Unlock()
		if sub.ID == "sub_ok" {
			if res.OK() {
				okGot[d.ID]++
			}
			return res
		}
		failCalls++
		if failCalls == 1 {
			firstFail = now
		}
		if failCalls == 3 {
			// The three first attempts failed within a second (no disable). From now on
			// the endpoint has been failing for two minutes, twice DisableAfter. The
			// attempt in hand keeps its own (earlier) time.
			clock.jump(2 * time.Minute)
		}
		return res
	})

	failing, healthy := senderSub("sub_fail"), senderSub("sub_ok")
	failing.URL, healthy.URL = srv.URL+"/fail", srv.URL+"/ok"
	failing.MaxInFlight = 1 // one attempt at a time, so the sequence below is exact
	subs := newFakeIndex(failing, healthy)
	h.start(Deps{Subscriptions: subs, Disabler: subs, Client: poster, AttemptLog: attemptLog,
		Registerer: reg, Now: clock.Now})

	var failIDs, okIDs []string
	produce := func(sub string, from, to int) {
		var ds []*events.Delivery
		for i := from; i <= to; i++ {
			d := newTestDelivery(sub, fmt.Sprintf("clm_%d", i), i)
			ds = append(ds, d)
			if sub == "sub_fail" {
				failIDs = append(failIDs, d.ID)
			} else {
				okIDs = append(okIDs, d.ID)
			}
		}
		h.produce(ds...)
	}
	okDelivered := func(n int) func() bool {
		return func() bool {
			mu.Lock()
			defer mu.Unlock()
			return len(okGot) == n
		}
	}

	// Phase 1: three deliveries fail once each and park in the 2 s tier; after the jump
	// the first retry finds the endpoint failing for 2 min ≥ 1 min and disables it.
	produce("sub_fail", 1, 3)
	produce("sub_ok", 1, 3)
	testenv.Eventually(t, 15*time.Second, "sub_fail disabled", func() bool { return subs.disabledReason("sub_fail") != "" })
	testenv.Eventually(t, 10*time.Second, "first healthy deliveries", okDelivered(3))

	// Phase 2: deliveries arriving after the disable are not attempted; the healthy
	// subscription still receives.
	produce("sub_fail", 4, 5)
	produce("sub_ok", 4, 6)
	testenv.Eventually(t, 10*time.Second, "healthy deliveries after the disable", okDelivered(6))

	// Every delivery of the failing subscription is in the DLQ, once, as
	// subscription_disabled, carrying the history of the attempts it had.
	recs := h.read(h.cfg.DLQTopic, len(failIDs), 15*time.Second)
	if len(recs) != len(failIDs) {
		t.Fatalf("DLQ records = %d, want %d (one per delivery of sub_fail, none dropped)", len(recs), len(failIDs))
	}
	inDLQ := map[string]int{}
	histories := 0
	for _, r := range recs {
		d, err := events.ParseDelivery(r)
		if err != nil {
			t.Fatal(err)
		}
		inDLQ[d.ID]++
		histories += len(d.History)
		if d.SubscriptionID != "sub_fail" {
			t.Errorf("DLQ has a delivery of %s (reason %s); the healthy subscription must not lose any", d.SubscriptionID, d.Reason)
		}
		if d.Reason != string(ReasonDisabled) || recHeader(r, events.HeaderReason) != string(ReasonDisabled) {
			t.Errorf("DLQ delivery %s reason = %q (header %q), want %s", d.ID, d.Reason, recHeader(r, events.HeaderReason), ReasonDisabled)
		}
		for _, a := range d.History {
			if a.Status != http.StatusInternalServerError || a.Reason != string(ReasonHTTPStatus) {
				t.Errorf("DLQ delivery %s history entry %+v, want 500 %s", d.ID, a, ReasonHTTPStatus)
			}
		}
	}
	for _, id := range failIDs {
		if inDLQ[id] != 1 {
			t.Errorf("delivery %s is in the DLQ %d times, want once", id, inDLQ[id])
		}
	}
	mu.Lock()
	calls, first := failCalls, firstFail
	mu.Unlock()
	// 3 first attempts + the retry that disabled; the other two parked retries and the two
	// later deliveries found the subscription disabled and were not attempted.
	if calls != 4 {
		t.Errorf("failing endpoint called %d times, want 4", calls)
	}
	if histories != calls {
		t.Errorf("DLQ histories hold %d attempts, endpoint saw %d: every attempt must be accounted for", histories, calls)
	}

	want := "failing_since:" + first.UTC().Format(time.RFC3339)
	if got := subs.disabledReason("sub_fail"); got != want {
		t.Errorf("disable reason = %q, want %q", got, want)
	}
	if s, _ := subs.Get("sub_fail"); s.Enabled {
		t.Error("sub_fail is still enabled in the index")
	}
	if got := counterValue(t, reg, metricsNamespace+"_auto_disabled_total", "reason", "failing"); got != 1 {
		t.Errorf(`auto_disabled_total{reason="failing"} = %v, want 1`, got)
	}
	warned := logs.FilterMessage("subscription disabled").All()
	if len(warned) != 1 || warned[0].Level != zapcore.WarnLevel ||
		warned[0].ContextMap()["subscription_id"] != "sub_fail" || warned[0].ContextMap()["reason"] != want {
		t.Errorf("disable log entries = %+v, want one warning for sub_fail with reason %s", warned, want)
	}

	// The healthy subscription: never disabled, every delivery received, none in the DLQ.
	if r := subs.disabledReason("sub_ok"); r != "" {
		t.Errorf("healthy subscription disabled: %q", r)
	}
	if s, _ := subs.Get("sub_ok"); !s.Enabled {
		t.Error("healthy subscription not enabled")
	}
	mu.Lock()
	for _, id := range okIDs {
		if okGot[id] == 0 {
			t.Errorf("healthy delivery %s never received", id)
		}
	}
	mu.Unlock()

	// Every produced record is finished (committed); nothing else reaches the DLQ.
	total := int64(len(failIDs) + len(okIDs))
	testenv.Eventually(t, 10*time.Second, "every delivery committed", func() bool { return h.committed(0) == total })
	if extra := h.read(h.cfg.DLQTopic, len(failIDs)+1, time.Second); len(extra) != len(failIDs) {
		t.Errorf("DLQ holds %d records, want %d", len(extra), len(failIDs))
	}
}

// ancientFailures is an AttemptRecorder whose failing-since clock says every failing
// endpoint has been failing for 89 days (just under delivery.disable_after's maximum).
type ancientFailures struct{}

func (ancientFailures) Record(context.Context, Attempt) error { return nil }

func (ancientFailures) Outcome(_ context.Context, _ string, ok bool, at time.Time) (time.Time, error) {
	if ok {
		return time.Time{}, nil
	}
	return at.Add(-89 * 24 * time.Hour), nil
}

// TestSenderDisableAfterZeroNeverDisables: delivery.disable_after = 0 means "never"
// (docs/configuration.md, eventrouter.example.yaml): an endpoint failing for 89 days is
// retried to the end of the schedule and dead-lettered as retries_exhausted, and its
// subscription stays enabled. The control case (1h) shows the same failing-since clock
// does disable when a limit is set.
func TestSenderDisableAfterZeroNeverDisables(t *testing.T) {
	for _, tc := range []struct {
		name         string
		disableAfter time.Duration
		wantDisabled bool
	}{
		{"zero means never", 0, false},
		{"control: 1h", time.Hour, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, 1) // 50 ms, 100 ms: three attempts
			h.cfg.DisableAfter = tc.disableAfter
			var mu sync.Mutex
			calls := map[string]int{}
			poster := posterFunc(func(_ context.Context, sub *subscriptions.Subscription, _ *events.Delivery, _ time.Time) Result {
				mu.Lock()
				defer mu.Unlock()
				calls[sub.ID]++
				if sub.ID == "sub_fail" {
					return Result{Reason: ReasonHTTPStatus, Status: 500}
				}
				return Result{Reason: ReasonOK, Status: 200}
			})
			failing := senderSub("sub_fail")
			failing.MaxInFlight = 1
			subs := newFakeIndex(failing, senderSub("sub_ok"))
			reg := prometheus.NewRegistry()
			h.start(Deps{Subscriptions: subs, Disabler: subs, Client: poster, AttemptLog: ancientFailures{}, Registerer: reg})
			h.produce(newTestDelivery("sub_fail", "clm_1", 1), newTestDelivery("sub_fail", "clm_2", 2),
				newTestDelivery("sub_ok", "clm_1", 1), newTestDelivery("sub_ok", "clm_2", 2))

			testenv.Eventually(t, 10*time.Second, "healthy deliveries", func() bool {
				mu.Lock()
				defer mu.Unlock()
				return calls["sub_ok"] == 2
			})
			recs := h.read(h.cfg.DLQTopic, 2, 15*time.Second)
			if len(recs) != 2 {
				t.Fatalf("DLQ records = %d, want 2 (both deliveries of sub_fail)", len(recs))
			}
			var reasons []string
			for _, r := range recs {
				d, err := events.ParseDelivery(r)
				if err != nil {
					t.Fatal(err)
				}
				if d.SubscriptionID != "sub_fail" {
					t.Errorf("DLQ has a delivery of %s", d.SubscriptionID)
				}
				reasons = append(reasons, d.Reason)
			}
			sort.Strings(reasons)
			mu.Lock()
			failCalls, okCalls := calls["sub_fail"], calls["sub_ok"]
			mu.Unlock()
			disabled := subs.disabledReason("sub_fail")
			if tc.wantDisabled {
				// First attempt disables; the second delivery is not attempted.
				if want := []string{string(ReasonDisabled), string(ReasonDisabled)}; fmt.Sprint(reasons) != fmt.Sprint(want) {
					t.Errorf("DLQ reasons = %v, want %v", reasons, want)
				}
				if len(disabled) < len("failing_since:") || disabled[:len("failing_since:")] != "failing_since:" {
					t.Errorf("disable reason = %q, want failing_since:<time>", disabled)
				}
				if failCalls != 1 {
					t.Errorf("failing endpoint called %d times, want 1", failCalls)
				}
			} else {
				if want := []string{string(ReasonRetryExhausted), string(ReasonRetryExhausted)}; fmt.Sprint(reasons) != fmt.Sprint(want) {
					t.Errorf("DLQ reasons = %v, want %v (disable_after 0 must never disable)", reasons, want)
				}
				if disabled != "" {
					t.Errorf("subscription disabled with disable_after = 0 (never): reason %q", disabled)
				}
				if failCalls != 6 {
					t.Errorf("failing endpoint called %d times, want 6 (3 attempts × 2 deliveries)", failCalls)
				}
				if got := counterValue(t, reg, metricsNamespace+"_auto_disabled_total", "reason", "failing"); got != 0 {
					t.Errorf(`auto_disabled_total{reason="failing"} = %v, want 0`, got)
				}
			}
			if okCalls != 2 || subs.disabledReason("sub_ok") != "" {
				t.Errorf("healthy subscription: %d deliveries (want 2), disabled %q", okCalls, subs.disabledReason("sub_ok"))
			}
		})
	}
}
