package api

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"time"

	"github.com/claimable/eventrouter/events"
	"github.com/claimable/eventrouter/subscriptions"
)

// ErrNotFound is what delivery-stage dependencies return (wrapped) for an unknown
// delivery; the API answers 404.
var ErrNotFound = errors.New("api: not found")

// ErrBadCursor is what an Attempts implementation returns (wrapped) for an ?after= it
// never issued; the API answers 400 bad-request naming the after parameter.
var ErrBadCursor = errors.New("api: not a cursor returned by this endpoint")

// Attempt is one logged HTTP attempt as the API shows it.
type Attempt struct {
	DeliveryID     string `json:"delivery_id"`
	EventID        string `json:"event_id"`
	EventName      string `json:"event_name,omitempty"`
	SubscriptionID string `json:"subscription_id"`
	Attempt        int    `json:"attempt"`
	// At is when the attempt started; LatencyMS how long it took, to the end of the
	// response body or the failure.
	At        time.Time `json:"at"`
	LatencyMS int64     `json:"latency_ms"`
	// Reason is a delivery.Reason code ("ok", "timeout", "http_status", …).
	Reason string `json:"reason"`
	// Status is the endpoint's HTTP status; absent when no response arrived.
	Status int `json:"status,omitempty"`
	// ResponseBody is the first bytes of the endpoint's response body: at most 1 KiB,
	// valid UTF-8.
	ResponseBody string `json:"response_body,omitempty"`
	// Error says why the attempt failed (transport error or status), at most 512 bytes,
	// never a secret; the endpoint's URL appears without query string or userinfo.
	Error string `json:"error,omitempty"`
	// Final is true on the attempt that finished the delivery: delivered, or sent to
	// the DLQ.
	Final bool `json:"final"`
}

// DeliveryStatus is one delivery (one event for one subscription) and its attempts.
type DeliveryStatus struct {
	ID             string `json:"id"`
	SubscriptionID string `json:"subscription_id"`
	EventID        string `json:"event_id"`
	EventName      string `json:"event_name,omitempty"`
	// State is "delivered", "retrying" or "dead" (in the DLQ).
	State string `json:"state"`
	// Attempts are oldest first.
	Attempts []Attempt `json:"attempts"`
}

// Attempts lists a subscription's logged attempts, newest first, one page at a time.
type Attempts interface {
	ListAttempts(ctx context.Context, subscriptionID, after string, limit int) (attempts []Attempt, next string, err error)
}

// Deliveries looks deliveries up by id: GetDelivery one (an unknown id is an error
// wrapping ErrNotFound), GetDeliveries several in one round trip (out[i] is ids[i]'s,
// nil when unknown).
type Deliveries interface {
	GetDelivery(ctx context.Context, id string) (*DeliveryStatus, error)
	GetDeliveries(ctx context.Context, ids []string) ([]*DeliveryStatus, error)
}

// Redeliverer queues a delivery again (e.g. out of the DLQ) with a fresh attempt count
// and the same webhook-id.
type Redeliverer interface {
	Redeliver(ctx context.Context, deliveryID string) error
}

// TestSender sends a synthetic event of eventName to one subscription through the real
// pipeline and returns the event's id.
type TestSender interface {
	SendTest(ctx context.Context, sub *subscriptions.Subscription, eventName string) (eventID string, err error)
}

// testRequest is the optional body of POST /v1/subscriptions/{id}/test.
type testRequest struct {
	// EventName defaults to the subscription's first exact event name, else the
	// catalogue's first.
	EventName string `json:"event_name"`
}

func notImplemented(w http.ResponseWriter) {
	writeProblem(w, newProblem(http.StatusNotImplemented, kindNotImplemented,
		"this server was built without the delivery stage that serves this endpoint"))
}

