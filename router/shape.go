package router

import (
	"slices"

	"github.com/claimable/eventrouter/events"
)

// shapedBodies renders one event's shaped bodies (thin, redacted) once per distinct
// shape rather than once per subscription: an account's endpoints often share a shape
// (several thin ones), and redaction decodes and re-encodes the object. The zero value
// is ready and allocates nothing until a shaped subscription matches.
type shapedBodies struct {
	shapes []events.Shape
	bodies [][]byte
}

// body returns the event's body for shape, rendering it on first use.
func (s *shapedBodies) body(ev *events.Event, shape events.Shape) ([]byte, error) {
	for i, have := range s.shapes {
		if have.Thin == shape.Thin && slices.Equal(have.Redact, shape.Redact) {
			return s.bodies[i], nil
		}
	}
	b, err := events.RenderShaped(ev, shape)
	if err != nil {
		return nil, err
	}
	s.shapes = append(s.shapes, shape)
	s.bodies = append(s.bodies, b)
	return b, nil
}
