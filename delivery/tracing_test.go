package delivery

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/claimable/eventrouter/internal/testenv"
	"github.com/claimable/eventrouter/internal/tracing"
	"github.com/claimable/eventrouter/internal/tracing/tracingtest"
)

// traceReceiver answers 500 to a delivery's first request and 200 after, and keeps the
// trace context of every request.
type traceReceiver struct {
	mu   sync.Mutex
	seen []trace.SpanContext // per request; invalid when it had no traceparent
	raw  []string
}

func (rc *traceReceiver) handler(w http.ResponseWriter, r *http.Request) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.raw = append(rc.raw, r.Header.Get("traceparent"))
	rc.seen = append(rc.seen, trace.SpanContextFromContext(
		propagation.TraceContext{}.Extract(context.Background(), propagation.HeaderCarrier(r.Header))))
	if len(rc.seen) == 1 {
		w.WriteHeader(http.StatusInternalServerError)
	}
}

func (rc *traceReceiver) requests() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return len(rc.seen)
}

// routeSpan is the router's span, whose context a delivery carries.
func routeSpan(t *testing.T) trace.SpanContext {
	t.Helper()
	_, span := sdktrace.NewTracerProvider().Tracer("router").Start(context.Background(), tracing.SpanRoute)
	span.End()
	return span.SpanContext()
}

// With tracing on, each attempt of a delivery — the first, and the retry that came
// back through a retry tier — is an attempt span, child of the route span the delivery
// carries, and the receiver gets the attempt span's traceparent (same trace id).
func TestAttemptSpansAreChildrenOfTheRouteSpanAndReachTheReceiver(t *testing.T) {
	h := newHarness(t, 1)
	rc := &traceReceiver{}
	srv := statusServer(t, rc.handler)
	tr := tracingtest.NewRecorder()
	client := testClient(t, srv.URL, func(c *ClientConfig) { c.PropagateTrace = true })
	sub := senderSub("sub_t")
	sub.URL = srv.URL + "/hook"
	subs := newFakeIndex(sub)
	h.start(Deps{Subscriptions: subs, Disabler: subs, Client: client, TracerProvider: tr})

	route := routeSpan(t)
	d := newTestDelivery("sub_t", "clm_1", 1)
	d.Trace = tracing.Context(trace.ContextWithSpanContext(context.Background(), route))
	h.produce(d)
	testenv.Eventually(t, 15*time.Second, "the retry's request", func() bool { return rc.requests() >= 2 })
	testenv.Eventually(t, 5*time.Second, "both attempt spans", func() bool { return len(tr.Spans()) >= 2 })

	spans := tr.Spans()
	rc.mu.Lock()
	defer rc.mu.Unlock()
	for i, s := range spans[:2] {
		wantStatus := []int64{500, 200}[i]
		if s.Name() != tracing.SpanAttempt || s.Parent().SpanID() != route.SpanID() || s.SpanContext().TraceID() != route.TraceID() {
			t.Errorf("span %d %q: parent %v trace %v, want a child of the route span %v", i, s.Name(), s.Parent(), s.SpanContext().TraceID(), route)
		}
		if got := tracingtest.Attr(s, tracing.AttrAttempt).AsInt64(); got != int64(i+1) {
			t.Errorf("span %d: attempt %d, want %d", i, got, i+1)
		}
		if got := tracingtest.Attr(s, tracing.AttrHTTPResponseStatus).AsInt64(); got != wantStatus {
			t.Errorf("span %d: status %d, want %d", i, got, wantStatus)
		}
		if got := tracingtest.Attr(s, tracing.AttrWebhookID).AsString(); got != d.ID {
			t.Errorf("span %d: webhook id %q, want %q", i, got, d.ID)
		}
		if got := tracingtest.Attr(s, tracing.AttrSubscriptionID).AsString(); got != "sub_t" {
			t.Errorf("span %d: subscription %q", i, got)
		}
		if sc := rc.seen[i]; sc.TraceID() != route.TraceID() || sc.SpanID() != s.SpanContext().SpanID() {
			t.Errorf("request %d traceparent %q, want the attempt span %v", i, rc.raw[i], s.SpanContext())
		}
	}
	if st := spans[0].Status(); st.Code != codes.Error || tracingtest.Attr(spans[0], tracing.AttrOutcome).AsString() != string(ReasonHTTPStatus) {
		t.Errorf("failed attempt: status %v, outcome %q", st, tracingtest.Attr(spans[0], tracing.AttrOutcome).AsString())
	}
	if got := tracingtest.Attr(spans[1], tracing.AttrOutcome).AsString(); got != string(ReasonOK) || spans[1].Status().Code == codes.Error {
		t.Errorf("delivered attempt: outcome %q, status %v", got, spans[1].Status())
	}
}

// The receiver gets no traceparent when tracing is off (even with PropagateTrace set and
// a trace context on the delivery), nor when PropagateTrace is off (spans still made).
func TestNoTraceparentToTheReceiverWhenOffOrNotPropagated(t *testing.T) {
	for name, tc := range map[string]struct {
		traced, propagate bool
	}{"tracing off": {false, true}, "propagation off": {true, false}} {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, 1)
			rc := &traceReceiver{}
			srv := statusServer(t, rc.handler)
			tr := tracingtest.NewRecorder()
			deps := Deps{Client: testClient(t, srv.URL, func(c *ClientConfig) { c.PropagateTrace = tc.propagate })}
			if tc.traced {
				deps.TracerProvider = tr
			}
			sub := senderSub("sub_n")
			sub.URL = srv.URL + "/hook"
			subs := newFakeIndex(sub)
			deps.Subscriptions, deps.Disabler = subs, subs
			h.start(deps)
			d := newTestDelivery("sub_n", "clm_1", 1)
			d.Trace = tracing.Context(trace.ContextWithSpanContext(context.Background(), routeSpan(t)))
			h.produce(d)
			testenv.Eventually(t, 15*time.Second, "the retry's request", func() bool { return rc.requests() >= 2 })
			rc.mu.Lock()
			defer rc.mu.Unlock()
			for i, raw := range rc.raw {
				if raw != "" {
					t.Errorf("request %d has traceparent %q", i, raw)
				}
			}
			if n := len(tr.Spans()); tc.traced && n < 2 {
				t.Errorf("%d attempt spans, want 2 (propagation off still traces)", n)
			}
		})
	}
}
