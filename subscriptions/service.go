package subscriptions

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"
)

// Service is the one place subscriptions are written: the admin API, the routes file and
// the sender's auto-disable all go through it, so defaults, validation, secret handling
// and timestamps are the same whichever door a change comes in by. It is safe for
// concurrent use; it holds no state besides its Store.
//
// Every change is read-modify-write with a compare-and-set on the version read (see
// mutate): two concurrent writers of one subscription never lose either change.
type Service struct {
	store  Store
	policy Policy
	now    func() time.Time
}

// NewService returns a Service writing to store under policy. now is the clock (nil:
// time.Now).
func NewService(store Store, policy Policy, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{store: store, policy: policy, now: now}
}

// Policy returns the policy subscriptions are validated against.
func (s *Service) Policy() Policy { return s.policy }

// Input is what a caller supplies to create a subscription. Everything else (id,
// timestamps, version) the Service assigns.
type Input struct {
	AccountID string
	URL       string
	Events    []string
	Filter    string
	// Enabled defaults to true when nil.
	Enabled *bool
	// Secret, when set, becomes the signing secret ("whsec_" + base64 of 24–64 bytes);
	// otherwise a fresh one is generated.
	Secret      string
	Headers     map[string]string
	RateLimit   float64
	MaxInFlight int
	Description string
	// Payload and Redact shape the webhook body (Subscription.Payload, Redact).
	Payload string
	Redact  []string
	// Name is the routes-file key; empty for subscriptions created through the API.
	Name string
}

// HeaderMask is what the API shows instead of a custom header's value (header values
// are often credentials, such as Authorization). In Patch.Headers it means "keep the
// stored value of this header", so a client may send back what it read.
const HeaderMask = "********"

// unmaskHeaders returns next with every HeaderMask value replaced by the value in cur;
// a mask for a header cur does not hold is a problem naming it.
func unmaskHeaders(next, cur map[string]string) (map[string]string, []FieldError) {
	out := maps.Clone(next)
	var problems []FieldError
	for _, name := range sortedKeys(next) {
		if next[name] != HeaderMask {
			continue
		}
		if v, ok := cur[name]; ok {
			out[name] = v
		} else {
			problems = append(problems, FieldError{Field: "headers." + name, Message: "is masked but not set; send its value"})
		}
	}
	return out, problems
}

// Patch is a partial update: nil fields are left as they are.
type Patch struct {
	URL     *string
	Events  *[]string
	Filter  *string
	Enabled *bool
	// Headers replaces every custom header; a HeaderMask value keeps that header's
	// stored value.
	Headers     *map[string]string
	RateLimit   *float64
	MaxInFlight *int
	Description *string
	Payload     *string
	Redact      *[]string
	// Secret, when set and different from the current secret, makes it the current
	// secret; the replaced one stays valid for Policy.RotationGrace (as with Rotate).
	Secret *string
}

// Empty reports whether the patch changes nothing.
func (p Patch) Empty() bool { return p == Patch{} }

// Create validates in and stores a new subscription. It returns a *ValidationError
// listing every problem, or the Store's ErrAccountLimit, ErrConflict, ErrUnavailable.
// The returned subscription carries its secret in Secrets[0].
func (s *Service) Create(ctx context.Context, in Input) (*Subscription, error) {
	now := s.now().UTC()
	sub := &Subscription{
		ID:          NewID(now),
		AccountID:   in.AccountID,
		URL:         in.URL,
		Events:      slices.Clone(in.Events),
		Filter:      in.Filter,
		Enabled:     in.Enabled == nil || *in.Enabled,
		Headers:     maps.Clone(in.Headers),
		RateLimit:   in.RateLimit,
		MaxInFlight: in.MaxInFlight,
		Description: in.Description,
		Payload:     in.Payload,
		Redact:      slices.Clone(in.Redact),
		Name:        in.Name,
		CreatedAt:   now,
		UpdatedAt:   now,
	}
	secret := in.Secret
	if secret == "" {
		secret = NewSecret()
	}
	sub.Secrets = []Secret{{Value: secret, CreatedAt: now}}
	if err := s.validate(sub); err != nil {
		return nil, err
	}
	if err := s.store.Create(ctx, sub, s.policy.MaxPerAccount); err != nil {
		return nil, err
	}
	return sub, nil
}

