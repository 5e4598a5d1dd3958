package delivery

import (
	"context"

	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/claimable/eventrouter/events"
	"github.com/claimable/eventrouter/internal/tracing"
)

// startAttempt starts the span of one HTTP attempt of d: a child of the route span
// whose context the delivery carries (d.Trace), or the root of a new trace when it
// carries none. With tracing off it returns ctx and a nil span, at no cost. The client
// puts the span's context on the request (ClientConfig.PropagateTrace).
func (s *Sender) startAttempt(ctx context.Context, d *events.Delivery) (context.Context, trace.Span) {
	if s.observe.tracer == nil {
		return ctx, nil
	}
	return s.observe.tracer.Start(tracing.FromDelivery(ctx, d.Trace), tracing.SpanAttempt,
		trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(
			tracing.AttrSubscriptionID.String(d.SubscriptionID),
			tracing.AttrWebhookID.String(d.ID),
			tracing.AttrEventName.String(d.EventName),
			tracing.AttrEventID.String(d.EventID),
			tracing.AttrAttempt.Int(d.Attempt),
		))
}

// endAttempt records the attempt's result on its span and ends it. A failed attempt's
// span has status Error with the reason; the outcome attribute is the reason code
// (ok, http_status, timeout, …), as in the attempt log.
func endAttempt(span trace.Span, res Result) {
	if span == nil {
		return
	}
	span.SetAttributes(tracing.AttrOutcome.String(string(res.Reason)))
	if res.Status != 0 {
		span.SetAttributes(tracing.AttrHTTPResponseStatus.Int(res.Status))
	}
	if !res.OK() {
		span.SetStatus(codes.Error, string(res.Reason))
	}
	span.End()
}
