package delivery

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/claimable/eventrouter/events"
	"github.com/claimable/eventrouter/internal/testenv"
	"github.com/claimable/eventrouter/subscriptions"
)

// fakeNotifier collects the operational events published.
type fakeNotifier struct {
	mu  sync.Mutex
	got []events.OpEvent
}

func (f *fakeNotifier) Publish(_ context.Context, e events.OpEvent) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.got = append(f.got, e)
}

func (f *fakeNotifier) ofType(typ string) []events.OpEvent {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []events.OpEvent
	for _, e := range f.got {
		if e.Type == typ {
			out = append(out, e)
		}
	}
	return out
}

func (f *fakeNotifier) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.got)
}

// failingSinceLog is an attempt recorder whose failing-since clock says the endpoint
// has been failing since a fixed time.
type failingSinceLog struct {
	fakeRecorder
	since time.Time
}

func (f *failingSinceLog) Outcome(_ context.Context, _ string, ok bool, _ time.Time) (time.Time, error) {
	if ok {
		return time.Time{}, nil
	}
	return f.since, nil
}

func always(res Result) Poster {
	return posterFunc(func(context.Context, *subscriptions.Subscription, *events.Delivery, time.Time) Result { return res })
}

func TestSenderNotifiesDeliveryExhausted(t *testing.T) {
	h := newHarness(t, 1)
	n := &fakeNotifier{}
	subs := newFakeIndex(senderSub("sub_x"))
	h.start(Deps{Subscriptions: subs, Disabler: subs, Client: always(Result{Reason: ReasonHTTPStatus, Status: 503}), Notifier: n})
	d := newTestDelivery("sub_x", "clm_1", 1)
	h.produce(d)
	if recs := h.read(h.cfg.DLQTopic, 1, 15*time.Second); len(recs) != 1 {
		t.Fatalf("DLQ records = %d, want 1", len(recs))
	}
	testenv.Eventually(t, 5*time.Second, "delivery.exhausted", func() bool { return len(n.ofType(events.OpDeliveryExhausted)) == 1 })
	e := n.ofType(events.OpDeliveryExhausted)[0]
	want := events.OpData{Reason: string(ReasonRetryExhausted), Status: 503, WebhookID: d.ID, EventID: d.EventID,
		EventName: d.EventName, ObjectID: "clm_1", Attempts: 3}
	if e.Data != want || e.AccountID != "acc_1" || e.SubscriptionID != "sub_x" ||
		e.ID != events.OpEventID(events.OpDeliveryExhausted, "sub_x", d.ID, "3") {
		t.Fatalf("event %+v, want data %+v about sub_x with its deterministic id", e, want)
	}
	if c := n.count(); c != 1 {
		t.Fatalf("%d operational events, want only delivery.exhausted: %+v", c, n.got)
	}
}

// A 410 disables the subscription: subscription.disabled (endpoint_gone), and its held
// deliveries are not reported as exhausted (they are recovered on re-enable).
func TestSenderNotifiesDisabledOnGoneWithoutExhausted(t *testing.T) {
	h := newHarness(t, 1)
	n := &fakeNotifier{}
	sub := senderSub("sub_gone")
	sub.MaxInFlight = 1
	sub.Version = 7
	subs := newFakeIndex(sub)
	h.start(Deps{Subscriptions: subs, Disabler: subs, Client: always(Result{Reason: ReasonGone, Status: 410}), Notifier: n})
	h.produce(newTestDelivery("sub_gone", "clm_1", 1), newTestDelivery("sub_gone", "clm_2", 2))
	if recs := h.read(h.cfg.DLQTopic, 2, 10*time.Second); len(recs) != 2 {
		t.Fatalf("DLQ records = %d, want 2", len(recs))
	}
	testenv.Eventually(t, 5*time.Second, "subscription.disabled", func() bool { return len(n.ofType(events.OpSubscriptionDisabled)) == 1 })
	e := n.ofType(events.OpSubscriptionDisabled)[0]
	if e.Data.Reason != "endpoint_gone" || e.Data.Status != 410 || e.SubscriptionID != "sub_gone" ||
		e.ID != events.OpEventID(events.OpSubscriptionDisabled, "sub_gone", "endpoint_gone", "7") {
		t.Fatalf("event %+v", e)
	}
	if c := n.count(); c != 1 {
		t.Fatalf("%d operational events, want only subscription.disabled: %+v", c, n.got)
	}
}