// Update applies p to the subscription id and returns the result. Re-enabling a
// subscription clears its DisabledReason; disabling through a patch records no reason
// (a user did it).
//
// The write is a compare-and-set against the version read: with ifVersion ==
// AnyVersion a concurrent change makes Update read again and re-apply p (so neither
// change is lost); with ifVersion set, a subscription at any other version is
// ErrVersionMismatch. An empty patch writes nothing (no version bump, no announcement).
// Errors: ErrNotFound, *ValidationError, ErrVersionMismatch, ErrContended, ErrUnavailable.
func (s *Service) Update(ctx context.Context, id string, p Patch, ifVersion int64) (*Subscription, error) {
	return s.mutate(ctx, id, ifVersion, func(sub *Subscription, now time.Time) (bool, error) {
		if p.Empty() {
			return false, nil
		}
		var extra []FieldError
		if p.URL != nil {
			sub.URL = *p.URL
		}
		if p.Events != nil {
			sub.Events = slices.Clone(*p.Events)
		}
		if p.Filter != nil {
			sub.Filter = *p.Filter
		}
		if p.Enabled != nil {
			if *p.Enabled || sub.Enabled {
				sub.DisabledReason = "" // a system reason is kept only while still disabled
			}
			if !*p.Enabled && sub.Enabled {
				sub.DisabledAt = now
			}
			sub.Enabled = *p.Enabled
		}
		if p.Headers != nil {
			headers, problems := unmaskHeaders(*p.Headers, sub.Headers)
			sub.Headers = headers
			extra = append(extra, problems...)
		}
		if p.RateLimit != nil {
			sub.RateLimit = *p.RateLimit
		}
		if p.MaxInFlight != nil {
			sub.MaxInFlight = *p.MaxInFlight
		}
		if p.Description != nil {
			sub.Description = *p.Description
		}
		if p.Payload != nil {
			sub.Payload = *p.Payload
		}
		if p.Redact != nil {
			sub.Redact = slices.Clone(*p.Redact)
		}
		if p.Secret != nil && (len(sub.Secrets) == 0 || sub.Secrets[0].Value != *p.Secret) {
			if err := CheckSecret(*p.Secret); err != nil {
				extra = append(extra, FieldError{Field: "secret", Message: err.Error()})
			} else {
				rotateTo(sub, *p.Secret, s.policy.RotationGrace, now)
			}
		}
		return true, s.validate(sub, extra...)
	})
}

// Rotate gives the subscription a fresh current secret. The previous current secret
// stays valid for grace (0: Policy.RotationGrace); a grace above Policy.RotationGraceMax
// or below zero is a *ValidationError on field "grace". Previous secrets already expired
// are dropped, previous secrets still valid keep their own expiry, and beyond MaxSecrets
// in all the oldest are dropped (pruneSecrets). The result is validated like any update
// (*ValidationError). The write is a compare-and-set like Update's: the secret returned
// is the one stored.
func (s *Service) Rotate(ctx context.Context, id string, grace time.Duration, ifVersion int64) (*Subscription, error) {
	switch {
	case grace < 0:
		return nil, &ValidationError{Problems: []FieldError{{Field: "grace", Message: "must not be negative"}}}
	case grace == 0:
		grace = s.policy.RotationGrace
	case s.policy.RotationGraceMax > 0 && grace > s.policy.RotationGraceMax:
		return nil, &ValidationError{Problems: []FieldError{{
			Field:   "grace",
			Message: fmt.Sprintf("must be at most %s", s.policy.RotationGraceMax),
		}}}
	}
	return s.mutate(ctx, id, ifVersion, func(sub *Subscription, now time.Time) (bool, error) {
		rotateTo(sub, NewSecret(), grace, now)
		return true, s.validate(sub)
	})
}

