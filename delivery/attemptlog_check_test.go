//go:build integration || rediscluster

package delivery

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// checkAttemptLog checks on a real Redis (one server or a cluster) what the miniredis
// tests check: bounded newest-first lists, real TTLs, delivery status, failing-since and
// its clear in the attempts' pipeline.
func checkAttemptLog(t *testing.T, rdb redis.UniversalClient, prefix string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	l := NewAttemptLog(rdb, AttemptLogOptions{Prefix: prefix, MaxPerSubscription: 3, TTL: time.Hour})

	for i := 1; i <= 5; i++ {
		if err := l.Record(ctx, attempt(fmt.Sprintf("dlv_%d", i), 1, ReasonHTTPStatus, false)); err != nil {
			t.Fatal(err)
		}
	}
	got, err := l.List(ctx, "sub_1", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[0].DeliveryID != "dlv_5" || got[2].DeliveryID != "dlv_3" {
		t.Fatalf("List = %+v, want dlv_5..dlv_3", got)
	}
	ttl, err := rdb.TTL(ctx, l.subKey("sub_1")).Result()
	if err != nil || ttl <= 0 || ttl > time.Hour {
		t.Fatalf("TTL = %v, %v; want (0, 1h]", ttl, err)
	}

	if err := l.Record(ctx, attempt("dlv_5", 2, ReasonOK, true)); err != nil {
		t.Fatal(err)
	}
	st, err := l.Delivery(ctx, "dlv_5")
	if err != nil || st.Status != StatusDelivered || len(st.Attempts) != 2 || st.Offset != 42 {
		t.Fatalf("Delivery = %+v, %v", st, err)
	}

	t0 := time.Now().UTC().Truncate(time.Second)
	if since, err := l.Outcome(ctx, "sub_1", false, t0); err != nil || !since.Equal(t0) {
		t.Fatalf("Outcome = %v, %v", since, err)
	}
	if since, _ := l.Outcome(ctx, "sub_1", false, t0.Add(time.Minute)); !since.Equal(t0) {
		t.Fatalf("failing-since moved to %v", since)
	}
	if since, _ := l.Outcome(ctx, "sub_1", true, t0); !since.IsZero() {
		t.Fatalf("success left failing-since %v", since)
	}

	// A success's clear folded into the attempt writer's pipeline (keys of other slots
	// beside it on a cluster) ends only the named subscription's run of failures.
	for _, sub := range []string{"sub_1", "sub_2"} {
		if _, err := l.Outcome(ctx, sub, false, t0); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.WriteBatch(ctx, []Attempt{attempt("dlv_6", 1, ReasonOK, true)}, []string{"sub_1"}); err != nil {
		t.Fatal(err)
	}
	t1 := t0.Add(time.Hour)
	if since, _ := l.Outcome(ctx, "sub_1", false, t1); !since.Equal(t1) {
		t.Fatalf("after WriteBatch's clear: failing since %v, want a new run from %v", since, t1)
	}
	if since, _ := l.Outcome(ctx, "sub_2", false, t1); !since.Equal(t0) {
		t.Fatalf("WriteBatch cleared sub_2 too: failing since %v, want %v", since, t0)
	}
}
