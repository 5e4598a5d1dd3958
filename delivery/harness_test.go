package delivery

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"

	"github.com/claimable/eventrouter/events"
	"github.com/claimable/eventrouter/subscriptions"
)

// fakeIndex is an in-memory live index and Disabler.
type fakeIndex struct {
	mu       sync.Mutex
	m        map[string]*subscriptions.Subscription
	disabled map[string]string // id → reason given to Disable
}

func newFakeIndex(subs ...*subscriptions.Subscription) *fakeIndex {
	f := &fakeIndex{m: map[string]*subscriptions.Subscription{}, disabled: map[string]string{}}
	for _, s := range subs {
		f.m[s.ID] = s
	}
	return f
}

func (f *fakeIndex) Get(id string) (*subscriptions.Subscription, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, ok := f.m[id]
	if !ok {
		return nil, false
	}
	c := *s
	return &c, true
}

func (f *fakeIndex) Disable(_ context.Context, id, reason string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if s, ok := f.m[id]; ok {
		s.Enabled = false
		s.DisabledReason = reason
	}
	f.disabled[id] = reason
	return nil
}

func (f *fakeIndex) disabledReason(id string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.disabled[id]
}

func senderSub(id string) *subscriptions.Subscription {
	return &subscriptions.Subscription{ID: id, AccountID: "acc_1", URL: "http://127.0.0.1/hook", Enabled: true,
		Events: []string{"*"}, Secrets: []subscriptions.Secret{{Value: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}}}
}

// posterFunc adapts a function to Poster.
type posterFunc func(ctx context.Context, sub *subscriptions.Subscription, d *events.Delivery, now time.Time) Result

func (f posterFunc) Send(ctx context.Context, sub *subscriptions.Subscription, d *events.Delivery, now time.Time) Result {
	return f(ctx, sub, d, now)
}

// senderHarness is a kfake cluster with the sender's topics.
type senderHarness struct {
	log     *zap.Logger
	t       *testing.T
	cluster *kfake.Cluster
	seeds   []string
	cfg     Config
	prod    *kgo.Client
}

func newHarness(t *testing.T, partitions int32, schedule ...time.Duration) *senderHarness {
	t.Helper()
	if len(schedule) == 0 {
		schedule = []time.Duration{50 * time.Millisecond, 100 * time.Millisecond}
	}
	cfg := Config{
		Group: "senders", DeliveriesTopic: "webhooks.deliveries", DLQTopic: "webhooks.dlq", RetryPrefix: "webhooks.retry.",
		RetrySchedule: schedule, MaxInFlight: 64, DefaultMaxInFlight: 8,
		BreakerThreshold: 1000, BreakerCooldown: time.Hour, DisableAfter: 5 * 24 * time.Hour,
		CommitInterval: 100 * time.Millisecond,
		DrainTimeout:   500 * time.Millisecond,
		FetchMaxWait:   100 * time.Millisecond,
	}
	tr := newTiers(cfg.RetryPrefix, schedule)
	all := append([]string{cfg.DeliveriesTopic, cfg.DLQTopic}, tr.topics()...)
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(partitions, all...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	h := &senderHarness{t: t, cluster: c, seeds: c.ListenAddrs(), log: zap.NewNop(), cfg: cfg}
	h.prod, err = kgo.NewClient(kgo.SeedBrokers(h.seeds...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.prod.Close)
	return h
}

// start runs a sender until the test ends (or stop is called); stop waits for Run.
func (h *senderHarness) start(deps Deps) (s *Sender, stop func()) {
	h.t.Helper()
	deps.KafkaOpts = append(deps.KafkaOpts, kgo.SeedBrokers(h.seeds...))
	if os.Getenv("KDEBUG") != "" {
		deps.KafkaOpts = append(deps.KafkaOpts, kgo.WithLogger(kgo.BasicLogger(os.Stderr, kgo.LogLevelInfo, nil)))
	}
	if deps.Registerer == nil {
		deps.Registerer = prometheus.NewRegistry()
	}
	s, err := New(h.cfg, deps, h.log)
	if err != nil {
		h.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					h.t.Errorf("Run: %v", err)
				}
			case <-time.After(20 * time.Second):
				h.t.Error("Run did not return within 20s of cancel")
			}
		})
	}
	h.t.Cleanup(stop)
	return s, stop
}

// delivery builds a fresh delivery; seq is carried in the body.
func newTestDelivery(subID, objectID string, seq int) *events.Delivery {
	evID := fmt.Sprintf("evt_%s_%s_%04d", subID, objectID, seq)
	return &events.Delivery{
		ID: events.DeliveryID(evID, subID), SubscriptionID: subID, AccountID: "acc_1", EventID: evID,
		EventName: "claim.created", ObjectID: objectID, Attempt: 1, OccurredAt: time.Now().UTC(),
		Body: fmt.Appendf(nil, `{"seq":%d,"object":%q}`, seq, objectID),
	}
}

func (h *senderHarness) produce(ds ...*events.Delivery) {
	h.t.Helper()
	recs := make([]*kgo.Record, len(ds))
	for i, d := range ds {
		recs[i] = d.Record(h.cfg.DeliveriesTopic)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := h.prod.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		h.t.Fatal(err)
	}
}

// read consumes topic from the start until n records arrived or timeout passes.
func (h *senderHarness) read(topic string, n int, timeout time.Duration) []*kgo.Record {
	h.t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(h.seeds...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(100*time.Millisecond))
	if err != nil {
		h.t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var out []*kgo.Record
	for len(out) < n && ctx.Err() == nil {
		cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) { out = append(out, r) })
	}
	return out
}

func recHeader(r *kgo.Record, key string) string {
	for _, h := range r.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}
