package subscriptions_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/claimable/eventrouter/subscriptions"
	"github.com/claimable/eventrouter/subscriptions/storetest"
)

func newMiniStore(t *testing.T, opts subscriptions.RedisOptions) (*subscriptions.RedisStore, *miniredis.Miniredis, *redis.Client) {
	t.Helper()
	mr := miniredis.RunT(t)
	c := redis.NewClient(&redis.Options{Addr: mr.Addr(), MaxRetries: -1})
	t.Cleanup(func() { _ = c.Close() })
	s, err := subscriptions.NewRedisStore(c, opts)
	if err != nil {
		t.Fatal(err)
	}
	return s, mr, c
}

func TestRedisStoreConformanceMiniredis(t *testing.T) {
	storetest.Run(t, func(t *testing.T) subscriptions.Store {
		s, _, _ := newMiniStore(t, subscriptions.RedisOptions{Prefix: "er:"})
		return s
	})
}

func TestRedisStoreEncryptedConformanceMiniredis(t *testing.T) {
	storetest.Run(t, func(t *testing.T) subscriptions.Store {
		s, _, _ := newMiniStore(t, subscriptions.RedisOptions{Prefix: "er:", EncryptionKeys: [][]byte{bytes.Repeat([]byte{7}, 32)}})
		return s
	})
}

func TestRedisStoreSecretsEncryptedAtRest(t *testing.T) {
	key := bytes.Repeat([]byte{1}, 32)
	s, mr, c := newMiniStore(t, subscriptions.RedisOptions{Prefix: "er:", EncryptionKeys: keyRing(key)})
	if !s.Encrypted() {
		t.Fatal("Encrypted() = false with a key")
	}
	sub := storetest.NewSub("acct_a")
	if err := s.Create(context.Background(), sub, 0); err != nil {
		t.Fatal(err)
	}
	raw := mr.HGet("er:"+subscriptions.HashTag+"sub:"+sub.ID, "data")
	for _, sec := range sub.Secrets {
		if strings.Contains(raw, sec.Value) || strings.Contains(raw, strings.TrimPrefix(sec.Value, "whsec_")) {
			t.Fatalf("raw Redis value contains a secret: %s", raw)
		}
	}
	if !strings.Contains(raw, "enc:v1:") {
		t.Fatalf("raw value has no sealed secret: %s", raw)
	}
	// Another key cannot read it; without a key it cannot either.
	other, _ := subscriptions.NewRedisStore(c, subscriptions.RedisOptions{Prefix: "er:", EncryptionKeys: [][]byte{bytes.Repeat([]byte{2}, 32)}})
	if _, err := other.Get(context.Background(), sub.ID); !errors.Is(err, subscriptions.ErrSecretKey) {
		t.Fatalf("Get with the wrong key: %v, want ErrSecretKey", err)
	}
	plain, _ := subscriptions.NewRedisStore(c, subscriptions.RedisOptions{Prefix: "er:"})
	if _, err := plain.Get(context.Background(), sub.ID); !errors.Is(err, subscriptions.ErrSecretKey) {
		t.Fatalf("Get without key: %v, want ErrSecretKey", err)
	}
}

func TestRedisStorePlainTextWithoutKey(t *testing.T) {
	s, mr, _ := newMiniStore(t, subscriptions.RedisOptions{Prefix: "er:"})
	if s.Encrypted() {
		t.Fatal("Encrypted() = true without a key")
	}
	sub := storetest.NewSub("acct_a")
	if err := s.Create(context.Background(), sub, 0); err != nil {
		t.Fatal(err)
	}
	if raw := mr.HGet("er:"+subscriptions.HashTag+"sub:"+sub.ID, "data"); !strings.Contains(raw, sub.Secrets[0].Value) {
		t.Fatal("without a key the secret should be stored as is (documented)")
	}
}

func TestNewRedisStoreRefusesShortKey(t *testing.T) {
	if _, err := subscriptions.NewRedisStore(redis.NewClient(&redis.Options{}), subscriptions.RedisOptions{EncryptionKeys: [][]byte{make([]byte, 16)}}); err == nil {
		t.Fatal("16-byte key accepted")
	}
}

