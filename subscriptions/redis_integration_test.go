//go:build integration

package subscriptions_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/claimable/eventrouter/internal/testenv"
	"github.com/claimable/eventrouter/subscriptions"
	"github.com/claimable/eventrouter/subscriptions/storetest"
)

func realStore(t testing.TB, key []byte) (*subscriptions.RedisStore, *redis.Client, string) {
	t.Helper()
	c, prefix := testenv.RedisDB(t)
	s, err := subscriptions.NewRedisStore(c, subscriptions.RedisOptions{Prefix: prefix, EncryptionKeys: keyRing(key), WatchBlock: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return s, c, prefix
}

func TestRedisStoreConformanceRealRedis(t *testing.T) {
	storetest.Run(t, func(t *testing.T) subscriptions.Store {
		s, _, _ := realStore(t, bytes.Repeat([]byte{9}, 32))
		return s
	})
}

func TestRedisStoreSecretNotInRawValueRealRedis(t *testing.T) {
	s, c, prefix := realStore(t, bytes.Repeat([]byte{3}, 32))
	ctx := testenv.Context(t, 10*time.Second)
	sub := storetest.NewSub("acct_a")
	if err := s.Create(ctx, sub, 0); err != nil {
		t.Fatal(err)
	}
	raw, err := c.HGet(ctx, prefix+subscriptions.HashTag+"sub:"+sub.ID, "data").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, sec := range sub.Secrets {
		if strings.Contains(raw, strings.TrimPrefix(sec.Value, "whsec_")) {
			t.Fatal("raw Redis value contains a secret")
		}
	}
}

func TestIndexFollowsRealRedis(t *testing.T) {
	s, _, _ := realStore(t, nil)
	testIndexFollowsStore(t, s)
}

// CLIENT PAUSE makes Redis stop answering: the index must keep its snapshot, report
// stale, and converge once Redis answers again.
func TestIndexSurvivesRedisPauseRealRedis(t *testing.T) {
	c, prefix := testenv.RedisDB(t)
	fast := redis.NewClient(&redis.Options{Addr: testenv.RedisAddr(), MaxRetries: -1, ReadTimeout: 300 * time.Millisecond, WriteTimeout: 300 * time.Millisecond})
	t.Cleanup(func() { _ = fast.Close() })
	store, err := subscriptions.NewRedisStore(fast, subscriptions.RedisOptions{Prefix: prefix, WatchBlock: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx := testenv.Context(t, 30*time.Second)
	if err := store.Create(ctx, sub("sub_1", "acct_1", true, "", "*"), 0); err != nil {
		t.Fatal(err)
	}
	ix := runIndex(t, store, subscriptions.IndexOptions{ResyncInterval: 100 * time.Millisecond, MaxBackoff: 200 * time.Millisecond}, prometheus.NewRegistry())
	if err := c.Do(ctx, "CLIENT", "PAUSE", 2000, "ALL").Err(); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 2*time.Second, "index stale while Redis is paused", ix.Stale)
	if got := matchedIDs(ix, ev("acct_1", "claim.closed", "api")); !sameIDs(got, "sub_1") {
		t.Fatalf("while paused matched %v, want sub_1 from the snapshot", got)
	}
	_ = c.Do(ctx, "CLIENT", "UNPAUSE").Err()
	if err := store.Create(ctx, sub("sub_2", "acct_1", true, "", "*"), 0); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 5*time.Second, "index converges after the pause", func() bool {
		return !ix.Stale() && sameIDs(matchedIDs(ix, ev("acct_1", "claim.closed", "api")), "sub_1", "sub_2")
	})
}

// BenchmarkRedisLoad100k measures a full reload of 100 000 subscriptions from real Redis.
func BenchmarkRedisLoad100k(b *testing.B) {
	s, c, _ := realStore(b, bytes.Repeat([]byte{5}, 32))
	ctx := context.Background()
	subs := benchSubs(100_000, 10_000)
	// One create script per subscription, pipelined in batches of 1000.
	const batch = 1000
	for start := 0; start < len(subs); start += batch {
		_, err := c.Pipelined(ctx, func(p redis.Pipeliner) error {
			for _, sub := range subs[start:min(start+batch, len(subs))] {
				sub.Secrets = []subscriptions.Secret{{Value: subscriptions.NewSecret()}}
				if err := s.CreatePipelined(ctx, p, sub); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		_, got, err := s.Load(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if len(got) != len(subs) {
			b.Fatalf("loaded %d, want %d", len(got), len(subs))
		}
	}
}

// With WaitReplicas a write is confirmed only once replicas have it. The shared test
// Redis has none: the write happens on the master but must be reported as unconfirmed
// (ErrUnavailable, within the timeout), never as a plain success.
func TestRedisStoreWaitReplicasRealRedis(t *testing.T) {
	c, prefix := testenv.RedisDB(t)
	s, err := subscriptions.NewRedisStore(c, subscriptions.RedisOptions{Prefix: prefix, WaitReplicas: 1, WaitTimeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx := testenv.Context(t, 10*time.Second)
	sub := storetest.NewSub("acct_a")
	t0 := time.Now()
	err = s.Create(ctx, sub, 0)
	if !errors.Is(err, subscriptions.ErrUnavailable) || !strings.Contains(err.Error(), "0 of 1 replicas") {
		t.Fatalf("create without replicas: %v, want ErrUnavailable naming 0 of 1 replicas", err)
	}
	if d := time.Since(t0); d > 2*time.Second {
		t.Fatalf("unconfirmed write took %s, want about the 100ms wait timeout", d)
	}
	if _, err := s.Get(ctx, sub.ID); err != nil {
		t.Fatalf("the unconfirmed write is on the master, as documented: Get = %v", err)
	}
	if err := s.Create(ctx, sub, 0); !errors.Is(err, subscriptions.ErrConflict) {
		t.Fatalf("retried create: %v, want ErrConflict (no WAIT verdict for a refused write)", err)
	}
}
