package events

import (
	"encoding/json"
	"strconv"
	"time"
	"unicode"
	"unicode/utf8"
)

// DefaultMaxBytes bounds an ingest record's value when NewParser is given 0.
const DefaultMaxBytes = 1 << 20

// MaxIDBytes bounds the free-text delivery headers (er-reason, er-redrive).
const MaxIDBytes = 256

// MaxIDChars bounds id, account_id, performed_by and the object's id, in characters
// (Unicode code points, as JSON Schema's maxLength counts them, so the published schema
// states the same limit). They become record keys, headers and log fields, so hostile
// input must not make them huge: at most 4 × 256 bytes.
const MaxIDChars = 256

// Parser validates ingest records (docs/producing.md) against a catalogue. It is
// immutable and safe for concurrent use.
//
// The target object comes in one of two shapes: "object" plus "data" (the ingest form),
// or under a key named after the object, "claim":{…} (the form of the webhook body
// customers receive, so a producer may send that body as it is). A record giving both is
// invalid: which one would be forwarded is not obvious.
//
// Unknown top-level fields are ignored, so upstream producers can add fields before
// eventrouter knows them (forward compatibility); they are not forwarded to customers.
// A known field given twice is invalid, because JSON parsers disagree on which copy wins.
// A null value counts as absent.
type Parser struct {
	cat      *Catalogue
	names    map[string]catalogueName
	objects  []string // the catalogue's object types: the keys of the webhook-shaped form
	maxBytes int
}

// catalogueName is one catalogue entry, held so Parse can return shared strings.
type catalogueName struct{ name, object string }

// NewParser returns a Parser accepting event names in cat (which must not be nil) and
// values of at most maxBytes bytes (DefaultMaxBytes when maxBytes <= 0).
func NewParser(cat *Catalogue, maxBytes int) *Parser {
	if maxBytes <= 0 {
		maxBytes = DefaultMaxBytes
	}
	names := make(map[string]catalogueName)
	for _, n := range cat.Names() {
		names[n] = catalogueName{name: n, object: cat.ObjectOf(n)}
	}
	return &Parser{cat: cat, names: names, objects: cat.Objects(), maxBytes: maxBytes}
}

// field indexes the known top-level fields in the order they are checked, which is
// the order errors are reported in when several fields are bad.
const (
	fID = iota
	fAccountID
	fEventName
	fObject
	fSource
	fPerformedBy
	fOccurredAt
	fData
	nFields
)

var fieldNames = [nFields]string{"id", "account_id", "event_name", "object", "source", "performed_by", "occurred_at", "data"}

// Parse validates value and returns the event, or an *InvalidError (never a panic).
// The returned Event's Data is a sub-slice of value, not a copy: value must not be
// modified while the Event is in use. OccurredAt is converted to UTC.
//
// Checks run in this order, and the first failure is reported: size, UTF-8, JSON
// syntax (one pass that also collects the fields), a known field given twice, then the
// fields in the order of the Event struct, the target object and its id last (except
// that a record with no target object at all is reported at "object", see object).
func (p *Parser) Parse(value []byte) (*Event, error) {
	if len(value) > p.maxBytes {
		return nil, invalid(ReasonTooLarge, "", strconv.Itoa(len(value))+" bytes > limit "+strconv.Itoa(p.maxBytes))
	}
	if !utf8.Valid(value) {
		return nil, invalid(ReasonInvalidUTF8, "", "at byte "+strconv.Itoa(invalidUTF8At(value)))
	}
	f := fields{objects: p.objects}
	if err := f.scan(value); err != nil {
		return nil, err
	}
	if f.dup >= 0 {
		return nil, invalid(ReasonInvalidField, fieldNames[f.dup], "duplicate key")
	}
	f.pool.fill([poolSize][]byte{f.raw[fID], f.raw[fAccountID], f.raw[fSource], f.raw[fPerformedBy], f.raw[fOccurredAt], f.dataID.raw},
		[poolSize]bool{f.esc[fID], f.esc[fAccountID], f.esc[fSource], f.esc[fPerformedBy], f.esc[fOccurredAt], f.dataID.esc})

	e := &Event{}
	var err *InvalidError
	if e.ID, err = f.text(fID); err != nil {
		return nil, err
	}
	if e.AccountID, err = f.text(fAccountID); err != nil {
		return nil, err
	}
	var obj string
	if e.EventName, obj, err = p.eventName(&f); err != nil {
		return nil, err
	}
	t, err := f.target(obj)
	if err != nil {
		return nil, err
	}
	e.Object = obj
	if e.Source, err = f.source(); err != nil {
		return nil, err
	}
	if e.PerformedBy, err = f.text(fPerformedBy); err != nil {
		return nil, err
	}
	if err = f.isString(fOccurredAt); err != nil {
		return nil, err
	}
	var why string
	if e.OccurredAt, why = parseTime(f.str(fOccurredAt)); why != "" {
		return nil, invalid(ReasonInvalidField, "occurred_at", why)
	}
	if e.Data, e.ObjectID, err = t.check(&f.pool); err != nil {
		return nil, err
	}
	return e, nil
}

