package delivery

import (
	"context"
	"encoding/json"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/claimable/eventrouter/egress"
	"github.com/claimable/eventrouter/events"
	"github.com/claimable/eventrouter/internal/testenv"
	"github.com/claimable/eventrouter/subscriptions"
)

// orderReceiver is an httptest endpoint recording bodies by webhook-id, in arrival order.
type orderReceiver struct {
	mu    sync.Mutex
	seen  map[string]int // webhook-id → times received
	order map[string][]int
	delay func() time.Duration
}

func newOrderReceiver(t *testing.T, delay func() time.Duration) (*orderReceiver, *httptest.Server) {
	rc := &orderReceiver{seen: map[string]int{}, order: map[string][]int{}, delay: delay}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if rc.delay != nil {
			time.Sleep(rc.delay())
		}
		var b struct {
			Seq    int    `json:"seq"`
			Object string `json:"object"`
		}
		_ = json.Unmarshal(body, &b)
		rc.mu.Lock()
		id := r.Header.Get(HeaderWebhookID)
		if rc.seen[id] == 0 {
			rc.order[b.Object] = append(rc.order[b.Object], b.Seq)
		}
		rc.seen[id]++
		rc.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	return rc, srv
}

func (rc *orderReceiver) distinct() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return len(rc.seen)
}

