package api

import (
	"context"
	"fmt"
	"net/http"
	"testing"
)

// attemptLog is an Attempts and Deliveries over a fixed log: attempts newest first,
// and the deliveries they belong to.
type attemptLog struct {
	attempts   []Attempt
	deliveries map[string]*DeliveryStatus
	batchReads int // GetDeliveries calls
}

func (l *attemptLog) ListAttempts(_ context.Context, subID, _ string, limit int) ([]Attempt, string, error) {
	var out []Attempt
	for _, a := range l.attempts {
		if a.SubscriptionID == subID && len(out) < limit {
			out = append(out, a)
		}
	}
	return out, "", nil
}

func (l *attemptLog) GetDelivery(_ context.Context, id string) (*DeliveryStatus, error) {
	if d, ok := l.deliveries[id]; ok {
		c := *d
		return &c, nil
	}
	return nil, fmt.Errorf("%w: delivery %s", ErrNotFound, id)
}

func (l *attemptLog) GetDeliveries(_ context.Context, ids []string) ([]*DeliveryStatus, error) {
	l.batchReads++
	out := make([]*DeliveryStatus, len(ids))
	for i, id := range ids {
		if d, ok := l.deliveries[id]; ok {
			c := *d
			out[i] = &c
		}
	}
	return out, nil
}

// TestRecentDeliveriesNewestFirstOncePerDelivery: a delivery retried several times is
// listed once, at the place of its newest attempt, with its state; a delivery expired
// from the log is left out; ?limit bounds the list; another account's token sees 404.
func TestRecentDeliveriesNewestFirstOncePerDelivery(t *testing.T) {
	log := &attemptLog{deliveries: map[string]*DeliveryStatus{}}
	h := newHarness(t, func(_ *Config, d *Deps) { d.Attempts, d.Deliveries = log, log })
	sub := h.create(acmeToken, "")
	at := func(dlv string, n int, reason string, final bool) Attempt {
		return Attempt{DeliveryID: dlv, SubscriptionID: sub.ID, EventID: "evt_" + dlv, Attempt: n, Reason: reason, Final: final}
	}
	log.attempts = []Attempt{ // newest first
		at("msg_b", 3, "ok", true),
		at("msg_c", 1, "timeout", false),
		at("msg_b", 2, "http_status", false),
		at("msg_gone", 1, "ok", true),
		at("msg_b", 1, "http_status", false),
		at("msg_a", 1, "http_status", true),
	}
	log.deliveries["msg_a"] = &DeliveryStatus{ID: "msg_a", SubscriptionID: sub.ID, State: "dead", Attempts: []Attempt{log.attempts[5]}}
	log.deliveries["msg_b"] = &DeliveryStatus{ID: "msg_b", SubscriptionID: sub.ID, State: "delivered",
		Attempts: []Attempt{log.attempts[4], log.attempts[2], log.attempts[0]}}
	log.deliveries["msg_c"] = &DeliveryStatus{ID: "msg_c", SubscriptionID: sub.ID, State: "retrying", Attempts: []Attempt{log.attempts[1]}}

	rec := h.do("GET", "/v1/subscriptions/"+sub.ID+"/deliveries", acmeToken, "")
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body.String())
	}
	got := decode[recentDeliveries](t, rec).Data
	var ids, states []string
	for _, d := range got {
		ids, states = append(ids, d.ID), append(states, d.State)
	}
	if fmt.Sprint(ids) != "[msg_b msg_c msg_a]" || fmt.Sprint(states) != "[delivered retrying dead]" {
		t.Fatalf("deliveries %v states %v, want [msg_b msg_c msg_a] [delivered retrying dead]", ids, states)
	}
	if len(got[0].Attempts) != 3 {
		t.Errorf("msg_b has %d attempts, want its 3", len(got[0].Attempts))
	}
	if log.batchReads != 1 {
		t.Errorf("the page took %d reads of the log, want 1 (one round trip)", log.batchReads)
	}

	// limit=3: the first read finds msg_gone expired, a second fills the page.
	log.batchReads = 0
	rec = h.do("GET", "/v1/subscriptions/"+sub.ID+"/deliveries?limit=3", acmeToken, "")
	ids = nil
	for _, d := range decode[recentDeliveries](t, rec).Data {
		ids = append(ids, d.ID)
	}
	if fmt.Sprint(ids) != "[msg_b msg_c msg_a]" || log.batchReads != 2 {
		t.Errorf("limit=3: deliveries %v in %d reads, want [msg_b msg_c msg_a] in 2", ids, log.batchReads)
	}

	rec = h.do("GET", "/v1/subscriptions/"+sub.ID+"/deliveries?limit=1", acmeToken, "")
	if got := decode[recentDeliveries](t, rec).Data; len(got) != 1 || got[0].ID != "msg_b" {
		t.Fatalf("limit=1: %+v", got)
	}
	p := problem(t, h.do("GET", "/v1/subscriptions/"+sub.ID+"/deliveries?limit=51", acmeToken, ""), http.StatusBadRequest)
	if fmt.Sprint(fields(p)) != "[limit]" {
		t.Errorf("limit=51: fields %v, want [limit]", fields(p))
	}
	problem(t, h.do("GET", "/v1/subscriptions/"+sub.ID+"/deliveries", otherToken, ""), http.StatusNotFound)
}

func TestRecentDeliveriesWithoutDeliveryStageIs501(t *testing.T) {
	h := newHarness(t)
	sub := h.create(acmeToken, "")
	problem(t, h.do("GET", "/v1/subscriptions/"+sub.ID+"/deliveries", acmeToken, ""), http.StatusNotImplemented)
}
