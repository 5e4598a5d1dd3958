package api

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/claimable/eventrouter/replay"
	"github.com/claimable/eventrouter/subscriptions"
)

// Replays starts replay jobs in the background and reads their state; an unknown job
// is an error wrapping replay.ErrJobNotFound.
type Replays interface {
	Start(ctx context.Context, spec replay.Spec) (*replay.Job, error)
	Get(ctx context.Context, id string) (*replay.Job, error)
}

// replayRequest is the body of POST /v1/replays.
type replayRequest struct {
	From           string   `json:"from"`
	To             string   `json:"to"`
	SubscriptionID string   `json:"subscription_id"`
	AccountID      string   `json:"account_id"`
	Events         []string `json:"events"`
	DryRun         bool     `json:"dry_run"`
}

// replayView is a job as the API shows it: its saved state and its progress.
type replayView struct {
	*replay.Job
	Progress float64 `json:"progress"`
}

func (s *Server) createReplay(w http.ResponseWriter, r *http.Request, who principal) {
	if s.deps.Replays == nil {
		notImplemented(w)
		return
	}
	var req replayRequest
	if err := decodeBody(w, r, s.cfg.MaxBodyBytes, &req, false); err != nil {
		s.fail(w, r, err)
		return
	}
	spec := replay.Spec{SubscriptionID: req.SubscriptionID, AccountID: req.AccountID, Events: req.Events, DryRun: req.DryRun}
	var probs []subscriptions.FieldError
	for _, f := range []struct {
		name, v string
		dst     *time.Time
	}{{"from", req.From, &spec.From}, {"to", req.To, &spec.To}} {
		if f.v == "" {
			continue // Validate names the missing field
		}
		t, err := replay.ParseTime(f.v)
		if err != nil {
			probs = append(probs, subscriptions.FieldError{Field: f.name, Message: err.Error()})
			continue
		}
		*f.dst = t
	}
	if len(probs) > 0 {
		s.fail(w, r, &subscriptions.ValidationError{Problems: probs})
		return
	}
	if !who.admin {
		// An account token replays only its own account.
		if spec.AccountID != "" && spec.AccountID != who.account {
			writeProblem(w, newProblem(http.StatusForbidden, kindForbidden, "an account token may replay only its own account"))
			return
		}
		spec.AccountID = who.account
	}
	if err := spec.Validate(s.cfg.EventTypes); err != nil {
		s.fail(w, r, err)
		return
	}
	if spec.SubscriptionID != "" {
		sub, err := s.deps.Subscriptions.Get(r.Context(), spec.SubscriptionID)
		if err == nil && !who.sees(sub.AccountID) {
			err = subscriptions.ErrNotFound
		}
		if err != nil {
			s.fail(w, r, err)
			return
		}
	}
	job, err := s.deps.Replays.Start(r.Context(), spec)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Location", "/v1/replays/"+job.ID)
	writeJSON(w, http.StatusAccepted, replayView{Job: job, Progress: job.Progress()})
}

func (s *Server) getReplay(w http.ResponseWriter, r *http.Request, who principal) {
	if s.deps.Replays == nil {
		notImplemented(w)
		return
	}
	job, err := s.deps.Replays.Get(r.Context(), r.PathValue("id"))
	if errors.Is(err, replay.ErrJobNotFound) || err == nil && !who.admin && job.Spec.AccountID != who.account {
		err = ErrNotFound // another account's job does not exist for this token
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, replayView{Job: job, Progress: job.Progress()})
}
