//go:build integration

package delivery

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"

	"github.com/claimable/eventrouter/egress"
	"github.com/claimable/eventrouter/events"
	"github.com/claimable/eventrouter/internal/testenv"
	"github.com/claimable/eventrouter/subscriptions"
)

// latencyReceiver records, per request, the time from the produce stamp in the body
// ({"t": unix nanos}) to its arrival.
type latencyReceiver struct {
	mu    sync.Mutex
	lat   []time.Duration
	delay time.Duration // a slow endpoint's response time
}

func (r *latencyReceiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	now := time.Now()
	var b struct {
		T int64 `json:"t"`
	}
	_ = json.Unmarshal(body, &b)
	r.mu.Lock()
	r.lat = append(r.lat, now.Sub(time.Unix(0, b.T)))
	r.mu.Unlock()
	if r.delay > 0 {
		time.Sleep(r.delay)
	}
	w.WriteHeader(http.StatusNoContent)
}

func (r *latencyReceiver) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.lat)
}

// p99 is the 99th percentile of the recorded latencies.
func (r *latencyReceiver) p99() time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.lat) == 0 {
		return 0
	}
	s := slices.Clone(r.lat)
	slices.Sort(s)
	return s[min(len(s)-1, len(s)*99/100)]
}

type mixedResult struct {
	p99        time.Duration // of the normal subscriptions' deliveries
	delivered  int
	parked     float64 // deliveries parked in a retry tier (any reason)
	pausedSecs float64 // flow_paused_seconds_total
}

// BenchmarkSenderMixedIsolation measures what one saturated subscription costs the
// others on its partition: a steady stream for nNormal normal subscriptions, once alone
// and once beside a slow subscription (a 100 ms endpoint, 2 in flight: 20/s) that gets a
// 2 000-delivery burst one second into the stream and 50/s after it, every subscription
// on the one deliveries partition. The stream starts once the sender is ready. It reports the normal deliveries' p99 latency (produce to
// arrival) in both runs and their ratio (target ≤ 1.5). Run back to back on the same
// machine: go test -tags integration -run '^$' -bench MixedIsolation -benchtime 1x ./delivery/
func BenchmarkSenderMixedIsolation(b *testing.B) {
	for b.Loop() {
		alone := runMixed(b, false)
		mixed := runMixed(b, true)
		ratio := float64(mixed.p99) / float64(alone.p99)
		b.ReportMetric(float64(alone.p99.Microseconds())/1000, "p99_ms_alone")
		b.ReportMetric(float64(mixed.p99.Microseconds())/1000, "p99_ms_beside_saturated")
		b.ReportMetric(ratio, "p99_ratio")
		b.ReportMetric(mixed.parked, "parked")
		b.ReportMetric(mixed.pausedSecs, "paused_s")
		b.Logf("normal subscriptions' p99: alone %s (%d deliveries), beside a saturated one %s (%d); ratio %.2f (target ≤ 1.5); parked %.0f, partitions paused %.2fs",
			alone.p99, alone.delivered, mixed.p99, mixed.delivered, ratio, mixed.parked, mixed.pausedSecs)
	}
}

