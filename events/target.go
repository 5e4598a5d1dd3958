package events

import "encoding/json"

// This file handles the target object of an ingest record: the claim or contact the
// event is about. It comes in one of two shapes (docs/producing.md):
//
//	"object":"claim", "data":{"id":…}   the ingest form
//	"claim":{"id":…}                     the webhook-body form ("object" optional)
//
// Both are unambiguous: the event name says which object key to look for, and a record
// that gives the object twice is rejected rather than forwarding one copy silently.

// memberID is an object's "id" member as one scan found it.
type memberID struct {
	raw []byte // nil when absent
	esc bool   // raw is a string with escapes
	dup bool   // "id" was given more than once
}

// scan walks the object at the cursor, validating it and collecting its "id".
func (m *memberID) scan(s *scanner) bool {
	more, ok := s.objectBegin()
	for more && ok {
		var key []byte
		var esc bool
		if key, esc, ok = s.memberKey(); !ok {
			return false
		}
		if keyIs(key, esc, "id") {
			if m.raw != nil {
				m.dup = true
			}
			m.raw, m.esc, ok = rawValue(s)
		} else {
			ok = s.value()
		}
		if !ok {
			return false
		}
		more, ok = s.memberEnd()
	}
	return ok
}

// keyedObject is a top-level member named after a catalogue object ("claim"), which is
// the target object in the webhook-body form when the event is about that object, and
// an ignored unknown field otherwise.
type keyedObject struct {
	object string // the catalogue's copy of the name
	raw    []byte
	dup    bool
}

// other handles a top-level member that is not a known field: it is remembered when
// named after a catalogue object, and skipped (validated only) otherwise.
func (f *fields) other(s *scanner, key []byte, esc bool) bool {
	for _, obj := range f.objects {
		if !keyIs(key, esc, obj) {
			continue
		}
		raw, _, ok := rawValue(s)
		for i := range f.keyed {
			if f.keyed[i].object == obj {
				f.keyed[i].raw, f.keyed[i].dup = raw, true
				return ok
			}
		}
		f.keyed = append(f.keyed, keyedObject{object: obj, raw: raw})
		return ok
	}
	return s.value()
}

// target is the record's target object, found in one of the two shapes.
type target struct {
	field string // "data" or the object key, for error messages
	raw   []byte
	id    memberID
	dup   bool // the object key was given twice
}

// absent reports a missing member: never given, or null.
func absent(raw []byte) bool { return raw == nil || raw[0] == 'n' }

// target checks the "object" field against obj, the event name's object, and picks the
// shape the record uses. The ingest form needs "object"; the webhook-body form may omit
// it, and if given it must still equal obj.
func (f *fields) target(obj string) (target, *InvalidError) {
	var keyed *keyedObject
	for i := range f.keyed {
		if f.keyed[i].object == obj && !absent(f.keyed[i].raw) {
			keyed = &f.keyed[i]
		}
	}
	data := f.raw[fData]
	switch {
	case keyed != nil && !absent(data):
		return target{}, invalid(ReasonInvalidField, "data", "the "+obj+" is given twice, as \"data\" and as "+
			quote(obj)+": send one (\"object\" and \"data\", or "+quote(obj)+" alone)")
	case keyed == nil && absent(data):
		return target{}, invalid(ReasonMissingField, "data", "want the "+obj+" as \"object\":"+quote(obj)+
			",\"data\":{\"id\":…}, or as "+quote(obj)+":{\"id\":…}")
	}
	if keyed == nil && absent(f.raw[fObject]) {
		return target{}, invalid(ReasonMissingField, "object", "\"data\" needs \"object\":"+quote(obj)+
			" (the event name's prefix); or send the "+obj+" as "+quote(obj)+":{…} instead of \"data\"")
	}
	if !absent(f.raw[fObject]) {
		if err := f.isString(fObject); err != nil {
			return target{}, err
		}
		b, ok := f.inner(fObject)
		if !ok || string(b) != obj {
			if got := f.str(fObject); got != obj {
				return target{}, invalid(ReasonObjectMismatch, "object", "field \"object\" is "+quote(got)+
					" but "+quote(f.str(fEventName))+" is about "+quote(obj))
			}
		}
	}
	if keyed != nil {
		t := target{field: obj, raw: keyed.raw, dup: keyed.dup}
		if keyed.raw[0] == '{' {
			s := scanner{b: keyed.raw}
			t.id.scan(&s) // keyed.raw is valid JSON: the scan cannot fail
		}
		return t, nil
	}
	return target{field: "data", raw: data, id: f.dataID}, nil
}

// check validates the target object and returns it with its id (from pool when pooled).
func (t target) check(pool *textPool) (json.RawMessage, string, *InvalidError) {
	if t.dup {
		return nil, "", invalid(ReasonInvalidField, t.field, "duplicate key")
	}
	if t.raw[0] != '{' {
		return nil, "", invalid(ReasonInvalidField, t.field, "want an object, got "+article(kind(t.raw)))
	}
	if t.id.dup {
		return nil, "", invalid(ReasonInvalidField, t.field+".id", "duplicate key")
	}
	id := t.id.raw
	var oid string
	switch {
	case absent(id):
		return nil, "", invalid(ReasonMissingField, t.field+".id", "")
	case id[0] == '"':
		oid = pool.str(id, t.id.esc)
	case kind(id) == "number":
		oid = string(id)
	default:
		return nil, "", invalid(ReasonInvalidField, t.field+".id", "want a string or number, got "+article(kind(id)))
	}
	if d := checkText(oid); d != "" {
		return nil, "", invalid(ReasonInvalidField, t.field+".id", d)
	}
	return t.raw, oid, nil
}
