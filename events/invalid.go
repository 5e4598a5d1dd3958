package events

import (
	"errors"
	"strconv"
)

// ErrInvalid is matched (errors.Is) by every *InvalidError.
var ErrInvalid = errors.New("events: invalid event")

// Reason is a stable, machine-readable code saying why an ingest record was rejected. It
// is the value of the er-reason header on webhooks.invalid and a metric label, so the set
// is small and never renamed.
type Reason string

// Reasons an ingest record is invalid.
const (
	ReasonTooLarge       Reason = "too_large"       // value longer than the parser's limit
	ReasonInvalidUTF8    Reason = "invalid_utf8"    // value is not valid UTF-8
	ReasonMalformedJSON  Reason = "malformed_json"  // not JSON, or not a JSON object
	ReasonMissingField   Reason = "missing_field"   // a required field is absent or null
	ReasonInvalidField   Reason = "invalid_field"   // a field has the wrong type or value
	ReasonUnknownEvent   Reason = "unknown_event"   // event_name is not in the catalogue
	ReasonObjectMismatch Reason = "object_mismatch" // object is not event_name's object
	// ReasonWrongTopic is set by the router, not Parse: a valid event on an ingest topic
	// that carries other objects (config topics.ingest_objects).
	ReasonWrongTopic Reason = "wrong_topic"
)

// Reasons lists every Reason, for pre-registering metric label values.
var Reasons = []Reason{
	ReasonTooLarge, ReasonInvalidUTF8, ReasonMalformedJSON, ReasonMissingField,
	ReasonInvalidField, ReasonUnknownEvent, ReasonObjectMismatch, ReasonWrongTopic,
}

// InvalidError says why an ingest record was rejected. Field is the JSON path of the
// offending field ("occurred_at", "data.id"), empty when the record as a whole is bad.
// Detail is bounded in length (hostile values are truncated), safe to log and to put in
// a record header.
type InvalidError struct {
	Reason Reason
	Field  string
	Detail string
}

// Error returns a one-line message, e.g.
// `events: invalid field "occurred_at": not RFC 3339: "yesterday"`.
func (e *InvalidError) Error() string {
	switch e.Reason {
	case ReasonMissingField:
		if e.Detail != "" {
			return "events: missing field " + strconv.Quote(e.Field) + ": " + e.Detail
		}
		return "events: missing field " + strconv.Quote(e.Field)
	case ReasonInvalidField:
		return "events: invalid field " + strconv.Quote(e.Field) + ": " + e.Detail
	case ReasonUnknownEvent:
		return "events: unknown event name " + e.Detail
	case ReasonObjectMismatch:
		return "events: object mismatch: " + e.Detail
	case ReasonTooLarge:
		return "events: record too large: " + e.Detail
	case ReasonInvalidUTF8:
		return "events: invalid UTF-8: " + e.Detail
	case ReasonMalformedJSON:
		return "events: malformed JSON: " + e.Detail
	}
	return "events: invalid event (" + string(e.Reason) + "): " + e.Detail
}

// Is makes errors.Is(err, ErrInvalid) true for every *InvalidError.
func (e *InvalidError) Is(target error) bool { return target == ErrInvalid }

func invalid(r Reason, field, detail string) *InvalidError {
	return &InvalidError{Reason: r, Field: field, Detail: detail}
}

// ReasonOf returns the Reason of an *InvalidError in err's chain, or "" if there is none.
// Callers use it for the er-reason header and metric labels.
func ReasonOf(err error) Reason {
	var ie *InvalidError
	if errors.As(err, &ie) {
		return ie.Reason
	}
	return ""
}
