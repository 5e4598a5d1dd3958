package app

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/claimable/eventrouter/config"
	"github.com/claimable/eventrouter/events"
	"github.com/claimable/eventrouter/internal/testenv"
	"github.com/claimable/eventrouter/subscriptions"
)

// operationalSettings make every trigger reachable within seconds: a breaker that
// opens after 3 failures and probes every 500 ms, and a disable after 2 s of failing.
func operationalSettings(c *config.Config) {
	c.Delivery.BreakerThreshold = 3
	c.Delivery.BreakerCooldown = 500 * time.Millisecond
	c.Delivery.DisableAfter = 2 * time.Second
}

// TestOperationalEventsEndToEnd: operationalEndToEnd on kfake and miniredis.
func TestOperationalEventsEndToEnd(t *testing.T) {
	operationalEndToEnd(t, startStack(t, operationalSettings))
}

// operationalEndToEnd drives one subscription's endpoint into failure and back, and
// checks that each trigger publishes its operational event to topics.operational and
// that the account's operational subscription receives it as a signed webhook (the
// receiver verifies every signature with the Standard Webhooks library):
// retries exhausted → delivery.exhausted; 3 failures in a row → endpoint.failing;
// failing for longer than delivery.disable_after → subscription.disabled; re-enabling
// (PATCH, which recovers the held deliveries) → subscription.recovered.
func operationalEndToEnd(t *testing.T, s *stack) {
	ctx := context.Background()
	const account = "acct_ops"
	ops, err := s.sys.Service.Create(ctx, subscriptions.Input{AccountID: account, URL: s.url + "/hooks/ops",
		Events: []string{"subscription.*", "delivery.exhausted", "endpoint.failing"}})
	if err != nil {
		t.Fatal(err)
	}
	bad, err := s.sys.Service.Create(ctx, subscriptions.Input{AccountID: account, URL: s.url + "/hooks/bad", Events: []string{"claim.*"}})
	if err != nil {
		t.Fatal(err)
	}
	for path, sub := range map[string]*subscriptions.Subscription{"/hooks/ops": ops, "/hooks/bad": bad} {
		if err := s.recv.SetSecret(path, sub.Secrets[0].Value); err != nil {
			t.Fatal(err)
		}
	}
	var failing atomic.Bool
	failing.Store(true)
	s.recv.SetBehaviour(func(path string) (time.Duration, int) {
		if path == "/hooks/bad" && failing.Load() {
			return 0, http.StatusInternalServerError
		}
		return 0, 0
	})
	testenv.Eventually(t, waitTimeout, "the index to hold both subscriptions", func() bool {
		_, a := s.sys.Index.Get(ops.ID)
		_, b := s.sys.Index.Get(bad.ID)
		return a && b
	})

	// opsReceived returns the operational webhooks the ops endpoint accepted, by type.
	opsReceived := func() map[string][]*events.OpEvent {
		s.mu.Lock()
		defer s.mu.Unlock()
		out := map[string][]*events.OpEvent{}
		for _, d := range s.received {
			if d.Path != "/hooks/ops" {
				continue
			}
			if !d.Verified {
				t.Fatalf("operational webhook failed verification: %s", d.VerifyErr)
			}
			e, err := events.ParseOpEvent(d.Body)
			if err != nil {
				t.Fatalf("operational webhook body %s: %v", d.Body, err)
			}
			if d.WebhookID != events.DeliveryID(e.ID, ops.ID) {
				t.Fatalf("webhook-id %s, want the delivery id of (%s, %s)", d.WebhookID, e.ID, ops.ID)
			}
			out[e.Type] = append(out[e.Type], e)
		}
		return out
	}
	has := func(types ...string) func() bool {
		return func() bool {
			got := opsReceived()
			for _, typ := range types {
				if len(got[typ]) == 0 {
					return false
				}
			}
			return true
		}
	}

	// Feed the failing endpoint until the system disables it.
	n := 0
	deadline := time.Now().Add(90 * time.Second)
	for {
		if got, ok := s.sys.Index.Get(bad.ID); ok && !got.Enabled {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the failing subscription was not disabled after %d events", n)
		}
		produceClaimEvents(t, s, account, []string{"clm_op"}, 1)
		n++
		time.Sleep(300 * time.Millisecond)
	}
	testenv.Eventually(t, waitTimeout, "delivery.exhausted, endpoint.failing and subscription.disabled at the ops endpoint",
		has(events.OpDeliveryExhausted, events.OpEndpointFailing, events.OpSubscriptionDisabled))
	got := opsReceived()
	for _, typ := range []string{events.OpDeliveryExhausted, events.OpEndpointFailing, events.OpSubscriptionDisabled} {
		for _, e := range got[typ] {
			if e.SubscriptionID != bad.ID || e.AccountID != account {
				t.Errorf("%s about %s/%s, want %s/%s", typ, e.AccountID, e.SubscriptionID, account, bad.ID)
			}
		}
	}
	if d := got[events.OpSubscriptionDisabled][0].Data; d.Reason != "failing" || d.FailingSince.IsZero() || d.Status != 500 {
		t.Errorf("subscription.disabled data %+v, want reason failing, failing_since, status 500", d)
	}
	if d := got[events.OpDeliveryExhausted][0].Data; d.Reason != "retries_exhausted" || d.EventName != "claim.label_added" || d.WebhookID == "" {
		t.Errorf("delivery.exhausted data %+v", d)
	}
	if d := got[events.OpEndpointFailing][0].Data; d.ConsecutiveFailures != 3 || d.RetryAt.IsZero() {
		t.Errorf("endpoint.failing data %+v", d)
	}

	// The endpoint is fixed; re-enabling recovers the held deliveries.
	failing.Store(false)
	var view struct {
		Enabled bool `json:"enabled"`
	}
	if code := s.call(t, http.MethodPatch, "/v1/subscriptions/"+bad.ID, `{"enabled":true}`, &view); code != http.StatusOK || !view.Enabled {
		t.Fatalf("enable: status %d, %+v", code, view)
	}
	testenv.Eventually(t, waitTimeout, "subscription.recovered at the ops endpoint", has(events.OpSubscriptionRecovered))
	rec := opsReceived()[events.OpSubscriptionRecovered][0]
	if rec.SubscriptionID != bad.ID || rec.Data.Redriven == nil || *rec.Data.Redriven < 1 || rec.Data.Since.IsZero() {
		t.Errorf("subscription.recovered %+v, want about %s with since and at least one re-driven delivery", rec, bad.ID)
	}

	// Every type is on the operational topic too, keyed by the account.
	onTopic := readOperationalTopic(t, s)
	for _, typ := range events.OperationalTypes() {
		if onTopic[typ] == 0 {
			t.Errorf("no %s on %s (have %v)", typ, s.cfg.Topics.Operational, onTopic)
		}
	}

	// GET /v1/operational-events reads them back from the topic, newest first.
	var page struct {
		Data []events.OpEvent `json:"data"`
	}
	if code := s.call(t, http.MethodGet, "/v1/operational-events?account_id="+account+"&since=10m&limit=1000", "", &page); code != http.StatusOK {
		t.Fatalf("GET /v1/operational-events: %d", code)
	}
	fromAPI := map[string]int{}
	for i, e := range page.Data {
		fromAPI[e.Type]++
		if i > 0 && e.OccurredAt.After(page.Data[i-1].OccurredAt) {
			t.Errorf("event %d is newer than the one before it", i)
		}
	}
	for _, typ := range events.OperationalTypes() {
		if fromAPI[typ] < max(onTopic[typ], 1) { // read later: a late event may have joined
			t.Errorf("GET /v1/operational-events: %v, the topic held %v before", fromAPI, onTopic)
			break
		}
	}

	// A test send to the operational subscription is an operational sample, signed alike.
	var sent struct {
		EventID   string `json:"event_id"`
		EventName string `json:"event_name"`
	}
	if code := s.call(t, http.MethodPost, "/v1/subscriptions/"+ops.ID+"/test", "", &sent); code != http.StatusAccepted ||
		sent.EventName != events.OpDeliveryExhausted {
		t.Fatalf("test send: %d %+v, want 202 with delivery.exhausted (its first exact type)", code, sent)
	}
	testenv.Eventually(t, waitTimeout, "the operational test sample at the ops endpoint", func() bool {
		for _, e := range opsReceived()[events.OpDeliveryExhausted] {
			if e.ID == sent.EventID && e.SubscriptionID == ops.ID {
				return true
			}
		}
		return false
	})
}

// readOperationalTopic counts the operational events of topics.operational by type,
// checking each record's key is its account id.
func readOperationalTopic(t *testing.T, s *stack) map[string]int {
	t.Helper()
	cl, err := kgo.NewClient(append(s.sys.KafkaOpts, kgo.ConsumeTopics(s.cfg.Topics.Operational),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(100*time.Millisecond))...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	out := map[string]int{}
	for ctx.Err() == nil {
		cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) {
			e, err := events.ParseOpEvent(r.Value)
			if err != nil || string(r.Key) != e.AccountID {
				t.Errorf("operational record key %q value %s: %v", r.Key, r.Value, err)
				return
			}
			out[e.Type]++
		})
	}
	return out
}
