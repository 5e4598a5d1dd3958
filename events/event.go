// Package events owns the ingest event envelope, the catalogue of event names, the
// validation of ingest records, the webhook body customers receive, and the delivery
// record that carries a rendered body from the router to the sender.
//
// It is a leaf: it imports no other eventrouter package.
//
// Ingest records are validated strictly where a mistake would reach customers or the
// pipeline (required fields, types, catalogue names, RFC 3339 times, bounded identifiers
// without control characters) and leniently where upstream producers need room to evolve:
// unknown top-level fields are accepted and ignored (not forwarded), so a producer can
// start sending a field before eventrouter knows it. The target object in "data" is
// forwarded to customers verbatim.
//
// The hot path is Parser.Parse → Render → Delivery.Record on the router, and
// ParseDelivery on the sender; each is allocation-light and has a benchmark.
package events

import (
	"encoding/json"
	"time"
)

// Sources an event may come from.
const (
	SourceUI  = "ui"
	SourceAPI = "api"
)

// Event is a validated ingest record (docs/producing.md). Values returned by Parser.Parse are
// complete: every field below is set and checked.
type Event struct {
	// ID is producer-assigned and unique; it is the idempotency key.
	ID string `json:"id"`
	// AccountID is the customer account the event belongs to (the ingest record key).
	AccountID string `json:"account_id"`
	// EventName is a catalogue name such as "claim.created".
	EventName string `json:"event_name"`
	// Object is the object type, "claim" or "contact"; it is the event name's prefix.
	Object string `json:"object"`
	// Source is SourceUI or SourceAPI.
	Source string `json:"source"`
	// PerformedBy names the user or API token that caused the event.
	PerformedBy string `json:"performed_by"`
	// OccurredAt is when the change happened upstream.
	OccurredAt time.Time `json:"occurred_at"`
	// Data is the target object, verbatim. Data's "id" is ObjectID.
	Data json.RawMessage `json:"data"`
	// ObjectID is data.id, the ordering key within a subscription.
	ObjectID string `json:"-"`
}
