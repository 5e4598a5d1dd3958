package events

import (
	"bytes"
	"encoding/json"
	"testing"
)

// sameEvent reports the first difference between two events, or "".
func sameEvent(a, b *Event) string {
	switch {
	case a.ID != b.ID:
		return "ID"
	case a.AccountID != b.AccountID:
		return "AccountID"
	case a.EventName != b.EventName:
		return "EventName"
	case a.Object != b.Object:
		return "Object"
	case a.Source != b.Source:
		return "Source"
	case a.PerformedBy != b.PerformedBy:
		return "PerformedBy"
	case !a.OccurredAt.Equal(b.OccurredAt):
		return "OccurredAt"
	case !bytes.Equal(a.Data, b.Data):
		return "Data"
	case a.ObjectID != b.ObjectID:
		return "ObjectID"
	}
	return ""
}

func TestSampleMarshalParseRoundTrip(t *testing.T) {
	p := mustParser(t)
	for _, name := range testCatalogue {
		for seq := range 3 {
			e := Sample(name, "acc_01HV2Z", sampleObjectID(name), seq, sampleTime)
			got, err := p.Parse(e.Marshal())
			if err != nil {
				t.Errorf("%s/%d: Parse(Marshal) = %v\n%s", name, seq, err, e.Marshal())
				continue
			}
			if d := sameEvent(got, e); d != "" {
				t.Errorf("%s/%d: round trip changed %s:\n got %+v\nwant %+v", name, seq, d, got, e)
			}
		}
	}
}

func TestSampleDataFitsTheEvent(t *testing.T) {
	type claim struct {
		ID, Number, Status, Type, Label string
		FromType                        string `json:"from_type"`
		ToType                          string `json:"to_type"`
		Labels                          []string
		Assignee                        *struct{ Name string }
		PreviousAssignee                *struct{ Name string } `json:"previous_assignee"`
	}
	get := func(name string) claim {
		var c claim
		e := Sample(name, "acc", "clm_1", 1, sampleTime)
		if err := json.Unmarshal(e.Data, &c); err != nil {
			t.Fatalf("%s: data is not JSON: %v", name, err)
		}
		if c.ID != "clm_1" || c.Number == "" || c.Type == "" {
			t.Errorf("%s: claim lacks id/number/type: %s", name, e.Data)
		}
		return c
	}
	if c := get("claim.created"); c.Status != "open" || c.Assignee != nil || len(c.Labels) != 0 {
		t.Errorf("claim.created: %+v, want open, unassigned, unlabelled", c)
	}
	if c := get("claim.closed"); c.Status != "closed" {
		t.Errorf("claim.closed: status %q", c.Status)
	}
	if c := get("claim.label_added"); c.Label == "" || !contains(c.Labels, c.Label) {
		t.Errorf("claim.label_added: label %q not among labels %q", c.Label, c.Labels)
	}
	if c := get("claim.label_removed"); c.Label == "" || contains(c.Labels, c.Label) {
		t.Errorf("claim.label_removed: label %q still among labels %q", c.Label, c.Labels)
	}
	if c := get("claim.assigned"); c.Assignee == nil || c.Assignee.Name == "" {
		t.Errorf("claim.assigned: no assignee")
	}
	if c := get("claim.unassigned"); c.Assignee != nil || c.PreviousAssignee == nil {
		t.Errorf("claim.unassigned: assignee %v, previous %v", c.Assignee, c.PreviousAssignee)
	}
	if c := get("claim.switched_type"); c.FromType == "" || c.ToType == "" || c.FromType == c.ToType || c.Type != c.ToType {
		t.Errorf("claim.switched_type: from %q to %q type %q", c.FromType, c.ToType, c.Type)
	}
	var contact struct{ ID, Name, Email string }
	if err := json.Unmarshal(Sample("contact.created", "acc", "con_1", 0, sampleTime).Data, &contact); err != nil ||
		contact.ID != "con_1" || contact.Name == "" || contact.Email == "" {
		t.Errorf("contact.created data = %+v (%v)", contact, err)
	}
	var other struct{ ID string }
	if err := json.Unmarshal(Sample("policy.renewed", "acc", "pol_1", 0, sampleTime).Data, &other); err != nil || other.ID != "pol_1" {
		t.Errorf("generic sample data id = %q (%v)", other.ID, err)
	}
}

func TestSampleIsDeterministicAndDistinct(t *testing.T) {
	a := Sample("claim.created", "acc", "clm_1", 1, sampleTime)
	b := Sample("claim.created", "acc", "clm_1", 1, sampleTime)
	if d := sameEvent(a, b); d != "" {
		t.Errorf("Sample differs in %s for the same arguments", d)
	}
	if c := Sample("claim.created", "acc", "clm_1", 2, sampleTime); c.ID == a.ID {
		t.Errorf("Sample ids collide across seq: %s", a.ID)
	}
	sources := map[string]bool{}
	for seq := range 3 {
		sources[Sample("claim.created", "acc", "clm_1", seq, sampleTime).Source] = true
	}
	if !sources[SourceUI] || !sources[SourceAPI] {
		t.Errorf("Sample sources over seq 0..2 = %v, want both ui and api", sources)
	}
}

func contains(xs []string, s string) bool {
	for _, x := range xs {
		if x == s {
			return true
		}
	}
	return false
}
