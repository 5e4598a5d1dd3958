package api

import (
	"net/http"
	"time"

	"github.com/claimable/eventrouter/subscriptions"
)

// secretView shows a subscription's signing secrets: the current one and the previous
// ones still valid (each with its expiry). Expired secrets are not shown.
type secretView struct {
	SubscriptionID string                 `json:"subscription_id"`
	Current        subscriptions.Secret   `json:"current"`
	Previous       []subscriptions.Secret `json:"previous"`
}

// rotateRequest is the optional body of POST .../secret/rotate.
type rotateRequest struct {
	// Grace is how long the replaced secret keeps signing, e.g. "24h"; empty: the default.
	Grace string `json:"grace"`
}

func (s *Server) secrets(sub *subscriptions.Subscription) secretView {
	v := secretView{SubscriptionID: sub.ID, Previous: []subscriptions.Secret{}}
	now := time.Now()
	for i, sec := range sub.Secrets {
		switch {
		case i == 0:
			v.Current = sec
		case now.Before(sec.ExpiresAt):
			v.Previous = append(v.Previous, sec)
		}
	}
	return v
}

func (s *Server) getSecret(w http.ResponseWriter, r *http.Request, who principal) {
	if sub, ok := s.load(w, r, who); ok {
		w.Header().Set("Cache-Control", "no-store")
		setETag(w, sub)
		writeJSON(w, http.StatusOK, s.secrets(sub))
	}
}

func (s *Server) rotateSecret(w http.ResponseWriter, r *http.Request, who principal) {
	var req rotateRequest
	if err := decodeBody(w, r, s.cfg.MaxBodyBytes, &req, true); err != nil {
		s.fail(w, r, err)
		return
	}
	var grace time.Duration
	if req.Grace != "" {
		d, err := time.ParseDuration(req.Grace)
		if err != nil {
			writeProblem(w, newProblem(http.StatusUnprocessableEntity, kindValidation, "invalid grace",
				subscriptions.FieldError{Field: "grace", Message: `must be a duration such as "24h"`}))
			return
		}
		if d <= 0 {
			writeProblem(w, newProblem(http.StatusUnprocessableEntity, kindValidation, "invalid grace",
				subscriptions.FieldError{Field: "grace", Message: "must be positive"}))
			return
		}
		grace = d
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
	rotated, err := s.deps.Subscriptions.Rotate(r.Context(), sub.ID, grace, version)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	setETag(w, rotated)
	writeJSON(w, http.StatusOK, s.secrets(rotated))
}
