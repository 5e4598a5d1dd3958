package app_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/claimable/eventrouter/app"
	"github.com/claimable/eventrouter/config"
)

func TestRedisOptionsByMode(t *testing.T) {
	single, err := app.RedisOptions(config.Redis{Mode: config.RedisSingle, Addr: "r:6379", Username: "u", Password: "p", DB: 3})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(single.Addrs, []string{"r:6379"}) || single.IsClusterMode || single.MasterName != "" || single.DB != 3 || single.Username != "u" || single.Password != "p" {
		t.Errorf("single: %+v", single)
	}

	cluster, err := app.RedisOptions(config.Redis{Mode: config.RedisCluster, Addr: "ignored:1", Addrs: []string{"n1:7000", "n2:7000"}, Password: "p"})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(cluster.Addrs, []string{"n1:7000", "n2:7000"}) || !cluster.IsClusterMode || cluster.MasterName != "" || cluster.Password != "p" {
		t.Errorf("cluster: %+v", cluster)
	}

	sentinel, err := app.RedisOptions(config.Redis{
		Mode: config.RedisSentinel, Addrs: []string{"s1:26379", "s2:26379"}, MasterName: "mymaster",
		SentinelUsername: "su", SentinelPassword: "sp", Username: "u", Password: "p", DB: 1,
	})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(sentinel.Addrs, []string{"s1:26379", "s2:26379"}) || sentinel.MasterName != "mymaster" ||
		sentinel.SentinelUsername != "su" || sentinel.SentinelPassword != "sp" || sentinel.Username != "u" ||
		sentinel.Password != "p" || sentinel.DB != 1 || sentinel.IsClusterMode {
		t.Errorf("sentinel: %+v", sentinel)
	}
	// go-redis makes a sentinel-backed client from these options: the master is found
	// through the sentinels, servers are authenticated with the server credentials.
	fo := sentinel.Failover()
	if fo.MasterName != "mymaster" || !slices.Equal(fo.SentinelAddrs, sentinel.Addrs) || fo.SentinelPassword != "sp" || fo.Password != "p" {
		t.Errorf("failover options: %+v", fo)
	}

	if _, err := app.RedisOptions(config.Redis{Mode: "replicated", Addr: "r:1"}); err == nil || !strings.Contains(err.Error(), "redis.mode") {
		t.Errorf("unknown mode: %v, want an error naming redis.mode", err)
	}
}

// Cluster mode with a single seed address must still make a cluster client (it learns
// the other nodes from CLUSTER SLOTS); go-redis would make a plain client from one
// address unless told. miniredis answers CLUSTER SLOTS as a one-node cluster.
func TestNewRedisClusterModeOneSeed(t *testing.T) {
	srv := miniredis.RunT(t)
	c, err := app.NewRedis(config.Redis{Mode: config.RedisCluster, Addr: srv.Addr()})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.Close() }()
	cc, ok := c.(*redis.ClusterClient)
	if !ok {
		t.Fatalf("cluster mode made a %T, want *redis.ClusterClient", c)
	}
	if got := cc.Options().ClusterStateReloadInterval; got != app.ClusterStateRefresh {
		t.Errorf("slot map refreshed every %s, want %s (a crashed master sends no MOVED)", got, app.ClusterStateRefresh)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	srv.CheckGet(t, "k", "v")
}

func TestNewRedisSingleMode(t *testing.T) {
	srv := miniredis.RunT(t)
	for _, mode := range []string{"", config.RedisSingle} {
		c, err := app.NewRedis(config.Redis{Mode: mode, Addr: srv.Addr()})
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := c.(*redis.Client); !ok {
			t.Errorf("mode %q made a %T, want *redis.Client", mode, c)
		}
		_ = c.Close()
	}
}
