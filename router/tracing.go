package router

import (
	"context"
	"strconv"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/claimable/eventrouter/internal/tracing"
	"github.com/claimable/eventrouter/subscriptions"
)

// routeTraced routes rec in a route span: a child of the trace context of rec's
// traceparent/tracestate headers when it has one, else the root of a new trace. Every
// delivery it produces carries the span's context (events.Delivery.Trace), so each
// attempt's span is the route span's child. An invalid record's span has status Error
// and the reason; it produces no delivery.
func (r *Router) routeTraced(rec *kgo.Record, out []*kgo.Record, subs []*subscriptions.Subscription) (routed, []*kgo.Record, []*subscriptions.Subscription) {
	ctx, span := r.tracer.Start(tracing.FromRecord(context.Background(), rec), tracing.SpanRoute,
		trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithAttributes(
			tracing.AttrMessagingSystem.String("kafka"),
			tracing.AttrTopic.String(rec.Topic),
			tracing.AttrPartition.String(strconv.Itoa(int(rec.Partition))),
			tracing.AttrOffset.Int64(rec.Offset),
		))
	defer span.End()
	rt, out, subs := r.routeRecord(rec, out, subs, tracing.Context(ctx))
	attrs := make([]attribute.KeyValue, 0, 4)
	if rt.eventName != "" {
		attrs = append(attrs, tracing.AttrEventName.String(rt.eventName), tracing.AttrFanout.Int(rt.fanout))
	}
	if rt.eventID != "" {
		attrs = append(attrs, tracing.AttrEventID.String(rt.eventID), tracing.AttrAccountID.String(rt.accountID))
	}
	span.SetAttributes(attrs...)
	if rt.reason != "" {
		span.SetAttributes(tracing.AttrInvalidReason.String(rt.reason))
		span.SetStatus(codes.Error, rt.reason)
	}
	return rt, out, subs
}
