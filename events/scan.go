package events

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"unicode/utf8"
)

// This file is Parse's JSON scanner. It validates the syntax while it walks, so an
// ingest record is read once: no json.Valid pass first, no decoding into maps, and data
// is validated in the same walk that finds data.id. It accepts exactly what
// encoding/json's Valid accepts on UTF-8 input (RFC 8259, at most maxDepth nested
// arrays and objects); FuzzScanAgreesWithEncodingJSON pins that. UTF-8 itself is
// checked separately with utf8.Valid, which is faster than doing it here byte by byte.
//
// On success every position is well-formed; on failure the scanner says only "no":
// Parse then asks encoding/json for a precise message, since bad input is rare.

// maxDepth is encoding/json's nesting limit (its maxNestingDepth): deeper input is
// invalid there, so it is here too, and hostile nesting cannot exhaust the stack.
const maxDepth = 10000

// scanner walks JSON in b from position i. depth counts the open arrays and objects.
type scanner struct {
	b     []byte
	i     int
	depth int
}

func (s *scanner) skipSpace() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\n', '\r', '\t':
			s.i++
		default:
			return
		}
	}
}

// peek returns the byte at the cursor after whitespace, or 0 at the end of input.
func (s *scanner) peek() byte {
	s.skipSpace()
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

// value validates the value at the cursor (whitespace already skipped) and moves past it.
func (s *scanner) value() bool {
	if s.i >= len(s.b) {
		return false
	}
	switch c := s.b[s.i]; c {
	case '"':
		_, ok := s.str()
		return ok
	case '{':
		return s.object()
	case '[':
		return s.array()
	case 't':
		return s.literal("true")
	case 'f':
		return s.literal("false")
	case 'n':
		return s.literal("null")
	default:
		return s.number()
	}
}

// object validates the object at the cursor ('{') and moves past it.
func (s *scanner) object() bool {
	more, ok := s.objectBegin()
	for more && ok {
		if _, _, ok = s.memberKey(); !ok {
			return false
		}
		if !s.value() {
			return false
		}
		more, ok = s.memberEnd()
	}
	return ok
}

// objectBegin enters the object at the cursor ('{'); more is false for "{}". Callers
// then loop: memberKey, a value, memberEnd. (An explicit loop rather than a callback:
// a callback would make the scanner escape to the heap.)
func (s *scanner) objectBegin() (more, ok bool) {
	if !s.open() {
		return false, false
	}
	if s.peek() == '}' {
		s.i++
		s.depth--
		return false, true
	}
	return true, true
}

// memberKey reads a member's key and colon and leaves the cursor on its value. key is
// raw (quotes included); esc says whether it has escapes.
func (s *scanner) memberKey() (key []byte, esc, ok bool) {
	if s.peek() != '"' {
		return nil, false, false
	}
	ks := s.i
	esc, ok = s.str()
	key = s.b[ks:s.i]
	if !ok || s.peek() != ':' {
		return nil, false, false
	}
	s.i++
	s.skipSpace()
	return key, esc, true
}

// memberEnd moves past the ',' before another member (more) or the closing '}'.
func (s *scanner) memberEnd() (more, ok bool) {
	switch s.peek() {
	case ',':
		s.i++
		return true, true
	case '}':
		s.i++
		s.depth--
		return false, true
	}
	return false, false
}

func (s *scanner) array() bool {
	if !s.open() {
		return false
	}
	if s.peek() == ']' {
		s.i++
		s.depth--
		return true
	}
	for {
		s.skipSpace()
		if !s.value() {
			return false
		}
		switch s.peek() {
		case ',':
			s.i++
		case ']':
			s.i++
			s.depth--
			return true
		default:
			return false
		}
	}
}

// open enters the array or object at the cursor.
func (s *scanner) open() bool {
	s.i++
	s.depth++
	return s.depth <= maxDepth
}

func (s *scanner) literal(lit string) bool {
	if len(s.b)-s.i < len(lit) || string(s.b[s.i:s.i+len(lit)]) != lit {
		return false
	}
	s.i += len(lit)
	return true
}

// number validates -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?; what follows is the
// caller's to check.
func (s *scanner) number() bool {
	b, i := s.b, s.i
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		i = digits(b, i+1)
	default:
		return false
	}
	if i < len(b) && b[i] == '.' {
		j := digits(b, i+1)
		if j == i+1 {
			return false
		}
		i = j
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j := digits(b, i)
		if j == i {
			return false
		}
		i = j
	}
	s.i = i
	return true
}

