package events

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/twmb/franz-go/pkg/kgo"
)

func FuzzParse(f *testing.F) {
	for _, name := range testCatalogue {
		f.Add(Sample(name, "acc_1", sampleObjectID(name), 1, sampleTime).Marshal())
		f.Add(Render(Sample(name, "acc_1", sampleObjectID(name), 1, sampleTime))) // the webhook-body form
	}
	for _, s := range []string{
		``, `{`, `}`, `[]`, `null`, `"x"`, `{"id":1}`, "{\"id\":\"\xff\"}", `{"data":{"id":[]}}`,
		`{"id":"e","account_id":"a","event_name":"claim.created","object":"claim","source":"ui","performed_by":"u","occurred_at":"0000-01-01T00:00:00+01:00","data":{"id":"c"}}`,
		`{"id":"e","account_id":"a","event_name":"claim.created","object":"claim","source":"ui","performed_by":"u","occurred_at":"2025-01-01T00:00:00Z","data":{"id":1e400}}`,
		`{"id":"e\u2028","account_id":"a\\\"","event_name":"claim.created","object":"claim","source":"api","performed_by":"\ud800","occurred_at":"2025-01-01T00:00:00.000000001-23:59","data":{"id":"c","x":"\u0000"}}`,
		`{"id":"e","account_id":"a","event_name":"claim.created","object":"claim","source":"ui","performed_by":"u","occurred_at":"2025-01-01T00:00:00Z","data":{"a":[[[[{"id":"no"}]]]],"id":-0.5e3}}`,
		`{"id":"` + strings.Repeat("x", 5000) + `"}`,
		strings.Repeat("[", 10000),
	} {
		f.Add([]byte(s))
	}
	p := NewParser(mustCatalogue(f), 64<<10)
	f.Fuzz(func(t *testing.T, in []byte) {
		e, err := p.Parse(in)
		if err != nil {
			var ie *InvalidError
			if !errors.As(err, &ie) {
				t.Fatalf("error %T is not *InvalidError: %v", err, err)
			}
			if len(err.Error()) > 400 {
				t.Fatalf("unbounded error message (%d bytes)", len(err.Error()))
			}
			// The one-pass scanner must reject for syntax exactly what encoding/json
			// rejects: a JSON object never comes back malformed_json.
			if ie.Reason == ReasonMalformedJSON && len(in) <= 64<<10 && utf8.Valid(in) &&
				json.Valid(in) && bytes.TrimLeft(in, " \t\r\n")[0] == '{' {
				t.Fatalf("rejected a valid JSON object as malformed: %v", err)
			}
			return
		}
		if !json.Valid(in) {
			t.Fatalf("accepted %q, which encoding/json rejects", in)
		}
		if d := sameAsEncodingJSON(in, e); d != "" {
			t.Fatalf("accepted %q but encoding/json reads %s differently", in, d)
		}
		again, err := p.Parse(e.Marshal())
		if err != nil {
			t.Fatalf("accepted %q but not its re-marshal %q: %v", in, e.Marshal(), err)
		}
		if d := sameEvent(again, e); d != "" {
			t.Fatalf("re-parse changed %s: %+v vs %+v", d, again, e)
		}
		body := Render(e)
		var m map[string]json.RawMessage
		if err := json.Unmarshal(body, &m); err != nil {
			t.Fatalf("rendered body is not JSON: %v\n%s", err, body)
		}
		if !bytes.Equal(m[e.Object], e.Data) {
			t.Fatalf("body[%q] = %s, want %s", e.Object, m[e.Object], e.Data)
		}
	})
}

// FuzzScanAgreesWithEncodingJSON: on UTF-8 input (Parse checks UTF-8 first) the
// scanner accepts exactly what json.Valid accepts.
func FuzzScanAgreesWithEncodingJSON(f *testing.F) {
	for _, s := range []string{
		``, ` `, `0`, `-0`, `-`, `01`, `1.`, `1.5e`, `1E+2`, `-0.0e-0`, `.5`, `+1`, `1e5x`,
		`"`, `"\u12"`, `"\u12G4"`, `"\x"`, "\"\x01\"", `"\/\b\f\n\r\t\"\\"`, "\"h\u00e9llo \\\" wörld\"",
		`true`, `tru`, `falsey`, `null`, `nul`, `[]`, `[,]`, `[1,]`, `[1 2]`, `{}`, `{,}`, `{"a"}`,
		`{"a":}`, `{"a":1,}`, `{"a":1 "b":2}`, `{1:2}`, ` {"a" : [ 1 , { } ] } `, `{} {}`, `[] x`,
		strings.Repeat("[", 10000) + strings.Repeat("]", 10000),
		strings.Repeat("[", 10001) + strings.Repeat("]", 10001),
		strings.Repeat(`{"a":`, 9999) + `{}` + strings.Repeat("}", 9999),
		strings.Repeat(`{"a":`, 10000) + `{}` + strings.Repeat("}", 10000),
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		if !utf8.Valid(in) {
			return
		}
		if got, want := validJSON(in), json.Valid(in); got != want {
			t.Fatalf("validJSON(%q) = %v, json.Valid = %v", in, got, want)
		}
	})
}

