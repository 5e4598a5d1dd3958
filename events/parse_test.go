package events

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

// validRecord is a well-formed ingest record; mutate it with with() in table tests.
func validRecord() map[string]any {
	return map[string]any{
		"id":           "evt_1",
		"account_id":   "acc_1",
		"event_name":   "claim.created",
		"object":       "claim",
		"source":       "ui",
		"performed_by": "Ada Lovelace",
		"occurred_at":  "2025-03-14T09:26:53.589+01:00",
		"data":         map[string]any{"id": "clm_1", "status": "open"},
	}
}

func with(edit func(m map[string]any)) []byte {
	m := validRecord()
	edit(m)
	b, err := json.Marshal(m)
	if err != nil {
		panic(err)
	}
	return b
}

func TestParseValid(t *testing.T) {
	p := mustParser(t)
	e, err := p.Parse(with(func(map[string]any) {}))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	want := Event{
		ID: "evt_1", AccountID: "acc_1", EventName: "claim.created", Object: "claim",
		Source: "ui", PerformedBy: "Ada Lovelace",
		OccurredAt: time.Date(2025, 3, 14, 8, 26, 53, 589_000_000, time.UTC),
		ObjectID:   "clm_1",
	}
	if e.ID != want.ID || e.AccountID != want.AccountID || e.EventName != want.EventName ||
		e.Object != want.Object || e.Source != want.Source || e.PerformedBy != want.PerformedBy ||
		e.ObjectID != want.ObjectID || !e.OccurredAt.Equal(want.OccurredAt) || e.OccurredAt.Location() != time.UTC {
		t.Errorf("Parse = %+v, want %+v", *e, want)
	}
	if !json.Valid(e.Data) || !bytes.Contains(e.Data, []byte(`"status":"open"`)) {
		t.Errorf("Data = %s, want the data object verbatim", e.Data)
	}
}

func TestParseAcceptsEdgeForms(t *testing.T) {
	p := mustParser(t)
	cases := map[string]struct {
		in           string
		objectID, id string
	}{
		"numeric data.id":               {`{"id":"e","account_id":"a","event_name":"contact.created","object":"contact","source":"api","performed_by":"t","occurred_at":"2025-01-01T00:00:00Z","data":{"id":42}}`, "42", "e"},
		"whitespace and unknown fields": {" \n{ \"extra\" : [1,{\"id\":\"x\"}], \"id\" : \"e\" ,\"account_id\":\"a\",\"event_name\":\"claim.closed\",\"object\":\"claim\",\"source\":\"ui\",\"performed_by\":\"u\",\"occurred_at\":\"2025-01-01T00:00:00.123456789Z\",\"data\":{ \"nested\":{\"id\":\"no\"}, \"id\" : \"c1\" } }\n", "c1", "e"},
		"escaped keys and values":       {`{"\u0069d":"e\u00e9","account_id":"a","event_name":"claim.closed","object":"claim","source":"ui","performed_by":"Zo\u00eb \"Z\"","occurred_at":"2025-01-01T00:00:00Z","data":{"i\u0064":"c\/1"}}`, "c/1", "eé"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			e, err := p.Parse([]byte(tc.in))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if e.ObjectID != tc.objectID || e.ID != tc.id {
				t.Errorf("ObjectID, ID = %q, %q; want %q, %q", e.ObjectID, e.ID, tc.objectID, tc.id)
			}
		})
	}
}

