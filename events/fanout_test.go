package events

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

// The router's fan-out records must be exactly what Delivery.Record makes for a first
// delivery: the sender parses both, and receivers dedupe on the delivery id.
func TestFanoutRecordIsTheFirstDeliveryRecord(t *testing.T) {
	p := mustParser(t)
	e, err := p.Parse(Sample("claim.assigned", "acc_1", "clm_9", 1, sampleTime.Add(123456789*time.Nanosecond)).Marshal())
	if err != nil {
		t.Fatal(err)
	}
	body := Render(e)
	f := NewFanout(e, "webhooks.deliveries")
	subs := []string{"sub_01HV4P8R2TQ9ABCDEFGHJKMNPQ", "s", strings.Repeat("x", fanoutInlineSub), strings.Repeat("y", fanoutInlineSub+1)}
	var recs []any
	for _, sub := range subs {
		got := f.Record(sub, body)
		want := NewDelivery(e, sub, body).Record("webhooks.deliveries")
		if !reflect.DeepEqual(got, want) {
			t.Errorf("subscription %q:\n got %+v\nwant %+v", sub, got, want)
		}
		recs = append(recs, got)
	}
	// With a trace context, each record is Delivery.Record's with that Trace.
	tc := TraceContext{Parent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", State: "vendor=abc"}
	traced := NewFanout(e, "webhooks.deliveries")
	traced.SetTrace(tc)
	for _, sub := range subs {
		want := NewDelivery(e, sub, body)
		want.Trace = tc
		if got := traced.Record(sub, body); !reflect.DeepEqual(got, want.Record("webhooks.deliveries")) {
			t.Errorf("subscription %q with trace:\n got %+v\nwant %+v", sub, got, want.Record("webhooks.deliveries"))
		}
	}
	// Records share the event's header values but not their own ids.
	for i, sub := range subs {
		r := f.Record(sub, body)
		if !reflect.DeepEqual(recs[i], r) {
			t.Errorf("subscription %q: a later record of the same event changed an earlier one", sub)
		}
	}
}

// Pinned values: a changed delivery id would make receivers see every re-processed
// event as new.
func TestDeliveryIDPinned(t *testing.T) {
	for _, c := range []struct{ event, sub, want string }{
		{"evt_1", "sub_1", "msg_qcv66kru3bik7px323ccv6fn7r"},
		{strings.Repeat("é", 200), "sub_01HV4P8R2TQ9ABCDEFGHJKMNPQRSTVWXYZ0123456789", "msg_h6a45avyyl4rnqi2c7pi6tmhzv"},
	} {
		if got := DeliveryID(c.event, c.sub); got != c.want {
			t.Errorf("DeliveryID(%.12q…, %q) = %s, want %s", c.event, c.sub, got, c.want)
		}
	}
}

func BenchmarkFanoutRecord(b *testing.B) {
	e, err := mustParser(b).Parse(Sample("claim.assigned", "acc_1", "clm_9", 1, sampleTime).Marshal())
	if err != nil {
		b.Fatal(err)
	}
	body := Render(e)
	b.ReportAllocs()
	for b.Loop() {
		f := NewFanout(e, "webhooks.deliveries")
		for range 5 {
			_ = f.Record("sub_01HV4P8R2TQ9ABCDEFGHJKMNPQ", body)
		}
	}
}
