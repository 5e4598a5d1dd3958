package config

import (
	"fmt"
	"strings"
	"time"
)

// Redis deployment modes (redis.mode).
const (
	RedisSingle   = "single"
	RedisCluster  = "cluster"
	RedisSentinel = "sentinel"
)

// Seeds returns the addresses the client dials first: Addr in single mode; Addrs in
// sentinel mode; Addrs, or Addr when Addrs is empty, in cluster mode.
func (r Redis) Seeds() []string {
	switch {
	case r.Mode == RedisSentinel:
		return r.Addrs
	case r.Mode == RedisCluster && len(r.Addrs) > 0:
		return r.Addrs
	}
	return []string{r.Addr}
}

func (r Redis) validate(p *Problems) {
	oneOf(p, "redis.mode", r.Mode, RedisSingle, RedisCluster, RedisSentinel)
	hostPort(p, "redis.addr", r.Addr, false)
	for i, a := range r.Addrs {
		hostPort(p, fmt.Sprintf("redis.addrs[%d]", i), a, false)
	}
	if r.DB < 0 || r.DB > 15 {
		p.add("redis.db", fmt.Sprint(r.DB), "must be 0..15")
	}
	tlsFiles(p, "redis.tls", r.TLS)
	if r.WaitReplicas < 0 || r.WaitReplicas > 5 {
		p.add("redis.wait_replicas", fmt.Sprint(r.WaitReplicas), "must be 0..5")
	}
	// go-redis reads a pipeline's answers with its 3 s read timeout, WAIT's included.
	if r.WaitTimeout < 10*time.Millisecond || r.WaitTimeout > 2*time.Second {
		p.add("redis.wait_timeout", r.WaitTimeout.String(), "must be between 10ms and 2s")
	}
	switch r.Mode {
	case RedisSingle:
		if len(r.Addrs) > 0 {
			p.add("redis.addrs", strings.Join(r.Addrs, ","), `single mode uses redis.addr; set redis.mode to "cluster" or "sentinel" to use several addresses`)
		}
	case RedisCluster:
		if r.DB != 0 {
			p.add("redis.db", fmt.Sprint(r.DB), "must be 0 in cluster mode (Redis Cluster has only database 0)")
		}
		// The code adds its own hash tags after the prefix ({subs} for the store, one per
		// subscription or delivery for the attempt log); a tag in the prefix would win
		// and put every key in one slot, or an empty "{}" would break the store's tag.
		if strings.ContainsAny(r.KeyPrefix, "{}") {
			p.add("redis.key_prefix", r.KeyPrefix, "must not contain { or } in cluster mode: eventrouter adds its own hash tags")
		}
	case RedisSentinel:
		if len(r.Addrs) == 0 {
			p.add("redis.addrs", "", "sentinel mode needs the sentinels' host:port addresses")
		}
		if r.MasterName == "" {
			p.add("redis.master_name", "", "sentinel mode needs the name of the master the sentinels watch")
		}
	}
}
