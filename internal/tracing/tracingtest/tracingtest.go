// Package tracingtest records the spans the pipeline makes, for tests.
package tracingtest

import (
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/claimable/eventrouter/internal/tracing"
)

// Recorder is a TracerProvider that samples every span and keeps the ended ones in
// memory.
type Recorder struct {
	*sdktrace.TracerProvider
	exp *tracetest.InMemoryExporter
}

// NewRecorder returns a Recorder with the pipeline's sampler and resource.
func NewRecorder() *Recorder {
	exp := tracetest.NewInMemoryExporter()
	tp := tracing.NewSDKProvider(tracing.Options{ServiceName: "test", SampleRatio: 1}, sdktrace.WithSyncer(exp))
	return &Recorder{TracerProvider: tp, exp: exp}
}

// Spans returns the spans ended so far, in the order they ended.
func (r *Recorder) Spans() []sdktrace.ReadOnlySpan { return r.exp.GetSpans().Snapshots() }

// Named returns the ended spans called name.
func (r *Recorder) Named(name string) []sdktrace.ReadOnlySpan {
	var out []sdktrace.ReadOnlySpan
	for _, s := range r.Spans() {
		if s.Name() == name {
			out = append(out, s)
		}
	}
	return out
}

// Attr returns span s's attribute k (the zero Value when it has none).
func Attr(s sdktrace.ReadOnlySpan, k attribute.Key) attribute.Value {
	for _, kv := range s.Attributes() {
		if kv.Key == k {
			return kv.Value
		}
	}
	return attribute.Value{}
}
