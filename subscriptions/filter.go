package subscriptions

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/expr-lang/expr/vm"

	"github.com/claimable/eventrouter/events"
)

// Filter language
//
// A filter is a predicate over an event's envelope:
//
//	expr    = orExpr
//	orExpr  = andExpr { "or" andExpr }
//	andExpr = unary { "and" unary }
//	unary   = "not" unary | "(" expr ")" | cmp
//	cmp     = field ( "==" string | "!=" string | "in" list | "not" "in" list )
//	list    = "[" string { "," string } "]"
//	field   = "source" | "performed_by" | "event_name" | "object" | "account_id"
//
// Strings are double-quoted Go string literals. Comparisons are exact and case-sensitive.
// Example: `source == "api" and performed_by not in ["import-bot", "sync"]`.
// The empty filter matches every event. A filter outside this language — one that
// reads the event's object, such as `claim.type == "theft"` — is compiled as a data
// predicate instead (predicate.go).

// Bounds on a filter, so that hostile input gets a precise error, not a deep recursion.
const (
	MaxFilterLen   = 4096 // bytes
	MaxFilterDepth = 32   // nested parentheses / not
	MaxFilterList  = 64   // strings in one list
)

// Filter is a compiled filter expression. It is immutable and safe for concurrent use.
// An envelope-only filter compiles to root (the allocation-free fast path); one that
// needs the event's object compiles to prog, a data predicate (predicate.go).
type Filter struct {
	root *fnode      // nil and prog nil: match everything
	prog *vm.Program // a data predicate; root is nil then
	src  string
}

// FilterError says where a filter expression is wrong and what was expected there.
type FilterError struct {
	Pos int    // 1-based byte column
	Msg string // e.g. `expected "==", "!=", "in" or "not in", found "="`
	// bound marks a size limit (depth, list length): final, whichever engine would run
	// the filter.
	bound bool
}

func (e *FilterError) Error() string { return fmt.Sprintf("filter: col %d: %s", e.Pos, e.Msg) }

type fop uint8

const (
	fopAnd fop = iota
	fopOr
	fopNot
	fopEq
	fopNe
	fopIn
	fopNotIn
)

type ffield uint8

const (
	fieldSource ffield = iota
	fieldPerformedBy
	fieldEventName
	fieldObject
	fieldAccountID
)

var filterFields = map[string]ffield{
	"source":       fieldSource,
	"performed_by": fieldPerformedBy,
	"event_name":   fieldEventName,
	"object":       fieldObject,
	"account_id":   fieldAccountID,
}

type fnode struct {
	op          fop
	field       ffield
	value       string
	values      []string
	left, right *fnode // and/or: both; not: left
}

// CompileFilter parses s. The empty (or all-space) string compiles to a filter that
// matches every event. Errors are *FilterError.
func CompileFilter(s string) (*Filter, error) {
	if len(s) > MaxFilterLen {
		return nil, &FilterError{Pos: MaxFilterLen + 1, Msg: fmt.Sprintf("filter longer than %d bytes", MaxFilterLen)}
	}
	p := &fparser{src: s}
	p.next()
	if p.tok.kind == tkEOF {
		return &Filter{src: s}, nil
	}
	root, err := p.expr(0)
	if err == nil && p.tok.kind != tkEOF {
		err = p.errf("expected \"and\", \"or\" or end of filter")
	}
	if err == nil {
		return &Filter{root: root, src: s}, nil
	}
	var fe *FilterError
	if errors.As(err, &fe) && fe.bound {
		return nil, err
	}
	// Beyond the envelope language: a data predicate, if it compiles as one. When
	// neither compiles, the envelope parser's error is the precise one, unless it
	// stopped at an object name (`claim.type …`), where expr's error explains.
	prog, perr := compilePredicate(s)
	if perr == nil {
		return &Filter{prog: prog, src: s}, nil
	}
	if fe != nil && usesObject(s, fe) {
		return nil, perr
	}
	return nil, err
}

// HasDataPredicate reports whether the filter looks into the event's object (and so
// decodes it when evaluated), rather than only at envelope fields.
func (f *Filter) HasDataPredicate() bool { return f != nil && f.prog != nil }

// active reports whether the filter can reject an event.
func (f *Filter) active() bool { return f != nil && (f.root != nil || f.prog != nil) }

