package subscriptions_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/claimable/eventrouter/subscriptions"
	"github.com/claimable/eventrouter/subscriptions/storetest"
)

// A store written before the hash tag existed ("er:sub:<id>", "er:version", …) is moved
// to the current layout by the first operation of a store with MigrateLegacyKeys, and
// nothing is lost: subscriptions, versions, account caps, names and the change feed.
func TestRedisStoreMigratesLegacyKeys(t *testing.T) {
	old, mr, c := newMiniStore(t, subscriptions.RedisOptions{Prefix: "er:"})
	ctx := context.Background()
	a, b, gone := storetest.NewSub("acct_a"), storetest.NewSub("acct_b"), storetest.NewSub("acct_a")
	a.Name = "named"
	for _, sub := range []*subscriptions.Subscription{a, b, gone} {
		if err := old.Create(ctx, sub, 0); err != nil {
			t.Fatal(err)
		}
	}
	if err := old.Delete(ctx, gone.ID, subscriptions.AnyVersion); err != nil {
		t.Fatal(err)
	}
	// Rewrite every key as the previous release named it (no hash tag).
	for _, k := range mr.Keys() {
		if err := c.Rename(ctx, k, strings.Replace(k, subscriptions.HashTag, "", 1)).Err(); err != nil {
			t.Fatal(err)
		}
	}
	var moved int64
	s, err := subscriptions.NewRedisStore(c, subscriptions.RedisOptions{
		Prefix: "er:", MigrateLegacyKeys: true, OnMigrated: func(n int64) { moved = n },
	})
	if err != nil {
		t.Fatal(err)
	}
	v, subs, err := s.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if v != 4 || len(subs) != 2 || moved != 2 {
		t.Fatalf("after migration: version %d, %d subscriptions, %d moved; want 4, 2, 2", v, len(subs), moved)
	}
	for _, k := range mr.Keys() {
		if !strings.HasPrefix(k, "er:"+subscriptions.HashTag) {
			t.Errorf("key %q left in the old layout", k)
		}
	}
	got, _, err := s.List(ctx, subscriptions.ListOptions{AccountID: "acct_a"})
	if err != nil || len(got) != 1 || got[0].ID != a.ID {
		t.Fatalf("account list after migration: %v %v", got, err)
	}
	dup := storetest.NewSub("acct_a")
	dup.Name = "named"
	if err := s.Create(ctx, dup, 0); !errors.Is(err, subscriptions.ErrConflict) {
		t.Fatalf("name index not migrated: create with a taken name: %v", err)
	}
	if err := s.Create(ctx, storetest.NewSub("acct_a"), 1); !errors.Is(err, subscriptions.ErrAccountLimit) {
		t.Fatalf("account set not migrated: create over the cap: %v", err)
	}
	// The change feed continues where it was: a watcher at version 3 sees the delete (4).
	wctx, cancel := context.WithCancel(ctx)
	var seen []subscriptions.Change
	_ = s.Watch(wctx, 3, func(ch subscriptions.Change) { seen = append(seen, ch); cancel() })
	if len(seen) != 1 || seen[0].Version != 4 || !seen[0].Deleted {
		t.Fatalf("watch from version 3 after migration: %+v", seen)
	}
	// Once migrated, another process's store finds nothing to do.
	moved = -1
	again, _ := subscriptions.NewRedisStore(c, subscriptions.RedisOptions{Prefix: "er:", MigrateLegacyKeys: true, OnMigrated: func(n int64) { moved = n }})
	if _, err := again.Version(ctx); err != nil || moved != -1 {
		t.Fatalf("second migration: err %v, moved %d; want nothing done", err, moved)
	}
}
