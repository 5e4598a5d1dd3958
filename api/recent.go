package api

import "net/http"

// Bounds of GET /v1/subscriptions/{id}/deliveries.
const (
	defaultRecentDeliveries = 20
	maxRecentDeliveries     = 50
	// recentAttemptsScan is how many of the subscription's newest attempts are read to
	// find its recent deliveries: a delivery retried many times fills several of them.
	recentAttemptsScan = 500
)

// recentDeliveries is the body of GET /v1/subscriptions/{id}/deliveries.
type recentDeliveries struct {
	Data []DeliveryStatus `json:"data"`
}

// listDeliveries answers a subscription's most recent deliveries, newest first, each
// with its state and attempts as GET /v1/deliveries/{id} shows it: the deliveries of
// the newest attempts in the attempt log. It does not page; older attempts are on
// GET …/attempts.
func (s *Server) listDeliveries(w http.ResponseWriter, r *http.Request, who principal) {
	if s.deps.Attempts == nil || s.deps.Deliveries == nil {
		notImplemented(w)
		return
	}
	limit, p := parseLimitUpTo(r.URL.Query().Get("limit"), defaultRecentDeliveries, maxRecentDeliveries)
	if p != nil {
		writeProblem(w, p)
		return
	}
	sub, ok := s.load(w, r, who)
	if !ok {
		return
	}
	attempts, _, err := s.deps.Attempts.ListAttempts(r.Context(), sub.ID, "", recentAttemptsScan)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	// The deliveries of the newest attempts, once each, in that order.
	var ids []string
	seen := map[string]bool{}
	for _, a := range attempts {
		if !seen[a.DeliveryID] {
			seen[a.DeliveryID] = true
			ids = append(ids, a.DeliveryID)
		}
	}
	// Read limit of them at a time, in one round trip each: usually one, more only when
	// some have expired from the log since their attempts were listed.
	out := recentDeliveries{Data: []DeliveryStatus{}}
	for len(ids) > 0 && len(out.Data) < limit {
		chunk := ids[:min(limit-len(out.Data), len(ids))]
		ids = ids[len(chunk):]
		ds, err := s.deps.Deliveries.GetDeliveries(r.Context(), chunk)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		for _, d := range ds {
			if d == nil || d.SubscriptionID != sub.ID {
				continue // expired from the log; or never expected: the log keys attempts by subscription
			}
			if d.Attempts == nil {
				d.Attempts = []Attempt{}
			}
			out.Data = append(out.Data, *d)
		}
	}
	writeJSON(w, http.StatusOK, out)
}