// Disable turns the subscription off for reason (e.g. "endpoint_gone"); the sender calls
// it on 410 Gone or persistent failure. Disabling an already disabled subscription
// changes nothing and returns nil. It is a compare-and-set retried on conflict, so a
// concurrent user change is neither lost nor overwritten. Errors: ErrNotFound,
// ErrContended, ErrUnavailable.
func (s *Service) Disable(ctx context.Context, id, reason string) error {
	_, err := s.mutate(ctx, id, AnyVersion, func(sub *Subscription, now time.Time) (bool, error) {
		if !sub.Enabled {
			return false, nil
		}
		sub.Enabled = false
		sub.DisabledReason = reason
		sub.DisabledAt = now
		return true, nil
	})
	return err
}

// Get returns the subscription or ErrNotFound.
func (s *Service) Get(ctx context.Context, id string) (*Subscription, error) {
	return s.store.Get(ctx, id)
}

// Delete removes the subscription; ErrNotFound if absent. With ifVersion set, only a
// subscription still at that version (else ErrVersionMismatch).
func (s *Service) Delete(ctx context.Context, id string, ifVersion int64) error {
	return s.store.Delete(ctx, id, ifVersion)
}

// List returns one page ordered by id and the cursor of the next page ("" at the end).
func (s *Service) List(ctx context.Context, opts ListOptions) ([]*Subscription, string, error) {
	return s.store.List(ctx, opts)
}

// validate runs the policy and merges extra problems found by the Service itself.
func (s *Service) validate(sub *Subscription, extra ...FieldError) error {
	err := s.policy.Validate(sub)
	if err == nil && len(extra) == 0 {
		return nil
	}
	v := &ValidationError{}
	if ve, ok := err.(*ValidationError); ok {
		for _, p := range ve.Problems {
			if p.Field == "secrets[0]" {
				p.Field = "secret" // the current secret is what callers call "secret"
			}
			v.Problems = append(v.Problems, p)
		}
	} else if err != nil {
		return err
	}
	v.Problems = append(v.Problems, extra...)
	return v
}

// rotateTo makes secret the current one; the old current one expires after grace.
// pruneSecrets then drops expired and excess previous secrets.
func rotateTo(sub *Subscription, secret string, grace time.Duration, now time.Time) {
	secrets := make([]Secret, 0, len(sub.Secrets)+1)
	secrets = append(secrets, Secret{Value: secret, CreatedAt: now})
	for i, old := range sub.Secrets {
		if i == 0 || old.ExpiresAt.IsZero() {
			old.ExpiresAt = now.Add(grace)
		}
		secrets = append(secrets, old)
	}
	sub.Secrets = secrets
	pruneSecrets(sub, now)
}

// pruneSecrets drops the previous secrets expired at now and, beyond MaxSecrets in all,
// the oldest previous ones (Secrets is newest first). Every write runs it, so the
// secrets never exceed what Validate accepts and a subscription stored before the cap
// heals at its next write instead of failing validation on every PATCH.
//
// Dropping the oldest rather than refusing the rotation: rotating is what an operator
// does when a secret has leaked, and it must never be blocked; a receiver still on a
// secret MaxSecrets-1 rotations old has had every one of those grace periods to switch.
func pruneSecrets(sub *Subscription, now time.Time) {
	kept := sub.Secrets[:0:0]
	for i, sec := range sub.Secrets {
		if len(kept) == MaxSecrets {
			break
		}
		if i == 0 || now.Before(sec.ExpiresAt) {
			kept = append(kept, sec)
		}
	}
	sub.Secrets = kept
}