func TestParseRejects(t *testing.T) {
	p := NewParser(mustCatalogue(t), 4096)
	long := strings.Repeat("x", MaxIDChars+1)
	cases := []struct {
		name   string
		in     []byte
		reason Reason
		field  string
		msg    string // exact Error(), when not empty
	}{
		{"too large", append([]byte(`{"id":"`), bytes.Repeat([]byte("a"), 5000)...), ReasonTooLarge, "", "events: record too large: 5007 bytes > limit 4096"},
		{"invalid utf8", []byte("{\"id\":\"\xff\"}"), ReasonInvalidUTF8, "", "events: invalid UTF-8: at byte 7"},
		{"empty", []byte(""), ReasonMalformedJSON, "", ""},
		{"truncated", []byte(`{"id":"e"`), ReasonMalformedJSON, "", ""},
		{"trailing garbage", []byte(`{} {}`), ReasonMalformedJSON, "", ""},
		{"array", []byte(`[1,2]`), ReasonMalformedJSON, "", "events: malformed JSON: top-level value is an array, want an object"},
		{"string", []byte(`"x"`), ReasonMalformedJSON, "", "events: malformed JSON: top-level value is a string, want an object"},
		{"null", []byte(`null`), ReasonMalformedJSON, "", ""},
		{"missing id", with(func(m map[string]any) { delete(m, "id") }), ReasonMissingField, "id", `events: missing field "id"`},
		{"null id", with(func(m map[string]any) { m["id"] = nil }), ReasonMissingField, "id", ""},
		{"numeric id", with(func(m map[string]any) { m["id"] = 7 }), ReasonInvalidField, "id", `events: invalid field "id": want a string, got a number`},
		{"empty id", with(func(m map[string]any) { m["id"] = "" }), ReasonInvalidField, "id", `events: invalid field "id": must not be empty`},
		{"long id", with(func(m map[string]any) { m["id"] = long }), ReasonInvalidField, "id", `events: invalid field "id": longer than 256 characters (257)`},
		{"control char id", with(func(m map[string]any) { m["id"] = "a\nb" }), ReasonInvalidField, "id", `events: invalid field "id": control or invalid character '\n' at byte 1`},
		{"missing account", with(func(m map[string]any) { delete(m, "account_id") }), ReasonMissingField, "account_id", ""},
		{"object account", with(func(m map[string]any) { m["account_id"] = map[string]any{} }), ReasonInvalidField, "account_id", `events: invalid field "account_id": want a string, got an object`},
		{"missing event name", with(func(m map[string]any) { delete(m, "event_name") }), ReasonMissingField, "event_name", ""},
		{"bool event name", with(func(m map[string]any) { m["event_name"] = true }), ReasonInvalidField, "event_name", ""},
		{"unknown event", with(func(m map[string]any) { m["event_name"] = "claim.deleted" }), ReasonUnknownEvent, "event_name", `events: unknown event name "claim.deleted"`},
		{"wildcard event", with(func(m map[string]any) { m["event_name"] = "claim.*" }), ReasonUnknownEvent, "event_name", ""},
		{"missing object", with(func(m map[string]any) { delete(m, "object") }), ReasonMissingField, "object", ""},
		{"object mismatch", with(func(m map[string]any) { m["object"] = "contact" }), ReasonObjectMismatch, "object", `events: object mismatch: field "object" is "contact" but "claim.created" is about "claim"`},
		{"missing source", with(func(m map[string]any) { delete(m, "source") }), ReasonMissingField, "source", ""},
		{"bad source", with(func(m map[string]any) { m["source"] = "UI" }), ReasonInvalidField, "source", `events: invalid field "source": want "ui" or "api", got "UI"`},
		{"missing performed_by", with(func(m map[string]any) { delete(m, "performed_by") }), ReasonMissingField, "performed_by", ""},
		{"empty performed_by", with(func(m map[string]any) { m["performed_by"] = "" }), ReasonInvalidField, "performed_by", ""},
		{"missing occurred_at", with(func(m map[string]any) { delete(m, "occurred_at") }), ReasonMissingField, "occurred_at", ""},
		{"bad occurred_at", with(func(m map[string]any) { m["occurred_at"] = "yesterday" }), ReasonInvalidField, "occurred_at", `events: invalid field "occurred_at": not RFC 3339: "yesterday"`},
		{"occurred_at without zone", with(func(m map[string]any) { m["occurred_at"] = "2025-03-14T09:26:53" }), ReasonInvalidField, "occurred_at", ""},
		{"numeric occurred_at", with(func(m map[string]any) { m["occurred_at"] = 1710000000 }), ReasonInvalidField, "occurred_at", ""},
		{"missing data", with(func(m map[string]any) { delete(m, "data") }), ReasonMissingField, "data", `events: missing field "data": want the claim as "object":"claim","data":{"id":…}, or as "claim":{"id":…}`},
		{"array data", with(func(m map[string]any) { m["data"] = []any{} }), ReasonInvalidField, "data", `events: invalid field "data": want an object, got an array`},
		{"missing data.id", with(func(m map[string]any) { m["data"] = map[string]any{"x": 1} }), ReasonMissingField, "data.id", `events: missing field "data.id"`},
		{"empty data.id", with(func(m map[string]any) { m["data"] = map[string]any{"id": ""} }), ReasonInvalidField, "data.id", ""},
		{"bool data.id", with(func(m map[string]any) { m["data"] = map[string]any{"id": false} }), ReasonInvalidField, "data.id", `events: invalid field "data.id": want a string or number, got a boolean`},
		{"long data.id", with(func(m map[string]any) { m["data"] = map[string]any{"id": long} }), ReasonInvalidField, "data.id", ""},
		{"duplicate id", []byte(`{"id":"a","id":"b","account_id":"a","event_name":"claim.created","object":"claim","source":"ui","performed_by":"u","occurred_at":"2025-01-01T00:00:00Z","data":{"id":"c"}}`), ReasonInvalidField, "id", `events: invalid field "id": duplicate key`},
		{"duplicate escaped key", []byte(`{"id":"a","\u0069d":"b"}`), ReasonInvalidField, "id", ""},
		{"truncated after data", []byte(`{"data":`), ReasonMalformedJSON, "", ""},
		{"truncated inside data", []byte(`{"data":{"id":`), ReasonMalformedJSON, "", ""},
		{"bad escape in a string", []byte(`{"id":"a\qb"}`), ReasonMalformedJSON, "", ""},
		{"raw control character in a string", []byte("{\"id\":\"a\tb\"}"), ReasonMalformedJSON, "", ""},
		{"leading zero in data", []byte(`{"data":{"id":"c","n":01}}`), ReasonMalformedJSON, "", ""},
		{"invalid UTF-8 after a syntax error", []byte("{\"id\" \"\xff\"}"), ReasonInvalidUTF8, "", ""},
		{"duplicate data", []byte(`{"data":{"id":"c"},"data":{"id":"d"}}`), ReasonInvalidField, "data", `events: invalid field "data": duplicate key`},
		{"duplicate data.id", []byte(`{"id":"a","account_id":"a","event_name":"claim.created","object":"claim","source":"ui","performed_by":"u","occurred_at":"2025-01-01T00:00:00Z","data":{"id":"c","id":"d"}}`), ReasonInvalidField, "data.id", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e, err := p.Parse(tc.in)
			if err == nil {
				t.Fatalf("Parse = %+v, want %s error", e, tc.reason)
			}
			var ie *InvalidError
			if !errors.As(err, &ie) || !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %T %v is not an *InvalidError matching ErrInvalid", err, err)
			}
			if ReasonOf(fmt.Errorf("wrapped: %w", err)) != tc.reason {
				t.Errorf("ReasonOf(wrapped error) = %q, want %q", ReasonOf(err), tc.reason)
			}
			if ie.Reason != tc.reason || ie.Field != tc.field {
				t.Errorf("reason, field = %s, %q; want %s, %q (%v)", ie.Reason, ie.Field, tc.reason, tc.field, err)
			}
			if tc.msg != "" && err.Error() != tc.msg {
				t.Errorf("Error() = %s\nwant      %s", err, tc.msg)
			}
			if len(err.Error()) > 300 {
				t.Errorf("error message is %d bytes, want it bounded", len(err.Error()))
			}
		})
	}
}

