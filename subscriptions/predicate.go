package subscriptions

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/vm"

	"github.com/claimable/eventrouter/events"
)

// Data predicates
//
// A filter that the envelope language (filter.go) cannot express — one that looks into
// the event's object, such as `claim.type == "theft"`, `"urgent" in claim.labels` or
// `claim.assignee?.id == "usr_42"` — is compiled with expr-lang/expr
// (github.com/expr-lang/expr). expr was chosen over cel-go because its syntax is a
// superset of the envelope language (`==`, `!=`, `in`, `not in`, `and`, `or`, `not`,
// double-quoted strings), so one filter reads the same whichever engine runs it; it
// compiles once to bytecode that is safe for concurrent use; it type-checks names
// against a declared environment at compile time; and it is a single dependency-free
// module, where cel-go brings ANTLR and protobuf runtimes.
//
// The environment: the envelope fields (source, performed_by, event_name, object,
// account_id) as strings, and the event's object under its type name (claim, contact)
// and under "data", as JSON-decoded values (objects are maps, numbers float64). An
// event of the other type sees an empty object, so `claim.type == "theft"` is simply
// false for a contact event. A predicate that fails at run time (for example a member
// of a missing nested object without `?.`) does not match: the event is not delivered
// to that subscription, the same fail-closed rule as a filter that does not compile.
//
// Cost: at most MaxPredicateNodes AST nodes (checked at compile time, besides the
// MaxFilterLen bytes of the source) and expr's memory budget at run time; no loops
// beyond expr's built-ins over the event's own arrays, which the ingest size limit
// bounds. Subscriptions without a data predicate never reach this code: their filters
// stay on the envelope fast path, which does not allocate.

// MaxPredicateNodes bounds a data predicate's size: a filter is a short rule, and the
// bound keeps compile time and evaluation cost per event small.
const MaxPredicateNodes = 256

// objectRoots are the names a data predicate may use for the event's object: each
// object type of the catalogue, and "data" whatever the type.
var objectRoots = []string{"claim", "contact", "data"}

// objectList names the object roots for error messages: "claim.…, contact.…, data.…".
func objectList() string {
	return strings.Join(objectRoots, ".…, ") + ".…"
}

// predicateEnv declares the names and types a data predicate may use.
var predicateEnv = func() map[string]any {
	env := map[string]any{}
	for name := range filterFields {
		env[name] = ""
	}
	for _, r := range objectRoots {
		env[r] = map[string]any{}
	}
	return env
}()

// compilePredicate compiles s as a data predicate: a boolean expr expression over
// predicateEnv. Errors are *FilterError with the column expr reports.
func compilePredicate(s string) (*vm.Program, error) {
	prog, err := expr.Compile(s, expr.Env(predicateEnv), expr.AsBool(), expr.MaxNodes(MaxPredicateNodes))
	if err != nil {
		return nil, predicateError(s, err)
	}
	// Object fields are untyped JSON, so expr accepts `claim.flagged` as possibly
	// boolean; require a statically boolean filter so a typo such as `claim.type`
	// (never true) is refused at write time rather than silently matching nothing.
	if t := prog.Node().Type(); t == nil || t.Kind() != reflect.Bool {
		return nil, &FilterError{Pos: 1, Msg: "expected bool: a filter must be a comparison or a boolean expression (e.g. claim.flagged == true, claim.type == \"theft\")"}
	}
	return prog, nil
}

// predicateError turns an expr compile error into a *FilterError: the first line of
// its message and its 1-based column.
func predicateError(s string, err error) *FilterError {
	msg, _, _ := strings.Cut(err.Error(), "\n")
	pos := 1
	var fe *file.Error
	if errors.As(err, &fe) {
		msg = fe.Message
		if off := lineOffset(s, fe.Line) + fe.Column + 1; off >= 1 && off <= len(s)+1 {
			pos = off
		}
	}
	if strings.Contains(msg, "exceeds maximum allowed nodes") {
		return &FilterError{Pos: pos, Msg: fmt.Sprintf("filter too complex: more than %d nodes (operators, names and values)", MaxPredicateNodes), bound: true}
	}
	return &FilterError{Pos: pos, Msg: msg}
}

// lineOffset is the byte offset at which 1-based line n of s starts.
func lineOffset(s string, n int) int {
	off := 0
	for ; n > 1; n-- {
		i := strings.IndexByte(s[off:], '\n')
		if i < 0 {
			return off
		}
		off += i + 1
	}
	return off
}

// usesObject reports whether the envelope parser stopped at an object root, such as
// the "claim" of `claim.type == "x"`: then the expr error is the one that explains.
func usesObject(s string, fe *FilterError) bool {
	rest := s[min(fe.Pos-1, len(s)):]
	for _, r := range objectRoots {
		if strings.HasPrefix(rest, r) {
			return true
		}
	}
	return false
}

// dataScope decodes an event's object at most once for all the data predicates one
// Match evaluates. The zero value is ready; it does not escape for envelope-only
// filters.
type dataScope struct {
	env map[string]any
	bad bool // data is not a JSON object: predicates do not match
}

// vars returns the predicate environment for e, decoding e.Data on first use.
func (d *dataScope) vars(e *events.Event) map[string]any {
	if d.env != nil || d.bad {
		return d.env
	}
	var obj map[string]any
	if err := json.Unmarshal(e.Data, &obj); err != nil || obj == nil {
		d.bad = true
		return nil
	}
	env := make(map[string]any, len(predicateEnv))
	env["source"], env["performed_by"], env["event_name"] = e.Source, e.PerformedBy, e.EventName
	env["object"], env["account_id"] = e.Object, e.AccountID
	empty := map[string]any{}
	for _, r := range objectRoots {
		env[r] = empty
	}
	env["data"] = obj
	if _, ok := env[e.Object]; ok && e.Object != "object" {
		env[e.Object] = obj // the object under its type name, as in the webhook body
	}
	d.env = env
	return env
}

// run evaluates prog for e; a run-time error does not match.
func (d *dataScope) run(prog *vm.Program, e *events.Event) bool {
	env := d.vars(e)
	if env == nil {
		return false
	}
	out, err := expr.Run(prog, env)
	if err != nil {
		return false
	}
	b, _ := out.(bool)
	return b
}
