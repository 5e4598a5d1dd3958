package router

import (
	"context"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/claimable/eventrouter/events"
	"github.com/claimable/eventrouter/internal/tracing"
	"github.com/claimable/eventrouter/internal/tracing/tracingtest"
)

// upstreamSpan starts a span of a producer upstream of the router and returns its
// context, to put on an ingest record.
func upstreamSpan(t *testing.T) (context.Context, trace.SpanContext) {
	t.Helper()
	tp := sdktrace.NewTracerProvider()
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	ctx, span := tp.Tracer("claims-service").Start(context.Background(), "publish claim.created")
	span.End()
	return ctx, span.SpanContext()
}

// deliverySpanContext parses a delivery record's traceparent.
func deliverySpanContext(t *testing.T, rec *kgo.Record) trace.SpanContext {
	t.Helper()
	d, err := events.ParseDelivery(rec)
	if err != nil {
		t.Fatal(err)
	}
	return trace.SpanContextFromContext(tracing.FromDelivery(context.Background(), d.Trace))
}

// sameSpan compares trace and span ids (not the remote flag, which a hop sets).
func sameSpan(a, b trace.SpanContext) bool {
	return a.IsValid() && a.TraceID() == b.TraceID() && a.SpanID() == b.SpanID()
}

// With tracing on, each ingest record is routed in a route span that continues the
// producer's trace (its traceparent header), or starts one; every delivery carries the
// route span's context, which is what makes each attempt its child; an invalid record's
// span says why.
func TestRouteSpanContinuesTheIngestTraceIntoEveryDelivery(t *testing.T) {
	e := newEnv(t, 1, 1)
	tr := tracingtest.NewRecorder()
	m := newMatcher(t, sub("sub_a", "acc_1", true, "", "claim.*"), sub("sub_b", "acc_1", true, "", "*"))

	upCtx, up := upstreamSpan(t)
	traced, tracedEv := eventRecord("claim.created", "acc_1", "clm_1", 1)
	tracing.ToRecord(upCtx, &traced.Headers)
	untraced, untracedEv := eventRecord("claim.closed", "acc_1", "clm_2", 2)
	invalid := &kgo.Record{Topic: tIngest, Key: []byte("acc_1"), Value: []byte("{not json")}
	tracing.ToRecord(upCtx, &invalid.Headers)
	e.produce(t, traced, untraced, invalid)
	e.startWith(t, e.config("g-trace"), Deps{Matcher: m, Parser: newParser(t, 0), TracerProvider: tr})
	out := e.reader(t, tDeliveries).n(t, 4)

	spans := map[string]sdktrace.ReadOnlySpan{} // by event id, or "invalid"
	for _, s := range tr.Spans() {
		if s.Name() != tracing.SpanRoute {
			t.Errorf("span %q, want only %q", s.Name(), tracing.SpanRoute)
		}
		id := tracingtest.Attr(s, tracing.AttrEventID).AsString()
		if id == "" {
			id = "invalid"
		}
		spans[id] = s
	}
	if len(spans) != 3 {
		t.Fatalf("got route spans for %v, want the two events and the invalid record", keys(spans))
	}
	route := spans[tracedEv.ID]
	if !sameSpan(route.Parent(), up) || route.SpanContext().TraceID() != up.TraceID() {
		t.Errorf("route span's parent = %v, want the ingest record's span %v", route.Parent(), up)
	}
	if got := tracingtest.Attr(route, tracing.AttrFanout).AsInt64(); got != 2 {
		t.Errorf("fanout attribute = %d, want 2", got)
	}
	if got := tracingtest.Attr(route, tracing.AttrEventName).AsString(); got != "claim.created" {
		t.Errorf("event name attribute = %q", got)
	}
	if got := tracingtest.Attr(route, tracing.AttrAccountID).AsString(); got != "acc_1" {
		t.Errorf("account attribute = %q", got)
	}
	if root := spans[untracedEv.ID]; root.Parent().IsValid() || root.SpanContext().TraceID() == up.TraceID() {
		t.Errorf("route span of a record without traceparent has parent %v: want a new trace", root.Parent())
	}
	bad := spans["invalid"]
	if bad.Status().Code != codes.Error || tracingtest.Attr(bad, tracing.AttrInvalidReason).AsString() == "" || !sameSpan(bad.Parent(), up) {
		t.Errorf("invalid record's span: status %v, reason %q, parent %v", bad.Status(), tracingtest.Attr(bad, tracing.AttrInvalidReason).AsString(), bad.Parent())
	}

	for _, rec := range out {
		sc := deliverySpanContext(t, rec)
		want := spans[header(rec, events.HeaderEventID)].SpanContext()
		if !sc.IsValid() || !sameSpan(sc, want) {
			t.Errorf("delivery %s/%s carries %v, want its route span %v", header(rec, events.HeaderEventID), rec.Key, sc, want)
		}
	}
}

// Off (no TracerProvider, the default), the router adds no trace context, whatever the
// ingest record carries.
func TestTracingOffAddsNoTraceContext(t *testing.T) {
	e := newEnv(t, 1, 1)
	m := newMatcher(t, sub("sub_a", "acc_1", true, "", "*"))
	upCtx, _ := upstreamSpan(t)
	rec, _ := eventRecord("claim.created", "acc_1", "clm_1", 1)
	tracing.ToRecord(upCtx, &rec.Headers)
	e.produce(t, rec)
	e.start(t, e.config("g-notrace"), m, newParser(t, 0))
	out := e.reader(t, tDeliveries).n(t, 1)
	for _, h := range out[0].Headers {
		if h.Key == events.HeaderTraceParent || h.Key == events.HeaderTraceState {
			t.Errorf("delivery has %s = %q with tracing off", h.Key, h.Value)
		}
	}
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
