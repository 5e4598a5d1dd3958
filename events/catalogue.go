package events

import (
	"errors"
	"fmt"
	"strings"
)

// ErrCatalogue is wrapped by every error NewCatalogue and ValidatePattern return.
var ErrCatalogue = errors.New("events: catalogue")

// Catalogue is the set of accepted event names, "<object>.<verb>", each part lower-case
// [a-z][a-z0-9_]*. It is configuration (config.Events.Catalogue), not code. A Catalogue is
// immutable after NewCatalogue and safe for concurrent use.
type Catalogue struct {
	names   []string            // in configured order
	objects []string            // in order of first appearance
	object  map[string]string   // name -> object
	known   map[string]struct{} // objects
}

// NewCatalogue checks names and builds a Catalogue. The error names the first bad entry
// (by index and value) and wraps ErrCatalogue. An empty list is an error: a router with
// no event names would reject every event.
func NewCatalogue(names []string) (*Catalogue, error) {
	if len(names) == 0 {
		return nil, fmt.Errorf("%w: no event names", ErrCatalogue)
	}
	c := &Catalogue{
		names:  make([]string, 0, len(names)),
		object: make(map[string]string, len(names)),
		known:  make(map[string]struct{}),
	}
	for i, n := range names {
		obj, verb, ok := strings.Cut(n, ".")
		if !ok || !isIdent(obj) || !isIdent(verb) {
			return nil, fmt.Errorf("%w: entry %d %s: want <object>.<verb>, each part [a-z][a-z0-9_]*",
				ErrCatalogue, i, quote(n))
		}
		if _, dup := c.object[n]; dup {
			return nil, fmt.Errorf("%w: entry %d %s: duplicate", ErrCatalogue, i, quote(n))
		}
		c.names = append(c.names, n)
		c.object[n] = obj
		if _, seen := c.known[obj]; !seen {
			c.known[obj] = struct{}{}
			c.objects = append(c.objects, obj)
		}
	}
	return c, nil
}

// isIdent reports whether s matches [a-z][a-z0-9_]* and is at most 64 bytes.
func isIdent(s string) bool {
	if s == "" || len(s) > 64 || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for i := 1; i < len(s); i++ {
		b := s[i]
		if !(b >= 'a' && b <= 'z' || b >= '0' && b <= '9' || b == '_') {
			return false
		}
	}
	return true
}

// Has reports whether name is in the catalogue.
func (c *Catalogue) Has(name string) bool {
	_, ok := c.object[name]
	return ok
}

// Names returns the event names in configured order. The slice is a copy.
func (c *Catalogue) Names() []string { return append([]string(nil), c.names...) }

// Objects returns the object types ("claim", "contact") in order of first appearance.
// The slice is a copy.
func (c *Catalogue) Objects() []string { return append([]string(nil), c.objects...) }

// ObjectOf returns the object type of a catalogue name, or "" if name is not in the
// catalogue.
func (c *Catalogue) ObjectOf(name string) string { return c.object[name] }

// ValidatePattern checks a subscription's event pattern: an exact catalogue name,
// "<object>.*" for a known object, or "*". The error wraps ErrCatalogue and quotes p,
// e.g. `events: catalogue: unknown event name "claim.deleted"`.
func (c *Catalogue) ValidatePattern(p string) error {
	if p == "*" || c.Has(p) {
		return nil
	}
	if obj, ok := strings.CutSuffix(p, ".*"); ok {
		if _, known := c.known[obj]; known {
			return nil
		}
		return fmt.Errorf("%w: unknown object %s in pattern %s", ErrCatalogue, quote(obj), quote(p))
	}
	if strings.Contains(p, "*") {
		return fmt.Errorf("%w: bad pattern %s: want an event name, <object>.* or *", ErrCatalogue, quote(p))
	}
	return fmt.Errorf("%w: unknown event name %s", ErrCatalogue, quote(p))
}

// Match reports whether event name matches pattern p ("*", "<object>.*" or an exact
// name). Patterns are assumed valid (see ValidatePattern); Match does not allocate.
func Match(p, name string) bool {
	if p == "*" || p == name {
		return true
	}
	if obj, ok := strings.CutSuffix(p, ".*"); ok {
		return len(name) > len(obj) && name[len(obj)] == '.' && name[:len(obj)] == obj
	}
	return false
}

// quote quotes s for an error message, truncating it so hostile input cannot make an
// error (and the log line or header carrying it) arbitrarily long.
func quote(s string) string {
	const max = 64
	if len(s) > max {
		cut := max
		for cut > 0 && s[cut]&0xC0 == 0x80 { // don't split a UTF-8 sequence
			cut--
		}
		return fmt.Sprintf("%q…(%d bytes)", s[:cut], len(s))
	}
	return fmt.Sprintf("%q", s)
}
