package app

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/claimable/eventrouter/config"
	"github.com/claimable/eventrouter/subscriptions"
)

// SubscriptionStore is the subscription store opened as cfg says, the Redis client it
// runs on, and the validating service over it (Policy(cfg)).
type SubscriptionStore struct {
	*subscriptions.RedisStore
	Redis   redis.UniversalClient
	Service *subscriptions.Service
	close   func()
}

// Close closes the Redis client when NewSubscriptionStore opened it; a client handed in
// stays open.
func (s *SubscriptionStore) Close() {
	if s.close != nil {
		s.close()
	}
}

// NewSubscriptionStore opens the subscription store: on rdb, or when rdb is nil on a
// client connected as cfg.Redis says (closed by Close). Every process and command that
// touches subscriptions opens the store here, so each honours the same settings: the
// key prefix and layout move, the encryption key ring, subscriptions.stream_max_len
// and redis.wait_replicas. Log nil: nothing is logged.
func NewSubscriptionStore(cfg config.Config, rdb redis.UniversalClient, log *zap.Logger) (*SubscriptionStore, error) {
	if log == nil {
		log = zap.NewNop()
	}
	keys, err := EncryptionKeys(cfg.Subscriptions)
	if err != nil {
		return nil, err
	}
	st := &SubscriptionStore{Redis: rdb}
	if rdb == nil {
		if st.Redis, err = NewRedis(cfg.Redis); err != nil {
			return nil, err
		}
		client := st.Redis
		st.close = func() { _ = client.Close() }
	}
	if st.RedisStore, err = subscriptions.NewRedisStore(st.Redis, StoreOptions(cfg, keys, log)); err != nil {
		st.Close()
		return nil, err
	}
	if len(keys) == 0 {
		log.Warn("subscriptions.encryption_keys is not set: signing secrets and custom header values are stored in Redis in plain text")
	}
	st.Service = subscriptions.NewService(st.RedisStore, Policy(cfg), time.Now)
	return st, nil
}

// StoreOptions returns the subscription store's options as cfg says: the redis key
// prefix and replica waits, the change-stream cap, encryptionKeys (see EncryptionKeys)
// and, except on Redis Cluster (which never held the old layout), the one-time move of
// keys written before the store's keys had a hash tag, logged when it happens.
func StoreOptions(cfg config.Config, encryptionKeys [][]byte, log *zap.Logger) subscriptions.RedisOptions {
	if log == nil {
		log = zap.NewNop()
	}
	return subscriptions.RedisOptions{
		Prefix:            cfg.Redis.KeyPrefix,
		EncryptionKeys:    encryptionKeys,
		StreamMaxLen:      cfg.Subscriptions.StreamMaxLen,
		MigrateLegacyKeys: cfg.Redis.Mode != config.RedisCluster,
		WaitReplicas:      cfg.Redis.WaitReplicas,
		WaitTimeout:       cfg.Redis.WaitTimeout,
		OnMigrated: func(n int64) {
			log.Info("subscription store keys moved to the hash-tagged layout (docs/redis-layout.md)", zap.Int64("subscriptions", n))
		},
	}
}

// EncryptionKeys decodes the key ring: subscriptions.encryption_keys, newest first,
// then the deprecated subscriptions.encryption_key unless it is already in the ring.
// Empty when neither is set.
func EncryptionKeys(cfg config.Subscriptions) ([][]byte, error) {
	var ring [][]byte
	for i, raw := range cfg.EncryptionKeys {
		k, err := base64.StdEncoding.DecodeString(raw)
		if err != nil || len(k) != 32 {
			return nil, fmt.Errorf("subscriptions.encryption_keys[%d]: must be base64 of 32 bytes", i)
		}
		ring = append(ring, k)
	}
	if cfg.EncryptionKey != "" {
		k, err := base64.StdEncoding.DecodeString(cfg.EncryptionKey)
		if err != nil || len(k) != 32 {
			return nil, errors.New("subscriptions.encryption_key: must be base64 of 32 bytes")
		}
		if !slices.ContainsFunc(ring, func(r []byte) bool { return bytes.Equal(r, k) }) {
			ring = append(ring, k)
		}
	}
	return ring, nil
}

// Policy builds the subscription validation policy from cfg.
func Policy(cfg config.Config) subscriptions.Policy {
	return subscriptions.Policy{
		Catalogue:        cfg.Events.Catalogue,
		Egress:           Egress(cfg),
		MaxPerAccount:    cfg.Subscriptions.MaxPerAccount,
		RotationGrace:    cfg.Subscriptions.RotationGrace,
		RotationGraceMax: cfg.Subscriptions.RotationGraceMax,
	}
}
