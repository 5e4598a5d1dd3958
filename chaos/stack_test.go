//go:build chaos

package chaos

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"

	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/claimable/eventrouter/app"
	"github.com/claimable/eventrouter/bench"
	"github.com/claimable/eventrouter/config"
	"github.com/claimable/eventrouter/internal/receiver"
	"github.com/claimable/eventrouter/internal/testenv"
	"github.com/claimable/eventrouter/subscriptions"
	"github.com/claimable/eventrouter/topics"
)

// options shape one scenario's deployment.
type options struct {
	accounts int // accounts with subscriptions (default 10)
	fanout   int // subscriptions per account, each matching every event (default 2)
	// partitions of every topic (default 6).
	partitions int
	// retry is the sender's retry schedule (default 1s,2s,4s).
	retry []time.Duration
	// ingestConfigs are extra topic configs of the ingest topic (max.message.bytes).
	ingestConfigs map[string]string
	// env is appended to every role's environment (EVENTROUTER_*=…).
	env []string
	// seeds are the brokers (default: the shared test broker, testenv.Kafka).
	seeds []string
	// replication is every topic's replication factor (default 1).
	replication int
}

func (o *options) defaults() {
	if o.accounts <= 0 {
		o.accounts = 10
	}
	if o.fanout <= 0 {
		o.fanout = 2
	}
	if o.partitions <= 0 {
		o.partitions = 6
	}
	if len(o.retry) == 0 {
		o.retry = []time.Duration{time.Second, 2 * time.Second, 4 * time.Second}
	}
}

// sub is one subscription the scenario created; its receiver path is /hook/<n>.
type sub struct {
	ID      string
	Account string
	Path    string
}

// stack is one scenario's deployment: its own topics, Redis prefix, subscriptions,
// receiver and role processes. Everything is removed when the test ends.
type stack struct {
	t      *testing.T
	id     string
	cfg    config.Config
	seeds  []string
	env    []string
	adm    *kadm.Client
	prod   *kgo.Client
	rdb    *redis.Client
	store  *subscriptions.RedisStore
	svc    *subscriptions.Service
	recv   *receiver.Receiver
	port   int
	ledger *ledger
	logw   io.Writer
	logDir string
	subs   []sub
	byAcct map[string][]sub
	accts  []string
	procs  []*bench.Role

	bmu     sync.Mutex
	status  map[string]int           // path → forced HTTP status
	delay   map[string]time.Duration // path → delay before answering
	firstAt map[string]time.Time     // path → when a forced status was first answered
}

// newStack creates topics, subscriptions and the receiver; roles are started by
// startRoles.
func newStack(t *testing.T, o options) *stack {
	t.Helper()
	o.defaults()
	seeds := o.seeds
	if len(seeds) == 0 {
		seeds = testenv.Kafka(t)
	}
	testenv.Redis(t)
	s := &stack{t: t, id: randomID(), seeds: seeds, ledger: newLedger(), status: map[string]int{}, delay: map[string]time.Duration{}, firstAt: map[string]time.Time{}, byAcct: map[string][]sub{}}
	s.configure(o)
	s.openLog()

	kcl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.MetadataMinAge(200*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	s.adm = kadm.NewClient(kcl)
	// The producer keeps franz-go's defaults that matter here: no delivery timeout and
	// unlimited retries, so records produced while the broker is down are buffered and
	// written when it is back. Batches up to 8 MiB for the poison scenario.
	s.prod, err = kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.ProducerLinger(5*time.Millisecond),
		kgo.ProducerBatchMaxBytes(8<<20), kgo.MaxBufferedBytes(256<<20))
	if err != nil {
		t.Fatal(err)
	}
	s.rdb = redis.NewClient(&redis.Options{Addr: testenv.RedisAddr(), DialTimeout: time.Second, MaxRetries: 1})

	specs := app.TopicSpecs(s.cfg, true)
	for i := range specs {
		if specs[i].Role == topics.RoleIngest {
			for k, v := range o.ingestConfigs {
				specs[i].Configs[k] = v
			}
		}
	}
	t.Cleanup(func() { s.cleanup(specs) })
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := topics.Create(ctx, s.adm, specs); err != nil {
		t.Fatalf("create topics: %v", err)
	}
	s.startReceiver()
	s.seed(ctx, o)
	return s
}

