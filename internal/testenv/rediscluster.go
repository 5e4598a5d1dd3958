package testenv

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// EnvRedisCluster names the Redis Cluster the cluster tests use (comma-separated seed
// addresses); DefaultRedisCluster is what scripts/redis-cluster.sh starts.
const (
	EnvRedisCluster     = "EVENTROUTER_TEST_REDIS_CLUSTER"
	DefaultRedisCluster = "127.0.0.1:17000,127.0.0.1:17001,127.0.0.1:17002,127.0.0.1:17003,127.0.0.1:17004,127.0.0.1:17005"
)

// RedisClusterAddrs returns the cluster's seed addresses. It does not contact them.
func RedisClusterAddrs() []string {
	return strings.Split(envOr(EnvRedisCluster, DefaultRedisCluster), ",")
}

// RedisCluster returns a cluster client after checking that every slot is served
// (CLUSTER INFO says ok). Otherwise it fails the test (never skips) and says to run
// make redis-cluster-up. The client is closed when the test ends.
func RedisCluster(t testing.TB) *redis.ClusterClient {
	t.Helper()
	c := newRedisCluster()
	err := probe("redis cluster", func(ctx context.Context) error {
		ctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		info, err := c.ClusterInfo(ctx).Result()
		if err != nil {
			return err
		}
		if !strings.Contains(info, "cluster_state:ok") {
			return fmt.Errorf("cluster state is not ok")
		}
		return nil
	})
	if err != nil {
		_ = c.Close()
		t.Fatalf("testenv: Redis Cluster at %s (%s): %v; start it with make redis-cluster-up",
			strings.Join(RedisClusterAddrs(), ","), EnvRedisCluster, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func newRedisCluster() *redis.ClusterClient {
	return redis.NewClusterClient(&redis.ClusterOptions{Addrs: RedisClusterAddrs(), DialTimeout: time.Second})
}

// RedisClusterPrefix is RedisPrefix for the cluster: a key prefix unique to this test,
// whose keys are deleted from every master when the test ends.
func RedisClusterPrefix(t testing.TB) string {
	t.Helper()
	prefix := Name(t, "test") + ":"
	t.Cleanup(func() {
		c := newRedisCluster()
		defer func() { _ = c.Close() }()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		err := c.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error {
			iter := m.Scan(ctx, 0, prefix+"*", 1000).Iterator()
			for iter.Next(ctx) {
				// One key per call: keys of different slots cannot be deleted together.
				if err := m.Unlink(ctx, iter.Val()).Err(); err != nil {
					return err
				}
			}
			return iter.Err()
		})
		if err != nil {
			t.Logf("testenv: delete cluster keys %s*: %v", prefix, err)
		}
	})
	return prefix
}

// RedisClusterScript runs scripts/redis-cluster.sh with args (e.g. "kill", "17000") and
// fails the test if it fails. The script finds the cluster's files through
// EVENTROUTER_RUN_DIR, like make redis-cluster-up.
func RedisClusterScript(t testing.TB, args ...string) {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	script := filepath.Join(filepath.Dir(file), "..", "..", "scripts", "redis-cluster.sh")
	out, err := exec.Command(script, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("testenv: scripts/redis-cluster.sh %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	t.Logf("scripts/redis-cluster.sh %s: %s", strings.Join(args, " "), strings.TrimSpace(string(out)))
}
