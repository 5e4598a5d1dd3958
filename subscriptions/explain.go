package subscriptions

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"

	"github.com/claimable/eventrouter/events"
)

// Explanation answers "why did (or didn't) this subscription get this event?": every
// rule the router applies, in its order, with what it saw. Decided names the first
// rule that rejected the event, or is empty when every rule passed.
type Explanation struct {
	SubscriptionID string `json:"subscription_id"`
	EventID        string `json:"event_id"`
	// Matched is true when the router routes the event to the subscription.
	Matched bool `json:"matched"`
	// Decided is the rule that rejected the event: "account", "events", "filter" or
	// "egress"; empty when Matched. ("enabled" never rejects: a disabled subscription's
	// deliveries are held, not dropped.)
	Decided string        `json:"decided_by,omitempty"`
	Rules   []ExplainRule `json:"rules"`
}

// ExplainRule is one rule and its outcome.
type ExplainRule struct {
	Rule   string `json:"rule"`
	Passed bool   `json:"passed"`
	// Detail says what the rule compared, with the values it saw.
	Detail string `json:"detail"`
	// Clauses, for a filter, are its comparisons with the value each saw.
	Clauses []ExplainClause `json:"clauses,omitempty"`
}

// ExplainClause is one comparison of a filter.
type ExplainClause struct {
	Clause string `json:"clause"`
	Saw    string `json:"saw"`
	Result bool   `json:"result"`
}

// Explain evaluates sub's rules for e, in the router's order, and says which decided.
// It uses the same matching code as the index, so its verdict is the router's. The
// egress rule reports the write-time URL policy; a URL that passes it can still be
// refused at dial time if its name resolves to a forbidden address (ssrf_blocked).
func (s *Service) Explain(sub *Subscription, e *events.Event) Explanation {
	return explain(sub, e, s.policy)
}

func explain(sub *Subscription, e *events.Event, policy Policy) Explanation {
	x := Explanation{SubscriptionID: sub.ID, EventID: e.ID}
	add := func(rule string, passed bool, detail string, clauses ...ExplainClause) {
		x.Rules = append(x.Rules, ExplainRule{Rule: rule, Passed: passed, Detail: detail, Clauses: clauses})
		if !passed && x.Decided == "" {
			x.Decided = rule
		}
	}

	add("account", sub.AccountID == e.AccountID,
		fmt.Sprintf("subscription account %q, event account %q", sub.AccountID, e.AccountID))

	pattern := ""
	for _, p := range sub.Events {
		if matchPattern(p, e.EventName) {
			pattern = p
			break
		}
	}
	if pattern != "" {
		add("events", true, fmt.Sprintf("%q matches pattern %q", e.EventName, pattern))
	} else {
		add("events", false, fmt.Sprintf("%q matches none of %q", e.EventName, sub.Events))
	}

	f, err := CompileFilter(sub.Filter)
	switch {
	case err != nil:
		add("filter", false, "the stored filter does not compile, so it never matches: "+err.Error())
	case !f.active():
		add("filter", true, "no filter")
	default:
		var d dataScope
		ok := f.match(e, &d)
		add("filter", ok, fmt.Sprintf("%s → %v", f.String(), ok), f.clauses(e, &d)...)
	}

	// A disabled subscription is still routed: its deliveries are held in the DLQ and
	// sent when it is re-enabled, so this rule informs and never rejects.
	switch {
	case sub.Enabled:
		add("enabled", true, "enabled")
	case sub.DisabledReason != "":
		add("enabled", true, "disabled: "+sub.DisabledReason+"; routed and held (DLQ, reason subscription_disabled) until re-enabled")
	default:
		add("enabled", true, "disabled; routed and held (DLQ, reason subscription_disabled) until re-enabled")
	}

	var v ValidationError
	policy.validateURL(&v, sub.URL)
	if len(v.Problems) == 0 {
		add("egress", true, fmt.Sprintf("%s is allowed by the egress policy", RedactURL(sub.URL)))
	} else {
		add("egress", false, fmt.Sprintf("%s: %s", RedactURL(sub.URL), v.Problems[0].Message))
	}
	x.Matched = x.Decided == ""
	return x
}

