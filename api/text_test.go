package api

import (
	"net/http"
	"slices"
	"testing"
)

// TestControlAndBidiCharactersAre422NamingTheField: an account id or description
// carrying a right-to-left override, a newline or an escape is refused through the API
// with the field named, on create and on update.
func TestControlAndBidiCharactersAre422NamingTheField(t *testing.T) {
	h := newHarness(t)
	cases := []struct{ body, field string }{
		{`{"account_id":"acct_acme\u202e","url":"https://hooks.example.com/x","events":["claim.created"]}`, "account_id"},
		{`{"account_id":"acct_acme","url":"https://hooks.example.com/x","events":["claim.created"],"description":"ok\nFAKE LOG LINE"}`, "description"},
		{`{"account_id":"acct_acme","url":"https://hooks.example.com/x","events":["claim.created"],"description":"\u001b[31mred"}`, "description"},
		{`{"account_id":"acct_acme","url":"https://hooks.example.com/x","events":["claim.created"],"description":"\u2066isolate\u2069"}`, "description"},
	}
	for _, c := range cases {
		p := problem(t, h.do("POST", "/v1/subscriptions", adminToken, c.body), http.StatusUnprocessableEntity)
		if !slices.Equal(fields(p), []string{c.field}) {
			t.Errorf("body %s: fields %v, want [%s]", c.body, fields(p), c.field)
		}
	}
	sub := h.create(adminToken, "acct_acme")
	p := problem(t, h.do("PATCH", "/v1/subscriptions/"+sub.ID, adminToken, `{"description":"evil\u202egnp.exe"}`), http.StatusUnprocessableEntity)
	if !slices.Equal(fields(p), []string{"description"}) {
		t.Fatalf("patch fields %v", fields(p))
	}
}
