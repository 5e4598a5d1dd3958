//go:build rediscluster

package delivery

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/claimable/eventrouter/internal/testenv"
)

func TestAttemptLogRedisCluster(t *testing.T) {
	checkAttemptLog(t, testenv.RedisCluster(t), testenv.RedisClusterPrefix(t))
}

// One RecordBatch pipeline writes keys of many slots (one hash tag per subscription and
// per delivery): go-redis must split it by master, and every attempt must land. The
// keys must also really spread over the cluster rather than pile onto one master.
func TestAttemptLogBatchAcrossSlotsRedisCluster(t *testing.T) {
	c := testenv.RedisCluster(t)
	prefix := testenv.RedisClusterPrefix(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	l := NewAttemptLog(c, AttemptLogOptions{Prefix: prefix, TTL: time.Hour})
	var batch []Attempt
	for i := range 60 {
		a := attempt(fmt.Sprintf("dlv_%d", i), 1, ReasonOK, true)
		a.SubscriptionID = fmt.Sprintf("sub_%d", i)
		batch = append(batch, a)
	}
	if err := l.RecordBatch(ctx, batch); err != nil {
		t.Fatal(err)
	}
	masters := map[string]bool{}
	for _, a := range batch {
		got, err := l.List(ctx, a.SubscriptionID, 0)
		if err != nil || len(got) != 1 || got[0].DeliveryID != a.DeliveryID {
			t.Fatalf("List(%s) = %+v, %v", a.SubscriptionID, got, err)
		}
		st, err := l.Delivery(ctx, a.DeliveryID)
		if err != nil || st.Status != StatusDelivered {
			t.Fatalf("Delivery(%s) = %+v, %v", a.DeliveryID, st, err)
		}
		m, err := c.MasterForKey(ctx, l.subKey(a.SubscriptionID))
		if err != nil {
			t.Fatal(err)
		}
		masters[m.Options().Addr] = true
	}
	if len(masters) < 3 {
		t.Fatalf("60 subscriptions' attempt lists are on %d masters, want all 3", len(masters))
	}
}

func TestRedisHandoffRedisCluster(t *testing.T) {
	c := testenv.RedisCluster(t)
	h := NewRedisHandoff(c, testenv.RedisClusterPrefix(t))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for p := range int32(6) { // partitions' keys are in different slots
		if err := h.Save(ctx, "g", "webhooks.deliveries", p, []int64{10, 11, int64(20 + p)}); err != nil {
			t.Fatal(err)
		}
	}
	for p := range int32(6) {
		got, err := h.Load(ctx, "g", "webhooks.deliveries", p)
		if err != nil || !slices.Equal(got, []int64{10, 11, int64(20 + p)}) {
			t.Fatalf("partition %d: Load = %v, %v", p, got, err)
		}
	}
}
