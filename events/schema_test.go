package events

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// The published producer contract, api/ingest-event.schema.json, and Parse must agree on
// every record: a producer that validates against the schema must never be surprised by
// the router, and the other way round. The schema speaks about the JSON value; the few
// rules about bytes (size, UTF-8) are stated in its description and checked here beside
// it, as a producer's own check would.

const (
	schemaPath      = "../api/ingest-event.schema.json"
	producingDoc    = "../docs/producing.md"
	schemaTestLimit = 64 << 10 // events.max_bytes for the corpus, so oversize cases stay small
)

func compileSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	f, err := os.Open(schemaPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatalf("%s: %v", schemaPath, err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat() // occurred_at's "date-time" is part of the contract
	if err := c.AddResource("ingest-event.schema.json", doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile("ingest-event.schema.json")
	if err != nil {
		t.Fatalf("compile %s: %v", schemaPath, err)
	}
	return s
}

// schemaVerdict is what a producer checking the contract concludes: the value fits the
// size limit, is UTF-8 JSON, and the schema accepts it.
func schemaVerdict(s *jsonschema.Schema, value []byte, limit int) error {
	if len(value) > limit {
		return fmt.Errorf("%d bytes > %d", len(value), limit)
	}
	if !utf8.Valid(value) {
		return fmt.Errorf("not UTF-8")
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(value))
	if err != nil {
		return err
	}
	return s.Validate(inst)
}

// corpus returns named records, valid and invalid, covering every event name in both
// shapes, every field missing, null and of every wrong type, bounds, and oversize.
func schemaCorpus() map[string][]byte {
	c := map[string][]byte{}
	keyed := func(obj string, edit func(m map[string]any)) []byte {
		return with(func(m map[string]any) {
			m["event_name"] = obj + ".created"
			m[obj] = m["data"]
			delete(m, "data")
			delete(m, "object")
			edit(m)
		})
	}
	for _, name := range testCatalogue {
		obj, _, _ := strings.Cut(name, ".")
		c["valid "+name] = with(func(m map[string]any) { m["event_name"], m["object"] = name, obj })
		c["webhook body "+name] = Render(Sample(name, "acc_1", sampleObjectID(name), 1, sampleTime))
		c["sample "+name] = Sample(name, "acc_1", sampleObjectID(name), 1, sampleTime).Marshal()
		other := map[string]string{"claim": "contact", "contact": "claim"}[obj]
		c["object mismatch "+name] = with(func(m map[string]any) { m["event_name"], m["object"] = name, other })
		c["keyed under the other object "+name] = with(func(m map[string]any) {
			m["event_name"] = name
			m[other] = m["data"]
			delete(m, "data")
			delete(m, "object")
		})
	}
	wrongTypes := map[string]any{"number": 7, "bool": true, "array": []any{"x"}, "object": map[string]any{"id": "x"}, "null": nil}
	for _, field := range fieldNames {
		c["missing "+field] = with(func(m map[string]any) { delete(m, field) })
		for kind, v := range wrongTypes {
			c[field+" "+kind] = with(func(m map[string]any) { m[field] = v })
		}
		c[field+" empty string"] = with(func(m map[string]any) { m[field] = "" })
		c["keyed, missing "+field] = keyed("claim", func(m map[string]any) { delete(m, field) })
		for kind, v := range wrongTypes {
			c["keyed, "+field+" "+kind] = keyed("claim", func(m map[string]any) { m[field] = v })
		}
	}
	for _, obj := range []string{"data", "claim"} {
		form := func(edit func(m map[string]any)) []byte {
			if obj == "data" {
				return with(func(m map[string]any) { m["data"] = map[string]any{"id": "c"}; edit(m) })
			}
			return keyed("claim", func(m map[string]any) { edit(m) })
		}
		for kind, v := range wrongTypes {
			c[obj+" "+kind] = form(func(m map[string]any) { m[obj] = v })
			if kind != "number" {
				c[obj+".id "+kind] = form(func(m map[string]any) { m[obj] = map[string]any{"id": v} })
			}
		}
		c[obj+" without id"] = form(func(m map[string]any) { m[obj] = map[string]any{"x": 1} })
		c[obj+".id number"] = form(func(m map[string]any) { m[obj] = map[string]any{"id": 42} })
		c[obj+".id float"] = form(func(m map[string]any) { m[obj] = map[string]any{"id": -4.5e3} })
		c[obj+".id empty"] = form(func(m map[string]any) { m[obj] = map[string]any{"id": ""} })
		c[obj+".id 256 chars"] = form(func(m map[string]any) { m[obj] = map[string]any{"id": strings.Repeat("ü", 256)} })
		c[obj+".id 257 chars"] = form(func(m map[string]any) { m[obj] = map[string]any{"id": strings.Repeat("ü", 257)} })
		c[obj+".id control"] = form(func(m map[string]any) { m[obj] = map[string]any{"id": "a\u0085b"} })
	}
	for _, field := range []string{"id", "account_id", "performed_by"} {
		c[field+" 256 chars"] = with(func(m map[string]any) { m[field] = strings.Repeat("é", 256) })
		c[field+" 257 chars"] = with(func(m map[string]any) { m[field] = strings.Repeat("é", 257) })
		c[field+" 257 ascii"] = with(func(m map[string]any) { m[field] = strings.Repeat("x", 257) })
		c[field+" newline"] = with(func(m map[string]any) { m[field] = "a\nb" })
		c[field+" DEL"] = with(func(m map[string]any) { m[field] = "a\u007fb" })
		c[field+" C1 control"] = with(func(m map[string]any) { m[field] = "a\u009fb" })
		c[field+" replacement char"] = with(func(m map[string]any) { m[field] = "a\ufffdb" })
		c[field+" non-ASCII"] = with(func(m map[string]any) { m[field] = "Zoë Ångström 東京 🙂" })
		c[field+" spaces only"] = with(func(m map[string]any) { m[field] = " " })
	}
	c["lone surrogate id"] = []byte(`{"id":"a\ud800b","account_id":"a","event_name":"claim.created","object":"claim","source":"ui","performed_by":"u","occurred_at":"2025-01-01T00:00:00Z","data":{"id":"c"}}`)
	c["escaped id"] = []byte(`{"id":"\u0065\/1","account_id":"a","event_name":"claim.created","object":"claim","source":"ui","performed_by":"u","occurred_at":"2025-01-01T00:00:00Z","data":{"id":"c"}}`)
	for _, v := range []string{"UI", "API", "web", "ui "} {
		c["source "+v] = with(func(m map[string]any) { m["source"] = v })
	}
	for _, v := range []string{"claim.deleted", "claim.*", "*", "Claim.Created", "claim", "contact.closed"} {
		c["event name "+v] = with(func(m map[string]any) { m["event_name"] = v })
	}
	for _, v := range []string{"claims", "Claim", "", "contact"} {
		c["object "+v] = with(func(m map[string]any) { m["object"] = v })
	}
	for _, v := range []string{
		"2025-03-14T09:26:53Z", "2025-03-14T09:26:53.589+01:00", "2025-03-14T09:26:53.1234567891234Z",
		"2025-03-14T09:26:53-23:59", "2024-02-29T00:00:00Z", "0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z",
		"yesterday", "2025-03-14", "2025-03-14T09:26:53", "2025-03-14 09:26:53Z", "2025-03-14t09:26:53Z",
		"2025-03-14T09:26:53z", "2025-03-14T09:26:53,5Z", "2025-03-14T09:26:53+24:00", "2025-03-14T09:26:53+01:60",
		"2025-03-14T09:26:53+0100", "2025-03-14T09:26:53.Z", "2025-02-29T00:00:00Z", "2025-04-31T00:00:00Z",
		"2025-13-01T00:00:00Z", "2025-00-10T00:00:00Z", "2025-03-14T24:00:00Z", "2025-03-14T23:60:00Z",
		"2025-12-31T23:59:60Z", "2025-03-14T09:26:61Z", "0000-01-01T00:00:00Z", "+2025-03-14T09:26:53Z",
		"2025-3-14T09:26:53Z", " 2025-03-14T09:26:53Z",
	} {
		c["occurred_at "+v] = with(func(m map[string]any) { m["occurred_at"] = v })
	}
	c["both shapes"] = with(func(m map[string]any) { m["claim"] = m["data"] })
	c["neither shape"] = with(func(m map[string]any) { delete(m, "data"); delete(m, "object") })
	c["keyed with object"] = keyed("claim", func(m map[string]any) { m["object"] = "claim" })
	c["keyed with null object"] = keyed("claim", func(m map[string]any) { m["object"] = nil })
	c["keyed with null data"] = keyed("claim", func(m map[string]any) { m["data"] = nil })
	c["keyed with object mismatch"] = keyed("claim", func(m map[string]any) { m["object"] = "contact" })
	c["keyed contact"] = keyed("contact", func(map[string]any) {})
	c["data with null claim"] = with(func(m map[string]any) { m["claim"] = nil })
	c["data with other object key"] = with(func(m map[string]any) { m["contact"] = 5 })
	c["unknown fields"] = with(func(m map[string]any) { m["trace_id"] = "t"; m["version"] = 2; m["meta"] = map[string]any{} })
	c["oversize"] = with(func(m map[string]any) {
		m["data"] = map[string]any{"id": "c", "blob": strings.Repeat("x", schemaTestLimit)}
	})
	c["just fits"] = with(func(m map[string]any) {
		m["data"] = map[string]any{"id": "c", "blob": strings.Repeat("x", schemaTestLimit-400)}
	})
	for name, raw := range map[string]string{
		"empty": "", "array": `[1]`, "string": `"x"`, "number": `1`, "null": `null`, "truncated": `{"id":"e"`,
		"trailing": `{} {}`, "empty object": `{}`,
	} {
		c["top-level "+name] = []byte(raw)
	}
	c["invalid utf-8"] = []byte("{\"id\":\"\xff\"}")
	return c
}

func TestSchemaAndParseAgree(t *testing.T) {
	s := compileSchema(t)
	p := NewParser(mustCatalogue(t), schemaTestLimit)
	corpus := schemaCorpus()
	var accepted, rejected int
	for name, value := range corpus {
		_, perr := p.Parse(value)
		serr := schemaVerdict(s, value, schemaTestLimit)
		if (perr == nil) != (serr == nil) {
			t.Errorf("%s: Parse says %v, the schema says %v\n%.400s", name, verdict(perr), verdict(serr), value)
		}
		if perr == nil {
			accepted++
		} else {
			rejected++
		}
	}
	// The corpus must exercise both verdicts well, or agreement proves little.
	if accepted < 40 || rejected < 150 {
		t.Errorf("corpus has %d accepted and %d rejected records; want at least 40 and 150", accepted, rejected)
	}
}

func verdict(err error) string {
	if err == nil {
		return "valid"
	}
	msg := err.Error()
	if len(msg) > 300 {
		msg = msg[:300] + "…"
	}
	return "invalid (" + msg + ")"
}

// The rules JSON Schema cannot state are listed in the schema's description: each is
// pinned here, so the list stays true (Parse rejects, the schema alone accepts). The
// nesting limit is listed too but not pinned: Go's decoder, which this test's validator
// uses, has the same limit, so only other validators differ there.
func TestSchemaDescribesWhatItCannotCheck(t *testing.T) {
	s := compileSchema(t)
	p := mustParser(t)
	desc := schemaDescription(t)
	for rule, value := range map[string][]byte{
		"gives no known field twice": []byte(`{"id":"a","id":"b","account_id":"a","event_name":"claim.created","object":"claim","source":"ui","performed_by":"u","occurred_at":"2025-01-01T00:00:00Z","data":{"id":"c"}}`),
		"a numeric object id is at most 256 characters as written": with(func(m map[string]any) {
			m["data"] = map[string]any{"id": json.RawMessage("1" + strings.Repeat("0", 300))}
		}),
		"occurred_at must be within years 0001-9999 in UTC": with(func(m map[string]any) { m["occurred_at"] = "0001-01-01T00:00:00+01:00" }),
	} {
		if !strings.Contains(desc, rule) {
			t.Errorf("the schema's description does not say %q", rule)
		}
		if _, err := p.Parse(value); err == nil {
			t.Errorf("%s: Parse accepted it", rule)
		}
		if err := schemaVerdict(s, value, DefaultMaxBytes); err != nil {
			t.Errorf("%s: the schema now rejects it (%v): drop the rule from its description", rule, err)
		}
	}
}

func schemaDescription(t *testing.T) string {
	t.Helper()
	raw, err := os.ReadFile(schemaPath)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Description string `json:"description"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	return doc.Description
}

// The schema's event names are the default catalogue, exactly.
func TestSchemaListsTheCatalogue(t *testing.T) {
	raw, err := os.ReadFile(schemaPath)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Properties struct {
			EventName struct {
				Enum []string `json:"enum"`
			} `json:"event_name"`
		} `json:"properties"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(doc.Properties.EventName.Enum, " "), strings.Join(testCatalogue, " "); got != want {
		t.Errorf("schema event names = %s\nwant the catalogue     %s", got, want)
	}
}

// Every JSON example in docs/producing.md is a valid event, by Parse and by the schema:
// a producer copying one is accepted.
func TestProducingDocExamplesAreValid(t *testing.T) {
	raw, err := os.ReadFile(producingDoc)
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)```json\n(.*?)```").FindAllSubmatch(raw, -1)
	if len(blocks) < 2 {
		t.Fatalf("%s has %d JSON examples, want at least one per shape", producingDoc, len(blocks))
	}
	s := compileSchema(t)
	p := mustParser(t)
	for i, b := range blocks {
		if _, err := p.Parse(b[1]); err != nil {
			t.Errorf("example %d: Parse: %v\n%s", i+1, err, b[1])
		}
		if err := schemaVerdict(s, b[1], DefaultMaxBytes); err != nil {
			t.Errorf("example %d: schema: %v\n%s", i+1, err, b[1])
		}
	}
}