// clauses lists the filter's comparisons with the value each saw.
func (f *Filter) clauses(e *events.Event, d *dataScope) []ExplainClause {
	var out []ExplainClause
	if f.root != nil {
		f.root.walk(func(n *fnode) {
			v := n.fieldValue(e)
			out = append(out, ExplainClause{Clause: n.String(), Saw: fmt.Sprintf("%s = %q", n.fieldName(), v), Result: n.eval(e)})
		})
		return out
	}
	env := d.vars(e)
	ast.Find(f.prog.Node(), func(n ast.Node) bool {
		b, ok := n.(*ast.BinaryNode)
		if !ok || logical[b.Operator] {
			return false
		}
		src := n.String()
		res := false
		if env != nil {
			if r, err := expr.Eval(src, env); err == nil {
				res, _ = r.(bool)
			}
		}
		out = append(out, ExplainClause{Clause: src, Saw: sawOf(n, env), Result: res})
		return false
	})
	return out
}

// logical are the operators that combine comparisons rather than compare.
var logical = map[string]bool{"and": true, "or": true, "&&": true, "||": true}

// sawOf evaluates the names and members a comparison reads, e.g. `claim.type = "fire"`:
// the longest member chains only (claim.type, not also claim).
func sawOf(n ast.Node, env map[string]any) string {
	var refs []string
	ast.Find(n, func(m ast.Node) bool {
		switch m.(type) {
		case *ast.MemberNode, *ast.IdentifierNode:
			if src := m.String(); !strings.Contains(src, "(") && !slices.Contains(refs, src) {
				refs = append(refs, src)
			}
		}
		return false
	})
	var parts []string
	for _, src := range refs {
		if slices.ContainsFunc(refs, func(o string) bool { return len(o) > len(src) && strings.HasPrefix(o, src) }) {
			continue // a prefix of a longer chain
		}
		val := "<unavailable>"
		if env != nil {
			if r, err := expr.Eval(src, env); err == nil {
				val = fmt.Sprintf("%#v", r)
			} else {
				val = "<error: " + firstLine(err.Error()) + ">"
			}
		}
		parts = append(parts, src+" = "+val)
	}
	return strings.Join(parts, ", ")
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}

// walk calls fn for every comparison (leaf) of the envelope filter, in source order.
func (n *fnode) walk(fn func(*fnode)) {
	if n == nil {
		return
	}
	switch n.op {
	case fopAnd, fopOr, fopNot:
		n.left.walk(fn)
		n.right.walk(fn)
	default:
		fn(n)
	}
}

// fieldName is the envelope field a comparison reads.
func (n *fnode) fieldName() string {
	for name, f := range filterFields {
		if f == n.field {
			return name
		}
	}
	return "?"
}

// fieldValue is the value of the comparison's field in e.
func (n *fnode) fieldValue(e *events.Event) string {
	switch n.field {
	case fieldSource:
		return e.Source
	case fieldPerformedBy:
		return e.PerformedBy
	case fieldEventName:
		return e.EventName
	case fieldObject:
		return e.Object
	default:
		return e.AccountID
	}
}

// String renders a comparison as filter source.
func (n *fnode) String() string {
	switch n.op {
	case fopEq:
		return n.fieldName() + " == " + strconv.Quote(n.value)
	case fopNe:
		return n.fieldName() + " != " + strconv.Quote(n.value)
	}
	q := make([]string, len(n.values))
	for i, v := range n.values {
		q[i] = strconv.Quote(v)
	}
	op := " in "
	if n.op == fopNotIn {
		op = " not in "
	}
	return n.fieldName() + op + "[" + strings.Join(q, ", ") + "]"
}
