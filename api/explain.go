package api

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/claimable/eventrouter/events"
	"github.com/claimable/eventrouter/subscriptions"
)

// explainView is the answer of POST /v1/subscriptions/{id}/explain: every routing rule
// for the posted event, the one that decided, and what became of the delivery.
type explainView struct {
	subscriptions.Explanation
	// DeliveryID is the delivery the event makes (or would make) for the subscription:
	// its webhook-id.
	DeliveryID string `json:"delivery_id"`
	// Delivery is the logged delivery with its attempts; null when none was logged (not
	// routed, not yet sent, or the attempt log has expired).
	Delivery *DeliveryStatus `json:"delivery"`
}

// explain answers "why did (or didn't) this subscription get this event?". The body is
// the event exactly as produced to the ingest topic (docs/producing.md); it is parsed
// by the router's own parser and matched by the router's own rules.
func (s *Server) explain(w http.ResponseWriter, r *http.Request, who principal) {
	var raw json.RawMessage
	if err := decodeBody(w, r, s.cfg.MaxBodyBytes, &raw, false); err != nil {
		s.fail(w, r, err)
		return
	}
	sub, ok := s.load(w, r, who)
	if !ok {
		return
	}
	e, err := s.parser.Parse(raw)
	if err != nil {
		var ie *events.InvalidError
		field := "event"
		if errors.As(err, &ie) && ie.Field != "" {
			field = "event." + ie.Field
		}
		writeProblem(w, newProblem(http.StatusUnprocessableEntity, kindValidation,
			"the body is not a valid ingest event: the router would send it to the invalid topic",
			subscriptions.FieldError{Field: field, Message: err.Error()}))
		return
	}
	view := explainView{Explanation: s.deps.Subscriptions.Explain(sub, e), DeliveryID: events.DeliveryID(e.ID, sub.ID)}
	if s.deps.Deliveries != nil {
		d, err := s.deps.Deliveries.GetDelivery(r.Context(), view.DeliveryID)
		switch {
		case err == nil:
			view.Delivery = d
		case !errors.Is(err, ErrNotFound):
			s.fail(w, r, err)
			return
		}
	}
	writeJSON(w, http.StatusOK, view)
}
