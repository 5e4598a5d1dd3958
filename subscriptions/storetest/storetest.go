// Package storetest is the conformance suite every subscriptions.Store implementation
// must pass: run it from the implementation's tests with a factory returning an empty
// store.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/claimable/eventrouter/subscriptions"
)

// Trimmer is implemented by stores whose change feed can be truncated on purpose
// (RedisStore); the gap subtest runs only for them.
type Trimmer interface {
	// TrimChanges keeps only the newest maxLen announcements.
	TrimChanges(ctx context.Context, maxLen int64) error
}

// Run runs every conformance subtest; each calls newStore for a fresh, empty store.
func Run(t *testing.T, newStore func(t *testing.T) subscriptions.Store) {
	t.Run("CreateGetRoundTrip", func(t *testing.T) { testCreateGet(t, newStore(t)) })
	t.Run("CreateConflict", func(t *testing.T) { testConflict(t, newStore(t)) })
	t.Run("AccountLimit", func(t *testing.T) { testAccountLimit(t, newStore(t)) })
	t.Run("UpdateAndDelete", func(t *testing.T) { testUpdateDelete(t, newStore(t)) })
	t.Run("CompareAndSet", func(t *testing.T) { testCompareAndSet(t, newStore(t)) })
	t.Run("ConcurrentWritersLoseNothing", func(t *testing.T) { testConcurrentCAS(t, newStore(t)) })
	t.Run("ListPagination", func(t *testing.T) { testList(t, newStore(t)) })
	t.Run("LoadAndVersion", func(t *testing.T) { testLoad(t, newStore(t)) })
	t.Run("WatchDeliversEveryChangeInOrder", func(t *testing.T) { testWatch(t, newStore(t)) })
	t.Run("WatchAfterTrimmedVersionReportsGap", func(t *testing.T) { testGap(t, newStore(t)) })
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}

var seq struct {
	sync.Mutex
	n int
}

// NewSub returns a valid subscription with a fresh id in account.
func NewSub(account string) *subscriptions.Subscription {
	seq.Lock()
	seq.n++
	n := seq.n
	seq.Unlock()
	now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	return &subscriptions.Subscription{
		ID:        fmt.Sprintf("sub_%08d", n),
		AccountID: account,
		URL:       "https://hooks.example.com/" + account,
		Events:    []string{"claim.*", "contact.created"},
		Filter:    `source == "api"`,
		Enabled:   true,
		Secrets: []subscriptions.Secret{
			{Value: subscriptions.NewSecret(), CreatedAt: now},
			{Value: subscriptions.NewSecret(), CreatedAt: now.Add(-time.Hour), ExpiresAt: now.Add(24 * time.Hour)},
		},
		Headers:     map[string]string{"X-Team": "claims"},
		RateLimit:   2.5,
		MaxInFlight: 4,
		Description: "test",
		CreatedAt:   now,
		UpdatedAt:   now,
	}
}

func mustCreate(t *testing.T, s subscriptions.Store, sub *subscriptions.Subscription) {
	t.Helper()
	if err := s.Create(ctx(t), sub, 0); err != nil {
		t.Fatalf("Create %s: %v", sub.ID, err)
	}
}

func equal(t *testing.T, got, want *subscriptions.Subscription) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("stored subscription differs:\n got %+v\nwant %+v", got, want)
	}
}

func testCreateGet(t *testing.T, s subscriptions.Store) {
	sub := NewSub("acct_a")
	mustCreate(t, s, sub)
	if sub.Version <= 0 {
		t.Fatalf("Create set Version %d, want > 0", sub.Version)
	}
	got, err := s.Get(ctx(t), sub.ID)
	if err != nil {
		t.Fatal(err)
	}
	equal(t, got, sub) // includes both secrets, headers, times, version
	if _, err := s.Get(ctx(t), "sub_missing"); !errors.Is(err, subscriptions.ErrNotFound) {
		t.Fatalf("Get missing: %v, want ErrNotFound", err)
	}
	got.Headers["X-Team"] = "mutated" // the store must not share memory with callers
	again, _ := s.Get(ctx(t), sub.ID)
	if again.Headers["X-Team"] != "claims" {
		t.Fatal("mutating a returned subscription changed the store")
	}
}

