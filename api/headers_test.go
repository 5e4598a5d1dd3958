package api

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/claimable/eventrouter/subscriptions"
)

type withHeaders struct {
	ID      string            `json:"id"`
	Headers map[string]string `json:"headers"`
}

func TestHeaderValuesShownOnlyAtCreation(t *testing.T) {
	h := newHarness(t)
	rec := h.do("POST", "/v1/subscriptions", acmeToken,
		`{"url":"https://hooks.example.com/x","events":["claim.created"],"headers":{"Authorization":"Bearer hdr-s3cr3t","X-Team":"claims"}}`)
	if rec.Code != http.StatusCreated {
		t.Fatalf("create: %d %s", rec.Code, rec.Body.String())
	}
	if cc := rec.Header().Get("Cache-Control"); cc != "no-store" {
		t.Fatalf("create (carries the secret) has Cache-Control %q, want no-store", cc)
	}
	c := decode[withHeaders](t, rec)
	if c.Headers["Authorization"] != "Bearer hdr-s3cr3t" {
		t.Fatalf("create shows headers %v, want the values sent", c.Headers)
	}
	path := "/v1/subscriptions/" + c.ID
	masked := map[string]string{"Authorization": subscriptions.HeaderMask, "X-Team": subscriptions.HeaderMask}
	for name, out := range map[string]string{
		"GET":   h.do("GET", path, acmeToken, "").Body.String(),
		"list":  h.do("GET", "/v1/subscriptions", acmeToken, "").Body.String(),
		"PATCH": h.do("PATCH", path, acmeToken, `{"description":"x"}`).Body.String(),
	} {
		if strings.Contains(out, "hdr-s3cr3t") || strings.Contains(out, "claims") {
			t.Fatalf("%s shows a header value: %s", name, out)
		}
	}
	got := decode[withHeaders](t, h.do("GET", path, acmeToken, ""))
	if len(got.Headers) != 2 || got.Headers["Authorization"] != masked["Authorization"] {
		t.Fatalf("GET headers %v, want names with masked values", got.Headers)
	}

	// Sending back what GET showed keeps the stored values; a new value replaces one.
	b, _ := json.Marshal(map[string]any{"headers": map[string]string{"Authorization": subscriptions.HeaderMask, "X-Team": "billing"}})
	if rec := h.do("PATCH", path, acmeToken, string(b)); rec.Code != http.StatusOK {
		t.Fatalf("PATCH with a masked value: %d %s", rec.Code, rec.Body.String())
	}
	stored, _ := h.store.Get(t.Context(), c.ID)
	if stored.Headers["Authorization"] != "Bearer hdr-s3cr3t" || stored.Headers["X-Team"] != "billing" {
		t.Fatalf("stored headers %v: the mask must keep Authorization and X-Team must change", stored.Headers)
	}
	b, _ = json.Marshal(map[string]any{"headers": map[string]string{"X-New": subscriptions.HeaderMask}})
	p := problem(t, h.do("PATCH", path, acmeToken, string(b)), http.StatusUnprocessableEntity)
	if fs := fields(p); len(fs) != 1 || fs[0] != "headers.X-New" {
		t.Fatalf("mask for an unset header: fields %v", fs)
	}
}
