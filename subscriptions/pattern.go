package subscriptions

import (
	"fmt"
	"strings"
)

// An event pattern selects event names: an exact catalogue name ("claim.closed"), every
// event of one object ("claim.*"), or every event ("*").

// matchPattern reports whether pattern selects name. It does not allocate.
func matchPattern(pattern, name string) bool {
	if pattern == "*" || pattern == name {
		return true
	}
	if n := len(pattern); n >= 2 && pattern[n-1] == '*' && pattern[n-2] == '.' {
		prefix := pattern[:n-1] // "claim."
		return len(name) > len(prefix) && name[:len(prefix)] == prefix
	}
	return false
}

// checkPattern validates one pattern against a catalogue. With an empty catalogue only
// the syntax is checked (names look like "<object>.<verb>").
func checkPattern(p string, catalogue []string) error {
	if p == "*" {
		return nil
	}
	object, verb, ok := strings.Cut(p, ".")
	if !ok || !isIdent(object) || (verb != "*" && !isIdent(verb)) {
		return fmt.Errorf("%q is not an event name, \"<object>.*\" or \"*\"", p)
	}
	if len(catalogue) == 0 {
		return nil
	}
	for _, name := range catalogue {
		if verb == "*" && strings.HasPrefix(name, object+".") || name == p {
			return nil
		}
	}
	if verb == "*" {
		return fmt.Errorf("no event in the catalogue has object %q", object)
	}
	return fmt.Errorf("unknown event %q", p)
}

// isIdent: lower-case letter, then lower-case letters, digits or '_'.
func isIdent(s string) bool {
	if s == "" || len(s) > 64 || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// MatchPattern reports whether an event pattern ("claim.closed", "claim.*", "*") selects
// name; other tools (replay filters) use the same syntax as subscriptions.
func MatchPattern(pattern, name string) bool { return matchPattern(pattern, name) }

// CheckPattern validates an event pattern against a catalogue (syntax only when the
// catalogue is empty); the error says what is wrong with it.
func CheckPattern(pattern string, catalogue []string) error { return checkPattern(pattern, catalogue) }

// WantsOperational reports whether s selects the operational event type typ
// (events.OperationalTypes): by its exact name or an "<object>.*" pattern. "*" selects
// every domain event but no operational one, so existing catch-all subscriptions do not
// start receiving them (docs/operational-events.md).
func (s *Subscription) WantsOperational(typ string) bool {
	for _, p := range s.Events {
		if p != "*" && matchPattern(p, typ) {
			return true
		}
	}
	return false
}
