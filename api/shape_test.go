package api

import (
	"net/http"
	"strings"
	"testing"
)

func TestPayloadShapeIsStoredAndValidated(t *testing.T) {
	h := newHarness(t)
	rec := h.do("POST", "/v1/subscriptions", acmeToken,
		`{"url":"https://hooks.example.com/x","events":["*"],"payload":"thin","redact":["contact.email"]}`)
	if rec.Code != http.StatusCreated || !strings.Contains(rec.Body.String(), `"payload":"thin","redact":["contact.email"]`) {
		t.Fatalf("create: %d %s", rec.Code, rec.Body.String())
	}
	id := decode[created](t, rec).ID
	rec = h.do("PATCH", "/v1/subscriptions/"+id, acmeToken, `{"payload":"full","redact":["claim.assignee.email"]}`)
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"payload":"full","redact":["claim.assignee.email"]`) {
		t.Fatalf("patch: %d %s", rec.Code, rec.Body.String())
	}
	p := problem(t, h.do("POST", "/v1/subscriptions", acmeToken,
		`{"url":"https://hooks.example.com/x","events":["*"],"payload":"fat","redact":["policy.email"]}`), http.StatusUnprocessableEntity)
	if f := fields(p); len(f) != 2 || f[0] != "payload" || f[1] != "redact" {
		t.Errorf("fields = %v, want [payload redact]", f)
	}
}
