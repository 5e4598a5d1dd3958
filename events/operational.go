package events

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Operational event types: what eventrouter itself tells an account about its
// subscriptions (docs/operational-events.md). They are not catalogue names: producers
// never send them, and a subscription receives them only when it names them
// explicitly ("endpoint.failing", "subscription.*"), never through "*".
const (
	// OpSubscriptionDisabled: the system disabled a subscription (its endpoint answered
	// 410 Gone, or failed for delivery.disable_after).
	OpSubscriptionDisabled = "subscription.disabled"
	// OpSubscriptionRecovered: a re-enabled subscription's held deliveries were sent
	// back for delivery.
	OpSubscriptionRecovered = "subscription.recovered"
	// OpDeliveryExhausted: a delivery went to the DLQ after its last attempt failed
	// (retries exhausted, or a failure that is not retried).
	OpDeliveryExhausted = "delivery.exhausted"
	// OpEndpointFailing: a subscription's circuit breaker opened.
	OpEndpointFailing = "endpoint.failing"
)

// OperationalTypes lists every operational event type, in documentation order.
func OperationalTypes() []string {
	return []string{OpSubscriptionDisabled, OpSubscriptionRecovered, OpDeliveryExhausted, OpEndpointFailing}
}

// IsOperational reports whether name is an operational event type.
func IsOperational(name string) bool { return slices.Contains(OperationalTypes(), name) }

// OpEvent is one operational event: the value of a record on the operational topic
// (key = AccountID) and, byte for byte, the body of its webhook.
type OpEvent struct {
	Type string `json:"type"`
	// ID is deterministic per occurrence (OpEventID): a re-published occurrence (after
	// a crash) carries the same id, and so the same webhook-id.
	ID             string    `json:"id"`
	OccurredAt     time.Time `json:"occurred_at"`
	AccountID      string    `json:"account_id"`
	SubscriptionID string    `json:"subscription_id"`
	Data           OpData    `json:"data"`
}

// OpData holds the details of an operational event; each type sets the fields its
// documentation lists, the others are omitted.
type OpData struct {
	// Reason: why (subscription.disabled: "endpoint_gone" or "failing";
	// delivery.exhausted: the DLQ reason, e.g. "retry_exhausted").
	Reason string `json:"reason,omitempty"`
	// FailingSince: when the endpoint's current run of failures started.
	FailingSince time.Time `json:"failing_since,omitzero"`
	// Status: the last attempt's HTTP status (0: no response).
	Status int `json:"status,omitempty"`
	// Error: the last attempt's error text.
	Error string `json:"error,omitempty"`
	// WebhookID, EventID, EventName, ObjectID, Attempts: the delivery concerned
	// (delivery.exhausted).
	WebhookID string `json:"webhook_id,omitempty"`
	EventID   string `json:"event_id,omitempty"`
	EventName string `json:"event_name,omitempty"`
	ObjectID  string `json:"object_id,omitempty"`
	Attempts  int    `json:"attempts,omitempty"`
	// ConsecutiveFailures: failures in a row that opened the breaker; RetryAt: when it
	// lets the next probe through (endpoint.failing).
	ConsecutiveFailures int       `json:"consecutive_failures,omitempty"`
	RetryAt             time.Time `json:"retry_at,omitzero"`
	// Since, Redriven: where the recovery started reading the DLQ and how many held
	// deliveries it sent back (subscription.recovered).
	Since    time.Time `json:"since,omitzero"`
	Redriven *int      `json:"redriven,omitempty"`
}

// OpEventID is the id of one occurrence: "op_" + 26 base32 characters of SHA-256 over
// the type, the subscription id and parts (length-prefixed), which together name the
// occurrence (e.g. the delivery id and its attempt count, or when a breaker opened).
func OpEventID(typ, subscriptionID string, parts ...string) string {
	h := sha256.New()
	for _, p := range append([]string{typ, subscriptionID}, parts...) {
		fmt.Fprintf(h, "%d:%s;", len(p), p)
	}
	return "op_" + idEncoding.EncodeToString(h.Sum(nil)[:20])[:26]
}

// Encode returns the event's JSON: the record value and the webhook body.
func (e *OpEvent) Encode() ([]byte, error) {
	if err := e.Validate(); err != nil {
		return nil, err
	}
	c := *e
	c.OccurredAt = c.OccurredAt.UTC()
	return json.Marshal(&c)
}

// DeliveryTo is the first delivery of e to subscription subscriptionID: webhook-id the
// delivery id of (e.ID, subscriptionID), event name e.Type, ordered by the subscription
// the event is about, and body (e's Encode, the record value, sent as is).
func (e *OpEvent) DeliveryTo(subscriptionID string, body []byte) *Delivery {
	return &Delivery{ID: DeliveryID(e.ID, subscriptionID), SubscriptionID: subscriptionID, AccountID: e.AccountID,
		EventID: e.ID, EventName: e.Type, ObjectID: e.SubscriptionID, Attempt: 1, OccurredAt: e.OccurredAt, Body: body}
}

// Validate reports the first missing field, by its JSON name.
func (e *OpEvent) Validate() error {
	switch {
	case !IsOperational(e.Type):
		return fmt.Errorf("events: operational event: type: %s is not one of %s", quote(e.Type), strings.Join(OperationalTypes(), ", "))
	case e.ID == "":
		return errors.New("events: operational event: id: required")
	case e.OccurredAt.IsZero():
		return errors.New("events: operational event: occurred_at: required")
	case e.AccountID == "":
		return errors.New("events: operational event: account_id: required")
	case e.SubscriptionID == "":
		return errors.New("events: operational event: subscription_id: required")
	}
	return nil
}

// ParseOpEvent decodes and validates an operational record value.
func ParseOpEvent(value []byte) (*OpEvent, error) {
	var e OpEvent
	if err := json.Unmarshal(value, &e); err != nil {
		return nil, fmt.Errorf("events: operational event: %w", err)
	}
	if err := e.Validate(); err != nil {
		return nil, err
	}
	return &e, nil
}

// SampleOpEvent returns a plausible operational event of type typ about subscriptionID,
// for test sends (POST /v1/subscriptions/{id}/test) and examples. typ must be an
// operational type; the id is derived from the time, so each sample is new.
func SampleOpEvent(typ, accountID, subscriptionID string, at time.Time) OpEvent {
	at = at.UTC()
	e := OpEvent{Type: typ, ID: OpEventID(typ, subscriptionID, "sample", at.Format(time.RFC3339Nano)),
		OccurredAt: at, AccountID: accountID, SubscriptionID: subscriptionID}
	switch typ {
	case OpEndpointFailing:
		e.Data = OpData{Reason: "http_status", Status: 503, ConsecutiveFailures: 10, RetryAt: at.Add(30 * time.Second)}
	case OpDeliveryExhausted:
		e.Data = OpData{Reason: "retries_exhausted", Status: 503, WebhookID: DeliveryID("evt_sample", subscriptionID),
			EventID: "evt_sample", EventName: "claim.closed", ObjectID: "clm_sample", Attempts: 10}
	case OpSubscriptionDisabled:
		e.Data = OpData{Reason: "failing", FailingSince: at.Add(-5 * 24 * time.Hour), Status: 503}
	case OpSubscriptionRecovered:
		n := 0
		e.Data = OpData{Since: at.Add(-time.Hour), Redriven: &n}
	}
	return e
}