func loopbackClient(t testing.TB, srv *httptest.Server) *Client {
	u, _ := url.Parse(srv.URL)
	port, _ := strconv.Atoi(u.Port())
	c, err := NewClient(ClientConfig{Timeout: 5 * time.Second, Egress: egress.Policy{AllowHTTP: true, AllowPorts: []int{port},
		AllowCIDRs: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}}, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func TestSenderPreservesOrderPerObject(t *testing.T) {
	h := newHarness(t, 3)
	rc, srv := newOrderReceiver(t, func() time.Duration { return time.Duration(rand.IntN(5)) * time.Millisecond })
	sub := senderSub("sub_order")
	sub.URL = srv.URL + "/hook"
	sub.MaxInFlight = 3
	subs := newFakeIndex(sub)
	h.start(Deps{Subscriptions: subs, Disabler: subs, Client: loopbackClient(t, srv)})

	objects := []string{"clm_a", "clm_b", "clm_c"}
	var ds []*events.Delivery
	for i := range 100 {
		ds = append(ds, newTestDelivery(sub.ID, objects[rand.IntN(len(objects))], i))
	}
	h.produce(ds...)
	testenv.Eventually(t, 30*time.Second, "100 deliveries", func() bool { return rc.distinct() == 100 })

	rc.mu.Lock()
	defer rc.mu.Unlock()
	for obj, seqs := range rc.order {
		for i := 1; i < len(seqs); i++ {
			if seqs[i] < seqs[i-1] {
				t.Fatalf("object %s received out of order: %v", obj, seqs)
			}
		}
	}
}

func TestSenderSlowSubscriptionDoesNotBlockOthers(t *testing.T) {
	h := newHarness(t, 1) // every subscription shares the one partition
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	var mu sync.Mutex
	got := map[string]int{}
	poster := posterFunc(func(ctx context.Context, sub *subscriptions.Subscription, d *events.Delivery, _ time.Time) Result {
		if sub.ID == "sub_hung" {
			select { // a dead endpoint that never answers
			case <-release:
			case <-ctx.Done():
			}
			return Result{Reason: ReasonTimeout}
		}
		mu.Lock()
		got[sub.ID]++
		mu.Unlock()
		return Result{Reason: ReasonOK, Status: 200}
	})
	subs := newFakeIndex(senderSub("sub_hung"), senderSub("sub_b"), senderSub("sub_c"), senderSub("sub_d"))
	h.start(Deps{Subscriptions: subs, Disabler: subs, Client: poster})

	var ds []*events.Delivery
	for i := range 20 { // the hung subscription's deliveries come first, then interleave
		ds = append(ds, newTestDelivery("sub_hung", "clm_"+strconv.Itoa(i), i))
	}
	for i := range 20 {
		for _, s := range []string{"sub_b", "sub_c", "sub_d", "sub_hung"} {
			ds = append(ds, newTestDelivery(s, "clm_"+strconv.Itoa(i%4), 100+i))
		}
	}
	h.produce(ds...)
	testenv.Eventually(t, 10*time.Second, "other subscriptions delivered despite a hung endpoint", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return got["sub_b"] == 20 && got["sub_c"] == 20 && got["sub_d"] == 20
	})
}

func TestSenderRetriesUntilDelivered(t *testing.T) {
	h := newHarness(t, 2)
	var mu sync.Mutex
	attempts := map[string][]int{}
	poster := posterFunc(func(_ context.Context, _ *subscriptions.Subscription, d *events.Delivery, _ time.Time) Result {
		mu.Lock()
		defer mu.Unlock()
		attempts[d.ID] = append(attempts[d.ID], d.Attempt)
		if d.Attempt < 3 {
			return Result{Reason: ReasonHTTPStatus, Status: 500}
		}
		return Result{Reason: ReasonOK, Status: 200}
	})
	subs := newFakeIndex(senderSub("sub_r"))
	h.start(Deps{Subscriptions: subs, Disabler: subs, Client: poster})
	var ds []*events.Delivery
	for i := range 10 {
		ds = append(ds, newTestDelivery("sub_r", "clm_"+strconv.Itoa(i), i))
	}
	h.produce(ds...)
	testenv.Eventually(t, 15*time.Second, "every delivery's third attempt", func() bool {
		mu.Lock()
		defer mu.Unlock()
		n := 0
		for _, a := range attempts {
			if len(a) > 0 && a[len(a)-1] == 3 {
				n++
			}
		}
		return n == 10
	})
	mu.Lock()
	defer mu.Unlock()
	for id, a := range attempts {
		if len(a) != 3 || a[0] != 1 || a[1] != 2 || a[2] != 3 {
			t.Errorf("delivery %s attempts %v, want [1 2 3]", id, a)
		}
	}
	if dlq := h.read(h.cfg.DLQTopic, 1, 300*time.Millisecond); len(dlq) != 0 {
		t.Fatalf("%d records in the DLQ for deliveries that succeeded", len(dlq))
	}
}

func TestSenderExhaustedRetriesGoToDLQWithHistory(t *testing.T) {
	h := newHarness(t, 1)
	var calls atomic.Int32
	poster := posterFunc(func(context.Context, *subscriptions.Subscription, *events.Delivery, time.Time) Result {
		calls.Add(1)
		return Result{Reason: ReasonHTTPStatus, Status: 503, Latency: time.Millisecond}
	})
	subs := newFakeIndex(senderSub("sub_x"))
	h.start(Deps{Subscriptions: subs, Disabler: subs, Client: poster})
	d := newTestDelivery("sub_x", "clm_1", 1)
	h.produce(d)

	recs := h.read(h.cfg.DLQTopic, 1, 15*time.Second)
	if len(recs) != 1 {
		t.Fatalf("DLQ records = %d, want 1", len(recs))
	}
	got, err := events.ParseDelivery(recs[0])
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != d.ID || got.Reason != string(ReasonRetryExhausted) || got.Attempt != 3 {
		t.Fatalf("DLQ delivery id=%s reason=%s attempt=%d; want id %s, %s, attempt 3", got.ID, got.Reason, got.Attempt, d.ID, ReasonRetryExhausted)
	}
	if len(got.History) != 3 {
		t.Fatalf("history has %d entries, want 3: %+v", len(got.History), got.History)
	}
	for i, a := range got.History {
		if a.Attempt != i+1 || a.Status != 503 || a.Reason != string(ReasonHTTPStatus) {
			t.Errorf("history[%d] = %+v", i, a)
		}
	}
	if c := calls.Load(); c != 3 {
		t.Fatalf("endpoint called %d times, want 3 (1 + 2 retries)", c)
	}
}

func TestSenderGoneDisablesAndDLQs(t *testing.T) {
	h := newHarness(t, 1)
	var calls atomic.Int32
	poster := posterFunc(func(context.Context, *subscriptions.Subscription, *events.Delivery, time.Time) Result {
		calls.Add(1)
		return Result{Reason: ReasonGone, Status: 410}
	})
	sub := senderSub("sub_gone")
	sub.MaxInFlight = 1 // strictly one after another: the rest find it disabled
	subs := newFakeIndex(sub)
	h.start(Deps{Subscriptions: subs, Disabler: subs, Client: poster})
	h.produce(newTestDelivery("sub_gone", "clm_1", 1), newTestDelivery("sub_gone", "clm_2", 2), newTestDelivery("sub_gone", "clm_3", 3))

	recs := h.read(h.cfg.DLQTopic, 3, 10*time.Second)
	if len(recs) != 3 {
		t.Fatalf("DLQ records = %d, want 3 (none dropped)", len(recs))
	}
	reasons := map[string]int{}
	for _, r := range recs {
		reasons[recHeader(r, events.HeaderReason)]++
	}
	if reasons[string(ReasonGone)] != 1 || reasons[string(ReasonDisabled)] != 2 {
		t.Fatalf("DLQ reasons = %v, want 1 gone and 2 subscription_disabled", reasons)
	}
	if r := subs.disabledReason("sub_gone"); r != "endpoint_gone" {
		t.Fatalf("disable reason = %q, want endpoint_gone", r)
	}
	if c := calls.Load(); c != 1 {
		t.Fatalf("endpoint called %d times after answering 410, want 1", c)
	}
}

func TestSenderDisabledOrDeletedSubscriptionGoesToDLQ(t *testing.T) {
	h := newHarness(t, 1)
	var calls atomic.Int32
	poster := posterFunc(func(context.Context, *subscriptions.Subscription, *events.Delivery, time.Time) Result {
		calls.Add(1)
		return Result{Reason: ReasonOK, Status: 200}
	})
	off := senderSub("sub_off")
	off.Enabled = false
	subs := newFakeIndex(off)
	h.start(Deps{Subscriptions: subs, Disabler: subs, Client: poster})
	h.produce(newTestDelivery("sub_off", "clm_1", 1), newTestDelivery("sub_deleted", "clm_1", 2))

	recs := h.read(h.cfg.DLQTopic, 2, 10*time.Second)
	if len(recs) != 2 {
		t.Fatalf("DLQ records = %d, want 2", len(recs))
	}
	want := map[string]string{"sub_off": string(ReasonDisabled), "sub_deleted": string(ReasonDeleted)}
	for _, r := range recs {
		sub := recHeader(r, events.HeaderSubscriptionID)
		if got := recHeader(r, events.HeaderReason); got != want[sub] {
			t.Errorf("%s: DLQ reason %q, want %q", sub, got, want[sub])
		}
	}
	if calls.Load() != 0 {
		t.Fatal("endpoint called for a disabled or deleted subscription")
	}
}

func TestSenderOpenBreakerSkipsEndpoint(t *testing.T) {
	h := newHarness(t, 1)
	var calls atomic.Int32
	poster := posterFunc(func(context.Context, *subscriptions.Subscription, *events.Delivery, time.Time) Result {
		calls.Add(1)
		return Result{Reason: ReasonOK, Status: 200}
	})
	br := NewBreakers(1, time.Hour, nil)
	br.Record("sub_br", false) // open for an hour
	subs := newFakeIndex(senderSub("sub_br"))
	h.start(Deps{Subscriptions: subs, Disabler: subs, Client: poster, Breakers: br})
	var ds []*events.Delivery
	for i := range 5 {
		ds = append(ds, newTestDelivery("sub_br", "clm_"+strconv.Itoa(i), i))
	}
	h.produce(ds...)

	tier := h.cfg.RetryPrefix + "100ms" // an hour's cool-down parks in the largest tier
	recs := h.read(tier, 5, 10*time.Second)
	if len(recs) < 5 {
		t.Fatalf("%d records parked in %s, want 5", len(recs), tier)
	}
	for _, r := range recs[:5] {
		d, err := events.ParseDelivery(r)
		if err != nil {
			t.Fatal(err)
		}
		if d.Reason != string(ReasonCircuitOpen) || d.Attempt != 1 {
			t.Errorf("parked delivery reason=%s attempt=%d; want circuit_open, attempt 1 (not consumed)", d.Reason, d.Attempt)
		}
		if d.NotBefore.Before(time.Now().Add(50 * time.Minute)) {
			t.Errorf("not-before %s: want about an hour out (the cool-down)", d.NotBefore)
		}
	}
	if calls.Load() != 0 {
		t.Fatalf("endpoint called %d times while its circuit was open", calls.Load())
	}
}

func TestSenderInvalidRecordGoesToDLQ(t *testing.T) {
	h := newHarness(t, 1)
	subs := newFakeIndex()
	h.start(Deps{Subscriptions: subs, Disabler: subs, Client: posterFunc(func(context.Context, *subscriptions.Subscription, *events.Delivery, time.Time) Result {
		return Result{Reason: ReasonOK, Status: 200}
	})})
	bad := newTestDelivery("sub_1", "clm_1", 1).Record(h.cfg.DeliveriesTopic)
	bad.Headers = bad.Headers[:2] // drop required headers
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := h.prod.ProduceSync(ctx, bad).FirstErr(); err != nil {
		t.Fatal(err)
	}
	recs := h.read(h.cfg.DLQTopic, 1, 10*time.Second)
	if len(recs) != 1 {
		t.Fatalf("DLQ records = %d, want 1", len(recs))
	}
	if recHeader(recs[0], events.HeaderReason) != string(ReasonInvalidRecord) || recHeader(recs[0], events.HeaderError) == "" ||
		recHeader(recs[0], events.HeaderSourceTopic) != h.cfg.DeliveriesTopic ||
		recHeader(recs[0], events.HeaderSourcePartition) != "0" || recHeader(recs[0], events.HeaderSourceOffset) != "0" {
		t.Fatalf("DLQ headers: %+v", recs[0].Headers)
	}
}
