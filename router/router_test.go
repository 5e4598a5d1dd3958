package router

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"go.uber.org/zap"

	"github.com/claimable/eventrouter/events"
	"github.com/claimable/eventrouter/internal/testenv"
)

func TestRoutingTable(t *testing.T) {
	e := newEnv(t, 3, 1)
	m := newMatcher(t,
		sub("sub_exact", "acc_1", true, "", "claim.created"),
		sub("sub_claims", "acc_1", true, "", "claim.*"),
		sub("sub_all", "acc_1", true, "", "*"),
		sub("sub_api_only", "acc_1", true, `source == "api"`, "*"),
		sub("sub_disabled", "acc_1", false, "", "*"),
		sub("sub_other_account", "acc_2", true, "", "contact.*"),
	)
	cases := []struct {
		name, event, account string
		seq                  int // seq%3 == 2 makes a Sample event's source "api"
		want                 []string
	}{
		{"exact name, claim wildcard and star", "claim.created", "acc_1", 0, []string{"sub_all", "sub_claims", "sub_exact"}},
		{"claim wildcard, not the exact one", "claim.closed", "acc_1", 3, []string{"sub_all", "sub_claims"}},
		{"star only for a contact event", "contact.created", "acc_1", 6, []string{"sub_all"}},
		{"filter on source api", "claim.assigned", "acc_1", 2, []string{"sub_all", "sub_api_only", "sub_claims"}},
		{"another account sees only its own", "contact.created", "acc_2", 9, []string{"sub_other_account"}},
		{"an account with no subscriptions", "claim.created", "acc_3", 12, nil},
	}
	want := map[string][]string{}
	total := 0
	var recs []*kgo.Record
	for _, c := range cases {
		rec, ev := eventRecord(c.event, c.account, "obj_"+c.name, c.seq)
		if rec.Topic = tIngest; strings.HasPrefix(c.event, "contact.") {
			rec.Topic = tIngest2
		}
		recs = append(recs, rec)
		want[ev.ID] = c.want
		total += len(c.want)
	}
	e.produce(t, recs...)
	e.start(t, e.config("g-table"), m, newParser(t, 0))

	got := map[string][]string{}
	for _, r := range e.reader(t, tDeliveries).n(t, total) {
		id := header(r, events.HeaderEventID)
		got[id] = append(got[id], string(r.Key))
	}
	for i, c := range cases {
		id := func() string { _, ev := eventRecord(c.event, c.account, "obj_"+c.name, c.seq); return ev.ID }()
		g := got[id]
		slices.Sort(g)
		if !slices.Equal(g, c.want) {
			t.Errorf("case %d %q: delivered to %v, want %v", i, c.name, g, c.want)
		}
	}
}

