// Package replay re-delivers a time range of the ingest log: it finds the range's
// offsets by timestamp, re-matches each event against the current subscriptions, and
// produces deliveries with the same deterministic webhook-id the router gave them (so
// receivers dedupe), marked with the er-replay header. A replay is a job: bounded by
// the end offsets taken when it is planned, checkpointed in Redis so it resumes after a
// crash, and rate-limited so live traffic keeps its latency.
package replay

import (
	"fmt"
	"time"

	"github.com/claimable/eventrouter/events"
	"github.com/claimable/eventrouter/subscriptions"
)

// Spec says what a replay re-delivers.
type Spec struct {
	// From and To bound the window by record timestamp: from the first record at or
	// after From up to, excluding, the first record at or after To (Kafka's time index).
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
	// SubscriptionID, if set, limits the replay to that subscription.
	SubscriptionID string `json:"subscription_id,omitempty"`
	// AccountID, if set, limits the replay to that account's subscriptions (with
	// SubscriptionID too, both must hold).
	AccountID string `json:"account_id,omitempty"`
	// Events, if set, limits the replay to event names these patterns select
	// ("claim.closed", "claim.*", "*"), as in a subscription's events.
	Events []string `json:"events,omitempty"`
	// DryRun counts what would be delivered and produces nothing.
	DryRun bool `json:"dry_run"`
}

// Validate checks s against the event catalogue (syntax only when empty). The error is
// a *subscriptions.ValidationError naming each bad field.
func (s Spec) Validate(catalogue []string) error {
	var probs []subscriptions.FieldError
	bad := func(field, msg string) { probs = append(probs, subscriptions.FieldError{Field: field, Message: msg}) }
	switch {
	case s.From.IsZero():
		bad("from", "is required (RFC 3339 time)")
	case s.To.IsZero():
		bad("to", "is required (RFC 3339 time)")
	case !s.From.Before(s.To):
		bad("to", "must be after from")
	}
	if len(s.SubscriptionID) > events.MaxIDBytes {
		bad("subscription_id", fmt.Sprintf("at most %d bytes", events.MaxIDBytes))
	}
	if len(s.AccountID) > events.MaxIDBytes {
		bad("account_id", fmt.Sprintf("at most %d bytes", events.MaxIDBytes))
	}
	if len(s.Events) > 100 {
		bad("events", "at most 100 patterns")
	}
	for i, p := range s.Events {
		if err := subscriptions.CheckPattern(p, catalogue); err != nil {
			bad(fmt.Sprintf("events[%d]", i), err.Error())
		}
	}
	if len(probs) > 0 {
		return &subscriptions.ValidationError{Problems: probs}
	}
	return nil
}

// selects reports whether the spec's account and event filters let e through; the
// subscription filter applies to each match (see keeps).
func (s *Spec) selects(e *events.Event) bool {
	if s.AccountID != "" && e.AccountID != s.AccountID {
		return false
	}
	if len(s.Events) == 0 {
		return true
	}
	for _, p := range s.Events {
		if subscriptions.MatchPattern(p, e.EventName) {
			return true
		}
	}
	return false
}

// keeps reports whether the spec's subscription filter keeps sub.
func (s *Spec) keeps(sub *subscriptions.Subscription) bool {
	return s.SubscriptionID == "" || sub.ID == s.SubscriptionID
}

// timeLayouts are the accepted forms of a window bound: RFC 3339, optionally without
// seconds ("2026-11-30T10:00Z"), or a UTC date.
var timeLayouts = []string{time.RFC3339Nano, "2006-01-02T15:04Z07:00", "2006-01-02"}

// ParseTime parses a window bound (see timeLayouts).
func ParseTime(s string) (time.Time, error) {
	for _, l := range timeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not an RFC 3339 time such as 2026-11-30T10:00:00Z", s)
}
