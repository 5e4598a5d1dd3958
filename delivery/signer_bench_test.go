package delivery

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/claimable/eventrouter/internal/tracing"
	"github.com/claimable/eventrouter/internal/tracing/tracingtest"
)

// BenchmarkSign signs a 1 KiB body with two secrets (a rotation in progress).
func BenchmarkSign(b *testing.B) {
	secrets := []string{newTestSecret(1), newTestSecret(2)}
	body := make([]byte, 1024)
	now := time.Now()
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, err := Sign(secrets, "dlv_01HXYZ", now, body); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSend is one full attempt (sign, POST, read, classify) against a local receiver
// over a pooled keep-alive connection: the client's per-delivery overhead.
func BenchmarkSend(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	c := testClient(b, srv.URL, nil)
	sub, d := testSub(srv.URL), testDelivery()
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if res := c.Send(ctx, sub, d, time.Now()); !res.OK() {
			b.Fatalf("result = %+v", res)
		}
	}
}

// BenchmarkSendPropagate is BenchmarkSend with ClientConfig.PropagateTrace: "untraced"
// (no span in the context, as with tracing off) must cost what BenchmarkSend costs;
// "traced" adds the traceparent header of a sampled span.
func BenchmarkSendPropagate(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	c := testClient(b, srv.URL, func(cfg *ClientConfig) { cfg.PropagateTrace = true })
	sub, d := testSub(srv.URL), testDelivery()
	_, span := tracingtest.NewRecorder().Tracer("bench").Start(context.Background(), tracing.SpanAttempt)
	defer span.End()
	for name, ctx := range map[string]context.Context{
		"untraced": context.Background(),
		"traced":   trace.ContextWithSpan(context.Background(), span),
	} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if res := c.Send(ctx, sub, d, time.Now()); !res.OK() {
					b.Fatalf("result = %+v", res)
				}
			}
		})
	}
}