func randomID() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// configure names everything after the run id and builds the roles' environment.
func (s *stack) configure(o options) {
	cfg := config.Default()
	p := "chaos-" + s.id + "."
	cfg.Kafka.Brokers = s.seeds
	cfg.Redis.Addr = testenv.RedisAddr()
	cfg.Redis.KeyPrefix = "chaos:" + s.id + ":"
	cfg.Topics.Ingest = []string{p + "claims.events"}
	cfg.Topics.IngestObjects = nil // the one ingest topic carries every object
	cfg.Topics.Deliveries = p + "webhooks.deliveries"
	cfg.Topics.Invalid = p + "webhooks.invalid"
	cfg.Topics.DLQ = p + "webhooks.dlq"
	cfg.Topics.Operational = p + "webhooks.operational"
	cfg.Topics.RetryPrefix = p + "webhooks.retry."
	cfg.Topics.Partitions = o.partitions
	cfg.Topics.ReplicationFactor = max(o.replication, 1)
	cfg.Topics.Retention = time.Hour
	cfg.Topics.DLQRetention = time.Hour
	cfg.Router.Group = p + "router"
	cfg.Router.OperationalGroup = p + "operational"
	cfg.Router.TransactionalIDPrefix = p + "router"
	cfg.Delivery.Group = p + "sender"
	cfg.Delivery.RetrySchedule = o.retry
	cfg.Subscriptions.MaxPerAccount = 0
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	cfg.Subscriptions.EncryptionKey = base64.StdEncoding.EncodeToString(key)
	cfg.Egress.AllowHTTP = true
	cfg.Egress.AllowCIDRs = []string{"127.0.0.0/8"}
	s.cfg = cfg
	var sched []string
	for _, d := range o.retry {
		sched = append(sched, d.String())
	}
	s.env = append([]string{
		"EVENTROUTER_KAFKA_BROKERS=" + strings.Join(cfg.Kafka.Brokers, ","),
		"EVENTROUTER_REDIS_ADDR=" + cfg.Redis.Addr,
		"EVENTROUTER_REDIS_KEY_PREFIX=" + cfg.Redis.KeyPrefix,
		"EVENTROUTER_TOPICS_INGEST=" + strings.Join(cfg.Topics.Ingest, ","),
		"EVENTROUTER_TOPICS_INGEST_OBJECTS=" + strings.Join(cfg.Topics.IngestObjects, ","),
		"EVENTROUTER_TOPICS_DELIVERIES=" + cfg.Topics.Deliveries,
		"EVENTROUTER_TOPICS_INVALID=" + cfg.Topics.Invalid,
		"EVENTROUTER_TOPICS_DLQ=" + cfg.Topics.DLQ,
		"EVENTROUTER_TOPICS_OPERATIONAL=" + cfg.Topics.Operational,
		"EVENTROUTER_ROUTER_OPERATIONAL_GROUP=" + cfg.Router.OperationalGroup,
		"EVENTROUTER_TOPICS_RETRY_PREFIX=" + cfg.Topics.RetryPrefix,
		"EVENTROUTER_TOPICS_PARTITIONS=" + strconv.Itoa(cfg.Topics.Partitions),
		"EVENTROUTER_TOPICS_REPLICATION_FACTOR=" + strconv.Itoa(cfg.Topics.ReplicationFactor),
		"EVENTROUTER_ROUTER_GROUP=" + cfg.Router.Group,
		"EVENTROUTER_ROUTER_TRANSACTIONAL_ID_PREFIX=" + cfg.Router.TransactionalIDPrefix,
		"EVENTROUTER_DELIVERY_GROUP=" + cfg.Delivery.Group,
		"EVENTROUTER_DELIVERY_RETRY_SCHEDULE=" + strings.Join(sched, ","),
		"EVENTROUTER_SUBSCRIPTIONS_MAX_PER_ACCOUNT=0",
		"EVENTROUTER_SUBSCRIPTIONS_ENCRYPTION_KEY=" + cfg.Subscriptions.EncryptionKey,
		"EVENTROUTER_EGRESS_ALLOW_HTTP=true",
		"EVENTROUTER_EGRESS_ALLOW_CIDRS=127.0.0.0/8",
		"EVENTROUTER_LOG_LEVEL=warn",
		"EVENTROUTER_LOG_FORMAT=console",
	}, o.env...)
}