func testConflict(t *testing.T, s subscriptions.Store) {
	sub := NewSub("acct_a")
	mustCreate(t, s, sub)
	v, _ := s.Version(ctx(t))
	dup := NewSub("acct_a")
	dup.ID = sub.ID
	if err := s.Create(ctx(t), dup, 0); !errors.Is(err, subscriptions.ErrConflict) {
		t.Fatalf("duplicate id: %v, want ErrConflict", err)
	}
	named := NewSub("acct_a")
	named.Name = "billing"
	mustCreate(t, s, named)
	clash := NewSub("acct_a")
	clash.Name = "billing"
	if err := s.Create(ctx(t), clash, 0); !errors.Is(err, subscriptions.ErrConflict) {
		t.Fatalf("duplicate name in account: %v, want ErrConflict", err)
	}
	other := NewSub("acct_b")
	other.Name = "billing"
	mustCreate(t, s, other) // names are per account
	if v2, _ := s.Version(ctx(t)); v2 != v+2 {
		t.Fatalf("version %d after two creates and two refusals from %d, want %d", v2, v, v+2)
	}
}

func testAccountLimit(t *testing.T, s subscriptions.Store) {
	for i := 0; i < 2; i++ {
		if err := s.Create(ctx(t), NewSub("acct_a"), 2); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Create(ctx(t), NewSub("acct_a"), 2); !errors.Is(err, subscriptions.ErrAccountLimit) {
		t.Fatalf("third create: %v, want ErrAccountLimit", err)
	}
	if err := s.Create(ctx(t), NewSub("acct_b"), 2); err != nil {
		t.Fatalf("other account refused: %v", err)
	}
	subs, _, _ := s.List(ctx(t), subscriptions.ListOptions{AccountID: "acct_a"})
	if len(subs) != 2 {
		t.Fatalf("account holds %d subscriptions, want 2", len(subs))
	}
}

func testUpdateDelete(t *testing.T, s subscriptions.Store) {
	sub := NewSub("acct_a")
	mustCreate(t, s, sub)
	v1 := sub.Version
	sub.URL = "https://other.example.com/"
	sub.Enabled = false
	sub.DisabledReason = "endpoint_gone"
	sub.Secrets = sub.Secrets[:1]
	if err := s.Update(ctx(t), sub); err != nil {
		t.Fatal(err)
	}
	if sub.Version <= v1 {
		t.Fatalf("Update set Version %d, want > %d", sub.Version, v1)
	}
	got, _ := s.Get(ctx(t), sub.ID)
	equal(t, got, sub)
	if err := s.Update(ctx(t), NewSub("acct_a")); !errors.Is(err, subscriptions.ErrNotFound) {
		t.Fatalf("Update missing: %v, want ErrNotFound", err)
	}
	if err := s.Delete(ctx(t), sub.ID, subscriptions.AnyVersion); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx(t), sub.ID); !errors.Is(err, subscriptions.ErrNotFound) {
		t.Fatalf("Get after delete: %v, want ErrNotFound", err)
	}
	if err := s.Delete(ctx(t), sub.ID, subscriptions.AnyVersion); !errors.Is(err, subscriptions.ErrNotFound) {
		t.Fatalf("second Delete: %v, want ErrNotFound", err)
	}
	subs, _, _ := s.List(ctx(t), subscriptions.ListOptions{AccountID: "acct_a"})
	if len(subs) != 0 {
		t.Fatalf("deleted subscription still listed")
	}
}

func ids(subs []*subscriptions.Subscription) []string {
	out := make([]string, len(subs))
	for i, s := range subs {
		out[i] = s.ID
	}
	return out
}

func testList(t *testing.T, s subscriptions.Store) {
	var all, inA []string
	for i := 0; i < 7; i++ {
		acct := "acct_b"
		if i%2 == 0 {
			acct = "acct_a"
		}
		sub := NewSub(acct)
		mustCreate(t, s, sub)
		all = append(all, sub.ID)
		if acct == "acct_a" {
			inA = append(inA, sub.ID)
		}
	}
	page := func(opts subscriptions.ListOptions) []string {
		var got []string
		for pages := 0; ; pages++ {
			if pages > 10 {
				t.Fatal("pagination does not end")
			}
			subs, next, err := s.List(ctx(t), opts)
			if err != nil {
				t.Fatal(err)
			}
			if len(subs) > opts.Limit {
				t.Fatalf("page of %d, limit %d", len(subs), opts.Limit)
			}
			got = append(got, ids(subs)...)
			if next == "" {
				return got
			}
			opts.After = next
		}
	}
	if got := page(subscriptions.ListOptions{Limit: 3}); !reflect.DeepEqual(got, all) {
		t.Fatalf("global pages %v, want %v", got, all)
	}
	if got := page(subscriptions.ListOptions{AccountID: "acct_a", Limit: 2}); !reflect.DeepEqual(got, inA) {
		t.Fatalf("account pages %v, want %v", got, inA)
	}
	if got := page(subscriptions.ListOptions{AccountID: "acct_none", Limit: 2}); len(got) != 0 {
		t.Fatalf("unknown account lists %v", got)
	}
	if _, _, err := s.List(ctx(t), subscriptions.ListOptions{Limit: 1001}); !errors.Is(err, subscriptions.ErrBadLimit) {
		t.Fatalf("limit 1001: %v, want ErrBadLimit", err)
	}
}

