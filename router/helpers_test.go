package router

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"

	"github.com/claimable/eventrouter/events"
	"github.com/claimable/eventrouter/internal/testenv"
	"github.com/claimable/eventrouter/subscriptions"
)

// Topic names of the hermetic tests.
const (
	tIngest     = "claims.events"
	tIngest2    = "contacts.events"
	tDeliveries = "webhooks.deliveries"
	tInvalid    = "webhooks.invalid"
)

// testTimeout bounds every wait in these tests.
const testTimeout = 30 * time.Second

// tableMatcher is a hand-written Matcher with the subscription semantics the router
// relies on: same account, enabled, any events pattern, filter.
type tableMatcher struct {
	subs    []*subscriptions.Subscription
	filters []*subscriptions.Filter
	ready   atomic.Bool
}

func newMatcher(t *testing.T, subs ...*subscriptions.Subscription) *tableMatcher {
	t.Helper()
	m := &tableMatcher{subs: subs}
	for _, s := range subs {
		f, err := subscriptions.CompileFilter(s.Filter)
		if err != nil {
			t.Fatalf("filter %q: %v", s.Filter, err)
		}
		m.filters = append(m.filters, f)
	}
	m.ready.Store(true)
	return m
}

func (m *tableMatcher) Match(e *events.Event, dst []*subscriptions.Subscription) []*subscriptions.Subscription {
	for i, s := range m.subs {
		if !s.Enabled || s.AccountID != e.AccountID || !m.filters[i].Match(e) {
			continue
		}
		for _, p := range s.Events {
			if events.Match(p, e.EventName) {
				dst = append(dst, s)
				break
			}
		}
	}
	return dst
}

func (m *tableMatcher) Ready() bool { return m.ready.Load() }

func sub(id, account string, enabled bool, filter string, patterns ...string) *subscriptions.Subscription {
	return &subscriptions.Subscription{ID: id, AccountID: account, Enabled: enabled, Filter: filter, Events: patterns}
}

// testCatalogue is the default event catalogue (config.DefaultCatalogue: the router does
// not read the configuration package).
var testCatalogue = []string{
	"claim.created", "claim.closed", "claim.reopened", "claim.label_added",
	"claim.label_removed", "claim.assigned", "claim.unassigned", "claim.switched_type",
	"contact.created",
}

func newParser(t *testing.T, maxBytes int) *events.Parser {
	t.Helper()
	cat, err := events.NewCatalogue(testCatalogue)
	if err != nil {
		t.Fatal(err)
	}
	return events.NewParser(cat, maxBytes)
}

// env is an in-process Kafka with the router's topics.
type env struct {
	c     *kfake.Cluster
	seeds []string
}

// newEnv seeds the ingest topics with ingestParts partitions, the deliveries topic with
// deliveryParts, and a one-partition invalid topic.
func newEnv(t *testing.T, ingestParts, deliveryParts int32) *env {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1),
		kfake.SeedTopics(ingestParts, tIngest, tIngest2),
		kfake.SeedTopics(deliveryParts, tDeliveries),
		kfake.SeedTopics(1, tInvalid))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return &env{c: c, seeds: c.ListenAddrs()}
}

func (e *env) config(group string) Config {
	return Config{
		Group:                 group,
		TransactionalIDPrefix: "test-router",
		IngestTopics:          []string{tIngest, tIngest2},
		DeliveriesTopic:       tDeliveries,
		InvalidTopic:          tInvalid,
		TransactionTimeout:    10 * time.Second,
		RetryBackoff:          10 * time.Millisecond,
	}
}

// running is a Router started by start.
type running struct {
	*Router
	reg  *prometheus.Registry
	stop func() error // cancels Run and returns its error
}

// start runs a router and waits until it has joined its group.
func (e *env) start(t *testing.T, cfg Config, m Matcher, p Parser) *running {
	t.Helper()
	return e.startWith(t, cfg, Deps{Matcher: m, Parser: p})
}

// startWith is start with more Deps (the Kafka options and registry are filled in).
func (e *env) startWith(t *testing.T, cfg Config, deps Deps) *running {
	t.Helper()
	reg := prometheus.NewRegistry()
	deps.KafkaOpts = []kgo.Opt{kgo.SeedBrokers(e.seeds...)}
	deps.Registerer = reg
	r, err := New(cfg, deps, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	var once sync.Once
	var runErr error
	stop := func() error {
		once.Do(func() {
			cancel()
			select {
			case runErr = <-done:
			case <-time.After(testTimeout):
				runErr = errors.New("Run did not return within the test timeout after cancel")
			}
		})
		return runErr
	}
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("router Run: %v", err)
		}
	})
	testenv.Eventually(t, testTimeout, "router joins its group", func() bool { return r.Ready(ctx) == nil })
	return &running{Router: r, reg: reg, stop: stop}
}

