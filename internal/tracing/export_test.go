package tracing_test

import (
	"context"
	"testing"

	"go.uber.org/zap"

	"github.com/claimable/eventrouter/internal/tracing"
	"github.com/claimable/eventrouter/internal/tracing/tracingtest"
)

// On, New exports over OTLP/HTTP to tracing.endpoint (the traces path added), with the
// service's resource; Shutdown flushes what the batcher still holds.
func TestNewExportsToTheEndpoint(t *testing.T) {
	col := tracingtest.NewCollector(t)
	p, err := tracing.New(tracing.Options{Enabled: true, Endpoint: col.URL, SampleRatio: 1, ServiceName: "eventrouter-test", Role: "router"}, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	_, span := p.TracerProvider.Tracer("t").Start(context.Background(), tracing.SpanRoute)
	span.SetAttributes(tracing.AttrFanout.Int(3))
	span.End()
	if err := p.Shutdown(context.Background()); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	spans := col.Spans()
	if len(spans) != 1 {
		t.Fatalf("collector got %d spans, want 1", len(spans))
	}
	s := spans[0]
	if s.Name != tracing.SpanRoute || s.Service != "eventrouter-test" || s.Attrs[string(tracing.AttrFanout)] != "3" ||
		s.TraceID != span.SpanContext().TraceID().String() {
		t.Errorf("exported %+v, want the route span of eventrouter-test with fanout 3", s)
	}
}

// A sample ratio of 0 keeps no new trace: nothing is exported.
func TestSampleRatioZeroExportsNothing(t *testing.T) {
	col := tracingtest.NewCollector(t)
	p, err := tracing.New(tracing.Options{Enabled: true, Endpoint: col.URL, SampleRatio: 0, ServiceName: "x"}, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	_, span := p.TracerProvider.Tracer("t").Start(context.Background(), tracing.SpanRoute)
	span.End()
	if err := p.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := len(col.Spans()); n != 0 || span.SpanContext().IsSampled() {
		t.Errorf("sample_ratio 0: %d spans exported, sampled=%v", n, span.SpanContext().IsSampled())
	}
}
