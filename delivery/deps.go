package delivery

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/otel/trace"

	"github.com/claimable/eventrouter/events"
	"github.com/claimable/eventrouter/subscriptions"
)

// Subscriptions looks up a subscription in the live index (no Redis on the hot path).
type Subscriptions interface {
	Get(id string) (*subscriptions.Subscription, bool)
}

// Disabler disables a subscription, recording why (implemented by subscriptions.Service).
type Disabler interface {
	Disable(ctx context.Context, id, reason string) error
}

// Poster makes one HTTP delivery attempt (implemented by *Client).
type Poster interface {
	Send(ctx context.Context, sub *subscriptions.Subscription, d *events.Delivery, now time.Time) Result
}

// CircuitBreakers is the per-subscription breaker state (implemented by *Breakers).
type CircuitBreakers interface {
	Allow(subID string) (allowed bool, probe bool)
	Wait(subID string) (next time.Time, probing <-chan struct{})
	Record(subID string, ok bool) (opened bool)
	State(subID string) BreakerState
}

// RateLimiters paces each subscription (implemented by *Limiters).
type RateLimiters interface {
	Wait(ctx context.Context, subID string, perSec float64) error
}

// AttemptRecorder keeps the attempt log and the failing-since clock (implemented by
// *AttemptLog).
type AttemptRecorder interface {
	Record(ctx context.Context, a Attempt) error
	Outcome(ctx context.Context, subID string, ok bool, at time.Time) (failingSince time.Time, err error)
}

// RetryPlanner decides the delay before the next attempt (implemented by RetryPolicy).
type RetryPlanner interface {
	Next(attempt int, res Result) (delay time.Duration, ok bool)
}

var (
	_ Poster          = (*Client)(nil)
	_ CircuitBreakers = (*Breakers)(nil)
	_ RateLimiters    = (*Limiters)(nil)
	_ AttemptRecorder = (*AttemptLog)(nil)
	_ RetryPlanner    = RetryPolicy{}
)

// Deps are the Sender's collaborators. Subscriptions, Disabler and Client are required;
// the rest default: Breakers from Delivery.BreakerThreshold/Cooldown, Limiters
// NewLimiters(), Retry a RetryPolicy from the config, Registerer a private registry,
// Now time.Now. AttemptLog may be nil (no attempt log, no auto-disable on persistent
// failure).
type Deps struct {
	KafkaOpts     []kgo.Opt // seed brokers, TLS, SASL, logger (internal/kafkaclient.Options)
	Subscriptions Subscriptions
	Disabler      Disabler
	Client        Poster
	Breakers      CircuitBreakers
	Limiters      RateLimiters
	AttemptLog    AttemptRecorder
	// Handoff (may be nil) carries finished work across graceful rebalances, so a planned
	// hand-over does not resend it.
	Handoff Handoff
	Retry   RetryPlanner
	// Notifier (may be nil: none) publishes operational events: endpoint.failing,
	// subscription.disabled, delivery.exhausted (docs/operational-events.md).
	Notifier   Notifier
	Registerer prometheus.Registerer
	Now        func() time.Time
	// TracerProvider, when set, traces each HTTP attempt in an attempt span, the child
	// of the route span the delivery carries (tracing.go). Nil: tracing is off.
	TracerProvider trace.TracerProvider
}