// String returns the source text the filter was compiled from.
func (f *Filter) String() string { return f.src }

// Match reports whether e satisfies the filter. A nil Filter matches everything.
// It does not allocate unless the filter is a data predicate.
func (f *Filter) Match(e *events.Event) bool {
	var d dataScope
	return f.match(e, &d)
}

// match is Match with the event's decoded object shared through d across the filters
// of one index lookup.
func (f *Filter) match(e *events.Event, d *dataScope) bool {
	switch {
	case f == nil:
		return true
	case f.prog != nil:
		return d.run(f.prog, e)
	case f.root == nil:
		return true
	}
	return f.root.eval(e)
}

func (n *fnode) eval(e *events.Event) bool {
	switch n.op {
	case fopAnd:
		return n.left.eval(e) && n.right.eval(e)
	case fopOr:
		return n.left.eval(e) || n.right.eval(e)
	case fopNot:
		return !n.left.eval(e)
	}
	v := n.fieldValue(e)
	switch n.op {
	case fopEq:
		return v == n.value
	case fopNe:
		return v != n.value
	}
	in := false
	for _, x := range n.values {
		if x == v {
			in = true
			break
		}
	}
	return in == (n.op == fopIn)
}

type tkind uint8

const (
	tkEOF tkind = iota
	tkIdent
	tkString
	tkEq
	tkNe
	tkLParen
	tkRParen
	tkLBrack
	tkRBrack
	tkComma
	tkBad
)

type ftoken struct {
	kind tkind
	pos  int    // 0-based offset
	text string // identifier, or the unquoted string, or the raw bad text
}

type fparser struct {
	src string
	off int
	tok ftoken
	err *FilterError
}

func (p *fparser) errf(format string, args ...any) *FilterError {
	if p.err != nil { // a lexical error is more precise than what the parser expected
		return p.err
	}
	found := "end of filter"
	if p.tok.kind != tkEOF {
		found = strconv.Quote(p.src[p.tok.pos:min(p.off, p.tok.pos+32)])
	}
	return &FilterError{Pos: p.tok.pos + 1, Msg: fmt.Sprintf(format, args...) + ", found " + found}
}

func (p *fparser) next() {
	for p.off < len(p.src) && (p.src[p.off] == ' ' || p.src[p.off] == '\t' || p.src[p.off] == '\n' || p.src[p.off] == '\r') {
		p.off++
	}
	start := p.off
	p.tok = ftoken{pos: start}
	if p.off >= len(p.src) {
		p.tok.kind = tkEOF
		return
	}
	c := p.src[p.off]
	switch {
	case c == '(' || c == ')' || c == '[' || c == ']' || c == ',':
		p.off++
		p.tok.kind = punct(c)
	case c == '=' || c == '!':
		if p.off+1 < len(p.src) && p.src[p.off+1] == '=' {
			p.off += 2
			p.tok.kind = tkEq
			if c == '!' {
				p.tok.kind = tkNe
			}
			return
		}
		p.off++
		p.tok.kind = tkBad
	case c == '"':
		p.lexString()
	case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_':
		for p.off < len(p.src) {
			c := p.src[p.off]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
				break
			}
			p.off++
		}
		p.tok.kind = tkIdent
		p.tok.text = p.src[start:p.off]
	default:
		p.off++
		for p.off < len(p.src) && p.src[p.off] >= 0x80 { // keep a UTF-8 sequence whole
			p.off++
		}
		p.tok.kind = tkBad
	}
}

func (p *fparser) lexString() {
	start := p.off
	p.off++
	for p.off < len(p.src) {
		switch p.src[p.off] {
		case '\\':
			p.off += 2
			continue
		case '"':
			p.off++
			s, err := strconv.Unquote(p.src[start:p.off])
			if err != nil {
				p.tok.kind = tkBad
				p.err = &FilterError{Pos: start + 1, Msg: "invalid escape in string"}
				return
			}
			p.tok.kind = tkString
			p.tok.text = s
			return
		case '\n':
			p.off = len(p.src)
		}
		p.off++
	}
	p.off = len(p.src)
	p.tok.kind = tkBad
	p.err = &FilterError{Pos: start + 1, Msg: "unterminated string"}
}

