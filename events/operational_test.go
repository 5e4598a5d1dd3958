package events

import (
	"strings"
	"testing"
	"time"
)

func TestOpEventRoundTrip(t *testing.T) {
	n := 3
	at := time.Date(2026, 3, 1, 10, 0, 0, 5, time.FixedZone("x", 3600))
	e := &OpEvent{Type: OpSubscriptionRecovered, ID: OpEventID(OpSubscriptionRecovered, "sub_1", "7"), OccurredAt: at,
		AccountID: "acct_1", SubscriptionID: "sub_1", Data: OpData{Since: at.Add(-time.Hour), Redriven: &n}}
	b, err := e.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"occurred_at":"2026-03-01T09:00:00.000000005Z"`) || !strings.Contains(string(b), `"redriven":3`) {
		t.Fatalf("body %s: want UTC occurred_at and redriven", b)
	}
	if strings.Contains(string(b), "failing_since") || strings.Contains(string(b), "webhook_id") {
		t.Fatalf("body %s: unset fields must be omitted", b)
	}
	got, err := ParseOpEvent(b)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != e.ID || got.Type != e.Type || !got.OccurredAt.Equal(at) || got.Data.Redriven == nil || *got.Data.Redriven != 3 {
		t.Fatalf("round trip: got %+v", got)
	}
}

func TestOpEventIDPerOccurrence(t *testing.T) {
	a := OpEventID(OpDeliveryExhausted, "sub_1", "msg_a", "5")
	if a != OpEventID(OpDeliveryExhausted, "sub_1", "msg_a", "5") {
		t.Fatal("same occurrence, different ids")
	}
	if !strings.HasPrefix(a, "op_") || len(a) != 29 {
		t.Fatalf("id %q: want op_ + 26 characters", a)
	}
	for _, other := range []string{
		OpEventID(OpDeliveryExhausted, "sub_1", "msg_a", "6"),
		OpEventID(OpEndpointFailing, "sub_1", "msg_a", "5"),
		OpEventID(OpDeliveryExhausted, "sub_1", "msg_a5"),
		OpEventID(OpDeliveryExhausted, "sub_1msg_a", "5"),
	} {
		if other == a {
			t.Fatalf("distinct occurrences share id %s", a)
		}
	}
}

func TestOpEventValidateNamesField(t *testing.T) {
	ok := OpEvent{Type: OpEndpointFailing, ID: "op_x", OccurredAt: time.Now(), AccountID: "a", SubscriptionID: "s"}
	for field, mut := range map[string]func(*OpEvent){
		"type":            func(e *OpEvent) { e.Type = "claim.created" },
		"id":              func(e *OpEvent) { e.ID = "" },
		"occurred_at":     func(e *OpEvent) { e.OccurredAt = time.Time{} },
		"account_id":      func(e *OpEvent) { e.AccountID = "" },
		"subscription_id": func(e *OpEvent) { e.SubscriptionID = "" },
	} {
		e := ok
		mut(&e)
		if _, err := e.Encode(); err == nil || !strings.Contains(err.Error(), field+":") {
			t.Errorf("%s: err %v, want one naming the field", field, err)
		}
	}
	if _, err := ParseOpEvent([]byte(`{"type":`)); err == nil {
		t.Error("truncated JSON parsed")
	}
}

func TestSampleOpEventOfEveryTypeIsValid(t *testing.T) {
	at := time.Now()
	for _, typ := range OperationalTypes() {
		e := SampleOpEvent(typ, "acct_1", "sub_1", at)
		b, err := e.Encode()
		if err != nil {
			t.Fatalf("%s: %v", typ, err)
		}
		if e.Data == (OpData{}) {
			t.Errorf("%s: sample without data: %s", typ, b)
		}
		if e.ID == SampleOpEvent(typ, "acct_1", "sub_1", at.Add(time.Nanosecond)).ID {
			t.Errorf("%s: two samples share an id", typ)
		}
	}
}
