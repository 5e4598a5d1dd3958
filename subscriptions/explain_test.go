package subscriptions

import (
	"strings"
	"testing"

	"github.com/claimable/eventrouter/events"
)

func explainSub() *Subscription {
	return &Subscription{ID: "sub_1", AccountID: "acct_1", URL: "https://hooks.example.com/in?token=s3cret",
		Events: []string{"claim.*"}, Enabled: true}
}

func TestExplainNamesTheRuleThatDecided(t *testing.T) {
	policy := Policy{Catalogue: testCatalogue}
	ev := claimEvent(`{"id":"clm_1","type":"fire","labels":["urgent"]}`) // claim.assigned, source ui, alice
	cases := []struct {
		name    string
		mutate  func(*Subscription, *events.Event)
		decided string
		detail  string
	}{
		{"matched", func(*Subscription, *events.Event) {}, "", ""},
		{"other account", func(_ *Subscription, e *events.Event) { e.AccountID = "acct_2" }, "account", `event account "acct_2"`},
		{"event name", func(s *Subscription, _ *events.Event) { s.Events = []string{"contact.*", "claim.closed"} }, "events", `"claim.assigned" matches none of`},
		{"envelope filter", func(s *Subscription, _ *events.Event) { s.Filter = `source == "api"` }, "filter", `source == "api" → false`},
		{"data filter", func(s *Subscription, _ *events.Event) { s.Filter = `claim.type == "theft"` }, "filter", `claim.type == "theft" → false`},
		{"disabled is routed and held", func(s *Subscription, _ *events.Event) { s.Enabled = false; s.DisabledReason = "endpoint_gone" }, "", ""},
		{"egress", func(s *Subscription, _ *events.Event) { s.URL = "https://10.0.0.8/hook" }, "egress", "https://10.0.0.8/hook"},
	}
	for _, tc := range cases {
		sub, e := explainSub(), *ev
		tc.mutate(sub, &e)
		x := explain(sub, &e, policy)
		if x.Decided != tc.decided || x.Matched != (tc.decided == "") {
			t.Errorf("%s: decided %q matched %v, want %q", tc.name, x.Decided, x.Matched, tc.decided)
			continue
		}
		if len(x.Rules) != 5 {
			t.Errorf("%s: %d rules, want all five (account, events, filter, enabled, egress)", tc.name, len(x.Rules))
		}
		if tc.decided == "" {
			continue
		}
		var detail string
		for _, r := range x.Rules {
			if r.Rule == tc.decided {
				detail = r.Detail
			}
		}
		if !strings.Contains(detail, tc.detail) {
			t.Errorf("%s: detail %q lacks %q", tc.name, detail, tc.detail)
		}
		// The verdict is the index's.
		ix := NewStaticIndex([]*Subscription{sub})
		if got := len(ix.Match(&e, nil)) == 1; got != x.Matched && tc.decided != "egress" {
			t.Errorf("%s: explain says matched=%v, the index %v", tc.name, x.Matched, got)
		}
	}
}

func TestExplainShowsEachClauseWithTheValueItSaw(t *testing.T) {
	sub := explainSub()
	sub.Filter = `source == "ui" and performed_by not in ["alice", "bob"]`
	x := explain(sub, claimEvent(`{"id":"clm_1"}`), Policy{Catalogue: testCatalogue})
	f := x.Rules[2]
	if f.Passed || len(f.Clauses) != 2 {
		t.Fatalf("filter rule = %+v", f)
	}
	if c := f.Clauses[1]; c.Clause != `performed_by not in ["alice", "bob"]` || c.Saw != `performed_by = "alice"` || c.Result {
		t.Errorf("second clause = %+v", c)
	}

	sub.Filter = `claim.type == "theft" or "urgent" in claim.labels`
	x = explain(sub, claimEvent(`{"id":"clm_1","type":"fire","labels":["urgent"]}`), Policy{Catalogue: testCatalogue})
	f = x.Rules[2]
	if !f.Passed || len(f.Clauses) != 2 {
		t.Fatalf("data filter rule = %+v", f)
	}
	if c := f.Clauses[0]; c.Saw != `claim.type = "fire"` || c.Result {
		t.Errorf("first data clause = %+v", c)
	}
	if c := f.Clauses[1]; !c.Result || !strings.Contains(c.Saw, `claim.labels = []interface {}{"urgent"}`) {
		t.Errorf("second data clause = %+v", c)
	}
	for _, r := range x.Rules {
		if strings.Contains(r.Detail, "s3cret") {
			t.Errorf("rule %s shows the URL's query: %q", r.Rule, r.Detail)
		}
	}
}