// fields holds the raw values of the known top-level fields (and of data.id) that one
// scan of a record collected.
type fields struct {
	raw [nFields][]byte // nil when absent
	esc [nFields]bool   // the raw string has escapes
	dup int             // the first known field given twice, or -1
	// dataID is data's "id" member when data is an object.
	dataID memberID
	// objects are the catalogue's object types; keyed holds the members named after
	// one of them (the webhook-shaped form), allocated only when there are some.
	objects []string
	keyed   []keyedObject
	// pool holds the identifier-like fields' strings (one allocation).
	pool textPool
}

// scan validates value as JSON and collects the fields, or returns a malformed_json
// error.
func (f *fields) scan(value []byte) *InvalidError {
	f.dup = -1
	s := scanner{b: value}
	if s.peek() != '{' {
		if validJSON(value) {
			return invalid(ReasonMalformedJSON, "", "top-level value is "+article(kind(value[s.i:]))+", want an object")
		}
		return invalid(ReasonMalformedJSON, "", syntaxDetail(value))
	}
	ok := f.members(&s)
	if ok {
		s.skipSpace()
		ok = s.i == len(value)
	}
	if !ok {
		return invalid(ReasonMalformedJSON, "", syntaxDetail(value))
	}
	return nil
}

// members walks the top-level object at the cursor, collecting the known fields.
func (f *fields) members(s *scanner) bool {
	more, ok := s.objectBegin()
	for more && ok {
		var key []byte
		var esc bool
		if key, esc, ok = s.memberKey(); !ok {
			return false
		}
		fi := fieldIndex(key, esc)
		switch {
		case fi < 0:
			ok = f.other(s, key, esc)
		case fi == fData && s.i < len(s.b) && s.b[s.i] == '{':
			if f.raw[fi] != nil && f.dup < 0 {
				f.dup = fi
			}
			vs := s.i
			ok = f.dataID.scan(s)
			f.raw[fi] = s.b[vs:s.i]
		default:
			if f.raw[fi] != nil && f.dup < 0 {
				f.dup = fi
			}
			f.raw[fi], f.esc[fi], ok = rawValue(s)
		}
		if !ok {
			return false
		}
		more, ok = s.memberEnd()
	}
	return ok
}

// rawValue validates the value at the cursor and returns it raw, with whether it is a
// string with escapes.
func rawValue(s *scanner) (raw []byte, esc, ok bool) {
	vs := s.i
	if s.i < len(s.b) && s.b[s.i] == '"' {
		esc, ok = s.str()
	} else {
		ok = s.value()
	}
	return s.b[vs:s.i], esc, ok
}

// isString reports a missing (absent or null) or non-string required field.
func (f *fields) isString(fi int) *InvalidError {
	raw := f.raw[fi]
	if raw == nil || raw[0] == 'n' {
		return invalid(ReasonMissingField, fieldNames[fi], "")
	}
	if raw[0] != '"' {
		return invalid(ReasonInvalidField, fieldNames[fi], "want a string, got "+article(kind(raw)))
	}
	return nil
}

// str decodes a field isString accepted.
func (f *fields) str(fi int) string { return f.pool.str(f.raw[fi], f.esc[fi]) }

// inner returns a field's unescaped string contents without copying, or ok=false when
// it has escapes (the caller then decodes).
func (f *fields) inner(fi int) (b []byte, ok bool) {
	if f.esc[fi] {
		return nil, false
	}
	raw := f.raw[fi]
	return raw[1 : len(raw)-1], true
}

// text decodes a required, bounded identifier-like string field.
func (f *fields) text(fi int) (string, *InvalidError) {
	if err := f.isString(fi); err != nil {
		return "", err
	}
	s := f.str(fi)
	if d := checkText(s); d != "" {
		return "", invalid(ReasonInvalidField, fieldNames[fi], d)
	}
	return s, nil
}

// eventName checks event_name against the catalogue and returns the catalogue's own
// copies of the name and its object, so a valid record costs no allocation for them.
func (p *Parser) eventName(f *fields) (name, obj string, _ *InvalidError) {
	if err := f.isString(fEventName); err != nil {
		return "", "", err
	}
	if b, ok := f.inner(fEventName); ok {
		if n, found := p.names[string(b)]; found { // no allocation: map lookup by string(bytes)
			return n.name, n.object, nil
		}
	}
	name = f.str(fEventName)
	if n, found := p.names[name]; found {
		return n.name, n.object, nil
	}
	return "", "", invalid(ReasonUnknownEvent, "event_name", quote(name))
}

