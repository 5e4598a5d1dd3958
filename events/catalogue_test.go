package events

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestNewCatalogueRejectsBadEntries(t *testing.T) {
	cases := []struct {
		names []string
		want  string // substring of the error
	}{
		{nil, "no event names"},
		{[]string{"claim.created", "Claim.closed"}, `entry 1 "Claim.closed"`},
		{[]string{"claim"}, `entry 0 "claim"`},
		{[]string{"claim.created.now"}, `entry 0 "claim.created.now"`},
		{[]string{".created"}, `entry 0 ".created"`},
		{[]string{"claim."}, `entry 0 "claim."`},
		{[]string{"1claim.created"}, `entry 0 "1claim.created"`},
		{[]string{"claim.cre-ated"}, `entry 0 "claim.cre-ated"`},
		{[]string{"claim.*"}, `entry 0 "claim.*"`},
		{[]string{"claim.created", "claim.created"}, `entry 1 "claim.created": duplicate`},
	}
	for _, tc := range cases {
		_, err := NewCatalogue(tc.names)
		if err == nil {
			t.Errorf("NewCatalogue(%q) = nil error, want one containing %q", tc.names, tc.want)
			continue
		}
		if !errors.Is(err, ErrCatalogue) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("NewCatalogue(%q) = %v, want ErrCatalogue containing %q", tc.names, err, tc.want)
		}
	}
}

func TestCatalogueLookups(t *testing.T) {
	c := mustCatalogue(t)
	if !slices.Equal(c.Names(), testCatalogue) {
		t.Errorf("Names() = %q", c.Names())
	}
	if got := c.Objects(); !slices.Equal(got, []string{"claim", "contact"}) {
		t.Errorf("Objects() = %q, want [claim contact]", got)
	}
	c.Names()[0] = "mutated"
	if !c.Has("claim.created") || c.Has("mutated") {
		t.Error("Names() exposed internal state")
	}
	for _, n := range testCatalogue {
		if !c.Has(n) {
			t.Errorf("Has(%q) = false", n)
		}
	}
	for _, n := range []string{"", "claim", "claim.deleted", "claim.*", "*", "CLAIM.CREATED"} {
		if c.Has(n) {
			t.Errorf("Has(%q) = true", n)
		}
	}
	if got := c.ObjectOf("claim.switched_type"); got != "claim" {
		t.Errorf("ObjectOf(claim.switched_type) = %q", got)
	}
	if got := c.ObjectOf("contact.created"); got != "contact" {
		t.Errorf("ObjectOf(contact.created) = %q", got)
	}
	if got := c.ObjectOf("contact.deleted"); got != "" {
		t.Errorf("ObjectOf(contact.deleted) = %q, want empty", got)
	}
}

func TestValidatePattern(t *testing.T) {
	c := mustCatalogue(t)
	for _, p := range []string{"*", "claim.*", "contact.*", "claim.created", "contact.created"} {
		if err := c.ValidatePattern(p); err != nil {
			t.Errorf("ValidatePattern(%q) = %v, want nil", p, err)
		}
	}
	bad := map[string]string{
		"claim.deleted": `events: catalogue: unknown event name "claim.deleted"`,
		"policy.*":      `events: catalogue: unknown object "policy" in pattern "policy.*"`,
		"claim.cr*":     `events: catalogue: bad pattern "claim.cr*": want an event name, <object>.* or *`,
		"**":            `events: catalogue: bad pattern "**": want an event name, <object>.* or *`,
		"":              `events: catalogue: unknown event name ""`,
		".*":            `events: catalogue: unknown object "" in pattern ".*"`,
	}
	for p, want := range bad {
		err := c.ValidatePattern(p)
		if err == nil || err.Error() != want || !errors.Is(err, ErrCatalogue) {
			t.Errorf("ValidatePattern(%q) = %v, want %s", p, err, want)
		}
	}
}

func TestMatch(t *testing.T) {
	cases := []struct {
		p, name string
		want    bool
	}{
		{"*", "claim.created", true},
		{"claim.*", "claim.created", true},
		{"claim.*", "contact.created", false},
		{"claim.*", "claimx.created", false},
		{"claim.created", "claim.created", true},
		{"claim.created", "claim.closed", false},
		{"contact.*", "contact.created", true},
	}
	for _, tc := range cases {
		if got := Match(tc.p, tc.name); got != tc.want {
			t.Errorf("Match(%q, %q) = %v, want %v", tc.p, tc.name, got, tc.want)
		}
	}
}

func TestQuoteBoundsHostileInput(t *testing.T) {
	long := strings.Repeat("é", 1000)
	q := quote(long)
	if len(q) > 120 || !strings.Contains(q, "(2000 bytes)") {
		t.Errorf("quote(2000 bytes) = %q (%d bytes), want a short, truncated quote", q, len(q))
	}
}