func TestFanOutOfThreeSharesOneBodyWithDeterministicIDs(t *testing.T) {
	e := newEnv(t, 1, 3)
	m := newMatcher(t,
		sub("sub_a", "acc_1", true, "", "*"),
		sub("sub_b", "acc_1", true, "", "claim.*"),
		sub("sub_c", "acc_1", true, "", "claim.label_added"),
	)
	rec, ev := eventRecord("claim.label_added", "acc_1", "clm_42", 1)
	// The same event id twice (an upstream retry): the delivery ids must repeat.
	e.produce(t, rec, &kgo.Record{Topic: tIngest, Key: rec.Key, Value: rec.Value})
	e.start(t, e.config("g-fanout"), m, newParser(t, 0))

	out := e.reader(t, tDeliveries).n(t, 6)
	if len(out) != 6 {
		t.Fatalf("got %d delivery records, want 6 (3 per copy)", len(out))
	}
	parsed, err := newParser(t, 0).Parse(rec.Value)
	if err != nil {
		t.Fatal(err)
	}
	wantBody := events.Render(parsed)
	perSub := map[string]int{}
	for _, r := range out {
		sid := string(r.Key)
		perSub[sid]++
		checks := map[string]string{
			events.HeaderDeliveryID:     events.DeliveryID(ev.ID, sid),
			events.HeaderSubscriptionID: sid,
			events.HeaderEventID:        ev.ID,
			events.HeaderAccountID:      "acc_1",
			events.HeaderEventName:      "claim.label_added",
			events.HeaderObjectID:       "clm_42",
			events.HeaderAttempt:        "1",
		}
		for k, v := range checks {
			if got := header(r, k); got != v {
				t.Errorf("record for %s: header %s = %q, want %q", sid, k, got, v)
			}
		}
		if !bytes.Equal(r.Value, wantBody) {
			t.Errorf("record for %s: body differs from the event's rendering:\n%s\nwant\n%s", sid, r.Value, wantBody)
		}
		d, err := events.ParseDelivery(r)
		if err != nil {
			t.Errorf("record for %s does not parse as a delivery: %v", sid, err)
		} else if !d.OccurredAt.Equal(ev.OccurredAt) {
			t.Errorf("occurred at %v, want %v", d.OccurredAt, ev.OccurredAt)
		}
	}
	if len(perSub) != 3 || perSub["sub_a"] != 2 || perSub["sub_b"] != 2 || perSub["sub_c"] != 2 {
		t.Fatalf("records per subscription = %v, want 2 each for sub_a, sub_b, sub_c", perSub)
	}
}

func TestInvalidEventsGoToInvalidTopicBesideValidOnes(t *testing.T) {
	e := newEnv(t, 1, 1)
	m := newMatcher(t, sub("sub_a", "acc_1", true, "", "*"))
	valid, validEv := eventRecord("claim.created", "acc_1", "clm_1", 0)
	big, _ := eventRecord("claim.created", "acc_1", "clm_big", 1)
	big.Value = append(big.Value[:len(big.Value)-1], []byte(`,"pad":"`+strings.Repeat("x", 4096)+`"}`)...)
	_, mismatch := eventRecord("claim.created", "acc_1", "clm_2", 2)
	mismatch.Object = "contact"
	_, unknown := eventRecord("claim.created", "acc_1", "clm_3", 3)
	unknown.EventName = "claim.exploded"
	cases := []struct {
		reason events.Reason
		value  []byte
	}{
		{events.ReasonMalformedJSON, []byte(`{"id": "evt_1", "account_id":`)},
		{events.ReasonInvalidUTF8, []byte("{\"id\":\"evt_\xff\xfe\"}")},
		{events.ReasonUnknownEvent, unknown.Marshal()},
		{events.ReasonMissingField, []byte(`{"id":"evt_x","event_name":"claim.created"}`)},
		{events.ReasonTooLarge, big.Value},
		{events.ReasonObjectMismatch, mismatch.Marshal()},
	}
	var recs []*kgo.Record
	for i, c := range cases {
		recs = append(recs, &kgo.Record{Topic: tIngest, Key: []byte(fmt.Sprintf("key-%d", i)), Value: c.value,
			Headers: []kgo.RecordHeader{{Key: "traceparent", Value: []byte(fmt.Sprintf("tp-%d", i))}}})
	}
	recs = append(recs, valid)
	e.produce(t, recs...)
	r := e.start(t, e.config("g-invalid"), m, newParser(t, 4096))

	delivered := e.reader(t, tDeliveries).n(t, 1)
	if len(delivered) != 1 || header(delivered[0], events.HeaderEventID) != validEv.ID {
		t.Fatalf("deliveries = %d records, want exactly the valid event's one", len(delivered))
	}
	inv := e.reader(t, tInvalid).n(t, len(cases))
	if len(inv) != len(cases) {
		t.Fatalf("invalid topic has %d records, want %d", len(inv), len(cases))
	}
	for i, c := range cases {
		got := inv[i] // one partition, produced in ingest order
		if reason := header(got, events.HeaderReason); reason != string(c.reason) {
			t.Errorf("case %d: er-reason = %q, want %q (er-error %q)", i, reason, c.reason, header(got, events.HeaderError))
		}
		if !bytes.Equal(got.Value, c.value) || string(got.Key) != fmt.Sprintf("key-%d", i) {
			t.Errorf("case %d (%s): original key/value not preserved", i, c.reason)
		}
		if header(got, "traceparent") != fmt.Sprintf("tp-%d", i) {
			t.Errorf("case %d (%s): original header lost", i, c.reason)
		}
		if header(got, events.HeaderError) == "" || header(got, events.HeaderSourceTopic) != tIngest ||
			header(got, events.HeaderSourcePartition) != "0" || header(got, events.HeaderSourceOffset) != fmt.Sprint(i) {
			t.Errorf("case %d (%s): source headers %q/%q/%q, error %q", i, c.reason, header(got, events.HeaderSourceTopic),
				header(got, events.HeaderSourcePartition), header(got, events.HeaderSourceOffset), header(got, events.HeaderError))
		}
	}
	testenv.Eventually(t, testTimeout, "invalid metrics committed", func() bool {
		return value(r.metrics.consumed.WithLabelValues(tIngest)) == float64(len(recs))
	})
	for _, c := range cases {
		if n := value(r.metrics.invalid.WithLabelValues(string(c.reason))); n != 1 {
			t.Errorf("events_invalid_total{reason=%q} = %v, want 1", c.reason, n)
		}
	}
}

