package events

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

func TestDeliveryIDIsStableAndUnambiguous(t *testing.T) {
	id := DeliveryID("evt_1", "sub_1")
	if id != DeliveryID("evt_1", "sub_1") {
		t.Fatal("DeliveryID is not deterministic")
	}
	if len(id) != 30 || !strings.HasPrefix(id, "msg_") {
		t.Fatalf("DeliveryID = %q, want msg_ + 26 characters", id)
	}
	for _, c := range id[4:] {
		if !(c >= 'a' && c <= 'z' || c >= '2' && c <= '7') {
			t.Fatalf("DeliveryID = %q: %q is not lower-case base32", id, c)
		}
	}
	pairs := [][2]string{{"evt_1", "sub_1"}, {"evt_1s", "ub_1"}, {"evt_", "1sub_1"}, {"sub_1", "evt_1"}, {"evt_1", "sub_2"}, {"", "evt_1sub_1"}}
	seen := map[string][2]string{}
	for _, p := range pairs {
		d := DeliveryID(p[0], p[1])
		if prev, dup := seen[d]; dup {
			t.Errorf("DeliveryID(%q) == DeliveryID(%q) = %s", p, prev, d)
		}
		seen[d] = p
	}
}

func fullDelivery() *Delivery {
	t0 := time.Date(2025, 3, 14, 9, 26, 53, 589_123_456, time.UTC)
	return &Delivery{
		ID:             DeliveryID("evt_1", "sub_1"),
		SubscriptionID: "sub_1",
		AccountID:      "acc_1",
		EventID:        "evt_1",
		EventName:      "claim.assigned",
		ObjectID:       "clm_1",
		Attempt:        3,
		FirstAttemptAt: t0.Add(time.Second),
		OccurredAt:     t0,
		NotBefore:      t0.Add(5 * time.Minute),
		Reason:         "http_503",
		History: []AttemptSummary{
			{Attempt: 1, At: t0.Add(time.Second), Status: 503, Reason: "http_503", LatencyMS: 120},
			{Attempt: 2, At: t0.Add(6 * time.Second), Reason: "timeout", LatencyMS: 15000},
		},
		Redrive: "dlq",
		Trace:   TraceContext{Parent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", State: "vendor=abc"},
		Body:    []byte(`{"id":"evt_1"}`),
	}
}

func TestDeliveryRecordRoundTrip(t *testing.T) {
	minimal := &Delivery{
		ID: DeliveryID("e", "s"), SubscriptionID: "s", AccountID: "a", EventID: "e",
		EventName: "contact.created", ObjectID: "42", Attempt: 1,
		OccurredAt: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), Body: []byte("{}"),
	}
	for name, d := range map[string]*Delivery{"full": fullDelivery(), "minimal": minimal} {
		t.Run(name, func(t *testing.T) {
			r := d.Record("webhooks.deliveries")
			if r.Topic != "webhooks.deliveries" || string(r.Key) != d.SubscriptionID || string(r.Value) != string(d.Body) {
				t.Errorf("record topic/key/value = %q/%q/%q", r.Topic, r.Key, r.Value)
			}
			got, err := ParseDelivery(r)
			if err != nil {
				t.Fatalf("ParseDelivery: %v", err)
			}
			if !reflect.DeepEqual(got, d) {
				t.Errorf("round trip:\n got %+v\nwant %+v", got, d)
			}
		})
	}
}

func TestDeliveryRecordOmitsEmptyOptionalHeaders(t *testing.T) {
	d := fullDelivery()
	d.FirstAttemptAt, d.NotBefore, d.Reason, d.History, d.Redrive = time.Time{}, time.Time{}, "", nil, ""
	d.Trace = TraceContext{}
	r := d.Record("t")
	for _, h := range r.Headers {
		switch h.Key {
		case HeaderFirstAttemptAt, HeaderNotBefore, HeaderReason, HeaderHistory, HeaderRedrive, HeaderTraceParent, HeaderTraceState:
			t.Errorf("optional header %s = %q present though empty", h.Key, h.Value)
		}
	}
	if len(r.Headers) != 8 {
		t.Errorf("got %d headers, want the 8 required ones", len(r.Headers))
	}
}