// Nesting follows encoding/json's limit of 10 000 open arrays and objects: one level
// more is malformed, never a stack overflow.
func TestParseNestingLimitMatchesEncodingJSON(t *testing.T) {
	p := mustParser(t)
	nested := func(arrays int) []byte { // the record, data and this many arrays
		return with(func(m map[string]any) {
			m["data"] = map[string]any{"id": "c", "deep": json.RawMessage(strings.Repeat("[", arrays) + strings.Repeat("]", arrays))}
		})
	}
	if in := nested(9998); !json.Valid(in) {
		t.Fatal("test input: encoding/json rejects depth 10 000")
	} else if _, err := p.Parse(in); err != nil {
		t.Errorf("depth 10 000: %v, want it accepted", err)
	}
	in := nested(9999)
	if json.Valid(in) {
		t.Fatal("test input: encoding/json accepts depth 10 001")
	}
	if _, err := p.Parse(in); ReasonOf(err) != ReasonMalformedJSON {
		t.Errorf("depth 10 001: %v, want malformed_json", err)
	}
}

func TestParseDefaultLimitIsOneMiB(t *testing.T) {
	p := NewParser(mustCatalogue(t), 0)
	big := with(func(m map[string]any) {
		m["data"] = map[string]any{"id": "c", "blob": strings.Repeat("x", DefaultMaxBytes)}
	})
	var ie *InvalidError
	if _, err := p.Parse(big); !errors.As(err, &ie) || ie.Reason != ReasonTooLarge {
		t.Errorf("Parse(%d bytes) = %v, want too_large", len(big), err)
	}
	fits := with(func(m map[string]any) {
		m["data"] = map[string]any{"id": "c", "blob": strings.Repeat("x", DefaultMaxBytes-500)}
	})
	if _, err := p.Parse(fits); err != nil {
		t.Errorf("Parse(%d bytes) = %v, want it accepted", len(fits), err)
	}
}

