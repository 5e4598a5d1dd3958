package subscriptions_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/claimable/eventrouter/events"
	"github.com/claimable/eventrouter/internal/testenv"
	"github.com/claimable/eventrouter/subscriptions"
	"github.com/claimable/eventrouter/subscriptions/storetest"
)

func sub(id, account string, enabled bool, filter string, evs ...string) *subscriptions.Subscription {
	return &subscriptions.Subscription{ID: id, AccountID: account, URL: "https://example.com/" + id, Events: evs, Filter: filter, Enabled: enabled}
}

func ev(account, name, source string) *events.Event {
	obj := name[:len(name)-len(name[indexOf(name, '.'):])]
	return &events.Event{ID: "e", AccountID: account, EventName: name, Object: obj, Source: source, PerformedBy: "alice"}
}

func indexOf(s string, c byte) int {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return i
		}
	}
	return len(s)
}

func matchedIDs(ix *subscriptions.Index, e *events.Event) []string {
	var out []string
	for _, s := range ix.Match(e, nil) {
		out = append(out, s.ID)
	}
	return out
}

func sameIDs(got []string, want ...string) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if got[i] != want[i] {
			return false
		}
	}
	return true
}

func TestStaticIndexMatch(t *testing.T) {
	ix := subscriptions.NewStaticIndex([]*subscriptions.Subscription{
		sub("sub_c", "acct_1", true, "", "*"),
		sub("sub_a", "acct_1", true, "", "claim.closed"),
		sub("sub_b", "acct_1", true, "", "claim.*"),
		sub("sub_d", "acct_1", false, "", "*"), // disabled: still matched, the sender holds its deliveries
		sub("sub_e", "acct_1", true, `source == "api"`, "claim.closed"),
		sub("sub_f", "acct_2", true, "", "*"),
		sub("sub_g", "acct_1", true, "", "contact.*"),
	})
	cases := []struct {
		e    *events.Event
		want []string
	}{
		{ev("acct_1", "claim.closed", "ui"), []string{"sub_a", "sub_b", "sub_c", "sub_d"}},
		{ev("acct_1", "claim.closed", "api"), []string{"sub_a", "sub_b", "sub_c", "sub_d", "sub_e"}},
		{ev("acct_1", "claim.created", "api"), []string{"sub_b", "sub_c", "sub_d"}},
		{ev("acct_1", "contact.created", "ui"), []string{"sub_c", "sub_d", "sub_g"}},
		{ev("acct_2", "claim.closed", "ui"), []string{"sub_f"}},
		{ev("acct_3", "claim.closed", "ui"), nil},
	}
	for _, tc := range cases {
		if got := matchedIDs(ix, tc.e); !sameIDs(got, tc.want...) {
			t.Errorf("%s %s %s: matched %v, want %v", tc.e.AccountID, tc.e.EventName, tc.e.Source, got, tc.want)
		}
	}
	if s, ok := ix.Get("sub_d"); !ok || s.Enabled {
		t.Fatal("Get must return disabled subscriptions too")
	}
	if _, ok := ix.Get("sub_zz"); ok {
		t.Fatal("Get of unknown id succeeded")
	}
	if !ix.Ready() || ix.Len() != 7 {
		t.Fatalf("static index Ready=%v Len=%d", ix.Ready(), ix.Len())
	}
	dst := make([]*subscriptions.Subscription, 0, 8)
	e := ev("acct_1", "claim.closed", "api")
	if n := testing.AllocsPerRun(100, func() { dst = ix.Match(e, dst[:0]) }); n != 0 {
		t.Fatalf("Match allocates %v times", n)
	}
}

func TestIndexBrokenFilterNeverMatches(t *testing.T) {
	ix := subscriptions.NewStaticIndex([]*subscriptions.Subscription{sub("sub_a", "acct_1", true, "source ==", "*")})
	if got := matchedIDs(ix, ev("acct_1", "claim.closed", "api")); len(got) != 0 {
		t.Fatalf("a subscription with an uncompilable filter matched: %v", got)
	}
}

