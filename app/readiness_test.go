package app

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"

	"github.com/claimable/eventrouter/config"
	"github.com/claimable/eventrouter/internal/testenv"
)

// readinessEnv is what a readiness scenario runs against: Kafka seeds (kfake or the
// real broker), a Redis client and a configuration whose topics exist.
type readinessEnv struct {
	cfg   config.Config
	rdb   redis.UniversalClient
	seeds []string
}

// kfakeReadinessEnv is a one-broker kfake cluster with every topic of cfg, and miniredis.
func kfakeReadinessEnv(t *testing.T) (*readinessEnv, *kfake.Cluster) {
	t.Helper()
	cfg := config.Default()
	cfg.Delivery.RetrySchedule = []time.Duration{time.Second}
	cluster, rdb := fakeInfra(t, cfg)
	cfg.Kafka.Brokers = cluster.ListenAddrs()
	return &readinessEnv{cfg: cfg, rdb: rdb, seeds: cluster.ListenAddrs()}, cluster
}

// fakeInfra starts a one-broker kfake cluster holding every topic of cfg (2 partitions
// each) and a miniredis, both stopped when the test ends.
func fakeInfra(t *testing.T, cfg config.Config) (*kfake.Cluster, *redis.Client) {
	t.Helper()
	specs := TopicSpecs(cfg, true)
	names := make([]string, len(specs))
	for i, s := range specs {
		names[i] = s.Name
	}
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, names...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cluster.Close)
	mini := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: mini.Addr()})
	t.Cleanup(func() { _ = rdb.Close() })
	return cluster, rdb
}

// runRoles builds and runs roles with cfg until the test ends; it returns the ops
// handler.
func (e *readinessEnv) runRoles(t *testing.T, cfg config.Config, roles Roles) http.Handler {
	t.Helper()
	h, _ := e.startRoles(t, cfg, roles)
	return h
}

// startRoles is runRoles that also returns a graceful stop (SIGTERM's path), which
// the test's end calls if the test did not.
func (e *readinessEnv) startRoles(t *testing.T, cfg config.Config, roles Roles) (http.Handler, func()) {
	t.Helper()
	ops := NewOps("127.0.0.1:0", zap.NewNop())
	sys, err := Build(cfg, roles, Infra{Redis: e.rdb}, zap.NewNop(), ops)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Supervise(ctx, 30*time.Second, zap.NewNop(), sys.Runners...) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("roles: %v", err)
			}
			sys.Close()
		})
	}
	t.Cleanup(stop)
	return ops.Handler(), stop
}

// crashedStaticMember joins group as a static member consuming topic, waits for its
// assignment, and closes without leaving (what a kill -9 leaves behind): the group
// keeps its partitions until its session timeout (6 s) expires.
func crashedStaticMember(t *testing.T, seeds []string, group, topic string) time.Time {
	t.Helper()
	assigned := make(chan struct{}, 1)
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic),
		kgo.InstanceID("crashed-"+group), kgo.SessionTimeout(6*time.Second), kgo.RebalanceTimeout(30*time.Second),
		kgo.OnPartitionsAssigned(func(context.Context, *kgo.Client, map[string][]int32) {
			select {
			case assigned <- struct{}{}:
			default:
			}
		}))
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.After(30 * time.Second)
	for len(assigned) == 0 {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		cl.PollFetches(ctx)
		cancel()
		select {
		case <-deadline:
			t.Fatal("the static member got no assignment within 30s")
		default:
		}
	}
	cl.Close() // a static member does not leave on close
	return time.Now()
}

