package api

import (
	"net/http"
	"strconv"

	"github.com/claimable/eventrouter/subscriptions"
)

// Paging bounds of list endpoints.
const (
	defaultPageLimit = 100
	maxPageLimit     = 1000
)

// createRequest is the body of POST /v1/subscriptions.
type createRequest struct {
	// AccountID may be omitted with an account token (it defaults to the token's account).
	AccountID   string            `json:"account_id"`
	URL         string            `json:"url"`
	Events      []string          `json:"events"`
	Filter      string            `json:"filter"`
	Enabled     *bool             `json:"enabled"`
	Secret      string            `json:"secret"`
	Headers     map[string]string `json:"headers"`
	RateLimit   float64           `json:"rate_limit_per_sec"`
	MaxInFlight int               `json:"max_in_flight"`
	Description string            `json:"description"`
	Payload     string            `json:"payload"`
	Redact      []string          `json:"redact"`
}

// patchRequest is the body of PATCH /v1/subscriptions/{id}: absent (or null) fields are
// unchanged.
type patchRequest struct {
	URL         *string            `json:"url"`
	Events      *[]string          `json:"events"`
	Filter      *string            `json:"filter"`
	Enabled     *bool              `json:"enabled"`
	Headers     *map[string]string `json:"headers"`
	RateLimit   *float64           `json:"rate_limit_per_sec"`
	MaxInFlight *int               `json:"max_in_flight"`
	Description *string            `json:"description"`
	Payload     *string            `json:"payload"`
	Redact      *[]string          `json:"redact"`
}

// subscriptionView is a subscription as the API shows it. Secret and the custom
// headers' values are shown only in the response to its creation (createdView);
// afterwards headers show as names with masked values (view) and GET .../secret shows
// the secret.
type subscriptionView struct {
	*subscriptions.Subscription
	Headers map[string]string `json:"headers,omitempty"`
	Secret  string            `json:"secret,omitempty"`
}

// view shows sub with its header values masked.
func view(sub *subscriptions.Subscription) subscriptionView {
	v := subscriptionView{Subscription: sub}
	if len(sub.Headers) > 0 {
		v.Headers = make(map[string]string, len(sub.Headers))
		for name := range sub.Headers {
			v.Headers[name] = subscriptions.HeaderMask
		}
	}
	return v
}

// createdView shows sub as its creator sent it: header values and the secret included.
func createdView(sub *subscriptions.Subscription) subscriptionView {
	return subscriptionView{Subscription: sub, Headers: sub.Headers, Secret: sub.Secrets[0].Value}
}

// listResponse is a page of a list endpoint; Next is the cursor for ?after=, null at the end.
type listResponse[T any] struct {
	Data []T     `json:"data"`
	Next *string `json:"next"`
}

func nextCursor(next string) *string {
	if next == "" {
		return nil
	}
	return &next
}

func (s *Server) createSubscription(w http.ResponseWriter, r *http.Request, who principal) {
	var req createRequest
	if err := decodeBody(w, r, s.cfg.MaxBodyBytes, &req, false); err != nil {
		s.fail(w, r, err)
		return
	}
	if !who.admin {
		if req.AccountID == "" {
			req.AccountID = who.account
		}
		if req.AccountID != who.account {
			writeProblem(w, newProblem(http.StatusForbidden, kindForbidden,
				"this token may only create subscriptions in its own account",
				subscriptions.FieldError{Field: "account_id", Message: "must be the token's account"}))
			return
		}
	}
	sub, err := s.deps.Subscriptions.Create(r.Context(), subscriptions.Input{
		AccountID:   req.AccountID,
		URL:         req.URL,
		Events:      req.Events,
		Filter:      req.Filter,
		Enabled:     req.Enabled,
		Secret:      req.Secret,
		Headers:     req.Headers,
		RateLimit:   req.RateLimit,
		MaxInFlight: req.MaxInFlight,
		Description: req.Description,
		Payload:     req.Payload,
		Redact:      req.Redact,
	})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Location", "/v1/subscriptions/"+sub.ID)
	setETag(w, sub)
	w.Header().Set("Cache-Control", "no-store") // the body holds the secret and header values
	writeJSON(w, http.StatusCreated, createdView(sub))
}

