//go:build integration

package delivery

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/claimable/eventrouter/events"
	"github.com/claimable/eventrouter/internal/testenv"
	"github.com/claimable/eventrouter/subscriptions"
)

// countingReceiver counts 2xx answers by webhook-id; fail decides a 503 per request.
type countingReceiver struct {
	mu       sync.Mutex
	ok       map[string]int
	failures atomic.Int64
	fail     atomic.Bool
	latency  func() time.Duration
}

func (c *countingReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	if c.latency != nil {
		time.Sleep(c.latency())
	}
	if c.fail.Load() {
		c.failures.Add(1)
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	c.mu.Lock()
	c.ok[r.Header.Get(HeaderWebhookID)]++
	c.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

func (c *countingReceiver) counts() (unique, total int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, n := range c.ok {
		total += n
	}
	return len(c.ok), total
}

// senderProc is an `eventrouter sender` process against the real services.
type senderProc struct {
	t      *testing.T
	bin    string
	env    []string
	cmd    *exec.Cmd
	stderr *bytes.Buffer
}

// itSetup builds the binary, creates topics and subscriptions, and returns the sender
// process (not started), the deliveries topic, the DLQ topic and the subscription ids.
func itSetup(t *testing.T, rc http.Handler, nSubs int, extraEnv ...string) (*senderProc, string, string, []string) {
	seeds := testenv.Kafka(t)
	rdb := testenv.Redis(t)
	prefix := testenv.RedisPrefix(t)
	name := testenv.Name(t, "snd")
	bin := filepath.Join(t.TempDir(), "eventrouter")
	if out, err := exec.Command("go", "build", "-o", bin, "../cmd/eventrouter").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	srv := httptest.NewServer(rc)
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)

	deliveries, dlq, retryPrefix := name+".deliveries", name+".dlq", name+".retry."
	adm := testenv.KafkaAdmin(t)
	ctx := testenv.Context(t, 30*time.Second)
	all := []string{deliveries, dlq, retryPrefix + "1s", retryPrefix + "2s", retryPrefix + "4s"}
	if _, err := adm.CreateTopics(ctx, 4, -1, nil, all...); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		_, _ = adm.DeleteTopics(ctx, all...)
	})

	store, err := subscriptions.NewRedisStore(rdb, subscriptions.RedisOptions{Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	now := time.Now().UTC()
	for i := range nSubs {
		sub := &subscriptions.Subscription{
			ID: subscriptions.NewID(now), AccountID: "acct_it", URL: fmt.Sprintf("%s/hook/%d", srv.URL, i),
			Events: []string{"*"}, Enabled: true, MaxInFlight: 16,
			Secrets:   []subscriptions.Secret{{Value: subscriptions.NewSecret(), CreatedAt: now}},
			CreatedAt: now, UpdatedAt: now,
		}
		if err := store.Create(ctx, sub, 0); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, sub.ID)
	}
	env := append(os.Environ(),
		"EVENTROUTER_KAFKA_BROKERS="+strings.Join(seeds, ","),
		"EVENTROUTER_KAFKA_INSTANCE_ID="+name+"-sender", // static membership: a restart takes over at once
		"EVENTROUTER_REDIS_ADDR="+testenv.RedisAddr(),
		"EVENTROUTER_REDIS_KEY_PREFIX="+prefix,
		"EVENTROUTER_TOPICS_DELIVERIES="+deliveries,
		"EVENTROUTER_TOPICS_RETRY_PREFIX="+retryPrefix,
		"EVENTROUTER_TOPICS_DLQ="+dlq,
		"EVENTROUTER_TOPICS_OPERATIONAL="+name+".operational",
		"EVENTROUTER_DELIVERY_GROUP="+name+"-sender",
		"EVENTROUTER_DELIVERY_RETRY_SCHEDULE=1s,2s,4s,4s,4s",
		"EVENTROUTER_EGRESS_ALLOW_HTTP=true",
		"EVENTROUTER_EGRESS_ALLOW_CIDRS=127.0.0.0/8",
		"EVENTROUTER_EGRESS_ALLOW_PORTS="+u.Port(),
		"EVENTROUTER_OPS_LISTEN=127.0.0.1:0",
		"EVENTROUTER_LOG_LEVEL=warn",
	)
	env = append(env, extraEnv...)
	p := &senderProc{t: t, bin: bin, env: env}
	t.Cleanup(func() { p.kill() })
	return p, deliveries, dlq, ids
}

// envValue is the value of key in the process's environment ("" if unset; the last
// one wins, as for the process).
func (p *senderProc) envValue(key string) (v string) {
	for _, kv := range p.env {
		if val, ok := strings.CutPrefix(kv, key+"="); ok {
			v = val
		}
	}
	return v
}

func (p *senderProc) start() {
	p.t.Helper()
	p.cmd = exec.Command(p.bin, "sender")
	p.cmd.Env = p.env
	p.stderr = &bytes.Buffer{}
	p.cmd.Stderr = p.stderr
	if err := p.cmd.Start(); err != nil {
		p.t.Fatal(err)
	}
}

// kill sends SIGKILL: no drain, no commit, no leave.
func (p *senderProc) kill() {
	if p.cmd != nil && p.cmd.Process != nil {
		_ = p.cmd.Process.Kill()
		_ = p.cmd.Wait()
		p.cmd = nil
	}
}

