package subscriptions

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/claimable/eventrouter/egress"
)

var testCatalogue = []string{"claim.created", "claim.closed", "claim.reopened", "contact.created"}

func validSub() *Subscription {
	return &Subscription{
		ID:        "sub_01",
		AccountID: "acct_1",
		URL:       "https://hooks.example.com/in",
		Events:    []string{"claim.created", "claim.*", "*"},
		Filter:    `source == "api"`,
		Enabled:   true,
		Secrets:   []Secret{{Value: NewSecret()}},
		Headers:   map[string]string{"X-Team": "claims", "Authorization": "Bearer abc"},
	}
}

func problems(t *testing.T, err error) []FieldError {
	t.Helper()
	if err == nil {
		return nil
	}
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("error %v is not a *ValidationError", err)
	}
	return ve.Problems
}

func TestValidateAcceptsValidSubscription(t *testing.T) {
	p := Policy{Catalogue: testCatalogue}
	if err := p.Validate(validSub()); err != nil {
		t.Fatalf("valid subscription refused: %v", err)
	}
}

func TestValidateReportsEachProblemWithItsField(t *testing.T) {
	long := strings.Repeat("x", 1025)
	cases := []struct {
		name   string
		policy Policy
		mutate func(s *Subscription)
		field  string
		msg    string // substring of the message
	}{
		{"missing account", Policy{}, func(s *Subscription) { s.AccountID = "" }, "account_id", "required"},
		{"account with space", Policy{}, func(s *Subscription) { s.AccountID = "a b" }, "account_id", "spaces"},
		{"missing url", Policy{}, func(s *Subscription) { s.URL = "" }, "url", "required"},
		{"unparsable url", Policy{}, func(s *Subscription) { s.URL = "https://exa mple.com/%zz" }, "url", "parse"},
		{"relative url", Policy{}, func(s *Subscription) { s.URL = "/hooks" }, "url", "absolute"},
		{"http refused", Policy{}, func(s *Subscription) { s.URL = "http://example.com/" }, "url", "https"},
		{"ftp refused", Policy{Egress: egress.Policy{AllowHTTP: true}}, func(s *Subscription) { s.URL = "ftp://example.com/" }, "url", "scheme"},
		{"userinfo", Policy{}, func(s *Subscription) { s.URL = "https://u:p@example.com/" }, "url", "user information"},
		{"fragment", Policy{}, func(s *Subscription) { s.URL = "https://example.com/#x" }, "url", "fragment"},
		{"no host", Policy{}, func(s *Subscription) { s.URL = "https:///path" }, "url", "no host"},
		{"port not listed", Policy{Egress: egress.Policy{AllowPorts: []int{8443}}}, func(s *Subscription) { s.URL = "https://example.com:8080/" }, "url", "port not allowed: 8080 (allowed: 80, 443, 8443;"},
		{"dev mode does not open every port", Policy{Egress: egress.Policy{AllowHTTP: true}}, func(s *Subscription) { s.URL = "http://example.com:8081/" }, "url", "port not allowed: 8081 (allowed: 80, 443;"},
		{"loopback ip", Policy{}, func(s *Subscription) { s.URL = "https://127.0.0.1/" }, "url", "private"},
		{"private ip", Policy{}, func(s *Subscription) { s.URL = "https://10.1.2.3/" }, "url", "private"},
		{"rfc1918 192", Policy{}, func(s *Subscription) { s.URL = "https://192.168.1.1/" }, "url", "private"},
		{"metadata ip", Policy{}, func(s *Subscription) { s.URL = "https://169.254.169.254/latest" }, "url", "private"},
		{"cgnat", Policy{}, func(s *Subscription) { s.URL = "https://100.64.0.1/" }, "url", "private"},
		{"unspecified", Policy{}, func(s *Subscription) { s.URL = "https://0.0.0.0/" }, "url", "private"},
		{"multicast", Policy{}, func(s *Subscription) { s.URL = "https://224.0.0.1/" }, "url", "private"},
		{"ipv6 loopback", Policy{}, func(s *Subscription) { s.URL = "https://[::1]/" }, "url", "private"},
		{"ipv6 ula", Policy{}, func(s *Subscription) { s.URL = "https://[fd00::1]/" }, "url", "private"},
		{"ipv6 link-local", Policy{}, func(s *Subscription) { s.URL = "https://[fe80::1]/" }, "url", "private"},
		{"ipv4-mapped loopback", Policy{}, func(s *Subscription) { s.URL = "https://[::ffff:127.0.0.1]/" }, "url", "private"},
		{"localhost", Policy{}, func(s *Subscription) { s.URL = "https://localhost/" }, "url", "local"},
		{"sub.localhost", Policy{}, func(s *Subscription) { s.URL = "https://app.localhost/" }, "url", "local"},
		{"metadata name", Policy{}, func(s *Subscription) { s.URL = "https://metadata.google.internal/" }, "url", "internal"},
		{"decimal ip", Policy{}, func(s *Subscription) { s.URL = "https://2130706433/" }, "url", "non-canonical IP"},
		{"hex ip", Policy{}, func(s *Subscription) { s.URL = "https://0x7f.1/" }, "url", "non-canonical IP"},
		{"no events", Policy{}, func(s *Subscription) { s.Events = nil }, "events", "at least one"},
		{"unknown event", Policy{Catalogue: testCatalogue}, func(s *Subscription) { s.Events = []string{"claim.created", "claim.deleted"} }, "events[1]", "unknown event"},
		{"bad pattern", Policy{Catalogue: testCatalogue}, func(s *Subscription) { s.Events = []string{"claim.cr*"} }, "events[0]", "not an event name"},
		{"unknown object wildcard", Policy{Catalogue: testCatalogue}, func(s *Subscription) { s.Events = []string{"invoice.*"} }, "events[0]", "object"},
		{"duplicate event", Policy{}, func(s *Subscription) { s.Events = []string{"*", "*"} }, "events[1]", "duplicate"},
		{"bad filter", Policy{}, func(s *Subscription) { s.Filter = `source = "api"` }, "filter", "col 8"},
		{"header not a token", Policy{}, func(s *Subscription) { s.Headers = map[string]string{"X Foo": "1"} }, "headers.X Foo", "not a valid header name"},
		{"reserved webhook header", Policy{}, func(s *Subscription) { s.Headers = map[string]string{"Webhook-Signature": "v1,x"} }, "headers.Webhook-Signature", "cannot be overridden"},
		{"reserved content-type", Policy{}, func(s *Subscription) { s.Headers = map[string]string{"content-type": "text/plain"} }, "headers.content-type", "cannot be overridden"},
		{"reserved host", Policy{}, func(s *Subscription) { s.Headers = map[string]string{"HOST": "evil"} }, "headers.HOST", "cannot be overridden"},
		{"header value CRLF", Policy{}, func(s *Subscription) { s.Headers = map[string]string{"X-Foo": "a\r\nX-Evil: 1"} }, "headers.X-Foo", "control character"},
		{"header value too long", Policy{}, func(s *Subscription) { s.Headers = map[string]string{"X-Foo": long} }, "headers.X-Foo", "longer than"},
		{"too many headers", Policy{}, func(s *Subscription) {
			s.Headers = map[string]string{}
			for i := 0; i < MaxHeaders+1; i++ {
				s.Headers["X-H"+strings.Repeat("a", i)] = "v"
			}
		}, "headers", "at most"},
		{"negative rate", Policy{}, func(s *Subscription) { s.RateLimit = -1 }, "rate_limit_per_sec", "between"},
		{"huge rate", Policy{}, func(s *Subscription) { s.RateLimit = MaxRateLimit + 1 }, "rate_limit_per_sec", "between"},
		{"max in flight too big", Policy{}, func(s *Subscription) { s.MaxInFlight = 1001 }, "max_in_flight", "between"},
		{"max in flight negative", Policy{}, func(s *Subscription) { s.MaxInFlight = -1 }, "max_in_flight", "between"},
		{"description too long", Policy{}, func(s *Subscription) { s.Description = long }, "description", "at most 1024"},
		{"secret without prefix", Policy{}, func(s *Subscription) { s.Secrets = []Secret{{Value: "abc"}} }, "secrets[0]", "must start with"},
		{"secret not base64", Policy{}, func(s *Subscription) { s.Secrets = []Secret{{Value: "whsec_!!!"}} }, "secrets[0]", "base64"},
		{"secret too short", Policy{}, func(s *Subscription) { s.Secrets = []Secret{{Value: "whsec_c2hvcnQ="}} }, "secrets[0]", "decodes to 5 bytes"},
		{"previous secret without expiry", Policy{}, func(s *Subscription) {
			s.Secrets = []Secret{{Value: NewSecret()}, {Value: NewSecret()}}
		}, "secrets[1]", "expiry"},
		{"current secret expiring", Policy{}, func(s *Subscription) {
			s.Secrets = []Secret{{Value: NewSecret(), ExpiresAt: time.Now()}}
		}, "secrets[0]", "must not expire"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := validSub()
			tc.mutate(s)
			ps := problems(t, tc.policy.Validate(s))
			if len(ps) != 1 {
				t.Fatalf("want exactly one problem on %s, got %v", tc.field, ps)
			}
			if ps[0].Field != tc.field || !strings.Contains(ps[0].Message, tc.msg) {
				t.Fatalf("got %s: %q; want %s containing %q", ps[0].Field, ps[0].Message, tc.field, tc.msg)
			}
			for _, sec := range s.Secrets {
				if strings.Contains(ps[0].Message, sec.Value) {
					t.Fatalf("message leaks the secret")
				}
			}
		})
	}
}

