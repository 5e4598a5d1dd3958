package tracing

import (
	"context"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/otel/propagation"

	"github.com/claimable/eventrouter/events"
)

// propagator is W3C Trace Context: traceparent and tracestate.
var propagator = propagation.TraceContext{}

// RecordHeaders is a propagation.TextMapCarrier over Kafka record headers. Get returns
// the first header of that key; Set appends (use it on records being built, whose
// headers hold no trace context yet).
type RecordHeaders struct{ Headers *[]kgo.RecordHeader }

var _ propagation.TextMapCarrier = RecordHeaders{}

// Get returns the value of the first header named key, or "".
func (c RecordHeaders) Get(key string) string {
	for _, h := range *c.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}

// Set appends a header.
func (c RecordHeaders) Set(key, value string) {
	*c.Headers = append(*c.Headers, kgo.RecordHeader{Key: key, Value: []byte(value)})
}

// Keys lists the header names.
func (c RecordHeaders) Keys() []string {
	keys := make([]string, len(*c.Headers))
	for i, h := range *c.Headers {
		keys[i] = h.Key
	}
	return keys
}

// FromRecord returns ctx with the remote span context of rec's traceparent and
// tracestate headers; ctx unchanged when they are absent or malformed (a span started
// from it begins a new trace).
func FromRecord(ctx context.Context, rec *kgo.Record) context.Context {
	return propagator.Extract(ctx, RecordHeaders{&rec.Headers})
}

// ToRecord appends ctx's span context to headers as traceparent (and tracestate):
// what a producer of ingest records does (tests, tools).
func ToRecord(ctx context.Context, headers *[]kgo.RecordHeader) {
	propagator.Inject(ctx, RecordHeaders{headers})
}

// deliveryCarrier is a propagation.TextMapCarrier over a delivery's trace context.
type deliveryCarrier struct{ tc *events.TraceContext }

func (c deliveryCarrier) Get(key string) string {
	switch key {
	case events.HeaderTraceParent:
		return c.tc.Parent
	case events.HeaderTraceState:
		return c.tc.State
	}
	return ""
}

func (c deliveryCarrier) Set(key, value string) {
	switch key {
	case events.HeaderTraceParent:
		c.tc.Parent = value
	case events.HeaderTraceState:
		c.tc.State = value
	}
}

func (c deliveryCarrier) Keys() []string {
	return []string{events.HeaderTraceParent, events.HeaderTraceState}
}

// Context returns ctx's span context as a delivery's trace context (zero when ctx holds
// no valid span context).
func Context(ctx context.Context) events.TraceContext {
	var tc events.TraceContext
	propagator.Inject(ctx, deliveryCarrier{&tc})
	return tc
}

// FromDelivery returns ctx with the remote span context tc carries (ctx unchanged when
// tc is zero or malformed).
func FromDelivery(ctx context.Context, tc events.TraceContext) context.Context {
	if tc.Parent == "" {
		return ctx
	}
	return propagator.Extract(ctx, deliveryCarrier{&tc})
}

// ToHTTP sets ctx's span context on an outgoing request's headers (traceparent,
// tracestate); nothing when ctx holds no valid span context.
func ToHTTP(ctx context.Context, h propagation.HeaderCarrier) {
	propagator.Inject(ctx, h)
}
