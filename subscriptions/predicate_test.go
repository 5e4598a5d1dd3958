package subscriptions

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/claimable/eventrouter/events"
)

func claimEvent(data string) *events.Event {
	return &events.Event{ID: "e1", AccountID: "acct_1", EventName: "claim.assigned", Object: "claim",
		Source: "ui", PerformedBy: "alice", Data: []byte(data)}
}

const theftClaim = `{"id":"clm_1","type":"theft","labels":["urgent","vip"],"amount":1200.5,"assignee":{"id":"usr_42","name":"Ada"}}`

func TestDataPredicatesSeeTheObject(t *testing.T) {
	theft := claimEvent(theftClaim)
	fire := claimEvent(`{"id":"clm_2","type":"fire","labels":[]}`)
	contact := &events.Event{ID: "e2", AccountID: "acct_1", EventName: "contact.created", Object: "contact",
		Source: "api", PerformedBy: "bob", Data: []byte(`{"id":"cnt_1","type":"theft","email":"x@example.com"}`)}
	cases := []struct {
		filter              string
		theft, fire, contct bool
	}{
		{`claim.type == "theft"`, true, false, false},
		{`"urgent" in claim.labels`, true, false, false},
		{`claim.assignee?.id == "usr_42"`, true, false, false},
		{`claim.amount > 1000`, true, false, false},
		{`source == "ui" and claim.type in ["theft", "fire"]`, true, true, false},
		{`contact.email endsWith "@example.com"`, false, false, true},
		{`data.type == "theft"`, true, false, true}, // data: the object whatever its type
		{`claim.type != "theft"`, false, true, true},
	}
	for _, tc := range cases {
		f, err := CompileFilter(tc.filter)
		if err != nil {
			t.Fatalf("%q: %v", tc.filter, err)
		}
		if !f.HasDataPredicate() {
			t.Errorf("%q: not compiled as a data predicate", tc.filter)
		}
		for _, c := range []struct {
			name string
			e    *events.Event
			want bool
		}{{"theft claim", theft, tc.theft}, {"fire claim", fire, tc.fire}, {"contact", contact, tc.contct}} {
			if got := f.Match(c.e); got != c.want {
				t.Errorf("%q on the %s: %v, want %v", tc.filter, c.name, got, c.want)
			}
		}
	}
}

func TestEnvelopeFiltersStayOnTheFastPath(t *testing.T) {
	for _, s := range []string{`source == "api"`, `performed_by not in ["bot"] and object == "claim"`} {
		f, err := CompileFilter(s)
		if err != nil {
			t.Fatal(err)
		}
		if f.HasDataPredicate() || f.root == nil {
			t.Errorf("%q: compiled as a data predicate, want the envelope fast path", s)
		}
	}
}

func TestDataPredicateFailingAtRunTimeDoesNotMatch(t *testing.T) {
	// No assignee: without ?. the member access fails at run time; the filter must not
	// match (fail closed) rather than panic or match.
	f, err := CompileFilter(`claim.assignee.id == "usr_42"`)
	if err != nil {
		t.Fatal(err)
	}
	if f.Match(claimEvent(`{"id":"clm_3","type":"theft"}`)) {
		t.Error("a predicate failing at run time matched")
	}
	if f.Match(claimEvent(`[1,2]`)) || f.Match(claimEvent(`not json`)) {
		t.Error("a predicate matched an event whose data is not a JSON object")
	}
	if !f.Match(claimEvent(theftClaim)) {
		t.Error("the predicate does not match the event it describes")
	}
}

func TestDataPredicateErrorsAreCheckedAtWriteTime(t *testing.T) {
	cases := []struct {
		filter string
		pos    int
		msg    string
	}{
		{`clam.type == "theft"`, 1, `unknown field "clam", expected one of source, performed_by, event_name, object, account_id, or the event's object (claim.…, contact.…, data.…)`},
		{`claim.type ==`, 13, `unexpected token EOF`},
		{`claim.type`, 1, `expected bool`},
		{`source == "api" and claim.type == "theft" and colour == 1`, 47, `unknown name colour`},
		{`claim.labels + 1 > 0 and claim.type == "x" and ` + strings.Repeat(`claim.n == 1 and `, 60) + `true`, -1, `filter too complex: more than 256 nodes`},
	}
	for _, tc := range cases {
		_, err := CompileFilter(tc.filter)
		var fe *FilterError
		if !errors.As(err, &fe) {
			t.Fatalf("%q: error %v, want *FilterError", tc.filter, err)
		}
		if (tc.pos > 0 && fe.Pos != tc.pos) || !strings.Contains(fe.Msg, tc.msg) {
			t.Errorf("%q: got col %d %q; want col %d containing %q", tc.filter, fe.Pos, fe.Msg, tc.pos, tc.msg)
		}
	}
	// Through subscription validation the error names the field.
	v := Policy{Catalogue: testCatalogue}.Validate(&Subscription{AccountID: "acct_1", URL: "https://example.com/h",
		Events: []string{"*"}, Filter: `claim.type = "theft"`})
	var ve *ValidationError
	if !errors.As(v, &ve) || len(ve.Problems) != 1 || ve.Problems[0].Field != "filter" {
		t.Errorf("validation of a bad data predicate: %v, want an error naming filter", v)
	}
}

func TestIndexDecodesTheObjectOnceAndMatchesDataPredicates(t *testing.T) {
	subs := []*Subscription{
		{ID: "sub_theft", AccountID: "acct_1", Events: []string{"claim.*"}, Enabled: true, Filter: `claim.type == "theft"`},
		{ID: "sub_fire", AccountID: "acct_1", Events: []string{"*"}, Enabled: true, Filter: `claim.type == "fire"`},
		{ID: "sub_api", AccountID: "acct_1", Events: []string{"*"}, Enabled: true, Filter: `source == "api"`},
		{ID: "sub_all", AccountID: "acct_1", Events: []string{"claim.assigned"}, Enabled: true},
	}
	ix := NewStaticIndex(subs)
	got := ids(ix.Match(claimEvent(theftClaim), nil))
	if got != "sub_all,sub_theft" {
		t.Errorf("matched %s, want sub_all,sub_theft", got)
	}
}

func ids(subs []*Subscription) string {
	var out []string
	for _, s := range subs {
		out = append(out, s.ID)
	}
	slices.Sort(out)
	return strings.Join(out, ",")
}
