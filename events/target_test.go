package events

import (
	"bytes"

	"strings"
	"testing"
)

// A producer that sends the webhook body customers receive ("claim":{…}, no "object"
// nor "data") gets it accepted, for every event name, and the body rendered from it is
// the body it sent.
func TestParseAcceptsTheWebhookBodyShape(t *testing.T) {
	p := mustParser(t)
	for _, name := range testCatalogue {
		body := Render(Sample(name, "acc_1", sampleObjectID(name), 3, sampleTime))
		e, err := p.Parse(body)
		if err != nil {
			t.Errorf("%s: Parse(webhook body) = %v, want it accepted\n%s", name, err, body)
			continue
		}
		if again := Render(e); !bytes.Equal(again, body) {
			t.Errorf("%s: rendered\n%s\nwant the body sent\n%s", name, again, body)
		}
		if e.ObjectID != sampleObjectID(name) {
			t.Errorf("%s: ObjectID = %q, want %q", name, e.ObjectID, sampleObjectID(name))
		}
	}
}

func TestParseWebhookBodyShapeRules(t *testing.T) {
	p := mustParser(t)
	keyed := func(edit func(m map[string]any)) []byte {
		return with(func(m map[string]any) {
			m["claim"] = m["data"]
			delete(m, "data")
			delete(m, "object")
			edit(m)
		})
	}
	accepted := map[string][]byte{
		"with object":           keyed(func(m map[string]any) { m["object"] = "claim" }),
		"with null object":      keyed(func(m map[string]any) { m["object"] = nil }),
		"with null data":        keyed(func(m map[string]any) { m["data"] = nil }),
		"other object ignored":  keyed(func(m map[string]any) { m["contact"] = "anything" }),
		"data form, null claim": with(func(m map[string]any) { m["claim"] = nil }),
		"data form, other key":  with(func(m map[string]any) { m["contact"] = map[string]any{"id": 1} }),
	}
	for name, in := range accepted {
		if _, err := p.Parse(in); err != nil {
			t.Errorf("%s: Parse = %v, want it accepted\n%s", name, err, in)
		}
	}
	long := strings.Repeat("é", MaxIDChars+1)
	rejected := []struct {
		name   string
		in     []byte
		reason Reason
		field  string
		msg    string
	}{
		{"both shapes", with(func(m map[string]any) { m["claim"] = m["data"] }), ReasonInvalidField, "data",
			`events: invalid field "data": the claim is given twice, as "data" and as "claim": send one ("object" and "data", or "claim" alone)`},
		{"neither shape", with(func(m map[string]any) { delete(m, "data"); delete(m, "object") }), ReasonMissingField, "data",
			`events: missing field "data": want the claim as "object":"claim","data":{"id":…}, or as "claim":{"id":…}`},
		{"data without object", with(func(m map[string]any) { delete(m, "object") }), ReasonMissingField, "object",
			`events: missing field "object": "data" needs "object":"claim" (the event name's prefix); or send the claim as "claim":{…} instead of "data"`},
		{"keyed, object mismatch", keyed(func(m map[string]any) { m["object"] = "contact" }), ReasonObjectMismatch, "object", ""},
		{"keyed, numeric object", keyed(func(m map[string]any) { m["object"] = 1 }), ReasonInvalidField, "object", ""},
		{"wrong object key", keyed(func(m map[string]any) { m["contact"] = m["claim"]; delete(m, "claim") }), ReasonMissingField, "data", ""},
		{"keyed array", keyed(func(m map[string]any) { m["claim"] = []any{} }), ReasonInvalidField, "claim",
			`events: invalid field "claim": want an object, got an array`},
		{"keyed without id", keyed(func(m map[string]any) { m["claim"] = map[string]any{"x": 1} }), ReasonMissingField, "claim.id",
			`events: missing field "claim.id"`},
		{"keyed long id", keyed(func(m map[string]any) { m["claim"] = map[string]any{"id": long} }), ReasonInvalidField, "claim.id",
			`events: invalid field "claim.id": longer than 256 characters (257)`},
		{"keyed duplicate", []byte(`{"id":"e","account_id":"a","event_name":"claim.created","source":"ui","performed_by":"u","occurred_at":"2025-01-01T00:00:00Z","claim":{"id":"c"},"claim":{"id":"d"}}`),
			ReasonInvalidField, "claim", `events: invalid field "claim": duplicate key`},
		{"keyed duplicate id", []byte(`{"id":"e","account_id":"a","event_name":"claim.created","source":"ui","performed_by":"u","occurred_at":"2025-01-01T00:00:00Z","claim":{"id":"c","id":"d"}}`),
			ReasonInvalidField, "claim.id", ""},
	}
	for _, tc := range rejected {
		t.Run(tc.name, func(t *testing.T) {
			_, err := p.Parse(tc.in)
			var ie *InvalidError
			if !asInvalid(err, &ie) || ie.Reason != tc.reason || ie.Field != tc.field {
				t.Fatalf("Parse = %v, want %s at %q", err, tc.reason, tc.field)
			}
			if tc.msg != "" && err.Error() != tc.msg {
				t.Errorf("Error() = %s\nwant      %s", err, tc.msg)
			}
		})
	}
}

// Identifier limits count characters, as the schema's maxLength does: 256 characters of
// two bytes each are accepted, 257 are not.
func TestParseIdentifierLimitCountsCharacters(t *testing.T) {
	p := mustParser(t)
	for _, field := range []string{"id", "account_id", "performed_by"} {
		ok := with(func(m map[string]any) { m[field] = strings.Repeat("é", MaxIDChars) })
		if _, err := p.Parse(ok); err != nil {
			t.Errorf("%s of %d two-byte characters: %v, want it accepted", field, MaxIDChars, err)
		}
		bad := with(func(m map[string]any) { m[field] = strings.Repeat("é", MaxIDChars+1) })
		if _, err := p.Parse(bad); ReasonOf(err) != ReasonInvalidField {
			t.Errorf("%s of %d characters: %v, want invalid_field", field, MaxIDChars+1, err)
		}
	}
}

// occurred_at is RFC 3339 as written there; time.Parse's extra leniency is refused.
func TestParseTimeIsStrictRFC3339(t *testing.T) {
	p := mustParser(t)
	for in, want := range map[string]bool{
		"2025-03-14T09:26:53Z":                true,
		"2025-03-14T09:26:53.1234567891234Z":  true,
		"2025-03-14T09:26:53-23:59":           true,
		"2025-03-14T09:26:53,5Z":              false, // comma fraction
		"2025-03-14T09:26:53+24:00":           false, // offset out of range
		"2025-03-14T09:26:53+01:60":           false,
		"2025-03-14t09:26:53Z":                false,
		"2025-03-14T09:26:53z":                false,
		"2025-03-14T23:59:60Z":                false, // leap second: Go cannot represent it
		"2025-02-29T00:00:00Z":                false,
		"2025-03-14T09:26:53.Z":               false,
		"2025-03-14T09:26:53+0100":            false,
		"0000-06-01T00:00:00Z":                false, // year 0 cannot be rendered
		"9999-12-31T23:59:59.999999999-00:00": true,
	} {
		_, err := p.Parse(with(func(m map[string]any) { m["occurred_at"] = in }))
		if got := err == nil; got != want {
			t.Errorf("occurred_at %q: Parse = %v, want accepted=%v", in, err, want)
		}
	}
}

func asInvalid(err error, ie **InvalidError) bool {
	if err == nil {
		return false
	}
	e, ok := err.(*InvalidError)
	*ie = e
	return ok
}
