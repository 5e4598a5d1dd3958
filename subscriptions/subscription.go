// Package subscriptions owns who gets which event: the Subscription model and its
// validation, the stores (in-memory and Redis), and the live in-memory Index that the
// router and the sender match against without touching Redis on the hot path.
package subscriptions

import (
	"github.com/claimable/eventrouter/events"
	"sort"
	"time"
)

// Subscription is one customer endpoint and what it wants to receive.
type Subscription struct {
	// ID is "sub_" followed by a ULID (sortable by creation time).
	ID        string `json:"id"`
	AccountID string `json:"account_id"`
	URL       string `json:"url"`
	// Events holds exact catalogue names, "<object>.*" wildcards, or "*".
	Events []string `json:"events"`
	// Filter is an optional predicate over envelope fields (filter.go), e.g.
	// `source == "api"`, or over the event's object too (predicate.go), e.g.
	// `claim.type == "theft"`. Empty means every event that Events selects.
	Filter      string            `json:"filter,omitempty"`
	Enabled     bool              `json:"enabled"`
	Secrets     []Secret          `json:"-"`
	Headers     map[string]string `json:"headers,omitempty"`
	RateLimit   float64           `json:"rate_limit_per_sec,omitempty"` // 0: no limit
	MaxInFlight int               `json:"max_in_flight,omitempty"`      // 0: the sender's default
	Description string            `json:"description,omitempty"`
	// Payload is "full" (or empty: the object as produced) or "thin" (the envelope and
	// the object's id only); Redact removes object fields ("contact.email"). Both shape
	// the body at render time, before it is signed (events.Shape).
	Payload string   `json:"payload,omitempty"`
	Redact  []string `json:"redact,omitempty"`
	// Name is the stable key of a subscription declared in a routes file; empty otherwise.
	Name string `json:"name,omitempty"`
	// DisabledReason says why Enabled is false when the system disabled it
	// ("endpoint_gone", "failing_since:<time>"); empty when a user disabled it.
	DisabledReason string `json:"disabled_reason,omitempty"`
	// DisabledAt is when the subscription was last disabled, by a user or the system.
	// It stays set after re-enabling: it is where the recovery of the deliveries held
	// while disabled starts (docs/delivery.md, "Disabled subscriptions").
	DisabledAt time.Time `json:"disabled_at,omitzero"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
	// Version is the store's version at this subscription's last change.
	Version int64 `json:"version"`
}

// Shape is how this subscription's webhook bodies are rendered.
func (s *Subscription) Shape() events.Shape {
	return events.Shape{Thin: s.Payload == events.PayloadThin, Redact: s.Redact}
}

// Secret is one signing secret ("whsec_" + base64 of 24–32 random bytes). The first
// secret of Subscription.Secrets is the current one; the others are previous secrets
// still valid until ExpiresAt, so receivers can rotate without a gap.
type Secret struct {
	Value     string    `json:"value"`
	CreatedAt time.Time `json:"created_at"`
	// ExpiresAt is zero for the current secret.
	ExpiresAt time.Time `json:"expires_at,omitzero"`
}

// ValidSecrets returns the secrets that may sign a request at now: the current one and
// the previous ones not yet expired, newest first, at most MaxSecrets (so a request never
// carries more than MaxSecrets signatures, even for a subscription stored before
// rotation was capped).
func (s *Subscription) ValidSecrets(now time.Time) []string {
	out := make([]string, 0, min(len(s.Secrets), MaxSecrets))
	for _, sec := range s.Secrets {
		if len(out) == MaxSecrets {
			break
		}
		if sec.ExpiresAt.IsZero() || now.Before(sec.ExpiresAt) {
			out = append(out, sec.Value)
		}
	}
	return out
}

// Clone returns a deep copy of s: its slices and map are not shared.
func (s *Subscription) Clone() *Subscription {
	c := *s
	c.Events = append([]string(nil), s.Events...)
	c.Secrets = append([]Secret(nil), s.Secrets...)
	if s.Headers != nil {
		c.Headers = make(map[string]string, len(s.Headers))
		for k, v := range s.Headers {
			c.Headers[k] = v
		}
	}
	return &c
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