func (p *senderProc) logs() string {
	if p.stderr == nil {
		return ""
	}
	s := p.stderr.String()
	if len(s) > 4000 {
		s = s[len(s)-4000:]
	}
	return s
}

func itDelivery(subID string, i int) *events.Delivery {
	evID := fmt.Sprintf("evt_it_%06d", i)
	return &events.Delivery{
		ID: events.DeliveryID(evID, subID), SubscriptionID: subID, AccountID: "acct_it", EventID: evID,
		EventName: "claim.created", ObjectID: fmt.Sprintf("clm_%d", i%25), Attempt: 1,
		OccurredAt: time.Now().UTC(), Body: fmt.Appendf(nil, `{"id":%q,"n":%d}`, evID, i),
	}
}

func itProduce(cl *kgo.Client, topic string, ds []*events.Delivery) error {
	recs := make([]*kgo.Record, len(ds))
	for i, d := range ds {
		recs[i] = d.Record(topic)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return cl.ProduceSync(ctx, recs...).FirstErr()
}

// TestSenderProcessKill9LosesNothing kills the sender with SIGKILL several times while
// deliveries flow: every delivery must still arrive, duplicates only with the same
// webhook-id (counted by id at the receiver).
func TestSenderProcessKill9LosesNothing(t *testing.T) {
	rc := &countingReceiver{ok: map[string]int{}, latency: func() time.Duration {
		return time.Duration(5+rand.IntN(20)) * time.Millisecond
	}}
	p, deliveries, _, subs := itSetup(t, rc, 3)
	p.start()

	const batches, perBatch = 40, 50
	want := map[string]bool{}
	prod := testenv.KafkaClient(t)
	produced := make(chan struct{})
	go func() {
		defer close(produced)
		for b := range batches {
			var ds []*events.Delivery
			for i := range perBatch {
				n := b*perBatch + i
				d := itDelivery(subs[n%len(subs)], n)
				want[d.ID] = true
				ds = append(ds, d)
			}
			if err := itProduce(prod, deliveries, ds); err != nil {
				t.Errorf("produce: %v", err)
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	}()
	for range 4 {
		time.Sleep(time.Duration(1000+rand.IntN(1000)) * time.Millisecond)
		p.kill()
		p.start()
	}
	<-produced
	deadline := time.Now().Add(150 * time.Second)
	for {
		u, total := rc.counts()
		if u == len(want) {
			t.Logf("%d deliveries, %d received in all: %d duplicates (same webhook-id) over 4 SIGKILLs", u, total, total-u)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d deliveries arrived within the deadline\n%s", u, len(want), p.logs())
		}
		time.Sleep(200 * time.Millisecond)
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	for id := range rc.ok {
		if !want[id] {
			t.Fatalf("receiver saw unknown webhook-id %s", id)
		}
	}
}

// TestSenderProcessEndpointOutageRecovers: the endpoint answers 503 for a while, then
// recovers; everything arrives through the retry tiers and nothing reaches the DLQ.
func TestSenderProcessEndpointOutageRecovers(t *testing.T) {
	rc := &countingReceiver{ok: map[string]int{}}
	rc.fail.Store(true)
	p, deliveries, dlq, subs := itSetup(t, rc, 2,
		"EVENTROUTER_DELIVERY_BREAKER_THRESHOLD=5", "EVENTROUTER_DELIVERY_BREAKER_COOLDOWN=2s")
	p.start()
	var ds []*events.Delivery
	for i := range 200 {
		ds = append(ds, itDelivery(subs[i%len(subs)], i))
	}
	if err := itProduce(testenv.KafkaClient(t), deliveries, ds); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for rc.failures.Load() < 20 {
		if time.Now().After(deadline) {
			t.Fatalf("the sender made only %d attempts against the failing endpoint\n%s", rc.failures.Load(), p.logs())
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The outage started a failing-since record per subscription in Redis.
	rdb := testenv.Redis(t)
	failing := NewAttemptLog(rdb, AttemptLogOptions{Prefix: p.envValue("EVENTROUTER_REDIS_KEY_PREFIX")})
	failingKeys := func() (n int64) {
		for _, id := range subs {
			n += rdb.Exists(context.Background(), failing.failKey(id)).Val()
		}
		return n
	}
	if n := failingKeys(); n != int64(len(subs)) {
		t.Fatalf("%d failing-since records in Redis during the outage, want %d", n, len(subs))
	}
	time.Sleep(3 * time.Second) // the outage lasts a few retry tiers
	rc.fail.Store(false)
	deadline = time.Now().Add(120 * time.Second)
	for {
		u, _ := rc.counts()
		if u == len(ds) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d deliveries arrived after the outage\n%s", u, len(ds), p.logs())
		}
		time.Sleep(200 * time.Millisecond)
	}
	adm := testenv.KafkaAdmin(t)
	ends, err := adm.ListEndOffsets(testenv.Context(t, 10*time.Second), dlq)
	if err != nil {
		t.Fatal(err)
	}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset != 0 {
			t.Errorf("DLQ partition %d has %d records; want none", o.Partition, o.Offset)
		}
	})
	// The successes cleared the records (off the delivery path, with the attempt log's
	// writes), so a later failure starts a new run rather than the outage's.
	testenv.Eventually(t, 10*time.Second, "failing-since records cleared after the recovery", func() bool { return failingKeys() == 0 })
	t.Logf("%d deliveries after %d failed attempts during the outage", len(ds), rc.failures.Load())
}
