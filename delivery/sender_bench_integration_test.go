//go:build integration

package delivery

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
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

// rateReceiver counts requests and remembers when the first and last arrived.
type rateReceiver struct {
	n           atomic.Int64
	first, last atomic.Int64 // unix nanos
}

func (r *rateReceiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	_, _ = io.Copy(io.Discard, req.Body)
	now := time.Now().UnixNano()
	r.first.CompareAndSwap(0, now)
	r.last.Store(now)
	r.n.Add(1)
	w.WriteHeader(http.StatusNoContent)
}

func (r *rateReceiver) rate() float64 {
	span := time.Duration(r.last.Load() - r.first.Load())
	if span <= 0 {
		return 0
	}
	return float64(r.n.Load()-1) / span.Seconds()
}

// BenchmarkSenderThroughput measures deliveries/s from a real broker through the sender
// to a local receiver, and a raw baseline in the same run: plain net/http POSTs of the
// same bodies at the same concurrency to the same kind of receiver. It reports both and
// their ratio (target ≥ 0.80). Run: make bench (or go test -tags integration -run '^$'
// -bench SenderThroughput -benchtime 1x ./delivery/).
//
// 80 000 deliveries, so each phase lasts about two seconds: with 20 000 a phase lasted
// half a second and the raw rate alone spread from 38 000 to 50 000 posts/s between
// runs of one invocation (against 49 000–52 000 at 80 000). The deliveries are written
// uncompressed, as the router writes them by default; fetched/delivery reports how many
// records the sender's consumer decoded per delivery.
func BenchmarkSenderThroughput(b *testing.B) {
	const total, nSubs, perSub = 80000, 16, 16
	seeds := testenv.Kafka(b)
	name := testenv.Name(b, "bench")
	adm := testenv.KafkaAdmin(b)
	deliveries, dlq, retryPrefix := name+".deliveries", name+".dlq", name+".retry."
	all := []string{deliveries, dlq, retryPrefix + "1s"}
	if _, err := adm.CreateTopics(testenv.Context(b, 30*time.Second), 8, -1, nil, all...); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		_, _ = adm.DeleteTopics(ctx, all...)
	})

	var subList []*subscriptions.Subscription
	var bodies [][]byte
	var ds []*events.Delivery
	for i := range total {
		if i < nSubs {
			s := senderSub(fmt.Sprintf("sub_bench_%02d", i))
			s.MaxInFlight = perSub
			subList = append(subList, s)
		}
		d := itDelivery(subList[i%nSubs].ID, i)
		ds = append(ds, d)
		bodies = append(bodies, d.Body)
	}

	for b.Loop() {
		// Each subscription is its own endpoint (a customer = a host), for both runs.
		raw, rawURLs := &rateReceiver{}, make([]string, nSubs)
		for i := range nSubs {
			srv := labelledServer(raw, "raw-receiver")
			defer srv.Close()
			rawURLs[i] = srv.URL + "/hook"
		}
		// Raw baseline: the same bodies, the same concurrency, plain POSTs.
		tr := &http.Transport{MaxIdleConnsPerHost: perSub}
		hc := &http.Client{Transport: tr, Timeout: 15 * time.Second}
		type post struct {
			url  string
			body []byte
		}
		work := make(chan post)
		var wg sync.WaitGroup
		for range nSubs * perSub {
			wg.Add(1)
			go pprof.Do(context.Background(), pprof.Labels("phase", "raw"), func(context.Context) {
				defer wg.Done()
				for p := range work {
					resp, err := hc.Post(p.url, "application/json", bytes.NewReader(p.body))
					if err == nil {
						_, _ = io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
					}
				}
			})
		}
		rawUse := startUsage()
		for i, body := range bodies {
			work <- post{rawURLs[i%nSubs], body}
		}
		close(work)
		wg.Wait()
		rawCPU, rawIdle := rawUse.stop(total)
		tr.CloseIdleConnections()

		// Through the sender.
		rc := &rateReceiver{}
		var ports []int
		for _, s := range subList {
			srv := labelledServer(rc, "sender-receiver")
			defer srv.Close()
			s.URL = srv.URL + "/hook"
			u, _ := url.Parse(srv.URL)
			port, _ := strconv.Atoi(u.Port())
			ports = append(ports, port)
		}
		// The product's index (lock- and allocation-free lookups); the fake only
		// stands in for the disabler, which this run never calls.
		subs := subscriptions.NewStaticIndex(subList)
		client, err := NewClient(ClientConfig{Timeout: 15 * time.Second, Egress: egress.Policy{AllowHTTP: true, AllowPorts: ports,
			AllowCIDRs: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}}, zap.NewNop())
		if err != nil {
			b.Fatal(err)
		}
		// Written as the router writes them by default: uncompressed (router.compression).
		prod := testenv.KafkaClient(b, kgo.ProducerBatchCompression(kgo.NoCompression()))
		recs := make([]*kgo.Record, len(ds))
		for i, d := range ds {
			recs[i] = d.Record(deliveries)
		}
		if err := prod.ProduceSync(testenv.Context(b, 60*time.Second), recs...).FirstErr(); err != nil {
			b.Fatal(err)
		}
		cfg := Config{DeliveriesTopic: deliveries, DLQTopic: dlq, RetryPrefix: retryPrefix,
			Group: name + "-sender", RetrySchedule: []time.Duration{time.Second},
			MaxInFlight: nSubs * perSub, DefaultMaxInFlight: perSub, BreakerThreshold: 10, BreakerCooldown: time.Second,
		}
		reg := prometheus.NewRegistry()
		fetched := &fetchCounter{}
		var s *Sender
		// The Kafka client's goroutines start here: labelled phase=sender-kafka.
		pprof.Do(context.Background(), pprof.Labels("phase", "sender-kafka"), func(context.Context) {
			s, err = New(cfg, Deps{KafkaOpts: []kgo.Opt{kgo.SeedBrokers(seeds...), kgo.WithHooks(fetched)},
				Subscriptions: subs, Disabler: newFakeIndex(subList...), Client: client, Registerer: reg}, zap.NewNop())
		})
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		// Labelled so a CPU profile (-cpuprofile) separates the sender's goroutines, and the
		// connections it dials, from its Kafka client's and from the receivers':
		// go tool pprof -tagfocus 'phase=^sender$' (or sender-kafka, sender-receiver, raw,
		// raw-receiver); what carries no label is the runtime's (GC, scheduler).
		go pprof.Do(ctx, pprof.Labels("phase", "sender"), func(ctx context.Context) { done <- s.Run(ctx) })
		deadline := time.Now().Add(3 * time.Minute)
		for rc.n.Load() == 0 && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		sendUse := startUsage()
		for rc.n.Load() < total && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		sendCPU, sendIdle := sendUse.stop(total)
		cancel()
		<-done
		client.Close()
		if rc.n.Load() < total {
			b.Fatalf("sender delivered %d of %d within 3 minutes", rc.n.Load(), total)
		}
		// Deliveries parked in a retry tier (backpressure) arrive a tier delay later:
		// report them, they explain a low rate.
		parked := 0.0
		if mfs, err := reg.Gather(); err == nil {
			for _, mf := range mfs {
				if mf.GetName() == "eventrouter_sender_retry_parked_total" {
					for _, m := range mf.GetMetric() {
						parked += m.GetCounter().GetValue()
					}
				}
			}
		}
		b.ReportMetric(parked, "parked")
		b.ReportMetric(float64(fetched.records.Load())/float64(total), "fetched/delivery")
		ratio := rc.rate() / raw.rate()
		b.ReportMetric(rc.rate(), "deliveries/s")
		b.ReportMetric(raw.rate(), "raw_posts/s")
		b.ReportMetric(ratio, "ratio")
		b.ReportMetric(sendCPU, "proc_µs/delivery")
		b.ReportMetric(rawCPU, "proc_µs/raw_post")
		b.Logf("sender %.0f deliveries/s, raw %.0f posts/s, ratio %.2f (target ≥ 0.80); "+
			"this process's CPU (client and receiver) %.1f µs per delivery against %.1f per raw post; "+
			"machine idle %.0f%% against %.0f%%", rc.rate(), raw.rate(), ratio, sendCPU, rawCPU, 100*sendIdle, 100*rawIdle)
	}
}

