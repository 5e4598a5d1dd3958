//go:build integration

package router_test

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/claimable/eventrouter/events"
	"github.com/claimable/eventrouter/internal/testenv"
	"github.com/claimable/eventrouter/subscriptions"
)

// pipeline is one test's topics, subscriptions and expected output, on the real broker
// and Redis.
type pipeline struct {
	t          *testing.T
	bin        string
	seeds      []string
	ingest     string
	deliveries string
	invalid    string
	group      string
	env        []string
	subsByAcc  map[string][]string // account → subscription ids
	want       map[string]bool     // expected delivery ids
}

// fanouts is the number of subscriptions of account acc_<i>: 0 to 5, mean 2.5.
var fanouts = []int{0, 1, 2, 3, 5, 4}

func newPipeline(t *testing.T) *pipeline {
	t.Helper()
	seeds := testenv.Kafka(t)
	rdb, prefix := testenv.RedisDB(t)
	p := &pipeline{
		t:          t,
		bin:        buildBinary(t),
		seeds:      seeds,
		ingest:     testenv.NewTopic(t, seeds, 6),
		deliveries: testenv.NewTopic(t, seeds, 6),
		invalid:    testenv.NewTopic(t, seeds, 1),
		group:      testenv.Name(t, "group"),
		subsByAcc:  map[string][]string{},
		want:       map[string]bool{},
	}
	ctx := testenv.Context(t, 30*time.Second)
	store, err := subscriptions.NewRedisStore(rdb, subscriptions.RedisOptions{Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	for i, n := range fanouts {
		acc := fmt.Sprintf("acc_%d", i)
		for range n {
			s := &subscriptions.Subscription{
				ID: subscriptions.NewID(now), AccountID: acc, URL: "https://example.com/hook",
				Events: []string{"*"}, Enabled: true, CreatedAt: now, UpdatedAt: now,
				Secrets: []subscriptions.Secret{{Value: subscriptions.NewSecret(), CreatedAt: now}},
			}
			if err := store.Create(ctx, s, 0); err != nil {
				t.Fatalf("seed subscription: %v", err)
			}
			p.subsByAcc[acc] = append(p.subsByAcc[acc], s.ID)
		}
	}
	p.env = append(os.Environ(),
		"EVENTROUTER_KAFKA_BROKERS="+strings.Join(seeds, ","),
		"EVENTROUTER_REDIS_ADDR="+testenv.RedisAddr(),
		"EVENTROUTER_REDIS_KEY_PREFIX="+prefix,
		"EVENTROUTER_TOPICS_INGEST="+p.ingest,
		"EVENTROUTER_TOPICS_INGEST_OBJECTS=", // the one ingest topic carries every object
		"EVENTROUTER_TOPICS_DELIVERIES="+p.deliveries,
		"EVENTROUTER_TOPICS_INVALID="+p.invalid,
		"EVENTROUTER_ROUTER_GROUP="+p.group,
		"EVENTROUTER_ROUTER_OPERATIONAL_GROUP="+p.group+"-operational",
		"EVENTROUTER_TOPICS_OPERATIONAL="+p.group+".operational",
		"EVENTROUTER_ROUTER_TRANSACTIONAL_ID_PREFIX="+testenv.Name(t, "txn"),
		// A crashed instance without a successor of the same id blocks its partitions
		// at most this long.
		"EVENTROUTER_ROUTER_TRANSACTION_TIMEOUT=10s",
		"EVENTROUTER_OPS_LISTEN=127.0.0.1:0",
		"EVENTROUTER_LOG_LEVEL=warn",
		"EVENTROUTER_LOG_FORMAT=console",
	)
	return p
}

var (
	buildOnce sync.Once
	builtBin  string
	buildErr  error
	buildOut  []byte
)

// buildBinary builds ./cmd/eventrouter once per test binary run.
func buildBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "eventrouter-bin-")
		if err != nil {
			buildErr = err
			return
		}
		builtBin = filepath.Join(dir, "eventrouter")
		cmd := exec.Command("go", "build", "-o", builtBin, "github.com/claimable/eventrouter/cmd/eventrouter")
		buildOut, buildErr = cmd.CombinedOutput()
	})
	if buildErr != nil {
		t.Fatalf("go build ./cmd/eventrouter: %v\n%s", buildErr, buildOut)
	}
	return builtBin
}

// proc is one `eventrouter router` process.
type proc struct {
	name string
	cmd  *exec.Cmd
	log  *bytes.Buffer
	done chan error
}

