package app

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/claimable/eventrouter/events"
	"github.com/claimable/eventrouter/internal/testenv"
	"github.com/claimable/eventrouter/subscriptions"
)

// produceClaimEvents emits n claim events for account over the given objects, one
// millisecond of occurred_at apart (so arrival order can be checked per object).
func produceClaimEvents(t *testing.T, s *stack, account string, objects []string, n int) {
	t.Helper()
	base := time.Now().UTC()
	var recs []*kgo.Record
	for i := range n {
		e := events.Sample("claim.label_added", account, objects[i%len(objects)], i, base.Add(time.Duration(i)*time.Millisecond))
		recs = append(recs, &kgo.Record{Topic: s.cfg.Topics.Ingest[0], Key: []byte(account), Value: e.Marshal()})
	}
	produceRecords(t, s, recs...)
}

// countDLQ counts the DLQ records of subID with reason.
func countDLQ(t *testing.T, s *stack, subID, reason string) int {
	t.Helper()
	cl, err := kgo.NewClient(append(s.sys.KafkaOpts, kgo.ConsumeTopics(s.cfg.Topics.DLQ),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(100*time.Millisecond))...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	n := 0
	for ctx.Err() == nil {
		cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) {
			if d, err := events.ParseDelivery(r); err == nil && d.SubscriptionID == subID && d.Reason == reason {
				n++
			}
		})
	}
	return n
}

// TestDisabledSubscriptionHoldsAndReplaysInOrder: events that happen while a
// subscription is disabled are not lost. The router still routes them, the sender holds
// them in the DLQ (reason subscription_disabled) without calling the endpoint, and
// PATCH {"enabled": true} sends every one of them, in order per object, with no
// duplicates.
func TestDisabledSubscriptionHoldsAndReplaysInOrder(t *testing.T) {
	holdAndReplay(t, startStack(t))
}

// holdAndReplay disables a subscription, emits events, checks they are held and not
// sent, re-enables it and checks every one arrives once, in order per object.
func holdAndReplay(t *testing.T, s *stack) {
	ctx := context.Background()
	sub, err := s.sys.Service.Create(ctx, subscriptions.Input{AccountID: "acct_hold", URL: s.url + "/hooks/hold", Events: []string{"claim.*"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.recv.SetSecret("/hooks/hold", sub.Secrets[0].Value); err != nil {
		t.Fatal(err)
	}
	var view struct {
		Enabled    bool      `json:"enabled"`
		DisabledAt time.Time `json:"disabled_at"`
	}
	if code := s.call(t, http.MethodPatch, "/v1/subscriptions/"+sub.ID, `{"enabled":false}`, &view); code != http.StatusOK || view.Enabled || view.DisabledAt.IsZero() {
		t.Fatalf("disable: status %d, %+v", code, view)
	}
	testenv.Eventually(t, waitTimeout, "the index to show the subscription disabled", func() bool {
		got, ok := s.sys.Index.Get(sub.ID)
		return ok && !got.Enabled
	})

	const n = 30
	objects := []string{"clm_1", "clm_2", "clm_3"}
	produceClaimEvents(t, s, sub.AccountID, objects, n)
	testenv.Eventually(t, waitTimeout, "every delivery held in the DLQ", func() bool { return countDLQ(t, s, sub.ID, "subscription_disabled") == n })
	if st := s.recv.Stats(); st.Requests != 0 {
		t.Fatalf("the endpoint of a disabled subscription was called: %+v", st)
	}

	if code := s.call(t, http.MethodPatch, "/v1/subscriptions/"+sub.ID, `{"enabled":true}`, &view); code != http.StatusOK || !view.Enabled {
		t.Fatalf("enable: status %d, %+v", code, view)
	}
	testenv.Eventually(t, waitTimeout, "every held delivery delivered after re-enabling", func() bool { return s.recv.Stats().Unique == n })

	s.mu.Lock()
	defer s.mu.Unlock()
	byObject := map[string][]time.Time{}
	for _, d := range s.received {
		if !d.Verified {
			t.Fatalf("unverified delivery: %+v", d)
		}
		byObject[d.ObjectID] = append(byObject[d.ObjectID], d.OccurredAt)
	}
	if len(s.received) != n {
		t.Errorf("%d requests for %d held deliveries (duplicates)", len(s.received), n)
	}
	for obj, at := range byObject {
		if !slices.IsSortedFunc(at, func(a, b time.Time) int { return a.Compare(b) }) {
			t.Errorf("object %s: held deliveries arrived out of order: %v", obj, at)
		}
	}
	if len(byObject) != len(objects) {
		t.Errorf("objects delivered: %s", fmt.Sprint(byObject))
	}
}