func TestRedisStoreErrorsWrapUnavailable(t *testing.T) {
	s, mr, _ := newMiniStore(t, subscriptions.RedisOptions{Prefix: "er:"})
	mr.Close()
	ctx := context.Background()
	checks := map[string]error{
		"Create": s.Create(ctx, storetest.NewSub("a"), 0),
		"Delete": s.Delete(ctx, "sub_x", subscriptions.AnyVersion),
		"Watch":  s.Watch(ctx, 0, func(subscriptions.Change) {}),
	}
	_, checks["Get"] = s.Get(ctx, "sub_x")
	_, _, checks["List"] = s.List(ctx, subscriptions.ListOptions{})
	_, _, checks["Load"] = s.Load(ctx)
	_, checks["Version"] = s.Version(ctx)
	for op, err := range checks {
		if !errors.Is(err, subscriptions.ErrUnavailable) {
			t.Errorf("%s with Redis down: %v, want ErrUnavailable", op, err)
		}
	}
}

// On Redis Cluster a script may only touch keys of one slot. Every key the store writes,
// including those its scripts derive (account sets, name maps), must therefore carry
// the same hash tag right after the prefix, whatever the operations did.
func TestRedisStoreKeysShareOneHashTag(t *testing.T) {
	s, mr, _ := newMiniStore(t, subscriptions.RedisOptions{Prefix: "er:"})
	ctx := context.Background()
	a, b := storetest.NewSub("acct_a"), storetest.NewSub("acct_a")
	a.Name, b.Name = "first", "second"
	for _, sub := range []*subscriptions.Subscription{a, b} {
		if err := s.Create(ctx, sub, 10); err != nil {
			t.Fatal(err)
		}
	}
	a.AccountID = "acct_b" // moves account: the script derives both accounts' keys
	if err := s.Update(ctx, a); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, b.ID, subscriptions.AnyVersion); err != nil {
		t.Fatal(err)
	}
	keys := mr.Keys()
	if len(keys) < 5 {
		t.Fatalf("only %d keys written: %v", len(keys), keys)
	}
	for _, k := range keys {
		if !strings.HasPrefix(k, "er:"+subscriptions.HashTag) {
			t.Errorf("key %q does not start with the prefix and hash tag %q", k, "er:"+subscriptions.HashTag)
		}
	}
}

// WaitReplicas: miniredis has no replicas, so WAIT confirms none and the write, which
// did happen, is reported as unconfirmed rather than as a success.
func TestRedisStoreWaitReplicasUnconfirmed(t *testing.T) {
	s, _, _ := newMiniStore(t, subscriptions.RedisOptions{Prefix: "er:", WaitReplicas: 1, WaitTimeout: 50 * time.Millisecond})
	ctx := context.Background()
	sub := storetest.NewSub("acct_a")
	if err := s.Create(ctx, sub, 0); !errors.Is(err, subscriptions.ErrUnavailable) || !strings.Contains(err.Error(), "0 of 1 replicas") {
		t.Fatalf("create: %v, want ErrUnavailable naming 0 of 1 replicas", err)
	}
	if _, err := s.Get(ctx, sub.ID); err != nil {
		t.Fatalf("the write is on the master: Get = %v", err)
	}
}

// keyRing is a one-key ring, or none for a nil key.
func keyRing(key []byte) [][]byte {
	if key == nil {
		return nil
	}
	return [][]byte{key}
}

// A process shutting down waits for its watcher: with the default options Watch must
// return soon after its context ends, not after a long XREAD block (a restarted sender
// stalled its deliveries for as long).
func TestRedisStoreWatchStopsPromptlyOnCancel(t *testing.T) {
	s, _, _ := newMiniStore(t, subscriptions.RedisOptions{Prefix: "er:"})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Watch(ctx, 0, func(subscriptions.Change) {}) }()
	time.Sleep(50 * time.Millisecond) // inside a blocking XREAD
	canceled := time.Now()
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Watch after cancel: %v, want context.Canceled", err)
		}
		// Generous for a loaded CI machine under -race, yet well below the 1 s block
		// this guards against.
		if took := time.Since(canceled); took > 600*time.Millisecond {
			t.Errorf("Watch returned %v after its context ended; want ≤ 600ms (WatchBlock %v)", took, subscriptions.DefaultWatchBlock)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Watch did not return within 5s of its context ending")
	}
}
