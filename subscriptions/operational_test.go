package subscriptions

import (
	"strings"
	"testing"

	"github.com/claimable/eventrouter/events"
)

func TestValidateAcceptsOperationalPatterns(t *testing.T) {
	p := Policy{Catalogue: testCatalogue}
	s := validSub()
	s.Events = []string{"claim.created", "endpoint.failing", "subscription.*", "delivery.exhausted"}
	if err := p.Validate(s); err != nil {
		t.Fatalf("operational patterns refused: %v", err)
	}
	s.Events = []string{"subscription.deleted"}
	ps := problems(t, p.Validate(s))
	if len(ps) != 1 || ps[0].Field != "events[0]" || !strings.Contains(ps[0].Message, "subscription.deleted") {
		t.Fatalf("unknown operational name: problems %+v, want one on events[0] naming it", ps)
	}
}

func TestWantsOperationalNeedsAnExplicitPattern(t *testing.T) {
	cases := []struct {
		events []string
		typ    string
		want   bool
	}{
		{[]string{"*"}, events.OpEndpointFailing, false},
		{[]string{"claim.*", "*"}, events.OpDeliveryExhausted, false},
		{[]string{"endpoint.failing"}, events.OpEndpointFailing, true},
		{[]string{"endpoint.failing"}, events.OpDeliveryExhausted, false},
		{[]string{"*", "subscription.*"}, events.OpSubscriptionDisabled, true},
		{[]string{"subscription.*"}, events.OpSubscriptionRecovered, true},
		{[]string{"subscription.*"}, events.OpEndpointFailing, false},
	}
	for _, c := range cases {
		s := &Subscription{Events: c.events}
		if got := s.WantsOperational(c.typ); got != c.want {
			t.Errorf("events %v, %s: got %v, want %v", c.events, c.typ, got, c.want)
		}
	}
}