func TestUnmatchedEventIsCountedAndProducesNothing(t *testing.T) {
	e := newEnv(t, 1, 1)
	m := newMatcher(t, sub("sub_a", "acc_1", true, "", "contact.created"))
	unmatched, _ := eventRecord("claim.created", "acc_1", "clm_1", 0)
	sentinel, sentinelEv := eventRecord("contact.created", "acc_1", "con_1", 1)
	e.produce(t, unmatched, sentinel)
	r := e.start(t, e.config("g-unmatched"), m, newParser(t, 0))

	out := e.reader(t, tDeliveries).n(t, 1)
	// One deliveries partition: anything produced for the unmatched event would come first.
	if header(out[0], events.HeaderEventID) != sentinelEv.ID {
		t.Fatalf("first delivery is for event %q, want only the matched sentinel %q", header(out[0], events.HeaderEventID), sentinelEv.ID)
	}
	testenv.Eventually(t, testTimeout, "events_unmatched_total == 1", func() bool {
		return value(r.metrics.unmatched) == 1
	})
	if n := value(r.metrics.produced.WithLabelValues("contact.created")); n != 1 {
		t.Fatalf("deliveries_produced_total{contact.created} = %v, want 1", n)
	}
	if n := value(r.metrics.produced.WithLabelValues("claim.created")); n != 0 {
		t.Fatalf("deliveries_produced_total{claim.created} = %v, want 0", n)
	}
}

func TestOrderPerSubscriptionFollowsIngestOrder(t *testing.T) {
	e := newEnv(t, 3, 4)
	m := newMatcher(t, sub("sub_a", "acc_1", true, "", "*"), sub("sub_b", "acc_1", true, "", "claim.*"))
	var recs []*kgo.Record
	var want []string
	for i := range 100 {
		rec, ev := eventRecord("claim.reopened", "acc_1", fmt.Sprintf("clm_%d", i%7), i)
		recs = append(recs, rec)
		want = append(want, ev.ID)
	}
	cfg := e.config("g-order")
	cfg.MaxPollRecords = 7 // many transactions, many polls
	cfg.MaxTransactionRecords = 7
	r := e.start(t, cfg, m, newParser(t, 0))
	for i := 0; i < len(recs); i += 25 {
		e.produce(t, recs[i:i+25]...)
	}
	got := map[string][]string{}
	for _, rec := range e.reader(t, tDeliveries).n(t, 200) {
		got[string(rec.Key)] = append(got[string(rec.Key)], header(rec, events.HeaderEventID))
	}
	for _, s := range []string{"sub_a", "sub_b"} {
		if !slices.Equal(got[s], want) {
			t.Errorf("%s: %d deliveries, not in ingest order (first differences: %v)", s, len(got[s]), firstDiff(got[s], want))
		}
	}
	_ = r
}

