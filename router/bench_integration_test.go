//go:build integration

package router_test

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"

	"github.com/claimable/eventrouter/events"
	"github.com/claimable/eventrouter/internal/testenv"
	"github.com/claimable/eventrouter/router"
	"github.com/claimable/eventrouter/subscriptions"
)

// TestBenchRouterVsPassthrough measures, through the same broker in the same run,
// (a) a raw franz-go passthrough (consume topic A, produce the same bytes to B, no
// transaction, no logic), (b) the router at fan-out 1 and (c) at fan-out 5, with 1 KiB
// events, and prints events/s and the ratio router/raw (target ≥ 0.5 at fan-out 1).
//
// It is a load run, not a unit test: it runs only with EVENTROUTER_BENCH=1, e.g.
//
//	EVENTROUTER_BENCH=1 go test -tags integration -run TestBenchRouterVsPassthrough -v ./router/
//
// EVENTROUTER_BENCH_EVENTS sets the number of events (default 50 000);
// EVENTROUTER_BENCH_COMPRESSION the router's Config.Compression (default: its default),
// for A/B runs of the codec.
func TestBenchRouterVsPassthrough(t *testing.T) {
	if os.Getenv("EVENTROUTER_BENCH") != "1" {
		t.Skip("load run: set EVENTROUTER_BENCH=1")
	}
	n := 50_000
	if v, err := strconv.Atoi(os.Getenv("EVENTROUTER_BENCH_EVENTS")); err == nil && v > 0 {
		n = v
	}
	ctx := testenv.Context(t, 10*time.Minute)
	seeds := testenv.Kafka(t)
	const parts = 6
	ingest := testenv.NewTopic(t, seeds, parts)
	pprof.Do(ctx, pprof.Labels("run", "fill"), func(ctx context.Context) { fillIngest(ctx, t, seeds, ingest, n) })

	rawTopic, fan1Topic, fan5Topic := testenv.NewTopic(t, seeds, parts), testenv.NewTopic(t, seeds, parts), testenv.NewTopic(t, seeds, parts)
	// Each run is labelled (run=raw, fanout1, fanout5; goroutines inherit the label, the
	// clients' own included), so a -cpuprofile of this test splits by run:
	// go tool pprof -tagfocus run=fanout1 ...
	var raw, fan1, fan5 float64
	c0 := processCPU()
	pprof.Do(ctx, pprof.Labels("run", "raw"), func(ctx context.Context) { raw = passthrough(ctx, t, seeds, ingest, rawTopic, n) })
	c1 := processCPU()
	pprof.Do(ctx, pprof.Labels("run", "fanout1"), func(ctx context.Context) { fan1 = routerRun(ctx, t, seeds, ingest, fan1Topic, n, 1) })
	c2 := processCPU()
	pprof.Do(ctx, pprof.Labels("run", "fanout5"), func(ctx context.Context) { fan5 = routerRun(ctx, t, seeds, ingest, fan5Topic, n, 5) })
	c3 := processCPU()
	perEvent := func(d time.Duration) float64 { return float64(d.Microseconds()) / float64(n) }
	t.Logf("%d events of 1 KiB, %d partitions; GOMAXPROCS %d", n, parts, runtime.GOMAXPROCS(0))
	t.Logf("raw passthrough:      %8.0f events/s  (client CPU %.1f µs/event)", raw, perEvent(c1-c0))
	t.Logf("router, fan-out 1:    %8.0f events/s  (%.0f%% of raw; target ≥ 50%%; client CPU %.1f µs/event)", fan1, 100*fan1/raw, perEvent(c2-c1))
	t.Logf("router, fan-out 5:    %8.0f events/s  (%.0f%% of raw; %.0f deliveries/s; client CPU %.1f µs/event)", fan5, 100*fan5/raw, 5*fan5, perEvent(c3-c2))
}

// processCPU is the user+system CPU time this process has used: the client side of a
// run (the broker's CPU is not included), to tell CPU-bound from waiting.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchAccounts is how many accounts the events are spread over (the ingest key).
const benchAccounts = 64

func fillIngest(ctx context.Context, t *testing.T, seeds []string, topic string, n int) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.DefaultProduceTopic(topic))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	base := time.Now()
	var once sync.Once
	var firstErr error
	for i := range n {
		acc := fmt.Sprintf("acc_%d", i%benchAccounts)
		ev := events.Sample("claim.created", acc, fmt.Sprintf("clm_%d", i), i, base)
		ev.Data = []byte(fmt.Sprintf(`{"id":%q,"notes":%q}`, ev.ObjectID, events.SampleNotes(i, 600)))
		v := ev.Marshal()
		cl.Produce(ctx, &kgo.Record{Key: []byte(acc), Value: v}, func(_ *kgo.Record, err error) {
			if err != nil {
				once.Do(func() { firstErr = err })
			}
		})
	}
	if err := cl.Flush(ctx); err != nil || firstErr != nil {
		t.Fatalf("fill ingest: %v %v", err, firstErr)
	}
}

