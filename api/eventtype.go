package api

import "net/http"

// eventDescriptions describes the default catalogue names (docs/producing.md); names configured
// beyond these are listed without a description.
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
}

// eventType is one entry of GET /v1/event-types.
type eventType struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
}

func (s *Server) listEventTypes(w http.ResponseWriter, _ *http.Request, _ principal) {
	out := struct {
		Data []eventType `json:"data"`
	}{Data: make([]eventType, 0, len(s.cfg.EventTypes))}
	for _, name := range s.cfg.EventTypes {
		out.Data = append(out.Data, eventType{Name: name, Description: eventDescriptions[name]})
	}
	writeJSON(w, http.StatusOK, out)
}