func firstDiff(got, want []string) string {
	for i := range min(len(got), len(want)) {
		if got[i] != want[i] {
			return fmt.Sprintf("index %d: %s, want %s", i, got[i], want[i])
		}
	}
	return fmt.Sprintf("lengths %d vs %d", len(got), len(want))
}

func TestProduceFailureAbortsAndRetriesWithoutLossOrDuplicates(t *testing.T) {
	e := newEnv(t, 1, 1)
	m := newMatcher(t, sub("sub_a", "acc_1", true, "", "*"), sub("sub_b", "acc_1", true, "", "*"))
	// The broker rejects the first two produce requests to the deliveries topic with a
	// non-retryable error.
	e.c.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Topic: tDeliveries, Err: kerr.InvalidRecord, Count: 2})
	r, missing, dup, distinct := routeAndCount(t, e, "g-abort", m)
	if missing > 0 || dup > 0 || distinct != 100 {
		t.Fatalf("after aborted transactions: %d missing, %d duplicated, %d distinct pairs (want 100)", missing, dup, distinct)
	}
	if n := value(r.metrics.aborted.WithLabelValues(abortProduceError)); n < 1 {
		t.Fatalf("transactions_aborted_total{produce_error} = %v, want ≥ 1", n)
	}
}

func TestNewRejectsBadConfigNamingTheField(t *testing.T) {
	e := &env{}
	good := e.config("g")
	cases := map[string]func(c *Config){
		"router.group":                   func(c *Config) { c.Group = "" },
		"router.transactional_id_prefix": func(c *Config) { c.TransactionalIDPrefix = "" },
		"topics.ingest":                  func(c *Config) { c.IngestTopics = []string{tIngest, tDeliveries} },
		"topics.deliveries":              func(c *Config) { c.DeliveriesTopic = "" },
		"topics.invalid":                 func(c *Config) { c.InvalidTopic = "" },
		"router.compression":             func(c *Config) { c.Compression = "brotli" },
		"router.fetch_max_wait":          func(c *Config) { c.FetchMaxWait = DefaultFetchMaxWait / 2 },
	}
	for field, mutate := range cases {
		c := good
		c.IngestTopics = slices.Clone(good.IngestTopics)
		mutate(&c)
		_, err := New(c, Deps{Matcher: newMatcher(t), Parser: newParser(t, 0)}, zap.NewNop())
		if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), field) {
			t.Errorf("%s: err = %v, want ErrConfig naming the field", field, err)
		}
	}
	if _, err := New(good, Deps{Parser: newParser(t, 0)}, zap.NewNop()); !errors.Is(err, ErrConfig) {
		t.Errorf("missing Matcher: err = %v, want ErrConfig", err)
	}
	r, err := New(good, Deps{Matcher: newMatcher(t), Parser: newParser(t, 0)}, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	r2, _ := New(good, Deps{Matcher: newMatcher(t), Parser: newParser(t, 0)}, zap.NewNop())
	if !strings.HasPrefix(r.TransactionalID(), "test-router-") || r.TransactionalID() == r2.TransactionalID() {
		t.Errorf("transactional ids %q and %q: want the prefix and unique per instance", r.TransactionalID(), r2.TransactionalID())
	}
	good.InstanceID = "pod-3"
	if r3, _ := New(good, Deps{Matcher: newMatcher(t), Parser: newParser(t, 0)}, zap.NewNop()); r3.TransactionalID() != "test-router-pod-3" {
		t.Errorf("with an instance id: transactional id %q, want test-router-pod-3", r3.TransactionalID())
	}
}

