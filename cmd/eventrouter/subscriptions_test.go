package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/claimable/eventrouter/subscriptions"
	"github.com/claimable/eventrouter/subscriptions/storetest"
)

func TestSubscriptionsResealMovesEverythingToTheNewestKeyOnce(t *testing.T) {
	mini := miniredis.RunT(t)
	c := redis.NewClient(&redis.Options{Addr: mini.Addr()})
	t.Cleanup(func() { _ = c.Close() })
	oldKey, newKey := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)
	open := func(keys ...[]byte) *subscriptions.RedisStore {
		s, err := subscriptions.NewRedisStore(c, subscriptions.RedisOptions{Prefix: "er:", EncryptionKeys: keys})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	sub := storetest.NewSub("acct_a")
	sub.Headers = map[string]string{"Authorization": "Bearer x"}
	if err := open(oldKey).Create(context.Background(), sub, 0); err != nil {
		t.Fatal(err)
	}
	enc := base64.StdEncoding.EncodeToString
	t.Setenv("EVENTROUTER_SUBSCRIPTIONS_ENCRYPTION_KEYS", enc(newKey)+","+enc(oldKey))

	out, _, err := run(t, "subscriptions", "reseal", "--redis", mini.Addr())
	if err != nil || !strings.Contains(out, "checked 1 subscriptions, resealed 1") {
		t.Fatalf("first reseal: %q, %v", out, err)
	}
	out, _, err = run(t, "subscriptions", "reseal", "--redis", mini.Addr())
	if err != nil || !strings.Contains(out, "resealed 0") {
		t.Fatalf("second reseal must rewrite nothing: %q, %v", out, err)
	}
	got, err := open(newKey).Get(context.Background(), sub.ID)
	if err != nil || got.Headers["Authorization"] != "Bearer x" || got.Secrets[0].Value != sub.Secrets[0].Value {
		t.Fatalf("the new key alone must read everything after reseal: %v", err)
	}
}