func runMixed(b *testing.B, withSlow bool) mixedResult {
	const (
		nNormal     = 8
		normalRate  = 25 // per subscription per second
		slowBacklog = 2000
		slowRate    = 50
		window      = 8 * time.Second
		tick        = 40 * time.Millisecond
	)
	seeds := testenv.Kafka(b)
	name := testenv.Name(b, "mixed")
	adm := testenv.KafkaAdmin(b)
	deliveries, dlq, retryPrefix := name+".deliveries", name+".dlq", name+".retry."
	all := []string{deliveries, dlq, retryPrefix + "1s"}
	if _, err := adm.CreateTopics(testenv.Context(b, 30*time.Second), 1, -1, nil, all...); err != nil {
		b.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		_, _ = adm.DeleteTopics(ctx, all...)
	}()

	normal, slow := &latencyReceiver{}, &latencyReceiver{delay: 100 * time.Millisecond}
	normalSrv, slowSrv := httptest.NewServer(normal), httptest.NewServer(slow)
	defer normalSrv.Close()
	defer slowSrv.Close()
	var ports []int
	for _, srv := range []*httptest.Server{normalSrv, slowSrv} {
		u, _ := url.Parse(srv.URL)
		port, _ := strconv.Atoi(u.Port())
		ports = append(ports, port)
	}
	var subList []*subscriptions.Subscription
	for i := range nNormal {
		s := senderSub(fmt.Sprintf("sub_normal_%02d", i))
		s.URL, s.MaxInFlight = normalSrv.URL+"/hook", 4
		subList = append(subList, s)
	}
	slowSub := senderSub("sub_saturated")
	slowSub.URL, slowSub.MaxInFlight = slowSrv.URL+"/hook", 2
	subList = append(subList, slowSub)
	subs := newFakeIndex(subList...)
	client, err := NewClient(ClientConfig{Timeout: 15 * time.Second, Egress: egress.Policy{AllowHTTP: true, AllowPorts: ports,
		AllowCIDRs: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}}, zap.NewNop())
	if err != nil {
		b.Fatal(err)
	}
	defer client.Close()

	seq := 0
	delivery := func(subID string) *kgo.Record {
		seq++
		evID := fmt.Sprintf("evt_mixed_%07d", seq)
		d := &events.Delivery{
			ID: events.DeliveryID(evID, subID), SubscriptionID: subID, AccountID: "acct_mixed", EventID: evID,
			EventName: "claim.created", ObjectID: fmt.Sprintf("clm_%d", seq%50), Attempt: 1,
			OccurredAt: time.Now().UTC(), Body: fmt.Appendf(nil, `{"t":%d,"pad":"%0200d"}`, time.Now().UnixNano(), 0),
		}
		return d.Record(deliveries)
	}
	prod := testenv.KafkaClient(b)
	produce := func(recs []*kgo.Record) {
		if err := prod.ProduceSync(testenv.Context(b, 60*time.Second), recs...).FirstErr(); err != nil {
			b.Fatal(err)
		}
	}
	cfg := Config{DeliveriesTopic: deliveries, DLQTopic: dlq, RetryPrefix: retryPrefix,
		Group: name + "-sender", RetrySchedule: []time.Duration{time.Second},
		MaxInFlight: 1024, DefaultMaxInFlight: 4, BreakerThreshold: 1000, BreakerCooldown: time.Second,
	}
	reg := prometheus.NewRegistry()
	s, err := New(cfg, Deps{KafkaOpts: []kgo.Opt{kgo.SeedBrokers(seeds...)}, Subscriptions: subs, Disabler: subs,
		Client: client, Registerer: reg}, zap.NewNop())
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	defer func() {
		cancel()
		<-done
	}()
	for s.Ready(ctx) != nil {
		time.Sleep(20 * time.Millisecond)
	}

	// A steady stream: every tick, each normal subscription's share (and the slow one's).
	sent, burst := 0, false
	perTick := func(rate int, i int) int {
		return rate*(i+1)*int(tick)/int(time.Second) - rate*i*int(tick)/int(time.Second)
	}
	start := time.Now()
	for i := 0; time.Since(start) < window; i++ {
		var recs []*kgo.Record
		for _, sub := range subList[:nNormal] {
			for range perTick(normalRate, i) {
				recs = append(recs, delivery(sub.ID))
				sent++
			}
		}
		produce(recs)
		if withSlow && time.Since(start) >= time.Second {
			// The slow subscription's share goes in a produce of its own, after the
			// normal deliveries of the tick: the next ticks' normal deliveries queue
			// behind it in the partition, which is what the sender has to get past,
			// but none waits for the harness to build, or the broker to take, a
			// 2 000-record burst it happened to share a produce with.
			n := perTick(slowRate, i)
			if !burst {
				n, burst = slowBacklog, true
			}
			slowRecs := make([]*kgo.Record, 0, n)
			for range n {
				slowRecs = append(slowRecs, delivery(slowSub.ID))
			}
			if len(slowRecs) > 0 {
				produce(slowRecs)
			}
		}
		time.Sleep(time.Until(start.Add(time.Duration(i+1) * tick)))
	}
	deadline := time.Now().Add(2 * time.Minute)
	for normal.count() < sent && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if normal.count() < sent {
		b.Fatalf("normal subscriptions received %d of %d within 2 minutes", normal.count(), sent)
	}
	res := mixedResult{p99: normal.p99(), delivered: normal.count()}
	if mfs, err := reg.Gather(); err == nil {
		for _, mf := range mfs {
			for _, m := range mf.GetMetric() {
				switch mf.GetName() {
				case "eventrouter_sender_retry_parked_total":
					res.parked += m.GetCounter().GetValue()
				case "eventrouter_sender_flow_paused_seconds_total":
					res.pausedSecs += m.GetCounter().GetValue()
				}
			}
		}
	}
	return res
}
