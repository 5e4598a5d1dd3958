//go:build rediscluster

package app_test

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/claimable/eventrouter/app"
	"github.com/claimable/eventrouter/config"
	"github.com/claimable/eventrouter/delivery"
	"github.com/claimable/eventrouter/internal/testenv"
	"github.com/claimable/eventrouter/subscriptions"
	"github.com/claimable/eventrouter/subscriptions/storetest"
)

// masterOf returns the address of the online master serving key's slot, as the
// cluster reports it (CLUSTER SHARDS).
func masterOf(ctx context.Context, c *redis.ClusterClient, key string) (string, error) {
	slot, err := c.ClusterKeySlot(ctx, key).Result()
	if err != nil {
		return "", err
	}
	shards, err := c.ClusterShards(ctx).Result()
	if err != nil {
		return "", err
	}
	for _, sh := range shards {
		for _, r := range sh.Slots {
			if slot < r.Start || slot > r.End {
				continue
			}
			for _, n := range sh.Nodes {
				if n.Role == "master" && n.Health == "online" {
					return net.JoinHostPort(n.IP, strconv.FormatInt(n.Port, 10)), nil
				}
			}
		}
	}
	return "", fmt.Errorf("slot %d has no online master", slot)
}

// clusterLoad writes until stopped: each writer creates subscriptions and updates them,
// bumping a counter kept in the description, and records a delivery attempt per write
// in the attempt log. It remembers what was acknowledged: per subscription the highest
// counter, and every attempt.
type clusterLoad struct {
	store *subscriptions.RedisStore
	log   *delivery.AttemptLog
	mu    sync.Mutex
	acked map[string]int // subscription id → highest acknowledged counter (0: created)
	dlvs  []string       // acknowledged attempt-log deliveries
	ok    int
	fails int
	last  error
}

func (l *clusterLoad) write(ctx context.Context, account string, i int, mine *[]*subscriptions.Subscription, counter map[string]int) (string, int, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if i%3 == 0 || len(*mine) == 0 {
		sub := storetest.NewSub(account)
		sub.Description = "n=0"
		if err := l.store.Create(ctx, sub, 0); err != nil {
			return "", 0, err
		}
		*mine = append(*mine, sub)
		return sub.ID, 0, nil
	}
	sub := (*mine)[i%len(*mine)]
	counter[sub.ID]++
	sub.Description = "n=" + strconv.Itoa(counter[sub.ID])
	err := l.store.Update(ctx, sub)
	if err != nil {
		// The write may have happened anyway (unconfirmed by replicas, or its answer
		// lost): take the stored version so the next update's version check passes.
		if cur, gerr := l.store.Get(ctx, sub.ID); gerr == nil {
			sub.Version = cur.Version
		}
	}
	return sub.ID, counter[sub.ID], err
}

func (l *clusterLoad) run(ctx context.Context, account string) {
	var mine []*subscriptions.Subscription
	counter := map[string]int{}
	for i := 0; ctx.Err() == nil; i++ {
		id, n, err := l.write(ctx, account, i, &mine, counter)
		dlv := fmt.Sprintf("dlv_%s_%d", account, i)
		var logErr error
		if err == nil {
			actx, cancel := context.WithTimeout(ctx, 2*time.Second)
			logErr = l.log.Record(actx, delivery.Attempt{DeliveryID: dlv, SubscriptionID: id, AccountID: account, Attempt: 1, Reason: delivery.ReasonOK, Final: true})
			cancel()
		}
		l.mu.Lock()
		switch {
		case err != nil:
			l.fails++
			l.last = err
		default:
			l.ok++
			l.acked[id] = n
			if logErr == nil {
				l.dlvs = append(l.dlvs, dlv)
			}
		}
		l.mu.Unlock()
		if err != nil || logErr != nil {
			time.Sleep(50 * time.Millisecond)
		}
	}
}

func (l *clusterLoad) progress() int { l.mu.Lock(); defer l.mu.Unlock(); return l.ok }

// TestRedisClusterFailoverUnderLoad kills -9 the master holding the subscription
// store's slot while writers create and update subscriptions, record delivery attempts,
// and an index follows the store — all through the application's own cluster client
// (app.NewRedis, app.StoreOptions). A replica must take over, writes must resume, and
// the index must converge on exactly the store's content. The killed node is restarted
// afterwards and rejoins as a replica.
//
// With redis.wait_replicas 1 no acknowledged subscription write may be lost. With the
// default (0) Redis replicates asynchronously and a write acknowledged in the last
// moment before the crash can be lost; the test reports what it saw (docs/reliability.md).
// Attempt-log writes never wait for replicas (the log is best effort): their losses are
// reported, not failed.
func TestRedisClusterFailoverUnderLoad(t *testing.T) {
	t.Run("wait_replicas=1", func(t *testing.T) { testClusterFailover(t, 1) })
	t.Run("wait_replicas=0", func(t *testing.T) { testClusterFailover(t, 0) })
}

