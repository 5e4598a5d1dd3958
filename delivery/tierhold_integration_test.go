//go:build integration

package delivery

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"

	"github.com/claimable/eventrouter/egress"
	"github.com/claimable/eventrouter/internal/testenv"
	"github.com/claimable/eventrouter/topics"
)

// On the real broker: a subscription that overflows gets every delivery, and what it
// parked waits in the tier partition (held) rather than cycling through the tier while
// it drains.
func TestSenderSaturatedSubscriptionHeldInTheTierGetsEverything(t *testing.T) {
	seeds := testenv.Kafka(t)
	name := testenv.Name(t, "hold")
	tierDelay := 200 * time.Millisecond
	deliveries, dlq, retryPrefix := name+".deliveries", name+".dlq", name+".retry."
	all := []string{deliveries, dlq, topics.RetryTopic(retryPrefix, tierDelay)}
	adm := testenv.KafkaAdmin(t)
	if _, err := adm.CreateTopics(testenv.Context(t, 30*time.Second), 1, -1, nil, all...); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		_, _ = adm.DeleteTopics(ctx, all...)
	})

	var mu sync.Mutex
	got := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			time.Sleep(20 * time.Millisecond)
		}
		mu.Lock()
		got[r.Header.Get(HeaderWebhookID)]++
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	port, _ := strconv.Atoi(u.Port())
	client, err := NewClient(ClientConfig{Timeout: 10 * time.Second, Egress: egress.Policy{AllowHTTP: true,
		AllowPorts: []int{port}, AllowCIDRs: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}}, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(client.Close)
	slow, fast := senderSub("sub_slow"), senderSub("sub_fast")
	slow.URL, slow.MaxInFlight = srv.URL+"/slow", 1
	fast.URL = srv.URL + "/fast"
	subs := newFakeIndex(slow, fast)
	reg := prometheus.NewRegistry()
	s, err := New(Config{DeliveriesTopic: deliveries, DLQTopic: dlq, RetryPrefix: retryPrefix, Group: name + "-sender",
		RetrySchedule: []time.Duration{tierDelay}, MaxInFlight: 64, DefaultMaxInFlight: 4, BreakerThreshold: 1000,
		BreakerCooldown: time.Second, MaxQueuedPerSubscription: 20, SaturationParkAfter: 5 * time.Second},
		Deps{KafkaOpts: []kgo.Opt{kgo.SeedBrokers(seeds...)}, Subscriptions: subs, Disabler: subs, Client: client,
			Registerer: reg}, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	prod := testenv.KafkaClient(t)
	produce := func(subID string, from, n int) {
		var recs []*kgo.Record
		for i := from; i < from+n; i++ {
			recs = append(recs, newTestDelivery(subID, fmt.Sprintf("clm_%d", i%7), i).Record(deliveries))
		}
		if err := prod.ProduceSync(testenv.Context(t, 30*time.Second), recs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	unique := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(got)
	}
	produce("sub_fast", 0, 1) // a neighbour running dry: the slow one overflows at once
	testenv.Eventually(t, 60*time.Second, "the neighbour's delivery", func() bool { return unique() == 1 })
	const n = 150
	produce("sub_slow", 0, n)
	testenv.Eventually(t, 90*time.Second, "every delivery of the saturated subscription", func() bool {
		return unique() == 1+n
	})
	parked := counterValue(t, reg, "eventrouter_sender_skipped_total", "reason", string(ReasonBackpressure))
	// Draining 150 at 20 ms takes 3 s: cycling through the 200 ms tier would park each
	// waiting delivery about 15 times.
	if parked == 0 || parked > 2*n {
		t.Errorf("%v backpressure parks for %d deliveries, want some and at most %d", parked, n, 2*n)
	}
	t.Logf("parked %v", parked)
}
