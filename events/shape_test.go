package events

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func contactEvent() *Event {
	e := Sample("contact.created", "acct_1", "cnt_1", 0, time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	e.Data = []byte(`{"id":"cnt_1","name":"Jane Doe","email":"jane@example.org","phone":"+1 555","address":{"city":"Oslo","street":"Main St 1"},"score":12.50}`)
	return e
}

func decodeBody(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("body is not JSON: %v\n%s", err, b)
	}
	return m
}

func TestThinBodyCarriesTheEnvelopeAndTheObjectIDOnly(t *testing.T) {
	e := contactEvent()
	b, err := RenderShaped(e, Shape{Thin: true})
	if err != nil {
		t.Fatal(err)
	}
	m := decodeBody(t, b)
	for _, k := range []string{"id", "event_name", "account_id", "occurred_at", "source", "performed_by"} {
		if m[k] == nil {
			t.Errorf("thin body lacks %s: %s", k, b)
		}
	}
	c, _ := m["contact"].(map[string]any)
	if len(c) != 1 || c["id"] != "cnt_1" {
		t.Errorf("thin contact = %v, want only its id", m["contact"])
	}
}

func TestRedactionRemovesOnlyTheNamedFieldsOfItsObject(t *testing.T) {
	e := contactEvent()
	b, err := RenderShaped(e, Shape{Redact: []string{"contact.email", "contact.address.street", "claim.notes", "contact.missing"}})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "jane@example.org") || strings.Contains(string(b), "Main St") {
		t.Fatalf("redacted body still holds the data: %s", b)
	}
	c := decodeBody(t, b)["contact"].(map[string]any)
	if c["name"] != "Jane Doe" || c["phone"] != "+1 555" || c["address"].(map[string]any)["city"] != "Oslo" {
		t.Errorf("redaction removed more than asked: %v", c)
	}
	if !strings.Contains(string(b), `"score":12.50`) {
		t.Errorf("numbers must keep their exact text: %s", b)
	}
	// A claim path does not touch a contact, and the full shape is Render's bytes.
	if full, _ := RenderShaped(e, Shape{}); string(full) != string(Render(e)) {
		t.Error("the full shape differs from Render")
	}
	if same, _ := RenderShaped(e, Shape{Redact: []string{"claim.notes"}}); string(same) != string(Render(e)) {
		t.Errorf("a claim path changed a contact body: %s", same)
	}
}

func TestValidateShapeNamesTheField(t *testing.T) {
	objects := []string{"claim", "contact"}
	cases := []struct {
		payload string
		redact  []string
		field   string
		msg     string
	}{
		{"fat", nil, "payload", `must be "full" or "thin"`},
		{"", []string{"email"}, "redact", `want <object>.<field>`},
		{"", []string{"policy.email"}, "redact", `unknown object "policy"`},
		{"", []string{"contact.id"}, "redact", `cannot be redacted`},
		{"", []string{"contact..x"}, "redact", `want <object>.<field>`},
		{"", make([]string, MaxRedactPaths+1), "redact", "at most 32 paths"},
	}
	for _, tc := range cases {
		p := ValidateShape(tc.payload, tc.redact, objects)
		if !strings.Contains(p[tc.field], tc.msg) {
			t.Errorf("%q %q: problems %v, want %s containing %q", tc.payload, tc.redact, p, tc.field, tc.msg)
		}
	}
	if p := ValidateShape("thin", []string{"contact.email", "claim.assignee.email"}, objects); len(p) != 0 {
		t.Errorf("valid shape refused: %v", p)
	}
}