func TestParseValidForEveryCatalogueName(t *testing.T) {
	p := mustParser(t)
	for _, name := range testCatalogue {
		obj, _, _ := strings.Cut(name, ".")
		in := with(func(m map[string]any) { m["event_name"], m["object"] = name, obj })
		e, err := p.Parse(in)
		if err != nil {
			t.Errorf("%s: Parse: %v", name, err)
			continue
		}
		if e.EventName != name || e.Object != obj {
			t.Errorf("%s: got event %q object %q", name, e.EventName, e.Object)
		}
	}
}

func BenchmarkParse(b *testing.B) {
	p := mustParser(b)
	e := Sample("claim.label_added", "acc_01HV2Z", "clm_01HV4P8R2T", 7, sampleTime)
	// Pad data to about 1 KiB, as a realistic claim would be.
	e.Data = append(e.Data[:len(e.Data)-1:len(e.Data)-1],
		[]byte(`,"description":"`+strings.Repeat("Burst pipe in the kitchen. ", 1024/27-len(e.Data)/27)+`"}`)...)
	value := e.Marshal()
	b.SetBytes(int64(len(value)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.Parse(value); err != nil {
			b.Fatal(err)
		}
	}
}

// Parse copies the plain identifier fields into one shared string and decodes escaped
// ones on their own: every field must still come out as its own value, whichever mix a
// record uses and in either target form.
func TestParseFieldValuesWithPlainAndEscapedMixed(t *testing.T) {
	p := mustParser(t)
	want := Event{ID: "evt_é1", AccountID: "acc_1", EventName: "claim.closed", Object: "claim", Source: "api",
		PerformedBy: `Zoë "Z"`, ObjectID: "clm_7", OccurredAt: time.Date(2025, 1, 2, 3, 4, 5, 600_000_000, time.UTC)}
	for name, in := range map[string]string{
		"plain":          `{"id":"evt_é1","account_id":"acc_1","event_name":"claim.closed","object":"claim","source":"api","performed_by":"Zoë \"Z\"","occurred_at":"2025-01-02T03:04:05.6Z","data":{"id":"clm_7"}}`,
		"escaped ids":    `{"id":"evt_\u00e91","account_id":"acc\u005f1","event_name":"claim.closed","object":"claim","source":"api","performed_by":"Zo\u00eb \"Z\"","occurred_at":"2025-01-02T03:04:05.6Z","data":{"id":"clm\u005f7"}}`,
		"escaped source": `{"id":"evt_é1","account_id":"acc_1","event_name":"claim.closed","object":"claim","source":"\u0061pi","performed_by":"Zoë \"Z\"","occurred_at":"2025-01-02T03:04:05.6\u005a","data":{"id":"clm_7"}}`,
		"webhook form":   `{"id":"evt_é1","account_id":"acc_1","event_name":"claim.closed","source":"api","performed_by":"Zoë \"Z\"","occurred_at":"2025-01-02T03:04:05.6Z","claim":{"id":"clm_7"}}`,
	} {
		t.Run(name, func(t *testing.T) {
			e, err := p.Parse([]byte(in))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			got := *e
			got.Data = nil
			if !reflect.DeepEqual(got, want) {
				t.Errorf("Parse =\n %+v\nwant\n %+v", got, want)
			}
		})
	}
}
