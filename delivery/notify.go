package delivery

import (
	"context"
	"strconv"
	"time"

	"github.com/claimable/eventrouter/events"
	"github.com/claimable/eventrouter/subscriptions"
)

// Notifier publishes operational events (implemented by *operational.Publisher).
// Publish must return at once and never fail the caller: a delivery's fate never
// waits on it (docs/operational-events.md).
type Notifier interface {
	Publish(ctx context.Context, e events.OpEvent)
}

type noNotifier struct{}

func (noNotifier) Publish(context.Context, events.OpEvent) {}

// opEvent is an operational event about sub, its id derived from parts.
func opEvent(typ string, sub *subscriptions.Subscription, at time.Time, data events.OpData, parts ...string) events.OpEvent {
	return events.OpEvent{Type: typ, ID: events.OpEventID(typ, sub.ID, parts...), OccurredAt: at.UTC(),
		AccountID: sub.AccountID, SubscriptionID: sub.ID, Data: data}
}

// notifyFailing publishes endpoint.failing when sub's breaker has just opened (once per
// opening: a failed half-open probe re-opens a circuit that was never closed, and is
// not a new occurrence).
func (s *Sender) notifyFailing(ctx context.Context, sub *subscriptions.Subscription, res Result, at time.Time) {
	next, _ := s.gate.breakers.Wait(sub.ID)
	s.observe.notifier.Publish(ctx, opEvent(events.OpEndpointFailing, sub, at, events.OpData{
		Status: res.Status, Error: failureText(res.Err), Reason: string(res.Reason),
		ConsecutiveFailures: s.cfg.BreakerThreshold, RetryAt: next.UTC(),
	}, at.UTC().Format(time.RFC3339Nano)))
}

// notifyDisabled publishes subscription.disabled after the system disabled sub; why is
// "endpoint_gone" or "failing", since the failing-since time (zero if not known).
func (s *Sender) notifyDisabled(ctx context.Context, sub *subscriptions.Subscription, why string, res Result, since, at time.Time) {
	s.observe.notifier.Publish(ctx, opEvent(events.OpSubscriptionDisabled, sub, at, events.OpData{
		Reason: why, FailingSince: since.UTC(), Status: res.Status, Error: failureText(res.Err),
	}, why, strconv.FormatInt(sub.Version, 10)))
}

// notifyExhausted publishes delivery.exhausted for a delivery that reached the DLQ
// after its last attempt (not for deliveries held while their subscription is
// disabled: those are recovered on re-enable).
func (s *Sender) notifyExhausted(ctx context.Context, sub *subscriptions.Subscription, j *job, reason Reason, res Result, at time.Time) {
	d := j.d
	s.observe.notifier.Publish(ctx, opEvent(events.OpDeliveryExhausted, sub, at, events.OpData{
		Reason: string(reason), Status: res.Status, Error: j.failure, WebhookID: d.ID, EventID: d.EventID,
		EventName: d.EventName, ObjectID: d.ObjectID, Attempts: d.Attempt,
	}, d.ID, strconv.Itoa(d.Attempt)))
}
