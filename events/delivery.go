package events

import "time"

// Header names carried on delivery, retry and DLQ records, so the sender routes and
// schedules a delivery without parsing its body. Values are UTF-8 text; times are
// RFC 3339 with nanoseconds; integers are decimal.
const (
	HeaderDeliveryID     = "er-delivery-id"
	HeaderSubscriptionID = "er-subscription-id"
	HeaderAccountID      = "er-account-id"
	HeaderEventID        = "er-event-id"
	HeaderEventName      = "er-event-name"
	HeaderObjectID       = "er-object-id"
	HeaderAttempt        = "er-attempt"
	HeaderFirstAttemptAt = "er-first-attempt-at"
	HeaderOccurredAt     = "er-occurred-at"
	HeaderNotBefore      = "er-not-before"
	HeaderReason         = "er-reason"  // on webhooks.invalid and webhooks.dlq
	HeaderHistory        = "er-history" // on webhooks.dlq: JSON array of attempt summaries
	HeaderRedrive        = "er-redrive" // what restarted or injected it: RedriveDLQ, RedriveAPI, RedriveTest
	HeaderReplay         = "er-replay"  // the replay job id, on deliveries a replay produced
	// W3C Trace Context (Delivery.Trace), set by the router when tracing is on and kept
	// by every re-publish (retry tiers, DLQ, re-drive). Producers may set them on ingest
	// records too (docs/producing.md).
	HeaderTraceParent = "traceparent"
	HeaderTraceState  = "tracestate"
)

// Bounds on the trace headers ParseDelivery keeps: a traceparent is 55 bytes in
// version 00 (later versions may append fields), a tracestate at most 32 members of
// about 256 bytes (W3C Trace Context: implementations keep at least 512 bytes). A longer
// value is not a trace context; it is dropped, never an error: the delivery is fine.
const (
	maxTraceParentBytes = 256
	maxTraceStateBytes  = 8 << 10
)

// TraceContext is a W3C Trace Context as carried in the traceparent and tracestate
// headers; zero when the record carries none. events does not interpret it (see
// internal/tracing).
type TraceContext struct {
	Parent string // traceparent
	State  string // tracestate
}

// Delivery is one (event, subscription) pair on its way to an endpoint: the value of a
// record on webhooks.deliveries, a retry tier, or the DLQ. The record key is
// SubscriptionID and the record value is Body, the rendered webhook body, sent as-is.
type Delivery struct {
	// ID is deterministic from (event id, subscription id): see DeliveryID. It is the
	// webhook-id header, stable across every retry and redelivery.
	ID             string
	SubscriptionID string
	AccountID      string
	EventID        string
	EventName      string
	// ObjectID is the claim or contact id: the ordering lane within a subscription.
	ObjectID string
	// Attempt is the number of the next attempt, starting at 1.
	Attempt        int
	FirstAttemptAt time.Time // zero until the first attempt
	OccurredAt     time.Time
	// NotBefore is when a retry is due; zero on webhooks.deliveries.
	NotBefore time.Time
	// Reason is the last failure's reason code (retry tiers, DLQ); empty otherwise.
	Reason string
	// History summarises past attempts (DLQ records carry the full history).
	History []AttemptSummary
	// Redrive is non-empty on a delivery restarted (Restart: RedriveDLQ, RedriveAPI) or
	// a test event (RedriveTest); it is carried in the er-redrive header.
	Redrive string
	// Trace is the route span's trace context (traceparent, tracestate headers), the
	// parent of every attempt's span; zero when tracing is off. It travels unchanged
	// with the delivery through retry tiers, the DLQ and re-drives.
	Trace TraceContext
	// Body is the rendered webhook body (see Render), sent byte-for-byte. Record and
	// ParseDelivery share it with the record value rather than copying it.
	Body []byte
}

// AttemptSummary is one past attempt, as carried in the er-history header.
type AttemptSummary struct {
	Attempt   int       `json:"attempt"`
	At        time.Time `json:"at"`
	Status    int       `json:"status,omitempty"`
	Reason    string    `json:"reason"`
	LatencyMS int64     `json:"latency_ms"`
}

// NewDelivery returns the first delivery of event e to subscription subscriptionID:
// its deterministic ID, attempt 1, and body (normally Render(e), shared by every
// subscription the event fans out to; it is not copied).
func NewDelivery(e *Event, subscriptionID string, body []byte) *Delivery {
	return &Delivery{
		ID:             DeliveryID(e.ID, subscriptionID),
		SubscriptionID: subscriptionID,
		AccountID:      e.AccountID,
		EventID:        e.ID,
		EventName:      e.EventName,
		ObjectID:       e.ObjectID,
		Attempt:        1,
		OccurredAt:     e.OccurredAt,
		Body:           body,
	}
}
