package subscriptions

import (
	"fmt"
	"slices"
	"unicode"
	"unicode/utf8"
)

// unsafeRune reports whether r has no place in a stored text field: C0 and C1 control
// characters and DEL (they forge log lines and drive terminals), the Unicode
// bidirectional controls (they make text display in another order than it is stored:
// "Trojan Source", CVE-2021-42574) and the line and paragraph separators.
func unsafeRune(r rune) bool {
	switch {
	case r < 0x20, r == 0x7f, r >= 0x80 && r <= 0x9f: // C0, DEL, C1
		return true
	case r == 0x061c, r == 0x200e, r == 0x200f: // ALM, LRM, RLM
		return true
	case r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069: // embeddings, overrides, isolates
		return true
	case r == 0x2028, r == 0x2029: // line and paragraph separators
		return true
	}
	return false
}

// runeName describes r for an error message without printing it.
func runeName(r rune) string {
	if r < 0x20 || r == 0x7f || r >= 0x80 && r <= 0x9f {
		return fmt.Sprintf("the control character U+%04X", r)
	}
	if unicode.Is(unicode.Bidi_Control, r) {
		return fmt.Sprintf("the bidirectional control character U+%04X", r)
	}
	return fmt.Sprintf("the character U+%04X", r)
}

// textProblem returns why s cannot be stored as free text (a description), or "".
// allow lists runes accepted despite unsafeRune (a filter may span lines).
func textProblem(s string, allow ...rune) string {
	if !utf8.ValidString(s) {
		return "is not valid UTF-8"
	}
	for _, r := range s {
		if unsafeRune(r) && !slices.Contains(allow, r) {
			return "must not contain " + runeName(r)
		}
	}
	return ""
}

// identifierProblem returns why s cannot be an identifier (account_id, name), or "":
// textProblem's rules, and no spaces or invisible formatting characters (zero-width
// joiners, byte order marks, soft hyphens: Unicode category Cf), so that two
// identifiers that look the same are the same.
func identifierProblem(s string) string {
	if p := textProblem(s); p != "" {
		return p
	}
	for _, r := range s {
		switch {
		case unicode.IsSpace(r):
			return "must not contain spaces"
		case unicode.Is(unicode.Cf, r):
			return "must not contain " + runeName(r) + " (an invisible formatting character)"
		}
	}
	return ""
}
