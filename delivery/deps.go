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

// SubscriptionStore reads one subscription from the store behind the index
// (implemented by subscriptions.Service); subscriptions.ErrNotFound when there is none.
type SubscriptionStore interface {
	Get(ctx context.Context, id string) (*subscriptions.Subscription, error)
}

// storeLookupTimeout bounds the store read for a subscription the index lacks.
const storeLookupTimeout = 2 * time.Second

// indexThenStore looks a subscription up in the index and, only when the index does
// not have it, in the store: a delivery for a subscription just created is not
// dead-lettered as deleted because this process's index is a moment behind.
type indexThenStore struct {
	index Subscriptions
	store SubscriptionStore
}

func (l indexThenStore) Get(id string) (*subscriptions.Subscription, bool) {
	if sub, ok := l.index.Get(id); ok {
		return sub, true
	}
	ctx, cancel := context.WithTimeout(context.Background(), storeLookupTimeout)
	defer cancel()
	sub, err := l.store.Get(ctx, id)
	return sub, err == nil && sub != nil
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
	// Store (may be nil) is asked for a subscription the index does not know yet: one
	// created a moment ago, whose first delivery (routed by a router whose index was
	// quicker, or a test event) reaches this sender before its own index has caught up.
	// Without it such a delivery went to the DLQ as deleted.
	Store      SubscriptionStore
	Disabler   Disabler
	Client     Poster
	Breakers   CircuitBreakers
	Limiters   RateLimiters
	AttemptLog AttemptRecorder
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

// subscriptionLookup is the index, backed by the store when deps has one.
func subscriptionLookup(deps Deps) Subscriptions {
	if deps.Store == nil {
		return deps.Subscriptions
	}
	return indexThenStore{index: deps.Subscriptions, store: deps.Store}
}