// produce writes records synchronously with a plain (non-transactional) producer.
func (e *env) produce(t *testing.T, recs ...*kgo.Record) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.seeds...), kgo.DefaultProduceTopic(tIngest))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
}

// eventRecord is an ingest record for a sample event, keyed by account.
func eventRecord(name, account, object string, seq int) (*kgo.Record, *events.Event) {
	ev := events.Sample(name, account, object, seq, time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC).Add(time.Duration(seq)*time.Millisecond))
	return &kgo.Record{Topic: tIngest, Key: []byte(account), Value: ev.Marshal()}, ev
}

// reader consumes topics read_committed from the start.
type reader struct {
	cl *kgo.Client
}

func (e *env) reader(t *testing.T, topics ...string) *reader {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.seeds...), kgo.ConsumeTopics(topics...),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return &reader{cl: cl}
}

// until reads records until done(all records so far) holds, failing after testTimeout.
func (rd *reader) until(t *testing.T, what string, done func([]*kgo.Record) bool) []*kgo.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	var out []*kgo.Record
	for !done(out) {
		fs := rd.cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("timed out reading until %s; have %d records", what, len(out))
		}
		fs.EachError(func(topic string, p int32, err error) { t.Fatalf("fetch %s/%d: %v", topic, p, err) })
		out = append(out, fs.Records()...)
	}
	return out
}

// n reads until at least n records arrived.
func (rd *reader) n(t *testing.T, n int) []*kgo.Record {
	t.Helper()
	return rd.until(t, fmt.Sprintf("%d records", n), func(rs []*kgo.Record) bool { return len(rs) >= n })
}

func header(r *kgo.Record, key string) string {
	for _, h := range r.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}

func testContext(t *testing.T) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	t.Cleanup(cancel)
	return ctx, cancel
}

// waitTick pauses 10 ms; only for asserting that something does NOT happen in a window.
func waitTick(ctx context.Context) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(10 * time.Millisecond):
		return nil
	}
}

// value reads a counter's or gauge's current value. (prometheus/testutil would need a
// module that go.mod does not list.)
func value(m prometheus.Metric) float64 {
	var d dto.Metric
	if err := m.Write(&d); err != nil {
		panic(err)
	}
	if c := d.GetCounter(); c != nil {
		return c.GetValue()
	}
	return d.GetGauge().GetValue()
}

// routeAndCount produces 50 claim events of acc_1 (matched by sub_a and sub_b in the
// tests that use it), starts a router in group, reads the deliveries topic past a
// sentinel event, and counts the (event, subscription) pairs that are missing,
// duplicated and distinct.
func routeAndCount(t *testing.T, e *env, group string, m Matcher) (r *running, missing, dup, distinct int) {
	t.Helper()
	var recs []*kgo.Record
	want := map[string]bool{}
	for i := range 50 {
		rec, ev := eventRecord("claim.created", "acc_1", fmt.Sprintf("clm_%d", i), i)
		recs = append(recs, rec)
		want[ev.ID] = true
	}
	e.produce(t, recs...)
	r = e.start(t, e.config(group), m, newParser(t, 0))

	sentinel, sentinelEv := eventRecord("contact.created", "acc_1", "con_end", 1000)
	rd := e.reader(t, tDeliveries)
	out := rd.n(t, 100)
	e.produce(t, sentinel)
	out = append(out, rd.until(t, "the sentinel's deliveries", func(rs []*kgo.Record) bool {
		n := 0
		for _, r := range rs {
			if header(r, events.HeaderEventID) == sentinelEv.ID {
				n++
			}
		}
		return n == 2
	})...)
	seen := map[string]int{}
	for _, rec := range out {
		if id := header(rec, events.HeaderEventID); id != sentinelEv.ID {
			seen[id+"/"+string(rec.Key)]++
		}
	}
	for id := range want {
		for _, s := range []string{"sub_a", "sub_b"} {
			switch n := seen[id+"/"+s]; {
			case n == 0:
				missing++
			case n > 1:
				dup++
			}
		}
	}
	return r, missing, dup, len(seen)
}
