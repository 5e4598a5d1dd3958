package api

import (
	"net/http"

	"github.com/claimable/eventrouter/events"
)

// eventDescriptions describes the default catalogue names (docs/producing.md) and the
// operational event types (docs/operational-events.md); names configured beyond these
// are listed without a description.
var eventDescriptions = map[string]string{
	"claim.created":       "A claim was created.",
	"claim.closed":        "A claim was closed.",
	"claim.reopened":      "A closed claim was reopened.",
	"claim.label_added":   "A label was added to a claim.",
	"claim.label_removed": "A label was removed from a claim.",
	"claim.assigned":      "A claim was assigned to a user.",
	"claim.unassigned":    "A claim's assignee was removed.",
	"claim.switched_type": "A claim's type was changed.",
	"contact.created":     "A contact was created.",

	events.OpSubscriptionDisabled:  "eventrouter disabled one of the account's subscriptions (its endpoint answered 410, or failed for delivery.disable_after).",
	events.OpSubscriptionRecovered: "A re-enabled subscription's held deliveries were sent again.",
	events.OpDeliveryExhausted:     "A delivery went to the dead-letter queue after its last attempt failed.",
	events.OpEndpointFailing:       "A subscription's circuit breaker opened: its endpoint keeps failing.",
}

// Kinds of GET /v1/event-types entries.
const (
	kindDomain      = "domain"      // produced by the claims and contacts services; "*" selects them
	kindOperational = "operational" // published by eventrouter; selected by name or "<object>.*" only
)

// eventType is one entry of GET /v1/event-types.
type eventType struct {
	Name        string `json:"name"`
	Kind        string `json:"kind"`
	Description string `json:"description,omitempty"`
}

func (s *Server) listEventTypes(w http.ResponseWriter, _ *http.Request, _ principal) {
	ops := events.OperationalTypes()
	out := struct {
		Data []eventType `json:"data"`
	}{Data: make([]eventType, 0, len(s.cfg.EventTypes)+len(ops))}
	for _, name := range s.cfg.EventTypes {
		out.Data = append(out.Data, eventType{Name: name, Kind: kindDomain, Description: eventDescriptions[name]})
	}
	for _, name := range ops {
		out.Data = append(out.Data, eventType{Name: name, Kind: kindOperational, Description: eventDescriptions[name]})
	}
	writeJSON(w, http.StatusOK, out)
}