func (p *fparser) isWord(w string) bool { return p.tok.kind == tkIdent && p.tok.text == w }

func (p *fparser) expr(depth int) (*fnode, error) {
	if depth > MaxFilterDepth {
		return nil, &FilterError{Pos: p.tok.pos + 1, Msg: fmt.Sprintf("nested deeper than %d levels", MaxFilterDepth), bound: true}
	}
	left, err := p.and(depth)
	if err != nil {
		return nil, err
	}
	for p.isWord("or") {
		p.next()
		right, err := p.and(depth)
		if err != nil {
			return nil, err
		}
		left = &fnode{op: fopOr, left: left, right: right}
	}
	return left, nil
}

func (p *fparser) and(depth int) (*fnode, error) {
	left, err := p.unary(depth)
	if err != nil {
		return nil, err
	}
	for p.isWord("and") {
		p.next()
		right, err := p.unary(depth)
		if err != nil {
			return nil, err
		}
		left = &fnode{op: fopAnd, left: left, right: right}
	}
	return left, nil
}

func (p *fparser) unary(depth int) (*fnode, error) {
	if depth > MaxFilterDepth {
		return nil, &FilterError{Pos: p.tok.pos + 1, Msg: fmt.Sprintf("nested deeper than %d levels", MaxFilterDepth), bound: true}
	}
	switch {
	case p.isWord("not"):
		p.next()
		inner, err := p.unary(depth + 1)
		if err != nil {
			return nil, err
		}
		return &fnode{op: fopNot, left: inner}, nil
	case p.tok.kind == tkLParen:
		p.next()
		inner, err := p.expr(depth + 1)
		if err != nil {
			return nil, err
		}
		if p.tok.kind != tkRParen {
			return nil, p.errf("expected \")\"")
		}
		p.next()
		return inner, nil
	}
	return p.cmp()
}

func (p *fparser) cmp() (*fnode, error) {
	if p.tok.kind != tkIdent {
		return nil, p.errf("expected a field (%s), \"not\" or \"(\"", fieldList())
	}
	field, ok := filterFields[p.tok.text]
	if !ok {
		return nil, &FilterError{Pos: p.tok.pos + 1, Msg: fmt.Sprintf("unknown field %q, expected one of %s, or the event's object (%s)", p.tok.text, fieldList(), objectList())}
	}
	p.next()
	n := &fnode{field: field}
	switch {
	case p.tok.kind == tkEq, p.tok.kind == tkNe:
		n.op = fopEq
		if p.tok.kind == tkNe {
			n.op = fopNe
		}
		p.next()
		if p.tok.kind != tkString {
			return nil, p.errf("expected a quoted string")
		}
		n.value = p.tok.text
		p.next()
		return n, nil
	case p.isWord("in"):
		n.op = fopIn
	case p.isWord("not"):
		p.next()
		if !p.isWord("in") {
			return nil, p.errf("expected \"in\" after \"not\"")
		}
		n.op = fopNotIn
	default:
		return nil, p.errf("expected \"==\", \"!=\", \"in\" or \"not in\"")
	}
	p.next()
	values, err := p.list()
	if err != nil {
		return nil, err
	}
	n.values = values
	return n, nil
}

func (p *fparser) list() ([]string, error) {
	if p.tok.kind != tkLBrack {
		return nil, p.errf("expected \"[\"")
	}
	p.next()
	var out []string
	for {
		if p.tok.kind != tkString {
			return nil, p.errf("expected a quoted string")
		}
		if len(out) == MaxFilterList {
			return nil, &FilterError{Pos: p.tok.pos + 1, Msg: fmt.Sprintf("list longer than %d strings", MaxFilterList), bound: true}
		}
		out = append(out, p.tok.text)
		p.next()
		switch p.tok.kind {
		case tkComma:
			p.next()
		case tkRBrack:
			p.next()
			return out, nil
		default:
			return nil, p.errf("expected \",\" or \"]\"")
		}
	}
}

func fieldList() string {
	return strings.Join([]string{"source", "performed_by", "event_name", "object", "account_id"}, ", ")
}

func punct(c byte) tkind {
	switch c {
	case '(':
		return tkLParen
	case ')':
		return tkRParen
	case '[':
		return tkLBrack
	case ']':
		return tkRBrack
	}
	return tkComma
}
