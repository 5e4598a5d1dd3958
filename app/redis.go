package app

import (
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/claimable/eventrouter/config"
	"github.com/claimable/eventrouter/internal/kafkaclient"
)

// RedisOptions maps the redis section to go-redis options: the addresses by mode (see
// config.Redis.Seeds), credentials for the servers and, in sentinel mode, for the
// sentinels, the database and TLS. An empty mode means single.
func RedisOptions(cfg config.Redis) (*redis.UniversalOptions, error) {
	opts := &redis.UniversalOptions{
		Addrs:    cfg.Seeds(),
		Username: cfg.Username,
		Password: cfg.Password,
		DB:       cfg.DB,
	}
	switch cfg.Mode {
	case "", config.RedisSingle:
	case config.RedisCluster:
		// Without this a single seed address would make a plain client.
		opts.IsClusterMode = true
	case config.RedisSentinel:
		opts.MasterName = cfg.MasterName
		opts.SentinelUsername = cfg.SentinelUsername
		opts.SentinelPassword = cfg.SentinelPassword
	default:
		return nil, fmt.Errorf("redis.mode: %q is not single, cluster or sentinel", cfg.Mode)
	}
	if cfg.TLS.Enabled {
		tc, err := kafkaclient.TLSConfig(cfg.TLS)
		if err != nil {
			return nil, fmt.Errorf("redis.tls: %w", err)
		}
		opts.TLSConfig = tc
	}
	return opts, nil
}

// NewRedis connects to Redis as cfg says: one server, a Redis Cluster or the master
// named by Redis Sentinel, with ACL user, password and TLS. Every component takes the
// result as a redis.UniversalClient, so none depends on the mode.
func NewRedis(cfg config.Redis) (redis.UniversalClient, error) {
	opts, err := RedisOptions(cfg)
	if err != nil {
		return nil, err
	}
	if opts.IsClusterMode {
		co := opts.Cluster()
		co.ClusterStateReloadInterval = ClusterStateRefresh
		return redis.NewClusterClient(co), nil
	}
	return redis.NewUniversalClient(opts), nil
}

// ClusterStateRefresh bounds how long a cluster client keeps using a slot map that no
// longer matches the cluster. go-redis re-reads it at once on a MOVED reply, but a
// master that crashed sends no reply: with go-redis's default (60 s) every command for
// its slots failed for up to a minute after its replica had taken over. A refresh is
// one CLUSTER SLOTS, asked only while commands are being sent.
const ClusterStateRefresh = 2 * time.Second
