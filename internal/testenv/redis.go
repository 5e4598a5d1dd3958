package testenv

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisAddr returns the address from EVENTROUTER_TEST_REDIS, or
// 127.0.0.1:6379. It does not contact it.
func RedisAddr() string { return envOr(EnvRedis, DefaultRedis) }

// Redis returns a client for the test Redis (DB 0) after checking it answers
// PING within a few seconds. If it does not, it fails the test with t.Fatalf
// (it never skips) and says to run make services-up. The client is closed
// when the test ends. Redis is shared by all tests and nothing is flushed:
// name keys with RedisPrefix, or use RedisDB.
func Redis(t testing.TB) *redis.Client {
	t.Helper()
	c := newRedis()
	err := probe("redis "+RedisAddr(), func(ctx context.Context) error {
		ctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		return c.Ping(ctx).Err()
	})
	if err != nil {
		_ = c.Close()
		t.Fatalf("testenv: Redis at %s (%s) did not answer PING: %v; %s",
			RedisAddr(), EnvRedis, err, startHint)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func newRedis() *redis.Client {
	return redis.NewClient(&redis.Options{
		Addr:        RedisAddr(),
		DialTimeout: time.Second,
		// A client that fails fast when the server is stopped by a
		// fault-injection test, instead of retrying three times.
		MaxRetries: 1,
	})
}

// RedisPrefix returns a key prefix unique to this test, of the form
// "test-<TestName>-<8 hex>:". Keys under it (found with SCAN, so keys the
// code under test derived from the prefix count too) are deleted when the
// test ends; no other key is touched. Pub/sub channel names are global in
// Redis, so prefix those as well.
func RedisPrefix(t testing.TB) string {
	t.Helper()
	prefix := Name(t, "test") + ":"
	t.Cleanup(func() {
		c := newRedis()
		defer func() { _ = c.Close() }()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		// Name only emits [A-Za-z0-9-], so the prefix has no glob characters.
		iter := c.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		var keys []string
		for iter.Next(ctx) {
			keys = append(keys, iter.Val())
		}
		if err := iter.Err(); err != nil {
			t.Logf("testenv: scan keys %s*: %v", prefix, err)
			return
		}
		if len(keys) > 0 {
			if err := c.Unlink(ctx, keys...).Err(); err != nil {
				t.Logf("testenv: delete keys %s*: %v", prefix, err)
			}
		}
	})
	return prefix
}

// RedisDB returns Redis(t) and RedisPrefix(t): a checked client and a key
// prefix that is this test's own namespace in the shared server. A prefix
// rather than a DB number: pub/sub and go-redis client-side caching (DB 0
// only) ignore DB numbers, and there are only 16 of them.
func RedisDB(t testing.TB) (c *redis.Client, prefix string) {
	t.Helper()
	return Redis(t), RedisPrefix(t)
}
