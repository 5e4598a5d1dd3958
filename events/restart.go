package events

import "time"

// Values of Delivery.Redrive (the er-redrive header): what put a delivery back on the
// deliveries topic outside the router.
const (
	RedriveDLQ  = "dlq"  // re-driven from the DLQ (eventrouter dlq redrive, subscription recovery)
	RedriveAPI  = "api"  // redelivered through the API (POST /v1/deliveries/{id}/redeliver)
	RedriveTest = "test" // a test event (POST /v1/subscriptions/{id}/test); not a restart
)

// ReasonRestarted starts the reason of the History entry Restart adds
// ("restarted:<by>"); the entry's Attempt is 0: no attempt was made.
const ReasonRestarted = "restarted"

// Restart makes d a new run of the same webhook, restarted by by (RedriveDLQ,
// RedriveAPI) at at. It keeps what identifies the webhook: the ID (the webhook-id
// receivers dedupe on), the event, the body and the trace context. It starts attempt
// counting fresh: Attempt 1, no FirstAttemptAt (the new run's first attempt sets it),
// no NotBefore (due at once), no Reason. It records the restart: History keeps every
// earlier attempt and gains one entry {attempt 0, at, reason "restarted:<by>"}, and
// Redrive says by whom. So the DLQ record of a delivery that fails again shows all of
// its attempts, run after run, with the restarts between them.
func (d *Delivery) Restart(by string, at time.Time) {
	d.History = append(d.History, AttemptSummary{At: at.UTC(), Reason: ReasonRestarted + ":" + by})
	d.Attempt = 1
	d.FirstAttemptAt = time.Time{}
	d.NotBefore = time.Time{}
	d.Reason = ""
	d.Redrive = by
}