// openLog sends every role's output to <CHAOS_LOGS or a temp dir>/<test>-<id>.log.
func (s *stack) openLog() {
	dir := os.Getenv("CHAOS_LOGS")
	if dir == "" {
		dir = s.t.TempDir()
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		s.t.Fatal(err)
	}
	name := strings.NewReplacer("/", "_", " ", "_").Replace(s.t.Name()) + "-" + s.id + ".log"
	f, err := os.Create(filepath.Join(dir, name))
	if err != nil {
		s.t.Fatal(err)
	}
	s.logDir = f.Name()
	s.logw = &lockedWriter{w: f}
	s.t.Cleanup(func() { _ = f.Close() })
}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// startReceiver serves the verifying receiver on a loopback port; answers follow the
// per-path statuses set with setStatus.
func (s *stack) startReceiver() {
	s.recv = receiver.New(s.ledger.observe)
	s.recv.SetBehaviour(func(path string) (time.Duration, int) {
		s.bmu.Lock()
		defer s.bmu.Unlock()
		st := s.status[path]
		if _, seen := s.firstAt[path]; st != 0 && !seen {
			s.firstAt[path] = time.Now()
		}
		return s.delay[path], st
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		s.t.Fatal(err)
	}
	s.port = ln.Addr().(*net.TCPAddr).Port
	srv := &http.Server{Handler: s.recv, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	s.t.Cleanup(func() { _ = srv.Close() })
	s.env = append(s.env, "EVENTROUTER_EGRESS_ALLOW_PORTS="+strconv.Itoa(s.port))
}

// setStatus makes the receiver answer status on path (0: 200).
func (s *stack) setStatus(path string, status int) { s.setBehaviour(path, status, 0) }

// setBehaviour makes the receiver answer status on path (0: 200) after delay.
func (s *stack) setBehaviour(path string, status int, delay time.Duration) {
	s.bmu.Lock()
	s.status[path] = status
	s.delay[path] = delay
	s.bmu.Unlock()
}

// firstForced returns when path first answered a forced status (zero if never).
func (s *stack) firstForced(path string) time.Time {
	s.bmu.Lock()
	defer s.bmu.Unlock()
	return s.firstAt[path]
}

// seed creates o.fanout subscriptions to every event for each of o.accounts accounts.
func (s *stack) seed(ctx context.Context, o options) {
	keys, err := app.EncryptionKeys(s.cfg.Subscriptions)
	if err != nil {
		s.t.Fatal(err)
	}
	s.store, err = subscriptions.NewRedisStore(s.rdb, subscriptions.RedisOptions{Prefix: s.cfg.Redis.KeyPrefix, EncryptionKeys: keys})
	if err != nil {
		s.t.Fatal(err)
	}
	policy := app.Policy(s.cfg)
	policy.Egress.AllowPorts = []int{s.port}
	s.svc = subscriptions.NewService(s.store, policy, nil)
	for a := range o.accounts {
		acct := fmt.Sprintf("acct_chaos_%s_%03d", s.id, a)
		s.accts = append(s.accts, acct)
		for range o.fanout {
			path := "/hook/" + strconv.Itoa(len(s.subs))
			created, err := s.svc.Create(ctx, subscriptions.Input{
				AccountID: acct, URL: fmt.Sprintf("http://127.0.0.1:%d%s", s.port, path),
				Events: []string{"*"}, Description: "chaos " + s.id,
			})
			if err != nil {
				s.t.Fatalf("seed subscription: %v", err)
			}
			if err := s.recv.SetSecret(path, created.Secrets[0].Value); err != nil {
				s.t.Fatal(err)
			}
			sb := sub{ID: created.ID, Account: acct, Path: path}
			s.subs = append(s.subs, sb)
			s.byAcct[acct] = append(s.byAcct[acct], sb)
		}
	}
}

// role prepares (does not start) a role process; extra is appended to its environment.
func (s *stack) role(name string, extra ...string) *bench.Role {
	// bench's role runner: the environment is the test's without EVENTROUTER_*
	// variables, then env; the ops port (part of a derived instance id) survives restarts.
	p := bench.NewRole(name, binary, append(append([]string(nil), s.env...), extra...), s.logw)
	p.KeepPort = true
	s.procs = append(s.procs, p)
	return p
}

// startRoles starts router and sender, each a static group member (kafka.instance_id,
// the recommended deployment: a restarted process takes its partitions back at once and
// fences its predecessor's transaction).
func (s *stack) startRoles() (router, sender *bench.Role) {
	router = s.role("router", "EVENTROUTER_KAFKA_INSTANCE_ID=router-"+s.id)
	sender = s.role("sender", "EVENTROUTER_KAFKA_INSTANCE_ID=sender-"+s.id)
	for _, p := range []*bench.Role{router, sender} {
		s.mustStart(p)
	}
	return router, sender
}

func (s *stack) mustStart(p *bench.Role) {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := p.Start(ctx); err != nil {
		s.t.Fatalf("%v\n%s", err, s.logTail(4000))
	}
}

// checkRoles fails the test for every role exit the suite did not cause.
func (s *stack) checkRoles() {
	for _, p := range s.procs {
		for _, e := range p.UnexpectedExits() {
			s.t.Errorf("FINDING: role %s exited on its own: %s (log: %s)", p.Name, e, s.logDir)
		}
	}
}

func (s *stack) cleanup(specs []topics.Spec) {
	for _, p := range s.procs {
		if err := p.Stop(45 * time.Second); err != nil {
			s.t.Errorf("FINDING: %v", err)
		}
	}
	if s.t.Failed() {
		s.t.Logf("role log %s, last lines:\n%s", s.logDir, s.logTail(6000))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var names []string
	for _, sp := range specs {
		names = append(names, sp.Name)
	}
	if _, err := s.adm.DeleteTopics(ctx, names...); err != nil {
		s.t.Logf("delete topics: %v", err)
	}
	_, _ = s.adm.DeleteGroups(ctx, s.cfg.Router.Group, s.cfg.Delivery.Group, s.cfg.Router.OperationalGroup)
	iter := s.rdb.Scan(ctx, 0, s.cfg.Redis.KeyPrefix+"*", 1000).Iterator()
	var keys []string
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	if len(keys) > 0 {
		_ = s.rdb.Unlink(ctx, keys...).Err()
	}
	s.prod.Close()
	s.adm.Close()
	_ = s.rdb.Close()
}

// logTail returns the last n bytes of the role log.
func (s *stack) logTail(n int) string {
	b, err := os.ReadFile(s.logDir)
	if err != nil {
		return err.Error()
	}
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

// drain waits until every expected delivery (except skipped ones) arrived, polling, for
// at most d. It fails the test naming a sample of what is missing.
func (s *stack) drain(d time.Duration, skip func(string, *want) bool) {
	s.t.Helper()
	deadline := time.Now().Add(d)
	for s.ledger.pending(skip) > 0 {
		if time.Now().After(deadline) {
			s.t.Errorf("LOST: %d of %d expected deliveries missing after %s drain; first: %v",
				s.ledger.pending(skip), s.ledger.tally(skip).Expected, d, s.ledger.missing(10, skip))
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// report logs the scenario's figures and appends them to $CHAOS_RESULTS.
func (s *stack) report(scenario string, prod produced, tl tally, extra map[string]any) {
	s.t.Helper()
	r := map[string]any{
		"scenario": scenario, "short": short, "run_id": s.id, "events_produced": prod.Acked,
		"produce_failed": prod.Failed, "rate_per_s": prod.Rate, "load_seconds": prod.Elapsed.Seconds(),
		"subscriptions": len(s.subs), "counts": tl, "at": time.Now().UTC().Format(time.RFC3339),
	}
	for k, v := range extra {
		r[k] = v
	}
	b, _ := json.Marshal(r)
	s.t.Logf("CHAOS RESULT %s", b)
	if path := os.Getenv("CHAOS_RESULTS"); path != "" {
		f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err == nil {
			_, _ = f.Write(append(b, '\n'))
			_ = f.Close()
		}
	}
	if tl.BadSig > 0 {
		s.t.Errorf("%d requests failed signature verification", tl.BadSig)
	}
}