// start runs `eventrouter router` with the pipeline's environment plus extra.
func (p *pipeline) start(name string, extra ...string) *proc {
	p.t.Helper()
	cmd := exec.Command(p.bin, "router")
	cmd.Env = append(append([]string(nil), p.env...), extra...)
	var log bytes.Buffer
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		p.t.Fatalf("start %s: %v", name, err)
	}
	pr := &proc{name: name, cmd: cmd, log: &log, done: make(chan error, 1)}
	go func() { pr.done <- cmd.Wait() }()
	p.t.Cleanup(func() { pr.kill() })
	return pr
}

// kill sends SIGKILL and waits for the process to be gone.
func (pr *proc) kill() {
	_ = pr.cmd.Process.Signal(syscall.SIGKILL)
	<-pr.done
	pr.done <- nil // later kill calls return at once
}

// term sends SIGTERM and waits (bounded) for a clean exit.
func (pr *proc) term(t *testing.T) {
	t.Helper()
	_ = pr.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-pr.done:
		pr.done <- nil
		if err != nil {
			t.Errorf("%s exited with %v after SIGTERM; log tail:\n%s", pr.name, err, tail(pr.log.String()))
		}
	case <-time.After(45 * time.Second):
		t.Errorf("%s did not exit within 45 s of SIGTERM", pr.name)
		pr.kill()
	}
}

func tail(s string) string {
	if len(s) > 4000 {
		return s[len(s)-4000:]
	}
	return s
}

// prepare builds events from..from+n-1 (event i belongs to account acc_<i mod 6>) and
// records the deliveries they must cause. Call it before anything reads p.want.
func (p *pipeline) prepare(from, n int) []*kgo.Record {
	base := time.Now()
	names := []string{"claim.created", "claim.assigned", "claim.label_added", "contact.created", "claim.closed"}
	recs := make([]*kgo.Record, 0, n)
	for i := from; i < from+n; i++ {
		acc := fmt.Sprintf("acc_%d", i%len(fanouts))
		ev := events.Sample(names[i%len(names)], acc, fmt.Sprintf("obj_%d", i%97), i, base.Add(time.Duration(i)*time.Microsecond))
		for _, s := range p.subsByAcc[acc] {
			p.want[events.DeliveryID(ev.ID, s)] = true
		}
		recs = append(recs, &kgo.Record{Topic: p.ingest, Key: []byte(acc), Value: ev.Marshal()})
	}
	return recs
}

// send produces recs to the ingest topic. It may run in its own goroutine (it returns
// its error rather than calling t.Fatal).
func (p *pipeline) send(ctx context.Context, recs []*kgo.Record) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(p.seeds...))
	if err != nil {
		return err
	}
	defer cl.Close()
	var errOnce sync.Once
	var perr error
	for _, r := range recs {
		cl.Produce(ctx, r, func(_ *kgo.Record, err error) {
			if err != nil {
				errOnce.Do(func() { perr = err })
			}
		})
	}
	if err := cl.Flush(ctx); err != nil {
		return err
	}
	return perr
}

// collector reads the deliveries topic read_committed and counts each delivery id.
type collector struct {
	mu   sync.Mutex
	seen map[string]int
	want map[string]bool
	cl   *kgo.Client
}

func (p *pipeline) collect(ctx context.Context) *collector {
	cl, err := kgo.NewClient(kgo.SeedBrokers(p.seeds...), kgo.ConsumeTopics(p.deliveries),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(200*time.Millisecond))
	if err != nil {
		p.t.Fatal(err)
	}
	p.t.Cleanup(cl.Close)
	c := &collector{seen: map[string]int{}, want: p.want, cl: cl}
	go func() {
		for ctx.Err() == nil {
			fs := cl.PollFetches(ctx)
			c.mu.Lock()
			fs.EachRecord(func(r *kgo.Record) {
				if len(r.Headers) == 0 && string(r.Value) == "marker" { // end of topic (see finish)
					c.seen["marker/"+fmt.Sprint(r.Partition)]++
					return
				}
				id := ""
				for _, h := range r.Headers {
					if h.Key == events.HeaderDeliveryID {
						id = string(h.Value)
					}
				}
				c.seen[id]++
			})
			c.mu.Unlock()
		}
	}()
	return c
}

// distinct returns how many expected delivery ids were seen at least once.
func (c *collector) distinct() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for id := range c.want {
		if c.seen[id] > 0 {
			n++
		}
	}
	return n
}