// usage is where one phase of the benchmark started: this process's CPU time and the
// machine's idle time, so a phase can say whether it was short of CPU or of work.
type usage struct {
	at   time.Time
	cpu  int64 // ns, processCPU
	idle time.Duration
}

func startUsage() usage { return usage{time.Now(), processCPU(), machineIdle()} }

// stop returns this process's CPU per request over the phase, in µs, and the share of
// the machine's cores that stood idle.
func (u usage) stop(requests int) (cpuPerRequest, idleShare float64) {
	wall := time.Since(u.at)
	cpu, idle := processCPU()-u.cpu, machineIdle()-u.idle
	return float64(cpu) / 1e3 / float64(requests),
		idle.Seconds() / (wall.Seconds() * float64(runtime.NumCPU()))
}

// machineIdle is the machine's idle time so far, from /proc/stat (0 where there is none).
func machineIdle() time.Duration {
	raw, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(raw), "\n")
	f := strings.Fields(line) // cpu user nice system idle ...
	if len(f) < 5 {
		return 0
	}
	ticks, _ := strconv.ParseInt(f[4], 10, 64)
	return time.Duration(ticks) * time.Second / 100 // USER_HZ
}

// labelledServer starts a receiver whose goroutines carry the pprof label phase=name, so
// a CPU profile separates what each phase's receiver spent from what its client spent.
func labelledServer(h http.Handler, name string) (srv *httptest.Server) {
	pprof.Do(context.Background(), pprof.Labels("phase", name), func(context.Context) { srv = httptest.NewServer(h) })
	return srv
}

// fetchCounter counts the delivery records the sender's consumer decoded: more than
// were delivered when flow control pauses a partition whose next fetch was already on
// its way (the client drops a paused partition's buffered records and fetches them
// again on resume).
type fetchCounter struct{ records atomic.Int64 }

func (c *fetchCounter) OnFetchBatchRead(_ kgo.BrokerMetadata, _ string, _ int32, m kgo.FetchBatchMetrics) {
	c.records.Add(int64(m.NumRecords))
}