func (s *Server) listSubscriptions(w http.ResponseWriter, r *http.Request, who principal) {
	q := r.URL.Query()
	opts := subscriptions.ListOptions{AccountID: q.Get("account_id"), After: q.Get("after")}
	var ok bool
	limit, p := parseLimit(q.Get("limit"))
	if p != nil {
		writeProblem(w, p)
		return
	}
	opts.Limit = limit
	if opts.AccountID, ok = listedAccount(w, who, opts.AccountID, "this token may only list its own account"); !ok {
		return
	}
	subs, next, err := s.deps.Subscriptions.List(r.Context(), opts)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := listResponse[subscriptionView]{Data: make([]subscriptionView, 0, len(subs)), Next: nextCursor(next)}
	for _, sub := range subs {
		out.Data = append(out.Data, view(sub))
	}
	writeJSON(w, http.StatusOK, out)
}

// parseLimit reads ?limit= (empty: the default page size).
func parseLimit(v string) (int, *Problem) { return parseLimitUpTo(v, defaultPageLimit, maxPageLimit) }

// parseLimitUpTo reads ?limit= as an integer from 1 to most (empty: def).
func parseLimitUpTo(v string, def, most int) (int, *Problem) {
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > most {
		return 0, newProblem(http.StatusBadRequest, kindBadRequest, "invalid query parameter limit",
			subscriptions.FieldError{Field: "limit", Message: "must be an integer from 1 to " + strconv.Itoa(most)})
	}
	return n, nil
}

// load returns the subscription named by the {id} path value if who may see it. A
// subscription of another account is reported exactly like a missing one (404), so a
// token cannot probe other accounts' ids.
func (s *Server) load(w http.ResponseWriter, r *http.Request, who principal) (*subscriptions.Subscription, bool) {
	sub, err := s.deps.Subscriptions.Get(r.Context(), r.PathValue("id"))
	if err == nil && !who.sees(sub.AccountID) {
		err = subscriptions.ErrNotFound
	}
	if err != nil {
		s.fail(w, r, err)
		return nil, false
	}
	return sub, true
}

func (s *Server) getSubscription(w http.ResponseWriter, r *http.Request, who principal) {
	if sub, ok := s.load(w, r, who); ok {
		setETag(w, sub)
		writeJSON(w, http.StatusOK, view(sub))
	}
}

func (s *Server) patchSubscription(w http.ResponseWriter, r *http.Request, who principal) {
	var req patchRequest
	if err := decodeBody(w, r, s.cfg.MaxBodyBytes, &req, false); err != nil {
		s.fail(w, r, err)
		return
	}
	version, p := ifMatch(r)
	if p != nil {
		writeProblem(w, p)
		return
	}
	sub, ok := s.load(w, r, who)
	if !ok {
		return
	}
	updated, err := s.deps.Subscriptions.Update(r.Context(), sub.ID, subscriptions.Patch{
		URL:         req.URL,
		Events:      req.Events,
		Filter:      req.Filter,
		Enabled:     req.Enabled,
		Headers:     req.Headers,
		RateLimit:   req.RateLimit,
		MaxInFlight: req.MaxInFlight,
		Description: req.Description,
		Payload:     req.Payload,
		Redact:      req.Redact,
	}, version)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.recoverAfterEnable(sub, updated)
	setETag(w, updated)
	writeJSON(w, http.StatusOK, view(updated))
}

func (s *Server) deleteSubscription(w http.ResponseWriter, r *http.Request, who principal) {
	version, p := ifMatch(r)
	if p != nil {
		writeProblem(w, p)
		return
	}
	sub, ok := s.load(w, r, who)
	if !ok {
		return
	}
	if err := s.deps.Subscriptions.Delete(r.Context(), sub.ID, version); err != nil {
		s.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
