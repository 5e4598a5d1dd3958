//go:build rediscluster

package app_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/claimable/eventrouter/app"
	"github.com/claimable/eventrouter/config"
	"github.com/claimable/eventrouter/internal/testenv"
	"github.com/claimable/eventrouter/subscriptions"
	"github.com/claimable/eventrouter/subscriptions/storetest"
)

// Ports of the Sentinel test's own servers, next to the cluster's 17000-17005.
const (
	sentinelMasterPort  = 17010
	sentinelReplicaPort = 17011
	sentinelPort        = 17012
)

// startRedis runs redis-server with args as a child of the test, in dir; it is killed
// (SIGKILL) when the test ends unless kill was called first.
func startRedis(t *testing.T, dir string, port int, args ...string) (kill func()) {
	t.Helper()
	cmd := exec.Command("redis-server", args...)
	cmd.Dir = dir
	if err := cmd.Start(); err != nil {
		t.Fatalf("redis-server: %v (installed by scripts/ci-deps.sh)", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	kill = func() { _ = cmd.Process.Kill(); <-done }
	t.Cleanup(kill)
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + strconv.Itoa(port)})
	defer func() { _ = c.Close() }()
	testenv.Eventually(t, 10*time.Second, "redis-server on port "+strconv.Itoa(port)+" answers", func() bool {
		return c.Ping(context.Background()).Err() == nil
	})
	return kill
}

// TestSentinelFailoverRedisCluster runs the application's client in sentinel mode
// against a real master, replica and sentinel (redis-server --sentinel), then kills -9
// the master: the sentinel promotes the replica, the same client follows it, writes
// resume, replicated subscriptions are all there and the index converges.
func TestSentinelFailoverRedisCluster(t *testing.T) {
	dir := t.TempDir()
	for _, sub := range []string{"master", "replica", "sentinel"} {
		if err := os.Mkdir(filepath.Join(dir, sub), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	common := []string{"--bind", "127.0.0.1", "--save", "", "--appendonly", "no"}
	killMaster := startRedis(t, filepath.Join(dir, "master"), sentinelMasterPort, append([]string{"--port", strconv.Itoa(sentinelMasterPort)}, common...)...)
	startRedis(t, filepath.Join(dir, "replica"), sentinelReplicaPort, append([]string{"--port", strconv.Itoa(sentinelReplicaPort), "--replicaof", "127.0.0.1", strconv.Itoa(sentinelMasterPort)}, common...)...)
	conf := filepath.Join(dir, "sentinel", "sentinel.conf")
	err := os.WriteFile(conf, []byte("bind 127.0.0.1\nport "+strconv.Itoa(sentinelPort)+"\n"+
		"sentinel monitor er-master 127.0.0.1 "+strconv.Itoa(sentinelMasterPort)+" 1\n"+
		"sentinel down-after-milliseconds er-master 1000\nsentinel failover-timeout er-master 10000\n"), 0o644)
	if err != nil {
		t.Fatal(err)
	}
	startRedis(t, filepath.Join(dir, "sentinel"), sentinelPort, conf, "--sentinel")
	sentinel := redis.NewSentinelClient(&redis.Options{Addr: "127.0.0.1:" + strconv.Itoa(sentinelPort)})
	t.Cleanup(func() { _ = sentinel.Close() })
	ctx := testenv.Context(t, 2*time.Minute)
	testenv.Eventually(t, 30*time.Second, "the sentinel knows the replica", func() bool {
		r, err := sentinel.Replicas(ctx, "er-master").Result()
		return err == nil && len(r) == 1
	})

	replica := redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + strconv.Itoa(sentinelReplicaPort)})
	t.Cleanup(func() { _ = replica.Close() })
	testenv.Eventually(t, 30*time.Second, "the replica in sync with the master", func() bool {
		info, err := replica.Info(ctx, "replication").Result()
		return err == nil && strings.Contains(info, "master_link_status:up")
	})

	cfg := config.Redis{Mode: config.RedisSentinel, Addrs: []string{"127.0.0.1:" + strconv.Itoa(sentinelPort)}, MasterName: "er-master", KeyPrefix: "er:", WaitReplicas: 1, WaitTimeout: time.Second}
	rdb, err := app.NewRedis(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rdb.Close() })
	opts := app.StoreOptions(config.Config{Redis: cfg}, nil, zap.NewNop())
	opts.WatchBlock = 200 * time.Millisecond
	store, err := subscriptions.NewRedisStore(rdb, opts) // writes confirmed by the replica
	if err != nil {
		t.Fatal(err)
	}
	ix := subscriptions.NewIndex(store, subscriptions.IndexOptions{ResyncInterval: 500 * time.Millisecond, MaxBackoff: 500 * time.Millisecond}, zap.NewNop(), prometheus.NewRegistry())
	ixCtx, stopIndex := context.WithCancel(ctx)
	ixDone := make(chan error, 1)
	go func() { ixDone <- ix.Run(ixCtx) }()
	t.Cleanup(func() { stopIndex(); <-ixDone })
	var ids []string
	for range 20 {
		sub := storetest.NewSub("acct_s")
		if err := store.Create(ctx, sub, 0); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, sub.ID)
	}

	killMaster()
	testenv.Eventually(t, 60*time.Second, "the sentinel promoted the replica", func() bool {
		addr, err := sentinel.GetMasterAddrByName(ctx, "er-master").Result()
		return err == nil && len(addr) == 2 && addr[1] == strconv.Itoa(sentinelReplicaPort)
	})
	// After the failover the new master has no replica: write without waiting for one.
	opts.WaitReplicas = 0
	after, err := subscriptions.NewRedisStore(rdb, opts)
	if err != nil {
		t.Fatal(err)
	}
	late := storetest.NewSub("acct_s")
	testenv.Eventually(t, 30*time.Second, "writes resume through the same client", func() bool {
		wctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		return after.Create(wctx, late, 0) == nil
	})
	ids = append(ids, late.ID)
	for _, id := range ids {
		if _, err := after.Get(ctx, id); err != nil {
			t.Fatalf("subscription %s after the failover: %v", id, err)
		}
	}
	testenv.Eventually(t, 30*time.Second, "index holds every subscription after the failover", func() bool {
		if ix.Stale() || ix.Len() != len(ids) {
			return false
		}
		for _, id := range ids {
			if _, ok := ix.Get(id); !ok {
				return false
			}
		}
		return true
	})
}
