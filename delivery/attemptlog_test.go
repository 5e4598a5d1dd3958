package delivery

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

func newTestLog(t *testing.T, opts AttemptLogOptions) (*AttemptLog, *miniredis.Miniredis) {
	t.Helper()
	mr := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { rdb.Close() })
	return NewAttemptLog(rdb, opts), mr
}

func attempt(dlv string, n int, reason Reason, final bool) Attempt {
	return Attempt{
		DeliveryID: dlv, SubscriptionID: "sub_1", AccountID: "acc_1", EventID: "evt_" + dlv,
		EventName: "claim.created", Attempt: n, At: time.Unix(int64(1000+n), 0).UTC(),
		Status: 500, Reason: reason, LatencyMS: 12, Response: "oops",
		Topic: "webhooks.deliveries", Partition: 3, Offset: int64(40 + n), Final: final,
	}
}

func TestAttemptLogBoundedNewestFirst(t *testing.T) {
	l, mr := newTestLog(t, AttemptLogOptions{Prefix: "t:", MaxPerSubscription: 5, TTL: time.Hour})
	ctx := context.Background()
	for i := 1; i <= 8; i++ {
		if err := l.Record(ctx, attempt(fmt.Sprintf("dlv_%d", i), 1, ReasonHTTPStatus, false)); err != nil {
			t.Fatal(err)
		}
	}
	got, err := l.List(ctx, "sub_1", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 5 {
		t.Fatalf("kept %d attempts, want 5", len(got))
	}
	for i, a := range got {
		if want := fmt.Sprintf("dlv_%d", 8-i); a.DeliveryID != want {
			t.Fatalf("List[%d] = %s, want %s (newest first)", i, a.DeliveryID, want)
		}
	}
	if got, _ := l.List(ctx, "sub_1", 2); len(got) != 2 || got[0].DeliveryID != "dlv_8" {
		t.Fatalf("List limit 2 = %+v", got)
	}
	if got, err := l.List(ctx, "sub_unknown", 10); err != nil || len(got) != 0 {
		t.Fatalf("unknown subscription: %v, %v", got, err)
	}
	for _, k := range mr.Keys() {
		if ttl := mr.TTL(k); ttl <= 0 || ttl > time.Hour {
			t.Errorf("key %s has TTL %v, want (0, 1h]", k, ttl)
		}
		if !strings.HasPrefix(k, "t:") {
			t.Errorf("key %s lacks the prefix", k)
		}
	}
	mr.FastForward(2 * time.Hour)
	if got, _ := l.List(ctx, "sub_1", 0); len(got) != 0 {
		t.Fatalf("%d attempts survived the TTL", len(got))
	}
}

// Deliveries reads several deliveries in one call, in the order asked, nil for one the
// log does not know.
func TestAttemptLogDeliveriesInOneRead(t *testing.T) {
	l, _ := newTestLog(t, AttemptLogOptions{})
	ctx := context.Background()
	for _, a := range []Attempt{attempt("dlv_a", 1, ReasonOK, true), attempt("dlv_b", 1, ReasonTimeout, false), attempt("dlv_b", 2, ReasonOK, true)} {
		if err := l.Record(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	got, err := l.Deliveries(ctx, []string{"dlv_b", "dlv_gone", "dlv_a"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[0] == nil || got[1] != nil || got[2] == nil {
		t.Fatalf("Deliveries = %+v, want dlv_b, nil, dlv_a", got)
	}
	if got[0].ID != "dlv_b" || len(got[0].Attempts) != 2 || got[0].Status != StatusDelivered {
		t.Errorf("dlv_b = %+v, want its 2 attempts, delivered", got[0])
	}
	if got[2].ID != "dlv_a" || len(got[2].Attempts) != 1 {
		t.Errorf("dlv_a = %+v, want its 1 attempt", got[2])
	}
	if got, err := l.Deliveries(ctx, nil); err != nil || len(got) != 0 {
		t.Errorf("Deliveries(nil) = %v, %v; want none, no error", got, err)
	}
}

func TestAttemptLogDeliveryStatus(t *testing.T) {
	l, _ := newTestLog(t, AttemptLogOptions{})
	ctx := context.Background()
	if _, err := l.Delivery(ctx, "dlv_x"); !errors.Is(err, ErrDeliveryNotFound) {
		t.Fatalf("unknown delivery: err = %v, want ErrDeliveryNotFound", err)
	}
	steps := []struct {
		a    Attempt
		want string
	}{
		{attempt("dlv_x", 1, ReasonTimeout, false), StatusRetrying},
		{attempt("dlv_x", 2, ReasonHTTPStatus, true), StatusDeadLettered},
		{attempt("dlv_x", 3, ReasonOK, true), StatusDelivered}, // redriven from the DLQ, then delivered
	}
	for i, s := range steps {
		if err := l.Record(ctx, s.a); err != nil {
			t.Fatal(err)
		}
		st, err := l.Delivery(ctx, "dlv_x")
		if err != nil {
			t.Fatal(err)
		}
		if st.Status != s.want || len(st.Attempts) != i+1 {
			t.Fatalf("after attempt %d: status %s with %d attempts, want %s", i+1, st.Status, len(st.Attempts), s.want)
		}
		if st.Attempts[0].Attempt != 1 || st.Attempts[i].Attempt != i+1 {
			t.Fatalf("attempts not oldest first: %+v", st.Attempts)
		}
		if st.Topic != "webhooks.deliveries" || st.Partition != 3 || st.Offset != s.a.Offset {
			t.Fatalf("coordinates = %s/%d/%d, want the latest record's", st.Topic, st.Partition, st.Offset)
		}
		if st.SubscriptionID != "sub_1" || st.EventID != "evt_dlv_x" || st.EventName != "claim.created" || st.AccountID != "acc_1" {
			t.Fatalf("identity fields lost: %+v", st)
		}
	}
}

func TestAttemptLogSanitisesResponseAndRequiresIDs(t *testing.T) {
	l, _ := newTestLog(t, AttemptLogOptions{})
	ctx := context.Background()
	a := attempt("dlv_r", 1, ReasonHTTPStatus, false)
	a.Response = strings.Repeat("é", 600) + "\xff\xfe" // 1200+ bytes, invalid tail
	a.Error = "dial: " + strings.Repeat("ü", 400)      // 800+ bytes
	if err := l.Record(ctx, a); err != nil {
		t.Fatal(err)
	}
	got, err := l.List(ctx, "sub_1", 1)
	if err != nil {
		t.Fatal(err)
	}
	if r := got[0].Response; len(r) > 1024 || !utf8.ValidString(r) || !strings.HasPrefix(r, "éé") {
		t.Fatalf("stored response: %d bytes, valid UTF-8 %v", len(r), utf8.ValidString(r))
	}
	if e := got[0].Error; len(e) > 512 || !utf8.ValidString(e) || !strings.HasPrefix(e, "dial: üü") {
		t.Fatalf("stored error: %d bytes, valid UTF-8 %v", len(e), utf8.ValidString(e))
	}
	for field, bad := range map[string]Attempt{
		"delivery_id":     {SubscriptionID: "s"},
		"subscription_id": {DeliveryID: "d"},
	} {
		if err := l.Record(ctx, bad); err == nil || !strings.Contains(err.Error(), field) {
			t.Errorf("missing %s: err = %v", field, err)
		}
	}
}

func TestAttemptLogRedisDown(t *testing.T) {
	l, mr := newTestLog(t, AttemptLogOptions{})
	mr.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := l.Record(ctx, attempt("d", 1, ReasonOK, true)); err == nil {
		t.Fatal("Record succeeded with Redis down")
	}
	if _, err := l.Delivery(ctx, "d"); err == nil || errors.Is(err, ErrDeliveryNotFound) {
		t.Fatalf("Delivery with Redis down: err = %v, want a Redis error (not 'not found')", err)
	}
}

func TestOutcomeFailingSince(t *testing.T) {
	l, _ := newTestLog(t, AttemptLogOptions{TTL: time.Hour})
	ctx := context.Background()
	t0 := time.Date(2026, 3, 1, 10, 0, 0, 123, time.UTC)

	since, err := l.Outcome(ctx, "sub_1", false, t0)
	if err != nil || !since.Equal(t0) {
		t.Fatalf("first failure: %v, %v; want %v", since, err, t0)
	}
	since, _ = l.Outcome(ctx, "sub_1", false, t0.Add(time.Hour))
	if !since.Equal(t0) {
		t.Fatalf("later failure moved failing-since to %v, want %v", since, t0)
	}
	// Survives a restart: a new AttemptLog on the same Redis sees the same time.
	l2 := NewAttemptLog(l.rdb, l.opts)
	if since, _ = l2.Outcome(ctx, "sub_1", false, t0.Add(2*time.Hour)); !since.Equal(t0) {
		t.Fatalf("after restart failing-since = %v, want %v", since, t0)
	}
	if since, err = l.Outcome(ctx, "sub_1", true, t0.Add(3*time.Hour)); err != nil || !since.IsZero() {
		t.Fatalf("success: %v, %v; want zero", since, err)
	}
	t1 := t0.Add(4 * time.Hour)
	if since, _ = l.Outcome(ctx, "sub_1", false, t1); !since.Equal(t1) {
		t.Fatalf("failure after recovery: failing-since %v, want %v", since, t1)
	}
	if since, _ = l.Outcome(ctx, "sub_2", false, t0); !since.Equal(t0) {
		t.Fatal("subscriptions share failing state")
	}
}

// TestAttemptLogRecordBatch: one batch stores each valid attempt as Record would, in
// order, and an invalid one is skipped with an error naming it, not failing the rest.
func TestAttemptLogRecordBatch(t *testing.T) {
	l, _ := newTestLog(t, AttemptLogOptions{Prefix: "t:", TTL: time.Hour})
	ctx := context.Background()
	bad := attempt("dlv_bad", 1, ReasonOK, true)
	bad.SubscriptionID = ""
	err := l.RecordBatch(ctx, []Attempt{
		attempt("dlv_1", 1, ReasonHTTPStatus, false), bad,
		attempt("dlv_1", 2, ReasonOK, true), attempt("dlv_2", 1, ReasonOK, true),
	})
	if err == nil || !strings.Contains(err.Error(), "dlv_bad") || !strings.Contains(err.Error(), "subscription_id") {
		t.Fatalf("error %v, want one naming dlv_bad and subscription_id", err)
	}
	got, err := l.List(ctx, "sub_1", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[0].DeliveryID != "dlv_2" || got[1].Attempt != 2 || got[2].Attempt != 1 {
		t.Fatalf("List = %+v, want dlv_2, dlv_1#2, dlv_1#1 (newest first)", got)
	}
	st, err := l.Delivery(ctx, "dlv_1")
	if err != nil {
		t.Fatal(err)
	}
	if st.Status != StatusDelivered || len(st.Attempts) != 2 {
		t.Fatalf("dlv_1 status %s with %d attempts, want delivered with 2", st.Status, len(st.Attempts))
	}
}

// TestAttemptLogBatchOverSubscriptions: a batch whose attempts interleave subscriptions,
// with more for one than it keeps, leaves each subscription's list as attempt-by-attempt
// writes would: its own attempts only, newest first, bounded, with the TTL.
func TestAttemptLogBatchOverSubscriptions(t *testing.T) {
	l, mr := newTestLog(t, AttemptLogOptions{Prefix: "t:", MaxPerSubscription: 5, TTL: time.Hour})
	ctx := context.Background()
	var batch []Attempt
	for i := 1; i <= 9; i++ {
		a := attempt(fmt.Sprintf("dlv_%d", i), 1, ReasonOK, true)
		if i%3 == 0 {
			a.SubscriptionID = "sub_2"
		}
		batch = append(batch, a)
	}
	if err := l.RecordBatch(ctx, batch); err != nil {
		t.Fatal(err)
	}
	for sub, want := range map[string][]string{
		"sub_1": {"dlv_8", "dlv_7", "dlv_5", "dlv_4", "dlv_2"}, // dlv_1 beyond the bound
		"sub_2": {"dlv_9", "dlv_6", "dlv_3"},
	} {
		got, err := l.List(ctx, sub, 0)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, a := range got {
			ids = append(ids, a.DeliveryID)
		}
		if !slices.Equal(ids, want) {
			t.Errorf("List(%s) = %v, want %v", sub, ids, want)
		}
		if ttl := mr.TTL("t:sub:{" + sub + "}:attempts"); ttl <= 0 || ttl > time.Hour {
			t.Errorf("%s's list has TTL %v, want (0, 1h]", sub, ttl)
		}
	}
	if st, err := l.Delivery(ctx, "dlv_1"); err != nil || st.Status != StatusDelivered || len(st.Attempts) != 1 {
		t.Fatalf("dlv_1 (trimmed from its subscription's list) = %+v, %v; want delivered with its attempt", st, err)
	}
}
