package subscriptions

import (
	"errors"
	"strings"
	"testing"

	"github.com/claimable/eventrouter/events"
)

func testEvent() *events.Event {
	return &events.Event{ID: "e1", AccountID: "acct_1", EventName: "claim.closed", Object: "claim", Source: "api", PerformedBy: "alice"}
}

func TestFilterMatch(t *testing.T) {
	cases := []struct {
		filter string
		want   bool
	}{
		{``, true},
		{`   `, true},
		{`source == "api"`, true},
		{`source == "ui"`, false},
		{`performed_by != "import-bot"`, true},
		{`performed_by != "alice"`, false},
		{`source in ["ui","api"]`, true},
		{`source in ["ui"]`, false},
		{`source not in ["ui"]`, true},
		{`event_name == "claim.closed"`, true},
		{`object == "contact"`, false},
		{`account_id == "acct_1"`, true},
		{`source == "ui" or object == "claim"`, true},
		{`source == "api" and object == "contact"`, false},
		{`not source == "ui"`, true},
		{`not (source == "api" and object == "claim")`, false},
		{`source == "ui" or source == "api" and object == "contact"`, false}, // and binds tighter
		{`(source == "ui" or source == "api") and object == "claim"`, true},
		{`performed_by == "al\x69ce"`, true},
	}
	e := testEvent()
	for _, tc := range cases {
		f, err := CompileFilter(tc.filter)
		if err != nil {
			t.Fatalf("%q: %v", tc.filter, err)
		}
		if got := f.Match(e); got != tc.want {
			t.Errorf("%q: Match = %v, want %v", tc.filter, got, tc.want)
		}
	}
}

func TestFilterErrorsSayWhereAndWhat(t *testing.T) {
	cases := []struct {
		filter string
		pos    int
		msg    string
	}{
		{`source = "api"`, 8, `expected "==", "!=", "in" or "not in", found "="`},
		{`colour == "red"`, 1, `unknown field "colour"`},
		{`source ==`, 10, `expected a quoted string, found end of filter`},
		{`source == api`, 11, `expected a quoted string, found "api"`},
		{`source == "api`, 11, `unterminated string`},
		{`source == "a\q"`, 11, `invalid escape`},
		{`(source == "api"`, 17, `expected ")", found end of filter`},
		{`source == "api" nand x`, 17, `expected "and", "or" or end of filter`},
		{`source in "api"`, 11, `expected "["`},
		{`source in ["a" "b"]`, 16, `expected "," or "]"`},
		{`source not == "a"`, 12, `expected "in" after "not"`},
		{`and`, 1, `unknown field "and"`},
		{strings.Repeat("(", 40) + `source == "a"` + strings.Repeat(")", 40), 34, `nested deeper`},
		{strings.Repeat("x", MaxFilterLen+1), MaxFilterLen + 1, `longer than`},
	}
	for _, tc := range cases {
		_, err := CompileFilter(tc.filter)
		var fe *FilterError
		if !errors.As(err, &fe) {
			t.Fatalf("%q: error %v, want *FilterError", tc.filter, err)
		}
		if fe.Pos != tc.pos || !strings.Contains(fe.Msg, tc.msg) {
			t.Errorf("%q: got col %d %q; want col %d containing %q", tc.filter, fe.Pos, fe.Msg, tc.pos, tc.msg)
		}
	}
}

func TestFilterMatchDoesNotAllocate(t *testing.T) {
	f, err := CompileFilter(`(source in ["ui","api"] and not performed_by == "bot") or event_name != "claim.created"`)
	if err != nil {
		t.Fatal(err)
	}
	e := testEvent()
	if n := testing.AllocsPerRun(100, func() { f.Match(e) }); n != 0 {
		t.Fatalf("Match allocates %v times per call", n)
	}
}

func FuzzCompileFilter(f *testing.F) {
	for _, s := range []string{``, `source == "api"`, `not (a == "b")`, `source in ["ui","api"] or performed_by != "x"`, `((`, `"\u00e9"`, `source not in []`} {
		f.Add(s)
	}
	e := testEvent()
	f.Fuzz(func(t *testing.T, s string) {
		flt, err := CompileFilter(s)
		if err != nil {
			var fe *FilterError
			if !errors.As(err, &fe) || fe.Pos < 1 || fe.Pos > len(s)+1 {
				t.Fatalf("%q: bad error %#v", s, err)
			}
			return
		}
		flt.Match(e)
		flt.Match(&events.Event{})
	})
}
