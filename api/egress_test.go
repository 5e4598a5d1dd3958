package api

import (
	"net/http"
	"net/netip"
	"strings"
	"testing"

	"github.com/claimable/eventrouter/egress"
	"github.com/claimable/eventrouter/subscriptions"
)

// A URL on a port the egress policy does not allow is refused when written (422 naming
// the field url, the port and the ports that are allowed), even in dev mode
// (allow_http): the dialer would refuse it on every attempt.
func TestWriteRefusesPortTheDialerWouldRefuse(t *testing.T) {
	h := newHarness(t, func(_ *Config, d *Deps) {
		d.Subscriptions = subscriptions.NewService(newFakeStore(), subscriptions.Policy{Catalogue: testCatalogue,
			Egress: egress.Policy{AllowHTTP: true, AllowPorts: []int{9000},
				AllowCIDRs: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}}, nil)
	})
	check := func(p Problem) {
		t.Helper()
		if len(p.Errors) != 1 || p.Errors[0].Field != "url" {
			t.Fatalf("errors %+v, want one naming url", p.Errors)
		}
		msg := p.Errors[0].Message
		if !strings.Contains(msg, "8080") || !strings.Contains(msg, "allowed: 80, 443, 9000") {
			t.Errorf("message %q, want the refused port and the allowed ones", msg)
		}
	}
	check(problem(t, h.do("POST", "/v1/subscriptions", adminToken,
		`{"account_id":"acct_acme","url":"http://127.0.0.1:8080/x","events":["claim.created"]}`), http.StatusUnprocessableEntity))

	ok := h.do("POST", "/v1/subscriptions", adminToken,
		`{"account_id":"acct_acme","url":"http://127.0.0.1:9000/x","events":["claim.created"]}`)
	if ok.Code != http.StatusCreated {
		t.Fatalf("allowed port: status %d, body %s", ok.Code, ok.Body.String())
	}
	id := decode[created](t, ok).ID
	check(problem(t, h.do("PATCH", "/v1/subscriptions/"+id, adminToken, `{"url":"http://localhost:8080/x"}`),
		http.StatusUnprocessableEntity))
}