// assertReadyOnlyWhenAssigned starts roles (one role's group is group, whose crashed
// static member still holds the partitions) and polls check's /readyz: it must answer
// 503 while the group waits for the crashed member, and its first 200 must come when
// the new member owns partitions and the crashed one is gone.
func assertReadyOnlyWhenAssigned(t *testing.T, h http.Handler, adm *kadm.Client, group, check string) {
	t.Helper()
	saw503 := false
	testenv.Eventually(t, 90*time.Second, "/readyz to answer 200", func() bool {
		code, body := get(t, h, "/readyz")
		if code == http.StatusOK {
			return true
		}
		if code != http.StatusServiceUnavailable {
			t.Fatalf("/readyz = %d %s", code, body)
		}
		if strings.Contains(body, `"`+check+`":"`) && !strings.Contains(body, `"`+check+`":"ok"`) {
			saw503 = true
		}
		return false
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	described, err := adm.DescribeGroups(ctx, group)
	if err != nil {
		t.Fatal(err)
	}
	g := described[group]
	var members []string
	owned := 0
	for _, m := range g.Members {
		id := "dynamic"
		if m.InstanceID != nil {
			id = *m.InstanceID
		}
		n := assignedCount(m)
		members = append(members, fmt.Sprintf("%s:%d", id, n))
		if !strings.HasPrefix(id, "crashed-") {
			owned += n
		}
	}
	if g.State != "Stable" || len(g.Members) != 1 || owned == 0 {
		t.Fatalf("/readyz answered 200 while group %s is %s with members %v: the new member owns no partitions yet", group, g.State, members)
	}
	if !saw503 {
		t.Fatalf("/readyz never reported %s as failing while the crashed member held the partitions", check)
	}
}

// TestSenderNotReadyUntilAssignedAfterCrash: a sender restarted after a kill -9 (here
// under a new instance id, as a Deployment's new pod would be) joins a group that still
// waits for the dead member; /readyz must say 503 until it owns partitions.
func TestSenderNotReadyUntilAssignedAfterCrash(t *testing.T) {
	e, _ := kfakeReadinessEnv(t)
	e.senderAfterCrash(t)
}

func (e *readinessEnv) senderAfterCrash(t *testing.T) {
	crashedStaticMember(t, e.seeds, e.cfg.Delivery.Group, e.cfg.Topics.Deliveries)
	cfg := e.cfg
	cfg.Kafka.InstanceID = "restarted-sender"
	h := e.runRoles(t, cfg, Roles{Sender: true})
	assertReadyOnlyWhenAssigned(t, h, e.admin(t), cfg.Delivery.Group, "sender_group")
}

// TestRouterNotReadyUntilAssignedAfterCrash is the same for the router's group.
func TestRouterNotReadyUntilAssignedAfterCrash(t *testing.T) {
	e, _ := kfakeReadinessEnv(t)
	e.routerAfterCrash(t)
}

func (e *readinessEnv) routerAfterCrash(t *testing.T) {
	crashedStaticMember(t, e.seeds, e.cfg.Router.Group, e.cfg.Topics.Ingest[0])
	cfg := e.cfg
	cfg.Kafka.InstanceID = "restarted-router"
	h := e.runRoles(t, cfg, Roles{Router: true})
	assertReadyOnlyWhenAssigned(t, h, e.admin(t), cfg.Router.Group, "router_group")
}

func (e *readinessEnv) admin(t *testing.T) *kadm.Client {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.seeds...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return kadm.NewClient(cl)
}

// TestNotReadyWhileTheBrokerIsDown: a sender and a router that were ready answer 503
// once the broker is gone, even though their poll loops keep running.
func TestNotReadyWhileTheBrokerIsDown(t *testing.T) {
	e, cluster := kfakeReadinessEnv(t)
	h := e.runRoles(t, e.cfg, Roles{Router: true, Sender: true})
	waitReadyz(t, h, http.StatusOK, 60*time.Second)
	cluster.Close()
	body := waitReadyz(t, h, http.StatusServiceUnavailable, 30*time.Second)
	for _, check := range []string{"router_group", "sender_group"} {
		if strings.Contains(body, `"`+check+`":"ok"`) {
			t.Errorf("%s still ok with the broker down: %s", check, body)
		}
	}
}

// waitReadyz polls /readyz until it answers want, and returns that body.
func waitReadyz(t *testing.T, h http.Handler, want int, limit time.Duration) string {
	t.Helper()
	var code int
	var body string
	defer func() {
		if t.Failed() {
			t.Logf("last /readyz: %d %s", code, body)
		}
	}()
	testenv.Eventually(t, limit, fmt.Sprintf("/readyz to answer %d", want), func() bool {
		code, body = get(t, h, "/readyz")
		return code == want
	})
	return body
}

// assignedCount is how many partitions a group member is assigned.
func assignedCount(m kadm.DescribedGroupMember) int {
	n := 0
	if c, ok := m.Assigned.AsConsumer(); ok {
		for _, tp := range c.Topics {
			n += len(tp.Partitions)
		}
	}
	return n
}
