package events

import (
	"encoding/json"
	"unicode/utf8"
)

// This file walks JSON that encoding/json's Valid has already accepted. Knowing the
// input is valid lets the walker stay tiny and allocation-free: Parse validates once with
// json.Valid (no allocations), then reads only the top-level members it needs, instead
// of decoding everything into maps or decoding data twice.

// members iterates the members of a valid JSON object.
type members struct {
	b []byte
	i int
}

// newMembers starts iterating obj, which must be a valid JSON object ('{' first).
func newMembers(obj []byte) members { return members{b: obj, i: 1} }

// next returns the next member's raw key (with its quotes) and raw value, or ok=false
// at the end of the object.
func (m *members) next() (key, val []byte, ok bool) {
	m.i = skipSpace(m.b, m.i)
	if m.i >= len(m.b) || m.b[m.i] == '}' {
		return nil, nil, false
	}
	if m.b[m.i] == ',' {
		m.i = skipSpace(m.b, m.i+1)
	}
	ks := m.i
	m.i = skipString(m.b, m.i)
	key = m.b[ks:m.i]
	m.i = skipSpace(m.b, m.i)
	m.i = skipSpace(m.b, m.i+1) // ':'
	vs := m.i
	m.i = skipValue(m.b, m.i)
	return key, m.b[vs:m.i], true
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\n' || b[i] == '\r' || b[i] == '\t') {
		i++
	}
	return i
}

// skipString returns the index just past the string starting at b[i] == '"'.
func skipString(b []byte, i int) int {
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return i
}

// skipValue returns the index just past the value starting at b[i].
func skipValue(b []byte, i int) int {
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for i < len(b) {
			switch b[i] {
			case '"':
				i = skipString(b, i)
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
			i++
		}
		return i
	default: // number, true, false, null
		for i < len(b) {
			switch b[i] {
			case ',', '}', ']', ' ', '\n', '\r', '\t':
				return i
			}
			i++
		}
		return i
	}
}

// keyIs reports whether the raw key (with quotes) decodes to name, without allocating
// in the common unescaped case.
func keyIs(raw []byte, name string) bool {
	inner := raw[1 : len(raw)-1]
	if !hasEscape(inner) {
		return string(inner) == name
	}
	return decodeString(raw) == name
}

// decodeString decodes a raw JSON string token (with its quotes). The common unescaped
// case is a plain conversion; escapes go through encoding/json.
func decodeString(raw []byte) string {
	inner := raw[1 : len(raw)-1]
	if !hasEscape(inner) {
		return string(inner)
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "" // unreachable for input json.Valid accepted
	}
	return s
}

func hasEscape(b []byte) bool {
	for _, c := range b {
		if c == '\\' {
			return true
		}
	}
	return false
}

// kind names the JSON type of a raw value, for error messages.
func kind(raw []byte) string {
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
	case '"':
		return "string"
	case '{':
		return "object"
	case '[':
		return "array"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	}
	return "number"
}

// invalidUTF8At returns the offset of the first invalid UTF-8 sequence in b, or -1.
func invalidUTF8At(b []byte) int {
	for i := 0; i < len(b); {
		if b[i] < utf8.RuneSelf {
			i++
			continue
		}
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n == 1 {
			return i
		}
		i += n
	}
	return -1
}