func testClusterFailover(t *testing.T, waitReplicas int) {
	admin := testenv.RedisCluster(t)
	prefix := testenv.RedisClusterPrefix(t)
	cfg := config.Redis{Mode: config.RedisCluster, Addrs: testenv.RedisClusterAddrs(), KeyPrefix: prefix, WaitReplicas: waitReplicas, WaitTimeout: time.Second}
	rdb, err := app.NewRedis(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rdb.Close() })
	opts := app.StoreOptions(config.Config{Redis: cfg}, nil, zap.NewNop())
	opts.WatchBlock = 200 * time.Millisecond
	store, err := subscriptions.NewRedisStore(rdb, opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx := testenv.Context(t, 3*time.Minute)
	ix := subscriptions.NewIndex(store, subscriptions.IndexOptions{ResyncInterval: 500 * time.Millisecond, MaxBackoff: 500 * time.Millisecond}, zap.NewNop(), prometheus.NewRegistry())
	ixCtx, stopIndex := context.WithCancel(ctx)
	ixDone := make(chan error, 1)
	go func() { ixDone <- ix.Run(ixCtx) }()
	t.Cleanup(func() { stopIndex(); <-ixDone })
	testenv.Eventually(t, 10*time.Second, "index ready", ix.Ready)

	versionKey := prefix + subscriptions.HashTag + "version"
	victim, err := masterOf(ctx, admin, versionKey)
	if err != nil {
		t.Fatal(err)
	}
	_, victimPort, _ := net.SplitHostPort(victim)
	t.Cleanup(func() { testenv.RedisClusterScript(t, "start") }) // the node rejoins as a replica

	load := &clusterLoad{store: store, log: delivery.NewAttemptLog(rdb, delivery.AttemptLogOptions{Prefix: prefix}), acked: map[string]int{}}
	lctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for w := range 3 {
		wg.Add(1)
		go func() { defer wg.Done(); load.run(lctx, "acct_"+strconv.Itoa(w)) }()
	}
	defer func() { stop(); wg.Wait() }()
	testenv.Eventually(t, 30*time.Second, "writes under way before the failover", func() bool { return load.progress() >= 200 })

	testenv.RedisClusterScript(t, "kill", victimPort)
	killed := time.Now()
	var promoted string
	testenv.Eventually(t, 60*time.Second, "a replica promoted for the store's slot", func() bool {
		m, err := masterOf(ctx, admin, versionKey)
		promoted = m
		return err == nil && m != victim
	})
	promotion := time.Since(killed)
	if waitReplicas > 0 {
		// The promoted master has no replica until the killed node is back: writes are
		// refused as unconfirmed (the price of WAIT), until it rejoins as a replica.
		testenv.Eventually(t, 30*time.Second, "writes refused as unconfirmed while the new master has no replica", func() bool {
			load.mu.Lock()
			defer load.mu.Unlock()
			return load.last != nil && strings.Contains(load.last.Error(), "of 1 replicas")
		})
		testenv.RedisClusterScript(t, "start")
	}
	before := load.progress()
	testenv.Eventually(t, 30*time.Second, "writes resumed on the new master", func() bool { return load.progress() >= before+200 })
	resumed := time.Since(killed)
	stop()
	wg.Wait()
	t.Logf("wait_replicas %d: master %s killed; %s promoted after %s; writes resumed %s after the kill; %d writes acknowledged, %d failed (last: %v)",
		waitReplicas, victim, promoted, promotion.Round(time.Millisecond), resumed.Round(time.Millisecond), load.ok, load.fails, load.last)

	// Nothing acknowledged is lost: subscriptions, their last acknowledged update, attempts.
	_, stored, err := store.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]*subscriptions.Subscription{}
	for _, s := range stored {
		byID[s.ID] = s
	}
	lost := 0
	for id, n := range load.acked {
		s, ok := byID[id]
		switch {
		case !ok:
			lost++
			t.Logf("acknowledged create of %s lost", id)
		case counterOf(s) < n:
			lost++
			t.Logf("%s: acknowledged update n=%d lost (stored %s)", id, n, s.Description)
		}
	}
	lostAttempts := 0
	for _, dlv := range load.dlvs {
		if _, err := load.log.Delivery(ctx, dlv); err != nil {
			lostAttempts++
		}
	}
	t.Logf("lost to the failover: %d of %d acknowledged subscription writes, %d of %d acknowledged attempts", lost, len(load.acked), lostAttempts, len(load.dlvs))
	if lost > 0 && waitReplicas > 0 {
		t.Fatalf("%d acknowledged subscription writes lost with wait_replicas %d", lost, waitReplicas)
	}

	// The index converges on the store's content and is fresh.
	testenv.Eventually(t, 30*time.Second, "index equal to the store after the failover", func() bool {
		v, subs, err := store.Load(ctx)
		if err != nil || ix.Stale() || ix.Version() != v || ix.Len() != len(subs) {
			return false
		}
		for _, s := range subs {
			got, ok := ix.Get(s.ID)
			if !ok || got.Version != s.Version || got.Description != s.Description {
				return false
			}
		}
		return true
	})
}

func counterOf(s *subscriptions.Subscription) int {
	n, _ := strconv.Atoi(strings.TrimPrefix(s.Description, "n="))
	return n
}