// finish waits until every expected delivery arrived, stops the routers (the caller
// does, via stop), then appends a marker to every deliveries partition and reads up to
// the markers, so that nothing committed after the last expected delivery is missed.
// It fails the test with missing/duplicate counts.
func (p *pipeline) finish(ctx context.Context, c *collector, stop func()) {
	p.t.Helper()
	for c.distinct() < len(p.want) {
		if ctx.Err() != nil {
			stop()
			p.t.Fatalf("timed out: %d of %d expected deliveries arrived", c.distinct(), len(p.want))
		}
		time.Sleep(100 * time.Millisecond)
	}
	stop()
	cl, err := kgo.NewClient(kgo.SeedBrokers(p.seeds...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		p.t.Fatal(err)
	}
	defer cl.Close()
	for part := range int32(6) {
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: p.deliveries, Partition: part, Value: []byte("marker")}).FirstErr(); err != nil {
			p.t.Fatalf("marker: %v", err)
		}
	}
	for {
		c.mu.Lock()
		markers := 0
		for part := range 6 {
			markers += min(1, c.seen[fmt.Sprintf("marker/%d", part)])
		}
		c.mu.Unlock()
		if markers == 6 {
			break
		}
		if ctx.Err() != nil {
			p.t.Fatalf("timed out reading to the end of the deliveries topic (%d/6 markers)", markers)
		}
		time.Sleep(50 * time.Millisecond)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	var missing, dup, unexpected int
	for id := range p.want {
		switch n := c.seen[id]; {
		case n == 0:
			missing++
		case n > 1:
			dup += n - 1
		}
	}
	for id, n := range c.seen {
		if !p.want[id] && !strings.HasPrefix(id, "marker/") {
			unexpected += n
		}
	}
	if missing > 0 || dup > 0 || unexpected > 0 {
		p.t.Fatalf("exactly-once violated: %d expected deliveries, %d missing, %d duplicates, %d unexpected", len(p.want), missing, dup, unexpected)
	}
	p.t.Logf("%d deliveries, each exactly once", len(p.want))
}

// TestExactlyOnceUnderKill9 kill -9s the router process at least five times while
// 50 000 events (fan-out 0 to 5) flow, restarting it each time, and checks that every
// (event, subscription) delivery is committed exactly once.
func TestExactlyOnceUnderKill9(t *testing.T) {
	ctx := testenv.Context(t, 3*time.Minute)
	p := newPipeline(t)
	const total = 50_000
	recs := p.prepare(0, total)
	c := p.collect(ctx)

	// Events flow steadily (~3 300/s, ~15 s) so that kills land mid-transaction.
	produced := make(chan error, 1)
	go func() {
		for i := 0; i < total; i += 500 {
			if err := p.send(ctx, recs[i:min(i+500, total)]); err != nil {
				produced <- err
				return
			}
			time.Sleep(150 * time.Millisecond)
		}
		produced <- nil
	}()

	// One instance id: each restart takes the partitions back at once and fences the
	// killed process's open transaction.
	instance := "EVENTROUTER_KAFKA_INSTANCE_ID=" + testenv.Name(t, "inst")
	cur := p.start("router-0", instance)
	var sendErr error
	sending := true
	for kills := 0; kills < 5 || sending; kills++ {
		time.Sleep(time.Duration(1000+rand.IntN(2000)) * time.Millisecond)
		if ctx.Err() != nil {
			t.Fatal("timed out during the kill loop")
		}
		cur.kill()
		t.Logf("kill -9 #%d: %d/%d deliveries seen so far", kills+1, c.distinct(), len(p.want))
		cur = p.start(fmt.Sprintf("router-%d", kills+1), instance)
		select {
		case sendErr = <-produced:
			sending = false
		default:
		}
	}
	if sendErr != nil {
		t.Fatal(sendErr)
	}
	p.finish(ctx, c, func() { cur.term(t) })
	if t.Failed() {
		t.Logf("last router log:\n%s", tail(cur.log.String()))
	}
}

// TestExactlyOnceWhileRoutersJoinAndLeave runs two router processes in one group, adds
// a third mid-run and stops one, and checks exactly-once delivery.
func TestExactlyOnceWhileRoutersJoinAndLeave(t *testing.T) {
	ctx := testenv.Context(t, 3*time.Minute)
	p := newPipeline(t)
	const total = 30_000
	recs := p.prepare(0, total)
	c := p.collect(ctx)
	a, b := p.start("router-a"), p.start("router-b")
	produced := make(chan error, 1)
	go func() { produced <- p.send(ctx, recs) }()
	waitDistinct(ctx, t, c, len(p.want)/10+1)
	cProc := p.start("router-c") // joins
	waitDistinct(ctx, t, c, c.distinct()+len(p.want)/10)
	a.term(t) // leaves
	if err := <-produced; err != nil {
		t.Fatal(err)
	}
	p.finish(ctx, c, func() { b.term(t); cProc.term(t) })
}

// waitDistinct waits, until ctx's deadline, for n distinct deliveries.
func waitDistinct(ctx context.Context, t *testing.T, c *collector, n int) {
	t.Helper()
	deadline, _ := ctx.Deadline()
	testenv.Eventually(t, time.Until(deadline), fmt.Sprintf("%d distinct deliveries", n), func() bool { return c.distinct() >= n })
}
