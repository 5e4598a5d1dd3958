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

// MaxIDBytes bounds id, account_id, performed_by and data.id. They become record keys,
// headers and log fields, so hostile input must not make them huge.
const MaxIDBytes = 256

// Parser validates ingest records (DESIGN.md §2) against a catalogue. It is immutable
// and safe for concurrent use.
//
// Unknown top-level fields are ignored, so upstream producers can add fields before
// eventrouter knows them (forward compatibility); they are not forwarded to customers.
// A known field given twice is invalid, because JSON parsers disagree on which copy wins.
// A null value counts as absent.
type Parser struct {
	cat      *Catalogue
	maxBytes int
}

// NewParser returns a Parser accepting event names in cat (which must not be nil) and
// values of at most maxBytes bytes (DefaultMaxBytes when maxBytes <= 0).
func NewParser(cat *Catalogue, maxBytes int) *Parser {
	if maxBytes <= 0 {
		maxBytes = DefaultMaxBytes
	}
	return &Parser{cat: cat, maxBytes: maxBytes}
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
func (p *Parser) Parse(value []byte) (*Event, error) {
	if len(value) > p.maxBytes {
		return nil, invalid(ReasonTooLarge, "", strconv.Itoa(len(value))+" bytes > limit "+strconv.Itoa(p.maxBytes))
	}
	if !utf8.Valid(value) {
		return nil, invalid(ReasonInvalidUTF8, "", "at byte "+strconv.Itoa(invalidUTF8At(value)))
	}
	if !json.Valid(value) {
		return nil, invalid(ReasonMalformedJSON, "", syntaxDetail(value))
	}
	start := skipSpace(value, 0)
	if value[start] != '{' {
		return nil, invalid(ReasonMalformedJSON, "", "top-level value is "+article(kind(value[start:]))+", want an object")
	}

	var raw [nFields][]byte
	it := newMembers(value[start:])
	for {
		key, val, ok := it.next()
		if !ok {
			break
		}
		f := fieldIndex(key)
		if f < 0 {
			continue
		}
		if raw[f] != nil {
			return nil, invalid(ReasonInvalidField, fieldNames[f], "duplicate key")
		}
		raw[f] = val
	}

	e := &Event{}
	var err *InvalidError
	if e.ID, err = textField(fID, raw[fID]); err != nil {
		return nil, err
	}
	if e.AccountID, err = textField(fAccountID, raw[fAccountID]); err != nil {
		return nil, err
	}
	if e.EventName, err = stringField(fEventName, raw[fEventName]); err != nil {
		return nil, err
	}
	obj := p.cat.ObjectOf(e.EventName)
	if obj == "" {
		return nil, invalid(ReasonUnknownEvent, "event_name", quote(e.EventName))
	}
	if e.Object, err = stringField(fObject, raw[fObject]); err != nil {
		return nil, err
	}
	if e.Object != obj {
		return nil, invalid(ReasonObjectMismatch, "object", "field \"object\" is "+quote(e.Object)+
			" but "+quote(e.EventName)+" is about "+quote(obj))
	}
	if e.Source, err = stringField(fSource, raw[fSource]); err != nil {
		return nil, err
	}
	if e.Source != SourceUI && e.Source != SourceAPI {
		return nil, invalid(ReasonInvalidField, "source", "want \"ui\" or \"api\", got "+quote(e.Source))
	}
	if e.PerformedBy, err = textField(fPerformedBy, raw[fPerformedBy]); err != nil {
		return nil, err
	}
	ts, err := stringField(fOccurredAt, raw[fOccurredAt])
	if err != nil {
		return nil, err
	}
	var why string
	if e.OccurredAt, why = parseTime(ts); why != "" {
		return nil, invalid(ReasonInvalidField, "occurred_at", why)
	}
	if e.Data, e.ObjectID, err = dataField(raw[fData]); err != nil {
		return nil, err
	}
	return e, nil
}

// fieldIndex maps a raw key to a known field, or -1. The switch on string(bytes) does
// not allocate.
func fieldIndex(key []byte) int {
	inner := key[1 : len(key)-1]
	if hasEscape(inner) {
		inner = []byte(decodeString(key))
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

// stringField decodes a required string field.
func stringField(f int, raw []byte) (string, *InvalidError) {
	if raw == nil || raw[0] == 'n' {
		return "", invalid(ReasonMissingField, fieldNames[f], "")
	}
	if raw[0] != '"' {
		return "", invalid(ReasonInvalidField, fieldNames[f], "want a string, got "+article(kind(raw)))
	}
	return decodeString(raw), nil
}

// textField decodes a required, bounded identifier-like string field.
func textField(f int, raw []byte) (string, *InvalidError) {
	s, err := stringField(f, raw)
	if err != nil {
		return "", err
	}
	if d := checkText(s); d != "" {
		return "", invalid(ReasonInvalidField, fieldNames[f], d)
	}
	return s, nil
}

// checkText returns why s is not an acceptable identifier, or "".
func checkText(s string) string {
	if s == "" {
		return "must not be empty"
	}
	if len(s) > MaxIDBytes {
		return "longer than " + strconv.Itoa(MaxIDBytes) + " bytes (" + strconv.Itoa(len(s)) + ")"
	}
	for i, r := range s {
		if unicode.IsControl(r) || r == utf8.RuneError {
			return "control or invalid character " + strconv.QuoteRune(r) + " at byte " + strconv.Itoa(i)
		}
	}
	return ""
}

// dataField checks the data object and extracts data.id.
func dataField(raw []byte) (json.RawMessage, string, *InvalidError) {
	if raw == nil || raw[0] == 'n' {
		return nil, "", invalid(ReasonMissingField, "data", "")
	}
	if raw[0] != '{' {
		return nil, "", invalid(ReasonInvalidField, "data", "want an object, got "+article(kind(raw)))
	}
	var id []byte
	it := newMembers(raw)
	for {
		key, val, ok := it.next()
		if !ok {
			break
		}
		if !keyIs(key, "id") {
			continue
		}
		if id != nil {
			return nil, "", invalid(ReasonInvalidField, "data.id", "duplicate key")
		}
		id = val
	}
	var oid string
	switch {
	case id == nil || id[0] == 'n':
		return nil, "", invalid(ReasonMissingField, "data.id", "")
	case id[0] == '"':
		oid = decodeString(id)
	case kind(id) == "number":
		oid = string(id)
	default:
		return nil, "", invalid(ReasonInvalidField, "data.id", "want a string or number, got "+article(kind(id)))
	}
	if d := checkText(oid); d != "" {
		return nil, "", invalid(ReasonInvalidField, "data.id", d)
	}
	return raw, oid, nil
}

// parseTime parses an RFC 3339 time and converts it to UTC. It rejects times whose UTC
// year is outside 1..9999, which RFC 3339 cannot write (an offset can push a valid
// "0000-01-01T00:00:00+01:00" into year -1), so every accepted time renders back.
// On failure it returns why, quoting s.
func parseTime(s string) (time.Time, string) {
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
