package api

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/claimable/eventrouter/events"
	"github.com/claimable/eventrouter/subscriptions"
)

// OperationalQuery selects recent operational events.
type OperationalQuery struct {
	AccountID      string // empty: every account (admin tokens only)
	SubscriptionID string
	Types          []string
	Since          time.Time
	Limit          int // the newest Limit events are returned
}

// OperationalEvents reads the operational topic (implemented in app over
// operational.Tail): the events matching q, newest first, at most q.Limit.
type OperationalEvents interface {
	Recent(ctx context.Context, q OperationalQuery) ([]*events.OpEvent, error)
}

// Bounds of GET /v1/operational-events.
const (
	defaultOperationalSince = 24 * time.Hour
	maxOperationalLimit     = 1000
)

// listOperationalEvents serves GET /v1/operational-events?account_id=&subscription_id=
// &type=&since=&limit=: recent operational events, newest first.
func (s *Server) listOperationalEvents(w http.ResponseWriter, r *http.Request, who principal) {
	if s.deps.Operational == nil {
		notImplemented(w)
		return
	}
	v := r.URL.Query()
	q := OperationalQuery{AccountID: v.Get("account_id"), SubscriptionID: v.Get("subscription_id")}
	limit, p := parseLimitUpTo(v.Get("limit"), defaultPageLimit, maxOperationalLimit)
	if p != nil {
		writeProblem(w, p)
		return
	}
	q.Limit = limit
	bad := func(field, msg string) {
		writeProblem(w, newProblem(http.StatusUnprocessableEntity, kindValidation, "invalid "+field,
			subscriptions.FieldError{Field: field, Message: msg}))
	}
	for _, t := range v["type"] {
		for typ := range strings.SplitSeq(t, ",") {
			if !events.IsOperational(typ) {
				bad("type", "must be one of "+strings.Join(events.OperationalTypes(), ", "))
				return
			}
			q.Types = append(q.Types, typ)
		}
	}
	q.Since = time.Now().Add(-defaultOperationalSince)
	if raw := strings.TrimSpace(v.Get("since")); raw != "" {
		if t, err := time.Parse(time.RFC3339, raw); err == nil {
			q.Since = t
		} else if d, err := time.ParseDuration(raw); err == nil && d > 0 {
			q.Since = time.Now().Add(-d)
		} else {
			bad("since", "must be an RFC 3339 time or a positive duration such as 24h")
			return
		}
	}
	var ok bool
	if q.AccountID, ok = listedAccount(w, who, q.AccountID, "this token may only read its own account's events"); !ok {
		return
	}
	evs, err := s.deps.Operational.Recent(r.Context(), q)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if evs == nil {
		evs = []*events.OpEvent{}
	}
	writeJSON(w, http.StatusOK, struct {
		Data []*events.OpEvent `json:"data"`
	}{evs})
}
