package app

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"testing"
)

// The pipeline stages never read the configuration package: app translates it into
// each stage's own Config. Every file counts, tests and every build tag included.
func TestPipelineStagesDoNotImportConfig(t *testing.T) {
	const cfgPkg = "github.com/claimable/eventrouter/config"
	for _, stage := range []string{"router", "topics", "delivery"} {
		files, err := filepath.Glob(filepath.Join("..", stage, "*.go"))
		if err != nil || len(files) == 0 {
			t.Fatalf("%s: no Go files (%v)", stage, err)
		}
		for _, f := range files {
			ast, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.ImportsOnly)
			if err != nil {
				t.Fatal(err)
			}
			for _, imp := range ast.Imports {
				if p, _ := strconv.Unquote(imp.Path.Value); p == cfgPkg {
					t.Errorf("%s imports %s: translate in app instead", f, cfgPkg)
				}
			}
		}
	}
}
