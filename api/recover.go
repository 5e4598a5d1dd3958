package api

import (
	"context"
	"net/http"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/claimable/eventrouter/subscriptions"
)

// RecoverMargin is how long before a subscription's disabled_at the default recovery
// starts reading the DLQ: record timestamps come from the sender's clock, disabled_at
// from whichever process disabled it, so a little overlap keeps clock skew from hiding
// a held delivery (at worst one from an earlier disable is sent again, with the same
// webhook-id).
const RecoverMargin = time.Minute

// recoverTimeout bounds a recovery started by re-enabling (it runs after the response).
const recoverTimeout = 10 * time.Minute

// RecoverReport says what one recovery did.
type RecoverReport struct {
	SubscriptionID string    `json:"subscription_id"`
	Since          time.Time `json:"since"`
	Scanned        int       `json:"scanned"`  // DLQ records read
	Redriven       int       `json:"redriven"` // held deliveries sent back for delivery
}

// Recoverer sends a subscription's held deliveries (those moved to the DLQ because the
// subscription was disabled, reasons subscription_disabled and gone) with a DLQ
// timestamp at or after since back to the deliveries topic, in DLQ order. It first
// waits for every sender to see the subscription enabled, so nothing is held after
// the DLQ read ends.
type Recoverer interface {
	Recover(ctx context.Context, sub *subscriptions.Subscription, since time.Time) (RecoverReport, error)
}

// recoverSince is where a recovery starts by default.
func recoverSince(sub *subscriptions.Subscription) time.Time {
	return sub.DisabledAt.Add(-RecoverMargin)
}

// recoverSubscription serves POST /v1/subscriptions/{id}/recover?since=: it re-drives
// the held deliveries of an enabled subscription and reports the counts.
func (s *Server) recoverSubscription(w http.ResponseWriter, r *http.Request, who principal) {
	if s.deps.Recoverer == nil {
		notImplemented(w)
		return
	}
	sub, ok := s.load(w, r, who)
	if !ok {
		return
	}
	since, p := parseSince(r.URL.Query().Get("since"), sub, time.Now())
	if p != nil {
		writeProblem(w, p)
		return
	}
	if !sub.Enabled {
		writeProblem(w, newProblem(http.StatusConflict, kindConflict,
			"the subscription is disabled: enable it (PATCH {\"enabled\": true} recovers its held deliveries)"))
		return
	}
	rep, err := s.deps.Recoverer.Recover(r.Context(), sub, since)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, rep)
}

// parseSince reads ?since= as an RFC 3339 time or a duration back from now ("24h");
// empty means the subscription's last disable (minus RecoverMargin).
func parseSince(v string, sub *subscriptions.Subscription, now time.Time) (time.Time, *Problem) {
	bad := func(msg string) (time.Time, *Problem) {
		return time.Time{}, newProblem(http.StatusUnprocessableEntity, kindValidation, "invalid since",
			subscriptions.FieldError{Field: "since", Message: msg})
	}
	v = strings.TrimSpace(v)
	switch {
	case v == "" && sub.DisabledAt.IsZero():
		return bad("is required: the subscription was never disabled")
	case v == "":
		return recoverSince(sub), nil
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	if d, err := time.ParseDuration(v); err == nil && d > 0 {
		return now.Add(-d), nil
	}
	return bad("must be an RFC 3339 time or a positive duration such as 24h")
}

// recoverAfterEnable starts the recovery of a subscription a PATCH just re-enabled. It
// runs after the response, bounded by recoverTimeout and the server's lifetime; its
// outcome is logged (and a failed one can be repeated with POST .../recover).
func (s *Server) recoverAfterEnable(before, after *subscriptions.Subscription) {
	if s.deps.Recoverer == nil || before.Enabled || !after.Enabled || before.DisabledAt.IsZero() {
		return
	}
	since := recoverSince(before)
	s.bg.Add(1)
	go func() {
		defer s.bg.Done()
		ctx, cancel := context.WithTimeout(s.bgCtx, recoverTimeout)
		defer cancel()
		rep, err := s.deps.Recoverer.Recover(ctx, after, since)
		if err != nil {
			s.log.Error("recovery of held deliveries failed; repeat it with POST /v1/subscriptions/{id}/recover",
				zap.String("subscription_id", after.ID), zap.Time("since", since), zap.Int("redriven", rep.Redriven), zap.Error(err))
			return
		}
		s.log.Info("held deliveries recovered", zap.String("subscription_id", after.ID), zap.Time("since", since),
			zap.Int("scanned", rep.Scanned), zap.Int("redriven", rep.Redriven))
	}()
}