func testLoad(t *testing.T, s subscriptions.Store) {
	if v, subs, err := s.Load(ctx(t)); err != nil || v != 0 || len(subs) != 0 {
		t.Fatalf("empty store Load = %d, %d subs, %v", v, len(subs), err)
	}
	var want []*subscriptions.Subscription
	for i := 0; i < 5; i++ {
		sub := NewSub(fmt.Sprintf("acct_%d", i%2))
		mustCreate(t, s, sub)
		want = append(want, sub)
	}
	want[1].Description = "changed"
	if err := s.Update(ctx(t), want[1]); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx(t), want[3].ID, subscriptions.AnyVersion); err != nil {
		t.Fatal(err)
	}
	want = append(want[:3], want[4:]...)
	v, subs, err := s.Load(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if v != 7 {
		t.Fatalf("Load version %d after 7 writes, want 7", v)
	}
	if cur, _ := s.Version(ctx(t)); cur != v {
		t.Fatalf("Version %d, Load version %d", cur, v)
	}
	if !reflect.DeepEqual(subs, want) {
		t.Fatalf("Load returned %v, want %v", ids(subs), ids(want))
	}
}

func testWatch(t *testing.T, s subscriptions.Store) {
	pre := NewSub("acct_a")
	mustCreate(t, s, pre)
	start := pre.Version

	wctx, cancel := context.WithCancel(ctx(t))
	defer cancel()
	got := make(chan subscriptions.Change, 100)
	done := make(chan error, 1)
	go func() { done <- s.Watch(wctx, start, func(c subscriptions.Change) { got <- c }) }()

	a, b := NewSub("acct_a"), NewSub("acct_b")
	mustCreate(t, s, a)
	mustCreate(t, s, b)
	a.Enabled = false
	if err := s.Update(ctx(t), a); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx(t), pre.ID, subscriptions.AnyVersion); err != nil {
		t.Fatal(err)
	}
	want := []subscriptions.Change{
		{Version: start + 1, ID: a.ID}, {Version: start + 2, ID: b.ID},
		{Version: start + 3, ID: a.ID}, {Version: start + 4, ID: pre.ID, Deleted: true},
	}
	for i, w := range want {
		select {
		case c := <-got:
			if c != w {
				t.Fatalf("change %d = %+v, want %+v", i, c, w)
			}
		case err := <-done:
			t.Fatalf("Watch ended early: %v", err)
		case <-time.After(5 * time.Second):
			t.Fatalf("change %d (%+v) not delivered within 5s", i, w)
		}
	}
	cancel()
	select {
	case err := <-done:
		if err != nil && !errors.Is(err, context.Canceled) {
			t.Fatalf("Watch after cancel: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Watch did not return within 5s of cancel")
	}

	// A watcher starting from an old version replays what it missed.
	var replay []subscriptions.Change
	rctx, rcancel := context.WithCancel(ctx(t))
	defer rcancel()
	_ = s.Watch(rctx, start+2, func(c subscriptions.Change) {
		replay = append(replay, c)
		if len(replay) == 2 {
			rcancel()
		}
	})
	if !reflect.DeepEqual(replay, want[2:]) {
		t.Fatalf("replay from %d = %+v, want %+v", start+2, replay, want[2:])
	}
}

func testGap(t *testing.T, s subscriptions.Store) {
	tr, ok := s.(Trimmer)
	if !ok {
		t.Skip("store keeps every change; it cannot gap")
	}
	for i := 0; i < 10; i++ {
		mustCreate(t, s, NewSub("acct_a"))
	}
	if err := tr.TrimChanges(ctx(t), 3); err != nil {
		t.Fatal(err)
	}
	err := s.Watch(ctx(t), 2, func(c subscriptions.Change) { t.Errorf("delivered %+v across a gap", c) })
	if !errors.Is(err, subscriptions.ErrGap) {
		t.Fatalf("Watch after trimmed version: %v, want ErrGap", err)
	}
	// From a version still covered, it works.
	wctx, cancel := context.WithCancel(ctx(t))
	defer cancel()
	var got []int64
	_ = s.Watch(wctx, 8, func(c subscriptions.Change) {
		got = append(got, c.Version)
		if len(got) == 2 {
			cancel()
		}
	})
	if !reflect.DeepEqual(got, []int64{9, 10}) {
		t.Fatalf("Watch from 8 delivered versions %v, want [9 10]", got)
	}
}
