package delivery

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/claimable/eventrouter/egress"
	"github.com/claimable/eventrouter/events"
)

// A subscription whose port the egress policy refuses (written before the policy
// changed, or bypassing validation) goes to the DLQ at its first attempt with reason
// ssrf_blocked and the guard's error, instead of cycling through the retry tiers.
func TestSenderSSRFBlockedGoesToDLQAtOnce(t *testing.T) {
	h := newHarness(t, 1)
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		calls.Add(1)
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	// Loopback is allowed, the receiver's port is not.
	client, err := NewClient(ClientConfig{Timeout: 5 * time.Second, Egress: egress.Policy{AllowHTTP: true,
		AllowCIDRs: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}}, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(client.Close)
	sub := senderSub("sub_blocked")
	sub.URL = srv.URL + "/hook"
	subs := newFakeIndex(sub)
	s, _ := h.start(Deps{Subscriptions: subs, Disabler: subs, Client: client})

	d := newTestDelivery(sub.ID, "clm_1", 1)
	h.produce(d)
	dlq := h.read(h.cfg.DLQTopic, 1, 30*time.Second)
	if len(dlq) != 1 {
		t.Fatalf("DLQ records = %d, want 1", len(dlq))
	}
	if got := recHeader(dlq[0], events.HeaderReason); got != string(ReasonSSRFBlocked) {
		t.Errorf("DLQ reason = %q, want ssrf_blocked", got)
	}
	if got := recHeader(dlq[0], events.HeaderError); !strings.Contains(got, "prohibited port") || !strings.Contains(got, "80, 443") {
		t.Errorf("DLQ er-error = %q, want the guard's port refusal listing the allowed ports", got)
	}
	if got := recHeader(dlq[0], events.HeaderAttempt); got != "1" {
		t.Errorf("DLQ er-attempt = %q, want 1 (no retry)", got)
	}
	for _, topic := range s.retries.tiers.topics() {
		if recs := h.read(topic, 1, 500*time.Millisecond); len(recs) != 0 {
			t.Errorf("%s holds %d records; an ssrf_blocked delivery must not be retried", topic, len(recs))
		}
	}
	if n := calls.Load(); n != 0 {
		t.Errorf("the endpoint was called %d times", n)
	}
}
