package operational

import (
	"context"
	"maps"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"

	"github.com/claimable/eventrouter/events"
	"github.com/claimable/eventrouter/subscriptions"
)

const (
	opTopic  = "webhooks.operational"
	dlvTopic = "webhooks.deliveries"
)

func newCluster(t *testing.T) []string {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, opTopic, dlvTopic))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c.ListenAddrs()
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func opEvent(typ, account, subID string, data events.OpData) events.OpEvent {
	at := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	return events.OpEvent{Type: typ, ID: events.OpEventID(typ, subID, at.String()), OccurredAt: at,
		AccountID: account, SubscriptionID: subID, Data: data}
}

// consume reads n records of topic from the start.
func consume(t *testing.T, ctx context.Context, seeds []string, topic string, n int) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var out []*kgo.Record
	for len(out) < n {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("%s: got %d records, want %d", topic, len(out), n)
		}
		out = append(out, fs.Records()...)
	}
	return out
}

func TestPublisherProducesKeyedByAccount(t *testing.T) {
	ctx := testContext(t)
	seeds := newCluster(t)
	reg := prometheus.NewRegistry()
	p, err := NewPublisher(PublisherConfig{Topic: opTopic}, []kgo.Opt{kgo.SeedBrokers(seeds...)}, reg, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	e := opEvent(events.OpEndpointFailing, "acct_1", "sub_1", events.OpData{ConsecutiveFailures: 10})
	p.Publish(ctx, e)
	p.Publish(ctx, events.OpEvent{Type: events.OpEndpointFailing}) // no id: refused, counted
	p.Close()
	recs := consume(t, ctx, seeds, opTopic, 1)
	if string(recs[0].Key) != "acct_1" {
		t.Fatalf("key %q, want the account id", recs[0].Key)
	}
	got, err := events.ParseOpEvent(recs[0].Value)
	if err != nil || got.ID != e.ID || got.Data.ConsecutiveFailures != 10 {
		t.Fatalf("value %s: %v", recs[0].Value, err)
	}
	p2, _ := NewPublisher(PublisherConfig{Topic: opTopic}, []kgo.Opt{kgo.SeedBrokers(seeds...)}, reg, zap.NewNop()) // same registry: shares the counter
	p2.Close()
	if n := testutil.ToFloat64(p.total.WithLabelValues(events.OpEndpointFailing, OutcomePublished)); n != 1 {
		t.Errorf("published = %v, want 1", n)
	}
	if n := testutil.ToFloat64(p.total.WithLabelValues(events.OpEndpointFailing, OutcomeInvalid)); n != 1 {
		t.Errorf("invalid = %v, want 1", n)
	}
}

// A broker that never answers must not block the caller: past MaxBuffered, events are
// dropped and counted at once.
func TestPublisherNeverBlocks(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0") // accepts, never speaks Kafka
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	p, err := NewPublisher(PublisherConfig{Topic: opTopic, MaxBuffered: 2, CloseTimeout: 100 * time.Millisecond},
		[]kgo.Opt{kgo.SeedBrokers(ln.Addr().String())}, nil, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 50 {
			p.Publish(context.Background(), opEvent(events.OpDeliveryExhausted, "acct_1", "sub_"+string(rune('a'+i%26)), events.OpData{}))
		}
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Publish blocked on an unresponsive broker")
	}
	// At most 2 wait in the buffer (a buffered one may fail early and free its slot);
	// franz-go calls the promises of refused records on its own goroutine, soon after.
	dropped := func() float64 {
		return testutil.ToFloat64(p.total.WithLabelValues(events.OpDeliveryExhausted, OutcomeDropped))
	}
	for end := time.Now().Add(10 * time.Second); dropped() < 40 && time.Now().Before(end); {
		time.Sleep(10 * time.Millisecond)
	}
	if n := dropped(); n < 40 || n > 48 {
		t.Errorf("dropped = %v, want about 48 (50 published, 2 buffered)", n)
	}
	p.Close()
}

func TestForwarderDeliversToTheAccountsOperationalSubscriptions(t *testing.T) {
	ctx := testContext(t)
	seeds := newCluster(t)
	sub := func(id, account string, evs ...string) *subscriptions.Subscription {
		return &subscriptions.Subscription{ID: id, AccountID: account, URL: "https://example.com/" + id, Events: evs, Enabled: true}
	}
	ix := subscriptions.NewStaticIndex([]*subscriptions.Subscription{
		sub("sub_ops", "acct_1", "endpoint.failing", "delivery.exhausted"),
		sub("sub_all_ops", "acct_1", "subscription.*", "endpoint.*", "delivery.*"),
		sub("sub_domain", "acct_1", "*"),
		sub("sub_other", "acct_2", "endpoint.failing"),
	})
	reg := prometheus.NewRegistry()
	f, err := NewForwarder(ForwarderConfig{Topic: opTopic, Group: "g-ops", DeliveriesTopic: dlvTopic},
		[]kgo.Opt{kgo.SeedBrokers(seeds...)}, ix, reg, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	failing := opEvent(events.OpEndpointFailing, "acct_1", "sub_domain", events.OpData{ConsecutiveFailures: 10})
	aboutItself := opEvent(events.OpEndpointFailing, "acct_1", "sub_ops", events.OpData{})
	loop := opEvent(events.OpDeliveryExhausted, "acct_1", "sub_all_ops", events.OpData{EventName: events.OpEndpointFailing})
	var values [][]byte
	for _, e := range []events.OpEvent{failing, aboutItself, loop} {
		b, err := e.Encode()
		if err != nil {
			t.Fatal(err)
		}
		values = append(values, b)
	}
	prod, err := kgo.NewClient(kgo.SeedBrokers(seeds...))
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	for _, v := range append([][]byte{[]byte("not json")}, values...) {
		if err := prod.ProduceSync(ctx, &kgo.Record{Topic: opTopic, Key: []byte("acct_1"), Value: v}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- f.Run(runCtx) }()

	// failing → sub_ops and sub_all_ops; aboutItself → sub_all_ops only; loop → nobody.
	recs := consume(t, ctx, seeds, dlvTopic, 3)
	got := map[string]*events.Delivery{}
	for _, r := range recs {
		d, err := events.ParseDelivery(r)
		if err != nil {
			t.Fatal(err)
		}
		got[d.EventID+" → "+d.SubscriptionID] = d
	}
	want := []struct {
		key  string
		body []byte
	}{
		{failing.ID + " → sub_ops", values[0]},
		{failing.ID + " → sub_all_ops", values[0]},
		{aboutItself.ID + " → sub_all_ops", values[1]},
	}
	for _, w := range want {
		d := got[w.key]
		if d == nil {
			t.Fatalf("missing delivery %s; got %v", w.key, slices.Collect(maps.Keys(got)))
		}
		if d.ID != events.DeliveryID(d.EventID, d.SubscriptionID) || d.EventName != events.OpEndpointFailing ||
			d.Attempt != 1 || string(d.Body) != string(w.body) || d.AccountID != "acct_1" {
			t.Errorf("%s: delivery %+v, body %s", w.key, d, d.Body)
		}
	}
	for {
		if testutil.ToFloat64(f.skipped.WithLabelValues(SkipLoop)) == 1 && testutil.ToFloat64(f.skipped.WithLabelValues(SkipInvalid)) == 1 {
			break
		}
		if ctx.Err() != nil {
			t.Fatal("the invalid and the looping records were not counted as skipped")
		}
		time.Sleep(20 * time.Millisecond)
	}
	stop()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if n := testutil.ToFloat64(f.forwarded.WithLabelValues(events.OpEndpointFailing)); n != 3 {
		t.Errorf("forwarded = %v, want 3", n)
	}

	// The offsets were committed: a restarted forwarder of the group forwards only
	// what came after (same partition: every record is keyed by acct_1).
	f2, err := NewForwarder(ForwarderConfig{Topic: opTopic, Group: "g-ops", DeliveriesTopic: dlvTopic},
		[]kgo.Opt{kgo.SeedBrokers(seeds...)}, ix, prometheus.NewRegistry(), zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	later := opEvent(events.OpSubscriptionDisabled, "acct_1", "sub_domain", events.OpData{Reason: "failing"})
	b, _ := later.Encode()
	if err := prod.ProduceSync(ctx, &kgo.Record{Topic: opTopic, Key: []byte("acct_1"), Value: b}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	runCtx, stop = context.WithCancel(ctx)
	go func() { done <- f2.Run(runCtx) }()
	recs = consume(t, ctx, seeds, dlvTopic, 4)
	stop()
	<-done
	var laterTo []string
	for _, r := range recs {
		if d, _ := events.ParseDelivery(r); d != nil && d.EventID == later.ID {
			laterTo = append(laterTo, d.SubscriptionID)
		}
	}
	if len(recs) != 4 || !slices.Equal(laterTo, []string{"sub_all_ops"}) {
		t.Errorf("%d deliveries, the new event went to %v; want 4, and it to [sub_all_ops]", len(recs), laterTo)
	}
	if n := testutil.ToFloat64(f2.skipped.WithLabelValues(SkipInvalid)); n != 0 {
		t.Errorf("restarted forwarder re-read committed records (invalid skipped %v)", n)
	}
	if n := testutil.ToFloat64(f2.forwarded.WithLabelValues(events.OpEndpointFailing)); n != 0 {
		t.Errorf("restarted forwarder forwarded %v committed endpoint.failing events again", n)
	}
}

func TestTailReadsToTheEndWithFilters(t *testing.T) {
	ctx := testContext(t)
	seeds := newCluster(t)
	prod, err := kgo.NewClient(kgo.SeedBrokers(seeds...))
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	evs := []events.OpEvent{
		opEvent(events.OpEndpointFailing, "acct_1", "sub_1", events.OpData{}),
		opEvent(events.OpDeliveryExhausted, "acct_1", "sub_1", events.OpData{}),
		opEvent(events.OpEndpointFailing, "acct_2", "sub_2", events.OpData{}),
		opEvent(events.OpSubscriptionDisabled, "acct_1", "sub_3", events.OpData{}),
	}
	for _, e := range evs {
		b, _ := e.Encode()
		if err := prod.ProduceSync(ctx, &kgo.Record{Topic: opTopic, Key: []byte(e.AccountID), Value: b}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	if err := prod.ProduceSync(ctx, &kgo.Record{Topic: opTopic, Value: []byte("{")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	var got []string
	rep, err := Tail(ctx, TailOptions{KafkaOpts: []kgo.Opt{kgo.SeedBrokers(seeds...)}, Topic: opTopic,
		AccountID: "acct_1", Types: []string{events.OpEndpointFailing, events.OpSubscriptionDisabled}},
		func(e *events.OpEvent) error { got = append(got, e.Type+"/"+e.SubscriptionID); return nil })
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"endpoint.failing/sub_1", "subscription.disabled/sub_3"}; !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	if rep.Read != 5 || rep.Matched != 2 || rep.Invalid != 1 {
		t.Errorf("report %+v, want 5 read, 2 matched, 1 invalid", rep)
	}
	// Since after every record: nothing to read, and Tail returns at once.
	rep, err = Tail(ctx, TailOptions{KafkaOpts: []kgo.Opt{kgo.SeedBrokers(seeds...)}, Topic: opTopic,
		Since: time.Now().Add(time.Hour)}, func(*events.OpEvent) error { t.Error("read an event older than since"); return nil })
	if err != nil || rep.Read != 0 {
		t.Errorf("since in the future: %+v, %v", rep, err)
	}
}
