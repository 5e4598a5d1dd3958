package app

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/claimable/eventrouter/config"
	"github.com/claimable/eventrouter/events"
	"github.com/claimable/eventrouter/internal/receiver"
	"github.com/claimable/eventrouter/internal/testenv"
	"github.com/claimable/eventrouter/internal/tracing"
	"github.com/claimable/eventrouter/internal/tracing/tracingtest"
	"github.com/claimable/eventrouter/subscriptions"
)

// spanWait bounds the wait for exported spans: the batching exporter sends every 5 s.
const spanWait = 30 * time.Second

// tracingOn points cfg's tracing at col.
func tracingOn(col *tracingtest.Collector) func(*config.Config) {
	return func(c *config.Config) {
		c.Tracing = config.Tracing{Enabled: true, Endpoint: col.URL, SampleRatio: 1, PropagateToReceiver: true, ServiceName: "eventrouter-test"}
	}
}

// TestTraceChainIngestRouteAttempt: with tracing on, the whole stack continues a
// producer's trace (traceparent on the ingest record) through the route span and each
// attempt's span, and the receiver gets the attempt's traceparent.
func TestTraceChainIngestRouteAttempt(t *testing.T) {
	col := tracingtest.NewCollector(t)
	traceChain(t, startStack(t, tracingOn(col)), col)
}

// TestTracingOffSendsNoTraceparent: by default no trace context reaches the receiver,
// even when the ingest record carries one.
func TestTracingOffSendsNoTraceparent(t *testing.T) {
	noTraceparentWhenOff(t, startStack(t))
}

// upstreamRecord is an ingest record for account whose headers carry the context of a
// producer's span (returned).
func upstreamRecord(t *testing.T, s *stack, account string) (*kgo.Record, trace.SpanContext) {
	t.Helper()
	tp := sdktrace.NewTracerProvider()
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	ctx, span := tp.Tracer("claims-service").Start(context.Background(), "publish claim.created")
	span.End()
	e := events.Sample("claim.created", account, "clm_traced", 1, time.Now().UTC())
	rec := &kgo.Record{Topic: s.cfg.Topics.Ingest[0], Key: []byte(account), Value: e.Marshal()}
	tracing.ToRecord(ctx, &rec.Headers)
	return rec, span.SpanContext()
}

func produceRecords(t *testing.T, s *stack, recs ...*kgo.Record) {
	t.Helper()
	cl, err := kgo.NewClient(s.sys.KafkaOpts...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// traceSubscription creates a subscription of account to claim events at path whose
// first request is answered 500 (so the delivery is retried through a retry tier).
func traceSubscription(t *testing.T, s *stack, account, path string) {
	t.Helper()
	sub, err := s.sys.Service.Create(context.Background(), subscriptions.Input{AccountID: account, URL: s.url + path, Events: []string{"claim.*"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.recv.SetSecret(path, sub.Secrets[0].Value); err != nil {
		t.Fatal(err)
	}
	var calls atomic.Int64
	s.recv.SetBehaviour(func(p string) (time.Duration, int) {
		if p == path && calls.Add(1) == 1 {
			return 0, http.StatusInternalServerError
		}
		return 0, 0
	})
	testenv.Eventually(t, waitTimeout, "the index to have the subscription", func() bool { _, ok := s.sys.Index.Get(sub.ID); return ok })
}

// requestsTo returns the receiver's requests to path.
func (s *stack) requestsTo(path string) []receiver.Delivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []receiver.Delivery
	for _, d := range s.received {
		if d.Path == path {
			out = append(out, d)
		}
	}
	return out
}

func traceChain(t *testing.T, s *stack, col *tracingtest.Collector) {
	const path = "/hooks/traced"
	traceSubscription(t, s, "acct_trace", path)
	rec, up := upstreamRecord(t, s, "acct_trace")
	produceRecords(t, s, rec)
	testenv.Eventually(t, spanWait, "the delivery, after one retry", func() bool { return len(s.requestsTo(path)) >= 2 })

	var route tracingtest.Span
	var attempts []tracingtest.Span
	testenv.Eventually(t, spanWait, "the route span and both attempt spans at the collector", func() bool {
		route, attempts = tracingtest.Span{}, nil
		for _, sp := range col.Spans() {
			switch {
			case sp.TraceID != up.TraceID().String():
			case sp.Name == tracing.SpanRoute:
				route = sp
			case sp.Name == tracing.SpanAttempt:
				attempts = append(attempts, sp)
			}
		}
		return route.Name != "" && len(attempts) >= 2
	})
	if route.ParentSpanID != up.SpanID().String() || route.Service != "eventrouter-test" {
		t.Errorf("route span %+v: want the child of the ingest record's span %s", route, up.SpanID())
	}
	if route.Attrs[string(tracing.AttrFanout)] != "1" || route.Attrs[string(tracing.AttrAccountID)] != "acct_trace" {
		t.Errorf("route span attributes %v", route.Attrs)
	}
	bySpan := map[string]tracingtest.Span{}
	for _, a := range attempts {
		bySpan[a.SpanID] = a
		if a.ParentSpanID != route.SpanID {
			t.Errorf("attempt span %+v: parent %s, want the route span %s", a, a.ParentSpanID, route.SpanID)
		}
	}
	reqs := s.requestsTo(path)
	for i, want := range []struct{ attempt, status string }{{"1", "500"}, {"2", "200"}} {
		sc := trace.SpanContextFromContext(propagation.TraceContext{}.Extract(context.Background(),
			propagation.MapCarrier{"traceparent": reqs[i].TraceParent}))
		a, ok := bySpan[sc.SpanID().String()]
		if !ok || sc.TraceID() != up.TraceID() {
			t.Errorf("request %d traceparent %q: want an attempt span of trace %s", i+1, reqs[i].TraceParent, up.TraceID())
			continue
		}
		if a.Attrs[string(tracing.AttrAttempt)] != want.attempt || a.Attrs[string(tracing.AttrHTTPResponseStatus)] != want.status ||
			a.Attrs[string(tracing.AttrWebhookID)] != reqs[i].WebhookID {
			t.Errorf("request %d's attempt span attributes %v, want attempt %s status %s webhook-id %s", i+1, a.Attrs, want.attempt, want.status, reqs[i].WebhookID)
		}
	}
}

func noTraceparentWhenOff(t *testing.T, s *stack) {
	const path = "/hooks/untraced"
	traceSubscription(t, s, "acct_notrace", path)
	rec, _ := upstreamRecord(t, s, "acct_notrace")
	produceRecords(t, s, rec)
	testenv.Eventually(t, spanWait, "the delivery, after one retry", func() bool { return len(s.requestsTo(path)) >= 2 })
	for i, d := range s.requestsTo(path) {
		if d.TraceParent != "" {
			t.Errorf("request %d carries traceparent %q with tracing off", i+1, d.TraceParent)
		}
	}
}