func TestParseDeliveryRejects(t *testing.T) {
	cases := []struct {
		name   string
		edit   func(r *kgo.Record)
		header string
	}{
		{"missing subscription", drop(HeaderSubscriptionID), HeaderSubscriptionID},
		{"missing delivery id", drop(HeaderDeliveryID), HeaderDeliveryID},
		{"missing attempt", drop(HeaderAttempt), HeaderAttempt},
		{"missing occurred-at", drop(HeaderOccurredAt), HeaderOccurredAt},
		{"missing object id", drop(HeaderObjectID), HeaderObjectID},
		{"zero attempt", set(HeaderAttempt, "0"), HeaderAttempt},
		{"text attempt", set(HeaderAttempt, "three"), HeaderAttempt},
		{"huge attempt", set(HeaderAttempt, "99999999999999999999"), HeaderAttempt},
		{"bad time", set(HeaderNotBefore, "soon"), HeaderNotBefore},
		{"bad history", set(HeaderHistory, "{"), HeaderHistory},
		{"empty account", set(HeaderAccountID, ""), HeaderAccountID},
		{"control char event id", set(HeaderEventID, "e\x00"), HeaderEventID},
		{"duplicate header", func(r *kgo.Record) {
			r.Headers = append(r.Headers, kgo.RecordHeader{Key: HeaderAttempt, Value: []byte("9")})
		}, HeaderAttempt},
		{"key mismatch", func(r *kgo.Record) { r.Key = []byte("sub_other") }, "key"},
		{"empty body", func(r *kgo.Record) { r.Value = nil }, "value"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := fullDelivery().Record("t")
			tc.edit(r)
			_, err := ParseDelivery(r)
			var de *DeliveryError
			if !errors.As(err, &de) || !errors.Is(err, ErrBadDelivery) {
				t.Fatalf("ParseDelivery = %v, want a *DeliveryError", err)
			}
			if de.Header != tc.header {
				t.Errorf("error names %q, want %q (%v)", de.Header, tc.header, err)
			}
		})
	}
}

// A trace header over its bound is not a trace context: the delivery parses, without it
// (its attempt then starts a new trace), rather than going to the DLQ.
func TestParseDeliveryDropsOversizedTraceHeaders(t *testing.T) {
	r := fullDelivery().Record("t")
	for i, h := range r.Headers {
		switch h.Key {
		case HeaderTraceParent:
			r.Headers[i].Value = []byte(strings.Repeat("0", maxTraceParentBytes+1))
		case HeaderTraceState:
			r.Headers[i].Value = []byte(strings.Repeat("v", maxTraceStateBytes+1))
		}
	}
	d, err := ParseDelivery(r)
	if err != nil {
		t.Fatalf("ParseDelivery: %v", err)
	}
	if d.Trace != (TraceContext{}) {
		t.Errorf("Trace = %+v, want none", d.Trace)
	}
}

func TestParseDeliveryIgnoresUnknownHeadersAndNilKey(t *testing.T) {
	r := fullDelivery().Record("t")
	r.Key = nil
	r.Headers = append(r.Headers, kgo.RecordHeader{Key: "traceparent", Value: []byte("00-abc")})
	if _, err := ParseDelivery(r); err != nil {
		t.Errorf("ParseDelivery = %v, want unknown headers ignored", err)
	}
}

func drop(k string) func(*kgo.Record) {
	return func(r *kgo.Record) {
		out := r.Headers[:0]
		for _, h := range r.Headers {
			if h.Key != k {
				out = append(out, h)
			}
		}
		r.Headers = out
	}
}

func set(k, v string) func(*kgo.Record) {
	return func(r *kgo.Record) {
		for i, h := range r.Headers {
			if h.Key == k {
				r.Headers[i].Value = []byte(v)
				return
			}
		}
		r.Headers = append(r.Headers, kgo.RecordHeader{Key: k, Value: []byte(v)})
	}
}

func BenchmarkDeliveryRecord(b *testing.B) {
	d := fullDelivery()
	d.History, d.Reason, d.Redrive, d.NotBefore = nil, "", "", time.Time{}
	b.ReportAllocs()
	for b.Loop() {
		_ = d.Record("webhooks.deliveries")
	}
}

func BenchmarkParseDelivery(b *testing.B) {
	d := fullDelivery()
	d.History, d.Reason, d.Redrive, d.NotBefore = nil, "", "", time.Time{}
	r := d.Record("webhooks.deliveries")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseDelivery(r); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDeliveryID(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_ = DeliveryID("evt_01HV4P8R2TQ9", "sub_01HV4P8R2TQ9")
	}
}

func TestNewDeliveryFromParsedEventRoundTrips(t *testing.T) {
	p := mustParser(t)
	e, err := p.Parse(Sample("claim.assigned", "acc_1", "clm_9", 1, sampleTime).Marshal())
	if err != nil {
		t.Fatal(err)
	}
	d := NewDelivery(e, "sub_7", Render(e))
	got, err := ParseDelivery(d.Record("webhooks.deliveries"))
	if err != nil {
		t.Fatalf("ParseDelivery(NewDelivery) = %v", err)
	}
	if got.ID != DeliveryID(e.ID, "sub_7") || got.Attempt != 1 || got.ObjectID != "clm_9" ||
		got.EventID != e.ID || got.AccountID != "acc_1" || !got.OccurredAt.Equal(e.OccurredAt) ||
		string(got.Body) != string(Render(e)) {
		t.Errorf("delivery = %+v", got)
	}
}