func TestSenderNotifiesDisabledWhenFailingTooLong(t *testing.T) {
	h := newHarness(t, 1)
	h.cfg.DisableAfter = time.Hour
	n := &fakeNotifier{}
	since := time.Now().Add(-2 * time.Hour).UTC()
	subs := newFakeIndex(senderSub("sub_f"))
	h.start(Deps{Subscriptions: subs, Disabler: subs, Client: always(Result{Reason: ReasonHTTPStatus, Status: 500}),
		AttemptLog: &failingSinceLog{since: since}, Notifier: n})
	h.produce(newTestDelivery("sub_f", "clm_1", 1))
	testenv.Eventually(t, 10*time.Second, "subscription.disabled", func() bool { return len(n.ofType(events.OpSubscriptionDisabled)) == 1 })
	e := n.ofType(events.OpSubscriptionDisabled)[0]
	if e.Data.Reason != "failing" || !e.Data.FailingSince.Equal(since) || e.Data.Status != 500 {
		t.Fatalf("event data %+v, want reason failing since %s, status 500", e.Data, since)
	}
	if len(n.ofType(events.OpDeliveryExhausted)) != 0 {
		t.Fatal("the delivery held by the disable was reported as exhausted")
	}
}

// endpoint.failing is published once per opening of the breaker, not per refused
// delivery.
func TestSenderNotifiesEndpointFailingOncePerOpening(t *testing.T) {
	h := newHarness(t, 1, time.Hour) // failed and refused deliveries park for an hour
	h.cfg.BreakerThreshold = 3
	n := &fakeNotifier{}
	sub := senderSub("sub_b")
	sub.MaxInFlight = 1
	subs := newFakeIndex(sub)
	s, _ := h.start(Deps{Subscriptions: subs, Disabler: subs, Client: always(Result{Reason: ReasonConnection}), Notifier: n})
	for i := range 6 {
		h.produce(newTestDelivery("sub_b", "clm_1", i))
	}
	// 3 failed attempts and 3 refused by the open circuit, all parked in the 1h tier.
	if recs := h.read("webhooks.retry.1h", 6, 15*time.Second); len(recs) != 6 {
		t.Fatalf("parked = %d, want 6", len(recs))
	}
	if st := s.gate.breakers.State("sub_b"); st != Open {
		t.Fatalf("breaker %s, want open", st)
	}
	got := n.ofType(events.OpEndpointFailing)
	if len(got) != 1 {
		t.Fatalf("endpoint.failing published %d times, want once: %+v", len(got), got)
	}
	if d := got[0].Data; d.ConsecutiveFailures != 3 || d.Reason != string(ReasonConnection) || time.Until(d.RetryAt) < 50*time.Minute {
		t.Fatalf("data %+v: want 3 failures, reason connection, retry_at about an hour ahead", d)
	}
}

func TestBreakerRecordReportsTheOpeningOnce(t *testing.T) {
	now := time.Unix(1000, 0)
	b := NewBreakers(2, time.Second, func() time.Time { return now })
	if b.Record("s", false) {
		t.Fatal("opened after 1 of 2 failures")
	}
	if !b.Record("s", false) {
		t.Fatal("the 2nd failure did not report the opening")
	}
	if b.Record("s", false) {
		t.Fatal("a failure while open reported a new opening")
	}
	now = now.Add(2 * time.Second)
	if ok, probe := b.Allow("s"); !ok || !probe {
		t.Fatal("no probe after the cool-down")
	}
	if b.Record("s", false) {
		t.Fatal("a failed probe (still failing) reported a new opening")
	}
	now = now.Add(2 * time.Second)
	b.Allow("s")
	b.Record("s", true)
	b.Record("s", false)
	if !b.Record("s", false) {
		t.Fatal("after closing, the next opening was not reported")
	}
}
