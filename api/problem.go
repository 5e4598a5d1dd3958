package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"go.uber.org/zap"

	"github.com/claimable/eventrouter/subscriptions"
)

// problemTypeBase prefixes every problem "type": each kind is documented under that
// anchor of docs/api.md.
const problemTypeBase = "https://github.com/claimable/eventrouter/blob/main/docs/api.md#"

// Problem kinds (the anchor part of a problem's "type").
const (
	kindValidation   = "validation-error"
	kindBadRequest   = "bad-request"
	kindUnauthorized = "unauthorized"
	kindForbidden    = "forbidden"
	kindNotFound     = "not-found"
	kindConflict     = "conflict"
	kindPrecondition = "precondition-failed"
	// Idempotency-Key outcomes (idempotency.go).
	kindIdempotencyInFlight = "idempotency-key-in-flight"
	kindIdempotencyReused   = "idempotency-key-reused"
	kindLimit               = "account-limit"
	kindTooLarge            = "body-too-large"
	kindHeadersTooLarge     = "headers-too-large"
	kindRateLimited         = "rate-limited"
	kindMediaType           = "unsupported-media-type"
	kindMethod              = "method-not-allowed"
	kindUnavailable         = "store-unavailable"
	kindNotImplemented      = "not-implemented"
	kindInternal            = "internal-error"
)

// problemMediaType is the RFC 9457 content type of every error response.
const problemMediaType = "application/problem+json"

// retryAfterSeconds is the Retry-After sent with 503 while the store is unreachable.
const retryAfterSeconds = "5"

// Problem is an RFC 9457 problem details body. Errors lists field-level problems of a
// validation failure, each naming its field.
type Problem struct {
	Type   string                     `json:"type"`
	Title  string                     `json:"title"`
	Status int                        `json:"status"`
	Detail string                     `json:"detail,omitempty"`
	Errors []subscriptions.FieldError `json:"errors,omitempty"`
}

// Error makes a *Problem usable as an error inside the package.
func (p *Problem) Error() string { return p.Title + ": " + p.Detail }

func newProblem(status int, kind, detail string, fields ...subscriptions.FieldError) *Problem {
	return &Problem{
		Type:   problemTypeBase + kind,
		Title:  http.StatusText(status),
		Status: status,
		Detail: detail,
		Errors: fields,
	}
}

// writeProblem sends p as application/problem+json.
func writeProblem(w http.ResponseWriter, p *Problem) {
	h := w.Header()
	h.Set("Content-Type", problemMediaType)
	h.Set("X-Content-Type-Options", "nosniff")
	switch p.Status {
	case http.StatusUnauthorized:
		h.Set("WWW-Authenticate", `Bearer realm="eventrouter"`)
	case http.StatusServiceUnavailable:
		h.Set("Retry-After", retryAfterSeconds)
	}
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(p)
}

// problemFor maps an error from the Service (or a delivery-stage dependency) to the
// problem the client sees. Unknown errors are logged and become an opaque 500.
func (s *Server) problemFor(r *http.Request, err error) *Problem {
	var p *Problem
	var v *subscriptions.ValidationError
	switch {
	case errors.As(err, &p):
		return p
	case errors.As(err, &v):
		return newProblem(http.StatusUnprocessableEntity, kindValidation,
			"the request is well-formed but some fields are invalid; see errors", v.Problems...)
	case errors.Is(err, ErrBadCursor):
		return newProblem(http.StatusBadRequest, kindBadRequest, "invalid query parameter after",
			subscriptions.FieldError{Field: "after", Message: "must be a next cursor returned by this endpoint"})
	case errors.Is(err, subscriptions.ErrNotFound), errors.Is(err, ErrNotFound):
		return newProblem(http.StatusNotFound, kindNotFound, "no such resource")
	case errors.Is(err, subscriptions.ErrAccountLimit):
		return newProblem(http.StatusConflict, kindLimit, "the account already holds the maximum number of subscriptions")
	case errors.Is(err, subscriptions.ErrVersionMismatch):
		return preconditionFailed()
	case errors.Is(err, subscriptions.ErrContended):
		return newProblem(http.StatusConflict, kindConflict, "the subscription is being changed concurrently; retry")
	case errors.Is(err, subscriptions.ErrConflict):
		return newProblem(http.StatusConflict, kindConflict, "a subscription with that identity already exists")
	case errors.Is(err, subscriptions.ErrUnavailable):
		s.log.Warn("api store unavailable", zap.String("route", routeOf(r)), zap.Error(err))
		return newProblem(http.StatusServiceUnavailable, kindUnavailable,
			"the subscription store is unreachable; retry shortly")
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return newProblem(http.StatusServiceUnavailable, kindUnavailable, "the request was cancelled or timed out")
	default:
		s.log.Error("api internal error", zap.String("route", routeOf(r)), zap.Error(err))
		return newProblem(http.StatusInternalServerError, kindInternal, "internal error; see the server log")
	}
}

// fail writes the problem for err.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	writeProblem(w, s.problemFor(r, err))
}

// writeJSON sends v with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
