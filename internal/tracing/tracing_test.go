package tracing

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"

	"github.com/claimable/eventrouter/events"
)

func TestValidateNamesTheKey(t *testing.T) {
	on := Options{Enabled: true, ServiceName: "eventrouter", SampleRatio: 1}
	cases := []struct {
		name string
		edit func(*Options)
		key  string
	}{
		{"ratio above 1", func(o *Options) { o.SampleRatio = 1.5 }, "tracing.sample_ratio"},
		{"negative ratio", func(o *Options) { o.SampleRatio = -0.1 }, "tracing.sample_ratio"},
		{"no service name", func(o *Options) { o.ServiceName = "" }, "tracing.service_name"},
		{"endpoint without scheme", func(o *Options) { o.Endpoint = "collector:4318" }, "tracing.endpoint"},
		{"grpc scheme", func(o *Options) { o.Endpoint = "grpc://collector:4317" }, "tracing.endpoint"},
		{"no host", func(o *Options) { o.Endpoint = "http:///v1/traces" }, "tracing.endpoint"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := on
			tc.edit(&o)
			err := o.Validate()
			if !errors.Is(err, ErrOptions) || !strings.Contains(err.Error(), tc.key) {
				t.Errorf("Validate = %v, want an ErrOptions naming %s", err, tc.key)
			}
			if _, err := New(o, zap.NewNop()); !errors.Is(err, ErrOptions) {
				t.Errorf("New = %v, want the same error", err)
			}
		})
	}
	off := Options{SampleRatio: 7} // not checked while off
	if err := off.Validate(); err != nil {
		t.Errorf("disabled options: %v", err)
	}
}

func TestEndpointURLDefaultsTheTracesPath(t *testing.T) {
	for in, want := range map[string]string{
		"http://collector:4318":             "http://collector:4318/v1/traces",
		"https://collector:4318/":           "https://collector:4318/v1/traces",
		"http://collector:4318/custom/path": "http://collector:4318/custom/path",
	} {
		if got, err := EndpointURL(in); err != nil || got != want {
			t.Errorf("EndpointURL(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

func TestNewOffHasNoProvider(t *testing.T) {
	p, err := New(Options{}, zap.NewNop())
	if err != nil || p.TracerProvider != nil {
		t.Fatalf("New(off) = %+v, %v; want a nil TracerProvider", p, err)
	}
	if err := p.Shutdown(context.Background()); err != nil {
		t.Errorf("Shutdown(off) = %v", err)
	}
}

// A span context survives every hop the pipeline makes: ingest record headers →
// delivery trace context → delivery record (re-published to a retry tier) → HTTP
// request headers.
func TestTraceContextSurvivesEveryHop(t *testing.T) {
	tp := sdktrace.NewTracerProvider()
	ctx, span := tp.Tracer("t").Start(context.Background(), "upstream")
	defer span.End()
	want := span.SpanContext()

	var hs []kgo.RecordHeader
	ToRecord(ctx, &hs)
	rec := &kgo.Record{Headers: append([]kgo.RecordHeader{{Key: "other", Value: []byte("x")}}, hs...)}
	tc := Context(FromRecord(context.Background(), rec))
	if tc.Parent == "" {
		t.Fatal("no traceparent extracted from the record headers")
	}
	d := &events.Delivery{ID: "msg_1", SubscriptionID: "s", AccountID: "a", EventID: "e", EventName: "claim.created",
		ObjectID: "o", Attempt: 2, Body: []byte("{}"), Trace: tc}
	back, err := events.ParseDelivery(d.Record("webhooks.retry.5s"))
	if err != nil {
		t.Fatal(err)
	}
	h := http.Header{}
	ToHTTP(FromDelivery(context.Background(), back.Trace), propagation.HeaderCarrier(h))
	got := trace.SpanContextFromContext(propagation.TraceContext{}.Extract(context.Background(), propagation.HeaderCarrier(h)))
	if got.TraceID() != want.TraceID() || got.SpanID() != want.SpanID() || !got.IsSampled() {
		t.Errorf("after every hop: %v, want %v", got, want)
	}
}

func TestMalformedTraceparentStartsNoTrace(t *testing.T) {
	rec := &kgo.Record{Headers: []kgo.RecordHeader{{Key: "traceparent", Value: []byte("00-zz-yy-01")}}}
	if sc := trace.SpanContextFromContext(FromRecord(context.Background(), rec)); sc.IsValid() {
		t.Errorf("malformed traceparent gave %v", sc)
	}
	if tc := Context(context.Background()); tc != (events.TraceContext{}) {
		t.Errorf("Context of a context without span = %+v", tc)
	}
}