func TestValidateAllowances(t *testing.T) {
	cases := []struct {
		name   string
		policy Policy
		url    string
	}{
		{"http in dev mode with a listed port", Policy{Egress: egress.Policy{AllowHTTP: true, AllowPorts: []int{8081}}}, "http://example.com:8081/x"},
		{"listed port", Policy{Egress: egress.Policy{AllowPorts: []int{8443}}}, "https://example.com:8443/x"},
		{"port 443 explicit", Policy{}, "https://example.com:443/x"},
		{"allowed cidr", Policy{Egress: egress.Policy{AllowCIDRs: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}}, "https://10.1.2.3/x"},
		{"localhost when loopback allowed", Policy{Egress: egress.Policy{AllowHTTP: true, AllowPorts: []int{9000}, AllowCIDRs: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}}}, "http://localhost:9000/x"},
		{"public ipv4", Policy{}, "https://93.184.216.34/x"},
		{"public ipv6", Policy{}, "https://[2606:2800:220:1:248:1893:25c8:1946]/x"},
		{"trailing dot name", Policy{}, "https://example.com./x"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := validSub()
			s.URL = tc.url
			if err := tc.policy.Validate(s); err != nil {
				t.Fatalf("refused: %v", err)
			}
		})
	}
}

func TestValidateReportsSeveralProblemsAtOnce(t *testing.T) {
	s := validSub()
	s.AccountID = ""
	s.URL = "http://127.0.0.1/"
	s.Events = []string{"claim.created", "nope"}
	s.Filter = "source =="
	s.MaxInFlight = 5000
	ps := problems(t, Policy{Catalogue: testCatalogue}.Validate(s))
	want := []string{"account_id", "url", "events[1]", "filter", "max_in_flight"}
	if len(ps) != len(want) {
		t.Fatalf("got %d problems %v, want fields %v", len(ps), ps, want)
	}
	for i, f := range want {
		if ps[i].Field != f {
			t.Errorf("problem %d names %q, want %q", i, ps[i].Field, f)
		}
	}
}
