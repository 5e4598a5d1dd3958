package subscriptions_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/claimable/eventrouter/subscriptions"
	"github.com/claimable/eventrouter/subscriptions/storetest"
)

var (
	key1 = bytes.Repeat([]byte{0x11}, 32)
	key2 = bytes.Repeat([]byte{0x22}, 32)
)

func storeOn(t *testing.T, c redis.UniversalClient, keys ...[]byte) *subscriptions.RedisStore {
	t.Helper()
	s, err := subscriptions.NewRedisStore(c, subscriptions.RedisOptions{Prefix: "er:", EncryptionKeys: keys})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

const headerValue = "Bearer hdr-s3cr3t-token"

func withAuthHeader(account string) *subscriptions.Subscription {
	sub := storetest.NewSub(account)
	sub.Headers = map[string]string{"Authorization": headerValue, "X-Team": "claims"}
	return sub
}

func rawData(mr *miniredis.Miniredis, id string) string {
	return mr.HGet("er:"+subscriptions.HashTag+"sub:"+id, "data")
}

func TestRedisStoreSealsHeaderValues(t *testing.T) {
	s, mr, _ := newMiniStore(t, subscriptions.RedisOptions{Prefix: "er:", EncryptionKeys: [][]byte{key1}})
	sub := withAuthHeader("acct_a")
	if err := s.Create(context.Background(), sub, 0); err != nil {
		t.Fatal(err)
	}
	raw := rawData(mr, sub.ID)
	if raw == "" || strings.Contains(raw, "hdr-s3cr3t") || strings.Contains(raw, "claims") {
		t.Fatalf("header values stored in plain text with a key configured: %s", raw)
	}
	got, err := s.Get(context.Background(), sub.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Headers["Authorization"] != headerValue || got.Headers["X-Team"] != "claims" {
		t.Fatalf("headers read back as %v", got.Headers)
	}
}

func TestRedisStorePlainHeaderThatLooksSealedRoundTrips(t *testing.T) {
	s, _, _ := newMiniStore(t, subscriptions.RedisOptions{Prefix: "er:"})
	sub := storetest.NewSub("acct_a")
	sub.Headers = map[string]string{"X-Odd": "enc:v1:abcd:efgh"}
	if err := s.Create(context.Background(), sub, 0); err != nil {
		t.Fatal(err)
	}
	got, err := s.Get(context.Background(), sub.ID)
	if err != nil || got.Headers["X-Odd"] != "enc:v1:abcd:efgh" {
		t.Fatalf("without a key a header value is stored as given: %v, %v", got, err)
	}
}

// Key rotation: data sealed with key1, and data written in plain text before any key,
// are readable with the ring [key2, key1]; Reseal moves all of it to key2 (once), after
// which key1 can go.
func TestKeyRingReadsOldKeysAndResealMovesToTheNewest(t *testing.T) {
	ctx := context.Background()
	mr := miniredis.RunT(t)
	c := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { _ = c.Close() })

	plain := withAuthHeader("acct_a")
	if err := storeOn(t, c).Create(ctx, plain, 0); err != nil {
		t.Fatal(err)
	}
	old := withAuthHeader("acct_a")
	if err := storeOn(t, c, key1).Create(ctx, old, 0); err != nil {
		t.Fatal(err)
	}
	ring := storeOn(t, c, key2, key1)
	for _, want := range []*subscriptions.Subscription{plain, old} {
		got, err := ring.Get(ctx, want.ID)
		if err != nil || got.Secrets[0].Value != want.Secrets[0].Value || got.Headers["Authorization"] != headerValue {
			t.Fatalf("ring [key2 key1] reading %s: %v", want.ID, err)
		}
	}
	if _, err := storeOn(t, c, key2).Get(ctx, old.ID); !errors.Is(err, subscriptions.ErrSecretKey) {
		t.Fatalf("before reseal, key2 alone reads key1's data: %v, want ErrSecretKey", err)
	}
	version, _ := ring.Version(ctx)

	rep, err := ring.Reseal(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Checked != 2 || rep.Resealed != 2 {
		t.Fatalf("first reseal %+v, want 2 checked, 2 resealed", rep)
	}
	if rep, err := ring.Reseal(ctx); err != nil || rep.Resealed != 0 || rep.Checked != 2 {
		t.Fatalf("second reseal %+v, %v: want nothing rewritten", rep, err)
	}
	if v, _ := ring.Version(ctx); v != version {
		t.Fatalf("reseal moved the store version %d → %d", version, v)
	}
	only2 := storeOn(t, c, key2)
	for _, want := range []*subscriptions.Subscription{plain, old} {
		got, err := only2.Get(ctx, want.ID)
		if err != nil || got.Secrets[0].Value != want.Secrets[0].Value || got.Secrets[1].Value != want.Secrets[1].Value ||
			got.Headers["Authorization"] != headerValue || got.Version != want.Version {
			t.Fatalf("after reseal, key2 alone reading %s: %+v, %v", want.ID, got, err)
		}
		if raw := rawData(mr, want.ID); strings.Contains(raw, "hdr-s3cr3t") || strings.Contains(raw, strings.TrimPrefix(want.Secrets[0].Value, "whsec_")) {
			t.Fatalf("plain text left after reseal: %s", raw)
		}
	}
	if _, err := storeOn(t, c, key1).Get(ctx, old.ID); !errors.Is(err, subscriptions.ErrSecretKey) {
		t.Fatalf("after reseal key1 still reads the data: %v", err)
	}
	if _, err := storeOn(t, c).Reseal(ctx); !errors.Is(err, subscriptions.ErrNoKey) {
		t.Fatalf("reseal without a key: %v, want ErrNoKey", err)
	}
}

func TestKeyRingRefusesARepeatedKey(t *testing.T) {
	if _, err := subscriptions.NewRedisStore(redis.NewClient(&redis.Options{}), subscriptions.RedisOptions{EncryptionKeys: [][]byte{key1, key2, key1}}); err == nil {
		t.Fatal("a ring holding the same key twice was accepted")
	}
}