func (s *Server) sendTest(w http.ResponseWriter, r *http.Request, who principal) {
	if s.deps.TestSender == nil {
		notImplemented(w)
		return
	}
	var req testRequest
	if err := decodeBody(w, r, s.cfg.MaxBodyBytes, &req, true); err != nil {
		s.fail(w, r, err)
		return
	}
	sub, ok := s.load(w, r, who)
	if !ok {
		return
	}
	name := req.EventName
	if name == "" {
		name = s.defaultTestEvent(sub)
	}
	if !s.knownEvent(name) {
		writeProblem(w, newProblem(http.StatusUnprocessableEntity, kindValidation, "unknown event name",
			subscriptions.FieldError{Field: "event_name", Message: "must be a name of GET /v1/event-types"}))
		return
	}
	id, err := s.deps.TestSender.SendTest(r.Context(), sub, name)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]string{"event_id": id, "event_name": name})
}

// defaultTestEvent is the event a test sends when the request names none: the
// subscription's first exact name, else the first catalogue name it selects, else the
// first operational type it selects (an operational subscription gets an operational
// sample), else the catalogue's first.
func (s *Server) defaultTestEvent(sub *subscriptions.Subscription) string {
	for _, e := range sub.Events {
		if s.knownEvent(e) {
			return e
		}
	}
	for _, name := range s.cfg.EventTypes {
		if slices.ContainsFunc(sub.Events, func(p string) bool { return subscriptions.MatchPattern(p, name) }) {
			return name
		}
	}
	for _, typ := range events.OperationalTypes() {
		if sub.WantsOperational(typ) {
			return typ
		}
	}
	if len(s.cfg.EventTypes) > 0 {
		return s.cfg.EventTypes[0]
	}
	return ""
}

// knownEvent reports whether name is a catalogue name or an operational type.
func (s *Server) knownEvent(name string) bool {
	return slices.Contains(s.cfg.EventTypes, name) || events.IsOperational(name)
}

func (s *Server) listAttempts(w http.ResponseWriter, r *http.Request, who principal) {
	if s.deps.Attempts == nil {
		notImplemented(w)
		return
	}
	limit, p := parseLimit(r.URL.Query().Get("limit"))
	if p != nil {
		writeProblem(w, p)
		return
	}
	sub, ok := s.load(w, r, who)
	if !ok {
		return
	}
	attempts, next, err := s.deps.Attempts.ListAttempts(r.Context(), sub.ID, r.URL.Query().Get("after"), limit)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if attempts == nil {
		attempts = []Attempt{}
	}
	writeJSON(w, http.StatusOK, listResponse[Attempt]{Data: attempts, Next: nextCursor(next)})
}

// loadDelivery returns the delivery if who may see its subscription's account; a
// delivery of another account, or of a deleted subscription for an account token, is 404.
func (s *Server) loadDelivery(w http.ResponseWriter, r *http.Request, who principal) (*DeliveryStatus, bool) {
	d, err := s.deps.Deliveries.GetDelivery(r.Context(), r.PathValue("id"))
	if err == nil && !who.admin {
		var sub *subscriptions.Subscription
		sub, err = s.deps.Subscriptions.Get(r.Context(), d.SubscriptionID)
		if err == nil && !who.sees(sub.AccountID) {
			err = ErrNotFound
		}
	}
	if err != nil {
		s.fail(w, r, err)
		return nil, false
	}
	return d, true
}

func (s *Server) getDelivery(w http.ResponseWriter, r *http.Request, who principal) {
	if s.deps.Deliveries == nil {
		notImplemented(w)
		return
	}
	if d, ok := s.loadDelivery(w, r, who); ok {
		if d.Attempts == nil {
			d.Attempts = []Attempt{}
		}
		writeJSON(w, http.StatusOK, d)
	}
}

func (s *Server) redeliver(w http.ResponseWriter, r *http.Request, who principal) {
	if s.deps.Deliveries == nil || s.deps.Redeliverer == nil {
		notImplemented(w)
		return
	}
	d, ok := s.loadDelivery(w, r, who)
	if !ok {
		return
	}
	if err := s.deps.Redeliverer.Redeliver(r.Context(), d.ID); err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]string{"delivery_id": d.ID})
}
