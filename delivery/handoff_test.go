package delivery

import (
	"context"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/claimable/eventrouter/events"
	"github.com/claimable/eventrouter/internal/testenv"
	"github.com/claimable/eventrouter/subscriptions"
)

func TestHandoffOffsetsRoundTrip(t *testing.T) {
	cases := [][]int64{{7}, {1, 2, 3, 9, 11, 12}, {40, 3, 4, 5, 41}}
	for _, offs := range cases {
		enc := encodeOffsets(offs)
		got, err := decodeOffsets(enc)
		if err != nil {
			t.Fatal(err)
		}
		want := slices.Sorted(slices.Values(offs))
		if !slices.Equal(got, want) {
			t.Fatalf("%v → %q → %v", offs, enc, got)
		}
	}
	if enc := encodeOffsets([]int64{1, 2, 3, 9}); enc != "1-3,9" {
		t.Fatalf("ranges not compact: %q", enc)
	}
	for _, bad := range []string{"x", "5-3", "1-", "0-99999999999"} {
		if _, err := decodeOffsets(bad); err == nil {
			t.Fatalf("decodeOffsets(%q) accepted garbage", bad)
		}
	}
}

func TestRedisHandoffSaveLoad(t *testing.T) {
	mini := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: mini.Addr()})
	h := NewRedisHandoff(rdb, "er:")
	ctx := context.Background()
	if got, err := h.Load(ctx, "g", "t", 3); err != nil || got != nil {
		t.Fatalf("empty load = %v, %v", got, err)
	}
	if err := h.Save(ctx, "g", "t", 3, []int64{10, 11, 15}); err != nil {
		t.Fatal(err)
	}
	if ttl := mini.TTL("er:handoff:g:t:3"); ttl <= 0 {
		t.Fatalf("hand-off saved without expiry (ttl %v)", ttl)
	}
	got, err := h.Load(ctx, "g", "t", 3)
	if err != nil || !slices.Equal(got, []int64{10, 11, 15}) {
		t.Fatalf("load = %v, %v", got, err)
	}
	if err := h.Save(ctx, "g", "t", 3, nil); err != nil {
		t.Fatal(err)
	}
	if mini.Exists("er:handoff:g:t:3") {
		t.Fatal("an empty hand-off must remove the key")
	}
}

func TestTrackerFinishedAhead(t *testing.T) {
	tr := newOffsetTracker()
	for o := int64(0); o < 6; o++ {
		tr.add(o, 0)
	}
	tr.finish(0)
	tr.finish(2)
	tr.finish(5)
	if got := tr.finishedAhead(); !slices.Equal(got, []int64{2, 5}) {
		t.Fatalf("finishedAhead = %v, want [2 5] (1 is unfinished, 0 committable)", got)
	}
}

// TestRebalanceHandoffSkipsFinishedWork: two graceful rebalances under load, with the
// hand-off in place, redeliver at most what was in flight — not the finished work that
// lay beyond the commit point.
func TestRebalanceHandoffSkipsFinishedWork(t *testing.T) {
	h := newHarness(t, 4)
	h.log = zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel))
	mini := miniredis.RunT(t)
	handoff := NewRedisHandoff(redis.NewClient(&redis.Options{Addr: mini.Addr()}), "er:")
	var mu sync.Mutex
	seen := map[string]int{}
	// A few slow subscriptions hold their partitions' commit points back while the others
	// race ahead: at each hand-over much finished work lies beyond the commit point.
	slow := map[string]bool{"sub_0": true, "sub_5": true, "sub_10": true, "sub_15": true, "sub_20": true, "sub_25": true}
	poster := func(ctx context.Context, _ *subscriptions.Subscription, d *events.Delivery, _ time.Time) Result {
		delay := time.Duration(2+rand.IntN(5)) * time.Millisecond
		if slow[d.SubscriptionID] {
			delay = 100 * time.Millisecond
		}
		select {
		case <-time.After(delay):
		case <-ctx.Done():
			return Result{Reason: ReasonTimeout}
		}
		mu.Lock()
		seen[d.ID]++
		mu.Unlock()
		return Result{Reason: ReasonOK, Status: 200}
	}
	var subList []*subscriptions.Subscription
	const nSubs = 30
	for i := range nSubs {
		s := senderSub("sub_" + strconv.Itoa(i))
		s.MaxInFlight = 1
		subList = append(subList, s)
	}
	subs := newFakeIndex(subList...)
	distinct := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(seen)
	}
	deps := Deps{Subscriptions: subs, Disabler: subs, Client: posterFunc(poster), Handoff: handoff}
	_, stop1 := h.start(deps)
	var ds []*events.Delivery
	for i := range 1200 {
		ds = append(ds, newTestDelivery("sub_"+strconv.Itoa(i%nSubs), "clm_"+strconv.Itoa(i%7), i))
	}
	h.produce(ds...)
	testenv.Eventually(t, 20*time.Second, "first deliveries", func() bool { return distinct() >= 100 })
	h.start(deps) // joins: rebalance
	testenv.Eventually(t, 20*time.Second, "more deliveries", func() bool { return distinct() >= 500 })
	stop1() // leaves: its partitions move
	testenv.Eventually(t, 30*time.Second, "every delivery", func() bool { return distinct() == len(ds) })
	mu.Lock()
	defer mu.Unlock()
	dups := 0
	for _, n := range seen {
		dups += n - 1
	}
	// Each of the two hand-overs may repeat at most what one sender had running.
	if limit := 2 * nSubs; dups > limit {
		t.Fatalf("%d duplicates across two graceful rebalances; in flight there were at most %d", dups, limit)
	}
	t.Logf("%d deliveries, %d duplicates", len(ds), dups)
}
