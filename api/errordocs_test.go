package api

import (
	"context"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// cursorAttempts refuses every cursor, as the real attempt log does for one it never issued.
type cursorAttempts struct{}

func (cursorAttempts) ListAttempts(_ context.Context, _, after string, _ int) ([]Attempt, string, error) {
	if after != "" {
		return nil, "", fmt.Errorf("attempt log: %w", ErrBadCursor)
	}
	return nil, "", nil
}

// TestBadCursorIsBadRequestNamingAfter: a cursor the server never issued is a bad query
// parameter (400 bad-request, as docs/api.md says), not a validation error of a body.
func TestBadCursorIsBadRequestNamingAfter(t *testing.T) {
	h := newHarness(t, func(_ *Config, d *Deps) { d.Attempts = cursorAttempts{} })
	sub := h.create(adminToken, "acct_acme")
	p := problem(t, h.do("GET", "/v1/subscriptions/"+sub.ID+"/attempts?after=not-a-cursor", adminToken, ""), http.StatusBadRequest)
	if p.Type != problemTypeBase+kindBadRequest || !slices.Equal(fields(p), []string{"after"}) {
		t.Fatalf("problem %+v: want bad-request naming after", p)
	}
	if rec := h.do("GET", "/v1/subscriptions/"+sub.ID+"/attempts", adminToken, ""); rec.Code != http.StatusOK {
		t.Fatalf("first page: %d %s", rec.Code, rec.Body.String())
	}
}

// TestEveryProblemKindIsDocumented: every problem "type" the code can send resolves to an
// anchor of docs/api.md, and the documented bad-request causes include the cursor.
func TestEveryProblemKindIsDocumented(t *testing.T) {
	docs, err := os.ReadFile("../docs/api.md")
	if err != nil {
		t.Fatal(err)
	}
	f, err := parser.ParseFile(token.NewFileSet(), "problem.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	ast.Inspect(f, func(n ast.Node) bool {
		vs, ok := n.(*ast.ValueSpec)
		if !ok || len(vs.Names) != 1 || !strings.HasPrefix(vs.Names[0].Name, "kind") || len(vs.Values) != 1 {
			return true
		}
		if lit, ok := vs.Values[0].(*ast.BasicLit); ok {
			v, _ := strconv.Unquote(lit.Value)
			kinds = append(kinds, v)
		}
		return true
	})
	if len(kinds) < 10 {
		t.Fatalf("found only %d problem kinds in problem.go: %v", len(kinds), kinds)
	}
	for _, k := range kinds {
		if !strings.Contains(string(docs), `<a id="`+k+`"></a>`) {
			t.Errorf("problem kind %q has no anchor in docs/api.md", k)
		}
	}
	_, badRequest, _ := strings.Cut(string(docs), `<a id="bad-request"></a>`)
	badRequest, _, _ = strings.Cut(badRequest, "\n- ")
	if !strings.Contains(badRequest, "`after`") {
		t.Errorf("docs/api.md's bad-request entry does not mention a bad cursor (after): %q", badRequest)
	}
}
