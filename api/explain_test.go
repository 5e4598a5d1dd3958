package api

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/claimable/eventrouter/events"
)

// oneDelivery is a Deliveries that knows a single delivery.
type oneDelivery struct{ d *DeliveryStatus }

func (o *oneDelivery) GetDelivery(_ context.Context, id string) (*DeliveryStatus, error) {
	if o.d != nil && o.d.ID == id {
		return o.d, nil
	}
	return nil, fmt.Errorf("%w: delivery %s", ErrNotFound, id)
}

func (o *oneDelivery) GetDeliveries(ctx context.Context, ids []string) ([]*DeliveryStatus, error) {
	out := make([]*DeliveryStatus, len(ids))
	for i, id := range ids {
		out[i], _ = o.GetDelivery(ctx, id)
	}
	return out, nil
}

const explainEvent = `{"id":"evt_1","account_id":"acct_acme","event_name":"claim.created","object":"claim",
"source":"ui","performed_by":"Ada","occurred_at":"2026-12-01T10:00:00Z","data":{"id":"clm_9","type":"fire"}}`

func TestExplainSaysWhichRuleDecidedAndWhatWasDelivered(t *testing.T) {
	logged := &oneDelivery{}
	h := newHarness(t, func(_ *Config, d *Deps) { d.Deliveries = logged })
	rec := h.do("POST", "/v1/subscriptions", acmeToken,
		`{"url":"https://hooks.example.com/x","events":["claim.*"],"filter":"claim.type == \"theft\""}`)
	if rec.Code != http.StatusCreated {
		t.Fatalf("create: %d %s", rec.Code, rec.Body.String())
	}
	sub := decode[created](t, rec)

	rec = h.do("POST", "/v1/subscriptions/"+sub.ID+"/explain", acmeToken, explainEvent)
	if rec.Code != http.StatusOK {
		t.Fatalf("explain: %d %s", rec.Code, rec.Body.String())
	}
	x := decode[explainView](t, rec)
	if x.Matched || x.Decided != "filter" || x.DeliveryID != events.DeliveryID("evt_1", sub.ID) || x.Delivery != nil {
		t.Fatalf("explanation = %+v", x)
	}
	if c := x.Rules[2].Clauses; len(c) != 1 || c[0].Saw != `claim.type = "fire"` {
		t.Errorf("filter clauses = %+v", c)
	}

	// A theft claim matches, and its logged delivery comes back with the explanation.
	theft := strings.Replace(explainEvent, `"fire"`, `"theft"`, 1)
	logged.d = &DeliveryStatus{ID: events.DeliveryID("evt_1", sub.ID), SubscriptionID: sub.ID, EventID: "evt_1", State: "delivered",
		Attempts: []Attempt{{Attempt: 1, Reason: "ok", Status: 200}}}
	rec = h.do("POST", "/v1/subscriptions/"+sub.ID+"/explain", acmeToken, theft)
	x = decode[explainView](t, rec)
	if !x.Matched || x.Decided != "" || x.Delivery == nil || x.Delivery.State != "delivered" {
		t.Fatalf("explanation of a delivered event = %+v", x)
	}
}

func TestExplainRefusesAnInvalidEventNamingTheField(t *testing.T) {
	h := newHarness(t)
	sub := h.create(acmeToken, "")
	bad := strings.Replace(explainEvent, `"source":"ui",`, ``, 1)
	p := problem(t, h.do("POST", "/v1/subscriptions/"+sub.ID+"/explain", acmeToken, bad), http.StatusUnprocessableEntity)
	if f := fields(p); len(f) != 1 || f[0] != "event.source" {
		t.Errorf("fields = %v, want [event.source]", f)
	}
	// Another account's subscription is 404, as everywhere.
	problem(t, h.do("POST", "/v1/subscriptions/"+sub.ID+"/explain", otherToken, explainEvent), http.StatusNotFound)
}