func runIndex(t *testing.T, store subscriptions.Store, opts subscriptions.IndexOptions, reg prometheus.Registerer) *subscriptions.Index {
	t.Helper()
	ix := subscriptions.NewIndex(store, opts, zap.NewNop(), reg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ix.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run returned %v on cancel, want nil", err)
			}
		case <-time.After(5 * time.Second):
			t.Error("Run did not return within 5s of cancel")
		}
	})
	testenv.Eventually(t, 2*time.Second, "index ready", ix.Ready)
	return ix
}

// testIndexFollowsStore: changes written to the store show up in a running index within 1s.
func testIndexFollowsStore(t *testing.T, store subscriptions.Store) {
	ctx := context.Background()
	pre := sub("sub_0", "acct_1", true, "", "claim.*")
	if err := store.Create(ctx, pre, 0); err != nil {
		t.Fatal(err)
	}
	ix := runIndex(t, store, subscriptions.IndexOptions{}, prometheus.NewRegistry())
	closed := ev("acct_1", "claim.closed", "api")
	if got := matchedIDs(ix, closed); !sameIDs(got, "sub_0") {
		t.Fatalf("after load matched %v", got)
	}
	a := sub("sub_1", "acct_1", true, `source == "api"`, "claim.closed")
	b := sub("sub_2", "acct_2", true, "", "*")
	for _, s := range []*subscriptions.Subscription{a, b} {
		if err := store.Create(ctx, s, 0); err != nil {
			t.Fatal(err)
		}
	}
	testenv.Eventually(t, time.Second, "created subscriptions matched", func() bool {
		return sameIDs(matchedIDs(ix, closed), "sub_0", "sub_1") && sameIDs(matchedIDs(ix, ev("acct_2", "contact.created", "ui")), "sub_2")
	})
	a.Enabled = false
	if err := store.Update(ctx, a); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, time.Second, "disabled subscription still matched (its deliveries are held), shown disabled", func() bool {
		s, ok := ix.Get("sub_1")
		return sameIDs(matchedIDs(ix, closed), "sub_0", "sub_1") && ok && !s.Enabled
	})
	if err := store.Delete(ctx, pre.ID, subscriptions.AnyVersion); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, time.Second, "deleted subscription gone", func() bool {
		_, ok := ix.Get("sub_0")
		return !ok && sameIDs(matchedIDs(ix, closed), "sub_1")
	})
	v, _ := store.Version(ctx)
	testenv.Eventually(t, time.Second, "index version caught up", func() bool { return ix.Version() == v })
	if ix.Stale() {
		t.Fatal("index stale while the store is healthy")
	}
}

func TestIndexFollowsMemoryStore(t *testing.T) {
	testIndexFollowsStore(t, subscriptions.NewMemoryStore())
}

func TestIndexFollowsRedisStoreMiniredis(t *testing.T) {
	s, _, _ := newMiniStore(t, subscriptions.RedisOptions{Prefix: "er:", WatchBlock: 100 * time.Millisecond})
	testIndexFollowsStore(t, s)
}

// lossyStore drops announcements while drop is set, like a lost pub/sub message.
type lossyStore struct {
	*subscriptions.MemoryStore
	drop atomic.Bool
}

func (l *lossyStore) Watch(ctx context.Context, after int64, fn func(subscriptions.Change)) error {
	return l.MemoryStore.Watch(ctx, after, func(c subscriptions.Change) {
		if !l.drop.Load() {
			fn(c)
		}
	})
}

func TestIndexResyncRepairsLostAnnouncements(t *testing.T) {
	store := &lossyStore{MemoryStore: subscriptions.NewMemoryStore()}
	reg := prometheus.NewRegistry()
	ix := runIndex(t, store, subscriptions.IndexOptions{ResyncInterval: 20 * time.Millisecond}, reg)
	store.drop.Store(true)
	if err := store.Create(context.Background(), sub("sub_1", "acct_1", true, "", "*"), 0); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 2*time.Second, "version check reloads the missed subscription", func() bool {
		_, ok := ix.Get("sub_1")
		return ok
	})
	if n := counterValue(t, reg, "eventrouter_subscriptions_index_reloads_total", "resync"); n < 1 {
		t.Fatalf("resync reloads = %v, want ≥ 1", n)
	}
}