// sameAsEncodingJSON compares an accepted event with what encoding/json decodes from
// the same input, and names the first field that differs.
func sameAsEncodingJSON(in []byte, e *Event) string {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(in, &m); err != nil {
		return "the whole record (" + err.Error() + ")"
	}
	str := func(k string) string {
		var s string
		_ = json.Unmarshal(m[k], &s)
		return s
	}
	target := m["data"]
	keyed := len(target) == 0 || string(target) == "null" // the webhook-body form: the object under its name
	if keyed {
		target = m[e.Object]
	}
	for k, got := range map[string]string{
		"id": e.ID, "account_id": e.AccountID, "event_name": e.EventName, "object": e.Object,
		"source": e.Source, "performed_by": e.PerformedBy,
	} {
		if k == "object" && keyed && str(k) == "" { // optional in that form
			continue
		}
		if str(k) != got {
			return k
		}
	}
	if !bytes.Equal(target, e.Data) {
		return "data"
	}
	var data map[string]json.RawMessage
	if err := json.Unmarshal(e.Data, &data); err != nil {
		return "data (" + err.Error() + ")"
	}
	id := data["id"]
	if id[0] == '"' {
		var s string
		_ = json.Unmarshal(id, &s)
		if s != e.ObjectID {
			return "data.id"
		}
	} else if string(id) != e.ObjectID {
		return "data.id"
	}
	return ""
}

// FuzzParseDelivery feeds records whose headers are "key=value" lines of hdrs.
func FuzzParseDelivery(f *testing.F) {
	full := fullDelivery().Record("t")
	f.Add(full.Key, full.Value, headerLines(full.Headers))
	f.Add([]byte(nil), []byte("{}"), "er-attempt=1\ner-attempt=2")
	f.Add([]byte("s"), []byte("x"), "er-delivery-id=d\ner-subscription-id=s\ner-account-id=a\ner-event-id=e\ner-event-name=n\ner-object-id=o\ner-attempt=1\ner-occurred-at=0000-01-01T00:00:00+01:00")
	f.Add([]byte("s"), []byte("x"), "er-delivery-id=d\ner-subscription-id=s\ner-account-id=a\ner-event-id=e\ner-event-name=n\ner-object-id=o\ner-attempt=1\ner-occurred-at=2025-01-01T00:00:00Z\ner-history=[]")
	f.Add([]byte("s"), []byte("x"), "er-history=[{\"at\":\"2025-01-01T00:00:00+05:00\"}]\ner-attempt=-1")
	// A tracestate without a traceparent is dropped (W3C), so it round-trips as nothing.
	f.Add([]byte("s"), []byte("x"), "er-delivery-id=d\ner-subscription-id=s\ner-account-id=a\ner-event-id=e\ner-event-name=n\ner-object-id=o\ner-attempt=1\ner-occurred-at=2025-01-01T00:00:00Z\ntracestate=v=1")
	f.Fuzz(func(t *testing.T, key, value []byte, hdrs string) {
		r := &kgo.Record{Key: key, Value: value}
		for _, line := range strings.Split(hdrs, "\n") {
			k, v, _ := strings.Cut(line, "=")
			r.Headers = append(r.Headers, kgo.RecordHeader{Key: k, Value: []byte(v)})
		}
		d, err := ParseDelivery(r)
		if err != nil {
			var de *DeliveryError
			if !errors.As(err, &de) {
				t.Fatalf("error %T is not *DeliveryError: %v", err, err)
			}
			return
		}
		again, err := ParseDelivery(d.Record("t"))
		if err != nil {
			t.Fatalf("accepted record does not re-encode: %v", err)
		}
		if !reflect.DeepEqual(again, d) {
			t.Fatalf("round trip changed the delivery:\n%+v\n%+v", again, d)
		}
	})
}

func headerLines(hs []kgo.RecordHeader) string {
	var b strings.Builder
	for i, h := range hs {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(h.Key + "=" + string(h.Value))
	}
	return b.String()
}
