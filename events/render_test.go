package events

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestRenderEveryCatalogueName(t *testing.T) {
	p := mustParser(t)
	for _, name := range testCatalogue {
		t.Run(name, func(t *testing.T) {
			in := Sample(name, "acc_01HV2Z", sampleObjectID(name), 4, sampleTime)
			e, err := p.Parse(in.Marshal())
			if err != nil {
				t.Fatalf("Parse(Sample): %v", err)
			}
			body := Render(e)
			var got map[string]json.RawMessage
			if err := json.Unmarshal(body, &got); err != nil {
				t.Fatalf("body is not JSON: %v\n%s", err, body)
			}
			wantStr := map[string]string{
				"id": e.ID, "event_name": name, "account_id": "acc_01HV2Z",
				"occurred_at": "2025-03-14T09:26:53.589Z", "source": e.Source, "performed_by": e.PerformedBy,
			}
			for k, want := range wantStr {
				var s string
				if err := json.Unmarshal(got[k], &s); err != nil || s != want {
					t.Errorf("body[%q] = %s, want %q", k, got[k], want)
				}
			}
			if len(got) != 7 {
				t.Errorf("body has %d keys, want 7: %s", len(got), body)
			}
			if !bytes.Equal(got[e.Object], e.Data) {
				t.Errorf("body[%q] = %s, want data verbatim %s", e.Object, got[e.Object], e.Data)
			}
			var obj struct{ ID string }
			if err := json.Unmarshal(got[e.Object], &obj); err != nil || obj.ID != sampleObjectID(name) {
				t.Errorf("body[%q].id = %q (%v), want %q", e.Object, obj.ID, err, sampleObjectID(name))
			}
		})
	}
}

func TestRenderKeyOrderAndTimeForm(t *testing.T) {
	e := &Event{
		ID: "evt_1", EventName: "contact.created", AccountID: "acc_1", Object: "contact",
		Source: "api", PerformedBy: "token:crm",
		OccurredAt: time.Date(2025, 1, 2, 4, 4, 5, 120_000_000, time.FixedZone("", 3600)),
		Data:       json.RawMessage(`{"id":"con_1", "name":"Jane"}`),
	}
	want := `{"id":"evt_1","event_name":"contact.created","account_id":"acc_1","occurred_at":"2025-01-02T03:04:05.12Z","source":"api","performed_by":"token:crm","contact":{"id":"con_1", "name":"Jane"}}`
	if got := string(Render(e)); got != want {
		t.Errorf("Render =\n%s\nwant\n%s", got, want)
	}
}

func TestRenderEscapesLikeEncodingJSON(t *testing.T) {
	for _, s := range []string{
		"plain", `quote " and \ backslash`, "tab\tnew\nline\r\x00\x1f\x7f",
		"unicode é 日本 🎉", "js\u2028line\u2029sep", "bad \xff utf8 \xc3", "<html> & co",
	} {
		got := appendString(nil, s)
		var back string
		if err := json.Unmarshal(got, &back); err != nil {
			t.Errorf("appendString(%q) = %s: not a JSON string: %v", s, got, err)
			continue
		}
		want, _ := json.Marshal(s)
		var wantBack string
		_ = json.Unmarshal(want, &wantBack)
		if back != wantBack {
			t.Errorf("appendString(%q) decodes to %q, encoding/json round-trips to %q", s, back, wantBack)
		}
		if strings.ContainsAny(string(got), "\u2028\u2029\n") {
			t.Errorf("appendString(%q) = %s: raw line separators", s, got)
		}
	}
}

func TestRenderHandBuiltEventIsValidJSON(t *testing.T) {
	body := Render(&Event{ID: "e", EventName: "claim.closed"})
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("Render of a sparse event is not JSON: %v: %s", err, body)
	}
	if _, ok := m["claim"].(map[string]any); !ok {
		t.Errorf("sparse event rendered without a claim object: %s", body)
	}
}

func BenchmarkRender(b *testing.B) {
	e := Sample("claim.label_added", "acc_01HV2Z", "clm_01HV4P8R2T", 7, sampleTime)
	e.Data = append(e.Data[:len(e.Data)-1:len(e.Data)-1],
		[]byte(`,"description":"`+strings.Repeat("Burst pipe in the kitchen. ", 24)+`"}`)...)
	b.SetBytes(int64(len(Render(e))))
	b.ReportAllocs()
	for b.Loop() {
		_ = Render(e)
	}
}
