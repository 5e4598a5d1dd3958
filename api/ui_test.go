package api

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
)

// TestUIServedWithoutTokenBehindCSP: the page and its files are served without a
// token, each with a Content-Security-Policy that allows only the page's own origin;
// /ui redirects to /ui/; the page holds no data (the JSON routes still want a token).
func TestUIServedWithoutTokenBehindCSP(t *testing.T) {
	h := newHarness(t)
	for path, ctype := range map[string]string{
		"/ui/":            "text/html; charset=utf-8",
		"/ui/app.js":      "text/javascript; charset=utf-8",
		"/ui/app.css":     "text/css; charset=utf-8",
		"/ui/favicon.svg": "image/svg+xml",
	} {
		rec := h.do("GET", path, "", "")
		if rec.Code != http.StatusOK {
			t.Fatalf("GET %s: %d %s", path, rec.Code, rec.Body.String())
		}
		if got := rec.Header().Get("Content-Type"); got != ctype {
			t.Errorf("GET %s: Content-Type %q, want %q", path, got, ctype)
		}
		csp := rec.Header().Get("Content-Security-Policy")
		if !strings.Contains(csp, "default-src 'self'") || strings.Contains(csp, "unsafe-inline") {
			t.Errorf("GET %s: Content-Security-Policy %q", path, csp)
		}
		if rec.Header().Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("GET %s: no X-Content-Type-Options: nosniff", path)
		}
	}
	rec := h.do("GET", "/ui", "", "")
	if rec.Code != http.StatusMovedPermanently || rec.Header().Get("Location") != "/ui/" {
		t.Fatalf("GET /ui: %d Location %q, want 301 to /ui/", rec.Code, rec.Header().Get("Location"))
	}
	if rec := h.do("GET", "/ui/missing.js", "", ""); rec.Code != http.StatusNotFound {
		t.Errorf("GET /ui/missing.js: %d, want 404", rec.Code)
	}
	problem(t, h.do("GET", "/v1/subscriptions", "", ""), http.StatusUnauthorized)
}

// TestUIHasNoInlineScriptAndWritesNoMarkup: the CSP forbids inline script, so the page
// must carry none (it would silently not run); and the script puts API data on the page
// only as text, never through an HTML sink.
func TestUIHasNoInlineScriptAndWritesNoMarkup(t *testing.T) {
	page, err := uiFiles.ReadFile("ui/index.html")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range regexp.MustCompile(`<script[^>]*>`).FindAllString(string(page), -1) {
		if !strings.Contains(m, `src="`) {
			t.Errorf("inline script in index.html: %s", m)
		}
	}
	if m := regexp.MustCompile(`(?i)\son[a-z]+\s*=|<style|style="`).FindString(string(page)); m != "" {
		t.Errorf("inline handler or style in index.html: %q", m)
	}
	js, err := uiFiles.ReadFile("ui/app.js")
	if err != nil {
		t.Fatal(err)
	}
	for _, sink := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"} {
		if strings.Contains(string(js), sink) {
			t.Errorf("app.js uses %s; data must go on the page as text", sink)
		}
	}
}