func TestRouterWaitsForTheSubscriptionIndex(t *testing.T) {
	e := newEnv(t, 1, 1)
	m := newMatcher(t, sub("sub_a", "acc_1", true, "", "*"))
	m.ready.Store(false)
	rec, ev := eventRecord("claim.created", "acc_1", "clm_1", 0)
	e.produce(t, rec)
	reg := e.config("g-wait")
	r, err := New(reg, Deps{KafkaOpts: []kgo.Opt{kgo.SeedBrokers(e.seeds...)}, Matcher: m, Parser: newParser(t, 0)}, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := testContext(t)
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	// While the index is not ready the router must not join (and so cannot consume).
	for range 20 {
		if r.Ready(ctx) == nil {
			t.Fatal("router joined its group before the subscription index was ready")
		}
		if gi := e.c.GroupInfo("g-wait"); gi != nil && len(gi.Members) > 0 {
			t.Fatal("router joined its group before the subscription index was ready")
		}
		if err := waitTick(ctx); err != nil {
			t.Fatal(err)
		}
	}
	m.ready.Store(true)
	out := e.reader(t, tDeliveries).n(t, 1)
	if header(out[0], events.HeaderEventID) != ev.ID {
		t.Fatalf("delivered %q, want %q", header(out[0], events.HeaderEventID), ev.ID)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run after cancel = %v, want nil", err)
	}
}

var _ Matcher = (*tableMatcher)(nil)

func TestRebalanceBetweenTwoRoutersIsExactlyOnce(t *testing.T) {
	e := newEnv(t, 6, 3)
	m := newMatcher(t, sub("sub_a", "acc_1", true, "", "*"), sub("sub_b", "acc_2", true, "", "*"),
		sub("sub_c", "acc_2", true, "", "claim.*"))
	cfg := e.config("g-rebalance")
	cfg.MaxPollRecords = 5 // many small transactions, so rebalances land mid-stream

	want := map[string]int{} // event id → expected deliveries
	batch := func(from, n int) {
		var recs []*kgo.Record
		for i := from; i < from+n; i++ {
			acc := fmt.Sprintf("acc_%d", 1+i%4) // acc_3, acc_4 match nothing
			rec, ev := eventRecord("claim.assigned", acc, fmt.Sprintf("clm_%d", i), i)
			rec.Key = []byte(fmt.Sprintf("%s-%d", acc, i%5)) // spread over partitions
			recs = append(recs, rec)
			want[ev.ID] = map[string]int{"acc_1": 1, "acc_2": 2}[acc]
		}
		e.produce(t, recs...)
	}
	a := e.start(t, cfg, m, newParser(t, 0))
	batch(0, 200)
	b := e.start(t, cfg, m, newParser(t, 0)) // joins: partitions move from a to b
	batch(200, 200)
	if err := a.stop(); err != nil { // leaves: everything moves to b
		t.Fatalf("router a: %v", err)
	}
	batch(400, 200)

	total := 0
	for _, n := range want {
		total += n
	}
	rd := e.reader(t, tDeliveries)
	out := rd.n(t, total)
	sentinel, sentinelEv := eventRecord("contact.created", "acc_1", "con_end", 10_000)
	e.produce(t, sentinel)
	out = append(out, rd.until(t, "the sentinel's delivery", func(rs []*kgo.Record) bool {
		return slices.ContainsFunc(rs, func(r *kgo.Record) bool { return header(r, events.HeaderEventID) == sentinelEv.ID })
	})...)
	got := map[string]int{}
	pairs := map[string]int{}
	for _, r := range out {
		got[header(r, events.HeaderEventID)]++
		pairs[header(r, events.HeaderDeliveryID)]++
	}
	var missing, dup int
	for id, n := range want {
		missing += max(0, n-got[id])
	}
	for _, n := range pairs {
		dup += max(0, n-1)
	}
	if missing > 0 || dup > 0 {
		t.Fatalf("two routers with a join and a leave: %d deliveries missing, %d duplicated (of %d)", missing, dup, total)
	}
	t.Logf("aborted by rebalance: a=%v b=%v", value(a.metrics.aborted.WithLabelValues(abortRebalance)),
		value(b.metrics.aborted.WithLabelValues(abortRebalance)))
}