// passthrough consumes n records from src as a new group and produces each value to
// dst; it returns records/s from start to the last acknowledged produce.
func passthrough(ctx context.Context, t *testing.T, seeds []string, src, dst string, n int) float64 {
	t.Helper()
	start := time.Now()
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.ConsumerGroup(testenv.Name(t, "raw")),
		kgo.ConsumeTopics(src), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	consumed := 0
	for consumed < n {
		fs := cl.PollRecords(ctx, 1000)
		if ctx.Err() != nil {
			t.Fatal("passthrough timed out")
		}
		fs.EachRecord(func(r *kgo.Record) {
			consumed++
			cl.Produce(ctx, &kgo.Record{Topic: dst, Key: r.Key, Value: r.Value}, func(_ *kgo.Record, err error) {
				if err != nil {
					t.Errorf("passthrough produce: %v", err)
				}
			})
		})
	}
	if err := cl.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	return float64(n) / time.Since(start).Seconds()
}

// accountMatcher matches every event to its account's k subscriptions. Each account
// has its own, as in the product, so the deliveries (key = subscription id) spread over
// the topic's partitions as the passthrough's records (key = account) do: with one
// subscription for every account, fan-out 1 would put the whole run on one partition.
type accountMatcher map[string][]*subscriptions.Subscription

func newAccountMatcher(accounts, k int) accountMatcher {
	m := accountMatcher{}
	for a := range accounts {
		acc := fmt.Sprintf("acc_%d", a)
		for i := range k {
			m[acc] = append(m[acc], &subscriptions.Subscription{ID: fmt.Sprintf("sub_%s_%d", acc, i), AccountID: acc, Enabled: true})
		}
	}
	return m
}

func (m accountMatcher) Match(e *events.Event, dst []*subscriptions.Subscription) []*subscriptions.Subscription {
	return append(dst, m[e.AccountID]...)
}

// routerRun runs the router (fresh group) over n events of src with fan-out k and
// returns events/s from start until the n-th event's transaction committed.
func routerRun(ctx context.Context, t *testing.T, seeds []string, src, dst string, n, k int) float64 {
	t.Helper()
	m := newAccountMatcher(benchAccounts, k)
	cat, err := events.NewCatalogue([]string{"claim.created"}) // the only event this benchmark produces
	if err != nil {
		t.Fatal(err)
	}
	reg := &consumedCapture{Registry: prometheus.NewRegistry()}
	r, err := router.New(router.Config{
		Group:                 testenv.Name(t, "router"),
		TransactionalIDPrefix: testenv.Name(t, "txn"),
		IngestTopics:          []string{src},
		DeliveriesTopic:       dst,
		InvalidTopic:          dst + "-invalid",
		Compression:           os.Getenv("EVENTROUTER_BENCH_COMPRESSION"),
	}, router.Deps{
		KafkaOpts:  []kgo.Opt{kgo.SeedBrokers(seeds...)},
		Matcher:    m,
		Parser:     events.NewParser(cat, 0),
		Registerer: reg,
	}, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	start := time.Now()
	go func() { done <- r.Run(rctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("router: %v", err)
		}
	}()
	for reg.consumed() < float64(n) {
		if ctx.Err() != nil {
			t.Fatalf("router fan-out %d timed out at %.0f/%d events", k, reg.consumed(), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
	elapsed := time.Since(start)
	// Where the wall time went: a transaction is route + produce + flush, then End
	// (offset commit, EndTxn), during which this router routes nothing.
	txns, inTxns := histogram(t, reg.Registry, "eventrouter_router_batch_duration_seconds")
	_, inEnd := histogram(t, reg.Registry, "eventrouter_router_transaction_commit_seconds")
	t.Logf("router, fan-out %d: %d transactions of %.0f events on average; in transactions %.0f%% of the run, in End %.0f%%",
		k, txns, float64(n)/float64(max(txns, 1)), 100*inTxns/elapsed.Seconds(), 100*inEnd/elapsed.Seconds())
	return float64(n) / elapsed.Seconds()
}

// histogram returns the sample count and sum of the histogram name in reg.
func histogram(t *testing.T, reg *prometheus.Registry, name string) (uint64, float64) {
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) > 0 {
			h := mf.GetMetric()[0].GetHistogram()
			return h.GetSampleCount(), h.GetSampleSum()
		}
	}
	return 0, 0
}

// consumedCapture is the router's registry, keeping a handle on its consumed counter so
// the wait for the n-th event reads that one counter. Gathering the whole registry (the
// Kafka client's metrics included) every 5 ms cost the router's process measurable CPU
// that the passthrough, which counts in its own loop, did not pay.
type consumedCapture struct {
	*prometheus.Registry
	mu      sync.Mutex
	counter prometheus.Collector
}

func (c *consumedCapture) Register(col prometheus.Collector) error {
	if err := c.Registry.Register(col); err != nil {
		return err
	}
	descs := make(chan *prometheus.Desc, 16)
	go func() { col.Describe(descs); close(descs) }()
	for d := range descs {
		if strings.Contains(d.String(), `"eventrouter_router_events_consumed_total"`) {
			c.mu.Lock()
			c.counter = col
			c.mu.Unlock()
		}
	}
	return nil
}

func (c *consumedCapture) MustRegister(cols ...prometheus.Collector) {
	for _, col := range cols {
		if err := c.Register(col); err != nil {
			panic(err)
		}
	}
}

// consumed sums the consumed counter over its topics.
func (c *consumedCapture) consumed() float64 {
	c.mu.Lock()
	col := c.counter
	c.mu.Unlock()
	if col == nil {
		return 0
	}
	ms := make(chan prometheus.Metric, 16)
	go func() { col.Collect(ms); close(ms) }()
	var sum float64
	for m := range ms {
		var pb dto.Metric
		if m.Write(&pb) == nil {
			sum += pb.GetCounter().GetValue()
		}
	}
	return sum
}
