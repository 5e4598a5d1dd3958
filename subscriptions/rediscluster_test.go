//go:build rediscluster

package subscriptions_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/claimable/eventrouter/internal/testenv"
	"github.com/claimable/eventrouter/subscriptions"
	"github.com/claimable/eventrouter/subscriptions/storetest"
)

// The cluster tests run against the 3-master, 3-replica Redis Cluster that
// scripts/redis-cluster.sh starts (make redis-cluster-up); make redis-cluster-test runs
// them. The failover test is in app (it uses the application's cluster client).

func clusterStore(t *testing.T, c redis.UniversalClient, prefix string, key []byte, waitReplicas int) *subscriptions.RedisStore {
	t.Helper()
	opts := subscriptions.RedisOptions{
		Prefix: prefix, WatchBlock: 200 * time.Millisecond,
		WaitReplicas: waitReplicas, WaitTimeout: time.Second,
	}
	if key != nil {
		opts.EncryptionKeys = [][]byte{key}
	}
	s, err := subscriptions.NewRedisStore(c, opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestRedisStoreConformanceRedisCluster(t *testing.T) {
	c := testenv.RedisCluster(t)
	storetest.Run(t, func(t *testing.T) subscriptions.Store {
		return clusterStore(t, c, testenv.RedisClusterPrefix(t), bytes.Repeat([]byte{9}, 32), 0)
	})
}

// Every master has one replica: with WaitReplicas 1 each write is confirmed by it (WAIT
// is sent on the connection of the master holding the store's slot).
func TestRedisStoreConformanceWaitReplicaRedisCluster(t *testing.T) {
	c := testenv.RedisCluster(t)
	storetest.Run(t, func(t *testing.T) subscriptions.Store {
		return clusterStore(t, c, testenv.RedisClusterPrefix(t), nil, 1)
	})
}

func TestIndexFollowsRedisCluster(t *testing.T) {
	c := testenv.RedisCluster(t)
	testIndexFollowsStore(t, clusterStore(t, c, testenv.RedisClusterPrefix(t), nil, 0))
}
