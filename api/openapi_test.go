package api

import (
	"net/http"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// TestOpenAPIDescribesEveryRoute keeps the document and the route table in step, both ways.
func TestOpenAPIDescribesEveryRoute(t *testing.T) {
	var doc struct {
		OpenAPI string                    `yaml:"openapi"`
		Paths   map[string]map[string]any `yaml:"paths"`
	}
	if err := yaml.Unmarshal(openAPIDocument, &doc); err != nil {
		t.Fatalf("openapi.yaml does not parse: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("openapi version %q", doc.OpenAPI)
	}
	registered := map[string]bool{}
	for _, rt := range routeTable {
		registered[rt.pattern()] = true
		op, ok := doc.Paths[rt.path][strings.ToLower(rt.method)].(map[string]any)
		if !ok {
			t.Errorf("route %s is not in openapi.yaml", rt.pattern())
			continue
		}
		if _, ok := op["responses"]; !ok {
			t.Errorf("route %s has no responses in openapi.yaml", rt.pattern())
		}
	}
	for path, ops := range doc.Paths {
		for method := range ops {
			if method == "parameters" {
				continue
			}
			if p := strings.ToUpper(method) + " " + path; !registered[p] {
				t.Errorf("openapi.yaml documents %s, which the server does not serve", p)
			}
		}
	}
}

func TestOpenAPIServedWithoutToken(t *testing.T) {
	h := newHarness(t)
	rec := h.do("GET", "/v1/openapi.yaml", "", "")
	if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != "application/yaml" ||
		rec.Body.String() != string(openAPIDocument) {
		t.Fatalf("openapi: %d %q", rec.Code, rec.Header().Get("Content-Type"))
	}
}
