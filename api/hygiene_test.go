package api

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/claimable/eventrouter/config"
	"github.com/claimable/eventrouter/subscriptions"
)

type fakeTestSender struct{}

func (fakeTestSender) SendTest(context.Context, *subscriptions.Subscription, string) (string, error) {
	return "evt_test_1", nil
}

// TestWritesAreRateLimitedPerToken: past its burst a token's writes get 429
// problem+json with Retry-After; another token and the same token's reads are not
// held back, and the bucket refills with time.
func TestWritesAreRateLimitedPerToken(t *testing.T) {
	h := newHarness(t, func(c *Config, _ *Deps) { c.WriteRate, c.WriteBurst = 0.5, 2 })
	now := time.Now()
	h.srv.limits.now = func() time.Time { return now }
	body := `{"url":"https://hooks.example.com/x","events":["claim.created"]}`
	for i := range 2 {
		if rec := h.do("POST", "/v1/subscriptions", acmeToken, body); rec.Code != http.StatusCreated {
			t.Fatalf("write %d within the burst: %d %s", i+1, rec.Code, rec.Body.String())
		}
	}
	rec := h.do("POST", "/v1/subscriptions", acmeToken, body)
	p := problem(t, rec, http.StatusTooManyRequests)
	if p.Type != problemTypeBase+kindRateLimited {
		t.Fatalf("problem type %q", p.Type)
	}
	if ra, err := strconv.Atoi(rec.Header().Get("Retry-After")); err != nil || ra != 2 {
		t.Fatalf("Retry-After %q, want 2 (one write per 2 s)", rec.Header().Get("Retry-After"))
	}
	if n := len(h.store.subs); n != 2 {
		t.Fatalf("%d subscriptions stored; the refused write must change nothing", n)
	}
	if rec := h.do("GET", "/v1/subscriptions", acmeToken, ""); rec.Code != http.StatusOK {
		t.Fatalf("a read by the limited token: %d", rec.Code)
	}
	if rec := h.do("POST", "/v1/subscriptions", otherToken, body); rec.Code != http.StatusCreated {
		t.Fatalf("another token's write: %d", rec.Code)
	}
	now = now.Add(2 * time.Second)
	if rec := h.do("POST", "/v1/subscriptions", acmeToken, body); rec.Code != http.StatusCreated {
		t.Fatalf("after Retry-After: %d %s", rec.Code, rec.Body.String())
	}
}

// TestTestEventsHaveTheirOwnStricterLimit: POST …/test draws from its own bucket, so a
// burst of test events (each a real request to the customer) cannot exhaust writes,
// nor the reverse.
func TestTestEventsHaveTheirOwnStricterLimit(t *testing.T) {
	h := newHarness(t, func(c *Config, d *Deps) {
		c.WriteRate, c.WriteBurst, c.TestRate, c.TestBurst = 100, 100, 0.1, 1
		d.TestSender = fakeTestSender{}
	})
	sub := h.create(acmeToken, "")
	if rec := h.do("POST", "/v1/subscriptions/"+sub.ID+"/test", acmeToken, ""); rec.Code != http.StatusAccepted {
		t.Fatalf("first test event: %d %s", rec.Code, rec.Body.String())
	}
	rec := h.do("POST", "/v1/subscriptions/"+sub.ID+"/test", acmeToken, "")
	problem(t, rec, http.StatusTooManyRequests)
	if ra, _ := strconv.Atoi(rec.Header().Get("Retry-After")); ra < 9 || ra > 10 {
		t.Fatalf("Retry-After %q, want about 10 s", rec.Header().Get("Retry-After"))
	}
	if rec := h.do("PATCH", "/v1/subscriptions/"+sub.ID, acmeToken, `{"description":"still writable"}`); rec.Code != http.StatusOK {
		t.Fatalf("a write after the test limit: %d", rec.Code)
	}
}

// TestDefaultConfigurationLimitsWritesAndTests: what a user gets without configuring
// anything is limited.
func TestDefaultConfigurationLimitsWritesAndTests(t *testing.T) {
	d := config.Default()
	c := ConfigFrom(d.API, d.Events, d.Ops)
	if c.WriteRate <= 0 || c.WriteBurst < 1 || c.TestRate <= 0 || c.TestBurst < 1 || c.TestRate > c.WriteRate {
		t.Fatalf("default limits: writes %v/s burst %d, tests %v/s burst %d", c.WriteRate, c.WriteBurst, c.TestRate, c.TestBurst)
	}
}

// TestAccessLogNamesTokenAndClientNeverTheToken: each request's log line says which
// configured token made it and from where, and never contains the token.
func TestAccessLogNamesTokenAndClientNeverTheToken(t *testing.T) {
	h := newHarness(t)
	core, logs := observer.New(zapcore.InfoLevel)
	h.srv.log = zap.New(core)
	h.do("GET", "/v1/subscriptions", acmeToken, "")
	h.do("GET", "/v1/subscriptions", adminToken, "")
	h.do("GET", "/v1/subscriptions", "wrong-token", "")
	lines := logs.FilterMessage("api request").All()
	if len(lines) != 3 {
		t.Fatalf("%d access log lines, want 3", len(lines))
	}
	want := []struct {
		principal string
		status    int64
	}{{"account_tokens[0]", 200}, {"admin_tokens[0]", 200}, {"", 401}}
	for i, l := range lines {
		f := l.ContextMap()
		if f["principal"] != want[i].principal || f["status"] != want[i].status || f["client"] != "192.0.2.1:1234" {
			t.Errorf("line %d: %v, want principal %q status %d client 192.0.2.1:1234", i, f, want[i].principal, want[i].status)
		}
		for k, v := range f {
			if s, ok := v.(string); ok && (strings.Contains(s, acmeToken) || strings.Contains(s, adminToken) || strings.Contains(s, "wrong-token")) {
				t.Errorf("line %d: field %s carries a token", i, k)
			}
		}
	}
}

// TestOversizedHeadersAre431ProblemJSON: over a real connection, a request whose headers
// exceed MaxHeaderBytes gets a 431 in problem+json (Go's server alone would answer in
// plain text), and ordinary requests still work.
func TestOversizedHeadersAre431ProblemJSON(t *testing.T) {
	h := newHarness(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	base := "http://" + ln.Addr().String()
	get := func(extra string) *http.Response {
		req, _ := http.NewRequest("GET", base+"/v1/event-types", nil)
		req.Header.Set("Authorization", "Bearer "+adminToken)
		if extra != "" {
			req.Header.Set("X-Big", extra)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}
	if resp := get(strings.Repeat("a", 1000)); resp.StatusCode != http.StatusOK {
		t.Fatalf("ordinary request: %d", resp.StatusCode)
	}
	resp := get(strings.Repeat("a", MaxHeaderBytes+1))
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge || resp.Header.Get("Content-Type") != problemMediaType {
		t.Fatalf("oversized headers: %d %s, want 431 %s", resp.StatusCode, resp.Header.Get("Content-Type"), problemMediaType)
	}
	var p Problem
	if err := jsonDecode(resp, &p); err != nil || p.Type != problemTypeBase+kindHeadersTooLarge || p.Status != 431 {
		t.Fatalf("problem %+v (%v)", p, err)
	}
}

func jsonDecode(resp *http.Response, v any) error { return json.NewDecoder(resp.Body).Decode(v) }
