package operational

import (
	"os"
	"regexp"
	"slices"
	"testing"

	"github.com/claimable/eventrouter/events"
)

// TestDocExamplesAreOperationalEvents keeps docs/operational-events.md true: one example
// per type, under its heading, each a valid body of that type.
func TestDocExamplesAreOperationalEvents(t *testing.T) {
	doc, err := os.ReadFile("../docs/operational-events.md")
	if err != nil {
		t.Fatal(err)
	}
	ex := regexp.MustCompile("(?s)#### `([a-z.]+)`\n\n```json\n(.*?)\n```").FindAllSubmatch(doc, -1)
	var seen []string
	for _, m := range ex {
		e, err := events.ParseOpEvent(m[2])
		if err != nil {
			t.Errorf("example %s: %v", m[1], err)
			continue
		}
		if e.Type != string(m[1]) {
			t.Errorf("example under %s has type %s", m[1], e.Type)
		}
		seen = append(seen, e.Type)
	}
	for _, typ := range events.OperationalTypes() {
		if !slices.Contains(seen, typ) {
			t.Errorf("no example of %s", typ)
		}
	}
}