// counterValue reads one labelled series of a registered counter vec.
func counterValue(t *testing.T, reg *prometheus.Registry, name, cause string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if lp.GetValue() == cause {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	t.Fatalf("metric %s{cause=%q} not registered", name, cause)
	return 0
}

func TestIndexServesSnapshotWhileRedisDownAndRecovers(t *testing.T) {
	mr := miniredis.RunT(t)
	addr := mr.Addr()
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
	t.Cleanup(func() { _ = c.Close() })
	store, err := subscriptions.NewRedisStore(c, subscriptions.RedisOptions{Prefix: "er:", WatchBlock: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := store.Create(ctx, sub("sub_1", "acct_1", true, "", "*"), 0); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	ix := runIndex(t, store, subscriptions.IndexOptions{ResyncInterval: 50 * time.Millisecond, MaxBackoff: 100 * time.Millisecond}, reg)
	e := ev("acct_1", "claim.closed", "api")

	mr.Close()
	testenv.Eventually(t, 3*time.Second, "index reports stale", ix.Stale)
	if got := matchedIDs(ix, e); !sameIDs(got, "sub_1") {
		t.Fatalf("while Redis is down matched %v, want the snapshot's sub_1", got)
	}
	if g := gaugeValue(t, reg, "eventrouter_subscriptions_index_stale"); g != 1 {
		t.Fatalf("stale gauge %v, want 1", g)
	}

	mr2 := miniredis.NewMiniRedis()
	if err := mr2.StartAddr(addr); err != nil {
		t.Skipf("cannot restart miniredis on %s: %v", addr, err)
	}
	t.Cleanup(mr2.Close)
	// The restarted server is empty; write the new truth.
	if err := store.Create(ctx, sub("sub_2", "acct_1", true, "", "*"), 0); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 3*time.Second, "index converges after Redis returns", func() bool {
		return !ix.Stale() && sameIDs(matchedIDs(ix, e), "sub_2")
	})
	if g := gaugeValue(t, reg, "eventrouter_subscriptions_index_stale"); g != 0 {
		t.Fatalf("stale gauge %v after recovery, want 0", g)
	}
}

func gaugeValue(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatalf("metric %s not registered", name)
	return 0
}

// gapOnceStore reports one gap from Watch, like a trimmed stream.
type gapOnceStore struct {
	*subscriptions.MemoryStore
	gapped atomic.Bool
}

func (g *gapOnceStore) Watch(ctx context.Context, after int64, fn func(subscriptions.Change)) error {
	if !g.gapped.Swap(true) {
		return errors.Join(subscriptions.ErrGap)
	}
	return g.MemoryStore.Watch(ctx, after, fn)
}

func TestIndexReloadsOnGap(t *testing.T) {
	store := &gapOnceStore{MemoryStore: subscriptions.NewMemoryStore()}
	reg := prometheus.NewRegistry()
	ix := runIndex(t, store, subscriptions.IndexOptions{}, reg)
	if err := store.Create(context.Background(), storetest.NewSub("acct_1"), 0); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, time.Second, "change applied after the gap reload", func() bool { return ix.Len() == 1 })
	if n := counterValue(t, reg, "eventrouter_subscriptions_index_reloads_total", "gap"); n != 1 {
		t.Fatalf("gap reloads = %v, want 1", n)
	}
}

func TestIndexOfAccount(t *testing.T) {
	ix := subscriptions.NewStaticIndex([]*subscriptions.Subscription{
		sub("sub_b", "acct_1", false, "", "endpoint.failing"),
		sub("sub_a", "acct_1", true, "", "claim.created"),
		sub("sub_c", "acct_2", true, "", "*"),
		sub("sub_d", "acct_1", true, "no such (", "*"), // broken filter: left out
	})
	var got []string
	for _, s := range ix.OfAccount("acct_1", nil) {
		got = append(got, s.ID)
	}
	if !sameIDs(got, "sub_a", "sub_b") {
		t.Fatalf("OfAccount(acct_1) = %v, want [sub_a sub_b] (enabled or not, by id, no broken filter)", got)
	}
	if n := len(ix.OfAccount("acct_none", nil)); n != 0 {
		t.Fatalf("unknown account: %d subscriptions", n)
	}
}
