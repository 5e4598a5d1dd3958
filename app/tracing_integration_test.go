//go:build integration

package app

import (
	"testing"

	"github.com/claimable/eventrouter/internal/tracing/tracingtest"
)

// TestTraceChainIntegration is TestTraceChainIngestRouteAttempt on Apache Kafka and
// redis-server: the traceparent crosses the real broker twice (ingest → deliveries,
// deliveries → retry tier) inside the router's transactions, and the spans leave through
// the real OTLP/HTTP exporter.
func TestTraceChainIntegration(t *testing.T) {
	env := realReadinessEnv(t)
	col := tracingtest.NewCollector(t)
	traceChain(t, runStack(t, env.cfg, env.rdb, tracingOn(col)), col)
}

// TestTracingOffSendsNoTraceparentIntegration: with the default (off), no traceparent
// reaches the receiver through the real broker.
func TestTracingOffSendsNoTraceparentIntegration(t *testing.T) {
	env := realReadinessEnv(t)
	noTraceparentWhenOff(t, runStack(t, env.cfg, env.rdb))
}