func digits(b []byte, i int) int {
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	return i
}

// SWAR constants: one byte repeated in each of a uint64's eight lanes.
const (
	lanes01 = 0x0101010101010101
	lanes80 = 0x8080808080808080
)

// hasControl reports whether p holds a control character (< 0x20), which a JSON string
// must not contain raw. It tests eight bytes at a time (the "has a byte less than n"
// trick, exact for n ≤ 128) and looks at single bytes only for the tail.
func hasControl(p []byte) bool {
	for len(p) >= 8 {
		x := binary.LittleEndian.Uint64(p)
		if (x-lanes01*0x20)&^x&lanes80 != 0 {
			return true
		}
		p = p[8:]
	}
	for _, c := range p {
		if c < 0x20 {
			return true
		}
	}
	return false
}

// str validates the string at the cursor ('"') and moves past it. esc reports whether
// it contains escapes (so decoding can be a plain conversion when it does not).
//
// It finds the closing quote and the backslashes with bytes.IndexByte (vectorised) and
// checks the plain bytes between for control characters. Each search starts where the
// previous one ended or stops at the quote found, so a string costs time linear in its
// length however many escapes it has.
// shortString is how many bytes of a string str checks one by one before it searches
// for the closing quote with bytes.IndexByte.
const shortString = 32

func (s *scanner) str() (esc, ok bool) {
	b, i := s.b, s.i+1
	// Keys and identifiers are short, and so are most of a record's strings: a byte
	// loop finds their end before IndexByte would have set up. A backslash, a control
	// character or a long string continues on the general path from where it stopped.
	for end := min(len(b), i+shortString); i < end; i++ {
		if c := b[i]; c == '"' {
			s.i = i + 1
			return false, true
		} else if c == '\\' || c < 0x20 {
			break
		}
	}
	q := -1 // the next unescaped-looking quote at or after i
	for {
		if q < i {
			n := bytes.IndexByte(b[i:], '"')
			if n < 0 {
				return false, false
			}
			q = i + n
		}
		end := q // end of the plain run: the quote, or the next backslash before it
		if n := bytes.IndexByte(b[i:q], '\\'); n >= 0 {
			end = i + n
		}
		if hasControl(b[i:end]) {
			return false, false
		}
		if end == q {
			s.i = q + 1
			return esc, true
		}
		esc = true
		if end+1 >= len(b) {
			return false, false
		}
		switch b[end+1] {
		case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			i = end + 2
		case 'u':
			if end+6 > len(b) || !isHex(b[end+2]) || !isHex(b[end+3]) || !isHex(b[end+4]) || !isHex(b[end+5]) {
				return false, false
			}
			i = end + 6
		default:
			return false, false
		}
	}
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// validJSON reports whether b is one JSON value (surrounded by optional whitespace), as
// json.Valid does for UTF-8 input.
func validJSON(b []byte) bool {
	s := scanner{b: b}
	s.skipSpace()
	if !s.value() {
		return false
	}
	s.skipSpace()
	return s.i == len(b)
}

// decodeString decodes a raw JSON string token (quotes included) that the scanner
// accepted; esc says whether it has escapes. The common unescaped case is a plain
// conversion; escapes go through encoding/json, which also replaces lone surrogates
// with U+FFFD.
func decodeString(raw []byte, esc bool) string {
	if !esc {
		return string(raw[1 : len(raw)-1])
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "" // unreachable for a string the scanner accepted
	}
	return s
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
