package app

import (
	"fmt"

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
	return redis.NewUniversalClient(opts), nil
}
