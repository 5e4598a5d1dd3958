package config

import (
	"slices"
	"testing"
)

// The environment selects a cluster by its seed nodes, as a container deployment would.
func TestRedisClusterFromEnv(t *testing.T) {
	cfg, err := Load(Source{Env: map[string]string{
		"EVENTROUTER_REDIS_MODE":  "cluster",
		"EVENTROUTER_REDIS_ADDRS": "10.0.0.1:7000, 10.0.0.2:7000",
	}})
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Redis.Seeds(); !slices.Equal(got, []string{"10.0.0.1:7000", "10.0.0.2:7000"}) {
		t.Fatalf("Seeds() = %q", got)
	}
}

func TestRedisSeedsByMode(t *testing.T) {
	r := Redis{Mode: RedisCluster, Addr: "a:1"}
	if got := r.Seeds(); !slices.Equal(got, []string{"a:1"}) {
		t.Errorf("cluster without addrs: Seeds() = %q, want [a:1]", got)
	}
	r = Redis{Mode: RedisSentinel, Addr: "a:1", Addrs: []string{"s1:26379", "s2:26379"}}
	if got := r.Seeds(); !slices.Equal(got, r.Addrs) {
		t.Errorf("sentinel: Seeds() = %q, want the sentinels", got)
	}
	r = Redis{Mode: RedisSingle, Addr: "a:1"}
	if got := r.Seeds(); !slices.Equal(got, []string{"a:1"}) {
		t.Errorf("single: Seeds() = %q, want [a:1]", got)
	}
}
