package subscriptions

import (
	"net/netip"
	"strings"
	"time"
)

// Policy is what a valid subscription must satisfy, built from configuration.
type Policy struct {
	Catalogue        []string       // accepted event names
	AllowHTTP        bool           // permit http:// URLs
	AllowCIDRs       []netip.Prefix // exempt from the private-address block
	AllowPorts       []int          // besides 80 and 443
	MaxPerAccount    int            // 0: no limit (enforced by Store.Create)
	RotationGrace    time.Duration  // default grace of a rotated-out secret
	RotationGraceMax time.Duration  // longest grace a caller may ask for
}

// FieldError is one problem with one field of a subscription.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// ValidationError lists every problem found, each naming its field.
type ValidationError struct {
	Problems []FieldError
}

func (e *ValidationError) Error() string {
	parts := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		parts[i] = p.Field + ": " + p.Message
	}
	return "subscriptions: invalid subscription: " + strings.Join(parts, "; ")
}

// Validate checks sub against the policy and returns a *ValidationError listing every
// problem, or nil.
func (p Policy) Validate(sub *Subscription) error {
	var v ValidationError
	if sub.AccountID == "" {
		v.Problems = append(v.Problems, FieldError{"account_id", "is required"})
	}
	if sub.URL == "" {
		v.Problems = append(v.Problems, FieldError{"url", "is required"})
	}
	if len(sub.Events) == 0 {
		v.Problems = append(v.Problems, FieldError{"events", "must name at least one event"})
	}
	if len(v.Problems) > 0 {
		return &v
	}
	return nil
}