// source returns SourceUI or SourceAPI (the constants, not copies).
func (f *fields) source() (string, *InvalidError) {
	if err := f.isString(fSource); err != nil {
		return "", err
	}
	got := f.str(fSource)
	switch got {
	case SourceUI:
		return SourceUI, nil
	case SourceAPI:
		return SourceAPI, nil
	}
	return "", invalid(ReasonInvalidField, "source", "want \"ui\" or \"api\", got "+quote(got))
}

// fieldIndex maps a raw key to a known field, or -1. The switch on string(bytes) does
// not allocate.
func fieldIndex(key []byte, esc bool) int {
	inner := key[1 : len(key)-1]
	if esc {
		inner = []byte(decodeString(key, true))
	}
	switch string(inner) {
	case "id":
		return fID
	case "account_id":
		return fAccountID
	case "event_name":
		return fEventName
	case "object":
		return fObject
	case "source":
		return fSource
	case "performed_by":
		return fPerformedBy
	case "occurred_at":
		return fOccurredAt
	case "data":
		return fData
	}
	return -1
}

// keyIs reports whether the raw key (with quotes) decodes to name, without allocating
// in the common unescaped case.
func keyIs(raw []byte, esc bool, name string) bool {
	if !esc {
		return string(raw[1:len(raw)-1]) == name
	}
	return decodeString(raw, true) == name
}

// checkText returns why s is not an acceptable identifier, or "".
func checkText(s string) string {
	if s == "" {
		return "must not be empty"
	}
	if len(s) > MaxIDChars {
		if n := utf8.RuneCountInString(s); n > MaxIDChars {
			return "longer than " + strconv.Itoa(MaxIDChars) + " characters (" + strconv.Itoa(n) + ")"
		}
	}
	ascii := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f {
			ascii = false
			break
		}
	}
	if ascii { // the common case, without decoding runes
		return ""
	}
	for i, r := range s {
		if unicode.IsControl(r) || r == utf8.RuneError {
			return "control or invalid character " + strconv.QuoteRune(r) + " at byte " + strconv.Itoa(i)
		}
	}
	return ""
}

// parseTime parses an RFC 3339 time and converts it to UTC. It rejects times whose UTC
// year is outside 1..9999, which RFC 3339 cannot write (an offset can push a valid
// "0000-01-01T00:00:00+01:00" into year -1), so every accepted time renders back.
// On failure it returns why, quoting s.
func parseTime(s string) (time.Time, string) {
	if !rfc3339Shape(s) {
		return time.Time{}, "not RFC 3339: " + quote(s)
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, "not RFC 3339: " + quote(s)
	}
	t = t.UTC()
	if y := t.Year(); y < 1 || y > 9999 {
		return time.Time{}, "out of range (UTC years 0001-9999): " + quote(s)
	}
	return t, ""
}

// rfc3339Shape reports whether s is written YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)
// with a year from 0001 and an offset of at most 23:59. time.Parse alone also accepts a comma before the
// fraction and offsets such as +24:00, which RFC 3339 does not; the published schema
// (api/ingest-event.schema.json) states this same pattern, and time.Parse then checks
// the ranges of the date and time.
func rfc3339Shape(s string) bool {
	digits := func(i, n int) bool {
		for ; n > 0; i, n = i+1, n-1 {
			if i >= len(s) || s[i] < '0' || s[i] > '9' {
				return false
			}
		}
		return true
	}
	if len(s) < 20 || !digits(0, 4) || s[:4] == "0000" || s[4] != '-' || !digits(5, 2) || s[7] != '-' || !digits(8, 2) ||
		s[10] != 'T' || !digits(11, 2) || s[13] != ':' || !digits(14, 2) || s[16] != ':' || !digits(17, 2) {
		return false
	}
	i := 19
	if s[i] == '.' {
		i++
		if !digits(i, 1) {
			return false
		}
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
	}
	switch rest := s[i:]; {
	case rest == "Z":
		return true
	case len(rest) == 6 && (rest[0] == '+' || rest[0] == '-') && rest[3] == ':':
		return digits(i+1, 2) && digits(i+4, 2) && rest[1:3] <= "23" && rest[4:6] <= "59"
	}
	return false
}

// syntaxDetail describes why value is not JSON. Only called on the failure path.
func syntaxDetail(value []byte) string {
	var v json.RawMessage
	err := json.Unmarshal(value, &v)
	if se, ok := err.(*json.SyntaxError); ok {
		return se.Error() + " (offset " + strconv.FormatInt(se.Offset, 10) + ")"
	}
	if err != nil {
		return err.Error()
	}
	return "invalid JSON"
}

func article(k string) string {
	switch k {
	case "object", "array":
		return "an " + k
	case "null", "nothing":
		return k
	}
	return "a " + k
}
