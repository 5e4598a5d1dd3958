package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"go.uber.org/zap"

	"github.com/claimable/eventrouter/events"
	"github.com/claimable/eventrouter/subscriptions"
)

const (
	adminToken = "admin-secret-token"
	acmeToken  = "acme-token"
	otherToken = "other-token"
)

var testCatalogue = []string{"claim.created", "claim.closed", "contact.created"}

type harness struct {
	t     testing.TB
	srv   *Server
	store *fakeStore
	reg   *prometheus.Registry
}

func newHarness(t testing.TB, mutate ...func(*Config, *Deps)) *harness {
	t.Helper()
	store := newFakeStore()
	policy := subscriptions.Policy{
		Catalogue:        testCatalogue,
		MaxPerAccount:    50,
		RotationGrace:    24 * time.Hour,
		RotationGraceMax: 7 * 24 * time.Hour,
	}
	reg := prometheus.NewRegistry()
	cfg := Config{
		AdminTokens:   []string{adminToken},
		AccountTokens: []string{"acct_acme=" + acmeToken, "acct_other=" + otherToken},
		MaxBodyBytes:  2048,
		EventTypes:    testCatalogue,
	}
	deps := Deps{Subscriptions: subscriptions.NewService(store, policy, nil), Registerer: reg}
	for _, m := range mutate {
		m(&cfg, &deps)
	}
	srv, err := New(cfg, deps, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	return &harness{t: t, srv: srv, store: store, reg: reg}
}

// do sends one request; body "" sends none. JSON bodies get Content-Type application/json.
func (h *harness) do(method, path, token, body string) *httptest.ResponseRecorder {
	h.t.Helper()
	var req *http.Request
	if body == "" {
		req = httptest.NewRequest(method, path, nil)
	} else {
		req = httptest.NewRequest(method, path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	h.srv.Handler().ServeHTTP(rec, req)
	return rec
}

func decode[T any](t testing.TB, rec *httptest.ResponseRecorder) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
		t.Fatalf("decode %T from %q: %v", v, rec.Body.String(), err)
	}
	return v
}

// problem asserts rec is a problem+json with status and returns it.
func problem(t *testing.T, rec *httptest.ResponseRecorder, status int) Problem {
	t.Helper()
	if rec.Code != status {
		t.Fatalf("status %d, want %d; body %s", rec.Code, status, rec.Body.String())
	}
	if ct := rec.Header().Get("Content-Type"); ct != problemMediaType {
		t.Fatalf("Content-Type %q, want %q", ct, problemMediaType)
	}
	p := decode[Problem](t, rec)
	if p.Status != status || p.Type == "" || p.Title == "" {
		t.Fatalf("problem %+v", p)
	}
	return p
}

func fields(p Problem) []string {
	var out []string
	for _, e := range p.Errors {
		out = append(out, e.Field)
	}
	return out
}

type created struct {
	ID             string   `json:"id"`
	AccountID      string   `json:"account_id"`
	URL            string   `json:"url"`
	Events         []string `json:"events"`
	Enabled        bool     `json:"enabled"`
	DisabledReason string   `json:"disabled_reason"`
	Secret         string   `json:"secret"`
	Description    string   `json:"description"`
}

func (h *harness) create(token, account string) created {
	h.t.Helper()
	body := `{"url":"https://hooks.example.com/x","events":["claim.created"]}`
	if account != "" {
		body = fmt.Sprintf(`{"account_id":%q,"url":"https://hooks.example.com/x","events":["claim.created"]}`, account)
	}
	rec := h.do("POST", "/v1/subscriptions", token, body)
	if rec.Code != http.StatusCreated {
		h.t.Fatalf("create: %d %s", rec.Code, rec.Body.String())
	}
	return decode[created](h.t, rec)
}

func TestCreateReturnsSubscriptionAndSecretOnce(t *testing.T) {
	h := newHarness(t)
	rec := h.do("POST", "/v1/subscriptions", adminToken,
		`{"account_id":"acct_acme","url":"https://hooks.example.com/x","events":["claim.created"],"description":"d"}`)
	if rec.Code != http.StatusCreated {
		t.Fatalf("status %d: %s", rec.Code, rec.Body.String())
	}
	c := decode[created](t, rec)
	if !strings.HasPrefix(c.ID, "sub_") || c.AccountID != "acct_acme" || !c.Enabled || c.Description != "d" {
		t.Fatalf("created %+v", c)
	}
	if !strings.HasPrefix(c.Secret, subscriptions.SecretPrefix) {
		t.Fatalf("secret %q", c.Secret)
	}
	if loc := rec.Header().Get("Location"); loc != "/v1/subscriptions/"+c.ID {
		t.Fatalf("Location %q", loc)
	}
	get := h.do("GET", "/v1/subscriptions/"+c.ID, adminToken, "")
	if get.Code != 200 || strings.Contains(get.Body.String(), c.Secret) || strings.Contains(get.Body.String(), "secret") {
		t.Fatalf("GET shows the secret or failed: %d %s", get.Code, get.Body.String())
	}
}

func TestAccountTokenCreatesInItsOwnAccountOnly(t *testing.T) {
	h := newHarness(t)
	if c := h.create(acmeToken, ""); c.AccountID != "acct_acme" {
		t.Fatalf("defaulted account %q", c.AccountID)
	}
	rec := h.do("POST", "/v1/subscriptions", acmeToken,
		`{"account_id":"acct_other","url":"https://hooks.example.com/x","events":["claim.created"]}`)
	p := problem(t, rec, http.StatusForbidden)
	if !slices.Equal(fields(p), []string{"account_id"}) {
		t.Fatalf("fields %v", fields(p))
	}
	if n := len(h.store.subs); n != 1 {
		t.Fatalf("store holds %d subscriptions, want 1", n)
	}
}

func TestMissingOrWrongTokenIs401WithChallenge(t *testing.T) {
	h := newHarness(t)
	for _, auth := range []string{"", "Bearer nope", "Basic " + adminToken, "Bearer "} {
		req := httptest.NewRequest("GET", "/v1/subscriptions", nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		rec := httptest.NewRecorder()
		h.srv.Handler().ServeHTTP(rec, req)
		problem(t, rec, http.StatusUnauthorized)
		if !strings.HasPrefix(rec.Header().Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("auth %q: WWW-Authenticate %q", auth, rec.Header().Get("WWW-Authenticate"))
		}
	}
}

func TestCrossAccountAccessIs404(t *testing.T) {
	h := newHarness(t)
	theirs := h.create(otherToken, "")
	for _, c := range []struct{ method, path, body string }{
		{"GET", "/v1/subscriptions/" + theirs.ID, ""},
		{"PATCH", "/v1/subscriptions/" + theirs.ID, `{"enabled":false}`},
		{"DELETE", "/v1/subscriptions/" + theirs.ID, ""},
		{"GET", "/v1/subscriptions/" + theirs.ID + "/secret", ""},
		{"POST", "/v1/subscriptions/" + theirs.ID + "/secret/rotate", ""},
	} {
		rec := h.do(c.method, c.path, acmeToken, c.body)
		problem(t, rec, http.StatusNotFound)
		missing := h.do(c.method, "/v1/subscriptions/sub_missing"+strings.TrimPrefix(c.path, "/v1/subscriptions/"+theirs.ID), acmeToken, c.body)
		if missing.Body.String() != rec.Body.String() {
			t.Errorf("%s %s: another account's answer differs from a missing one's:\n%s\n%s", c.method, c.path, rec.Body, missing.Body)
		}
	}
	stored, _ := h.store.Get(t.Context(), theirs.ID)
	if !stored.Enabled || len(stored.Secrets) != 1 {
		t.Fatal("a cross-account request changed the subscription")
	}
	if rec := h.do("GET", "/v1/subscriptions/"+theirs.ID, adminToken, ""); rec.Code != 200 {
		t.Fatalf("admin GET: %d", rec.Code)
	}
}

func TestListIsScopedAndPaginated(t *testing.T) {
	h := newHarness(t)
	var acme []string
	for range 5 {
		acme = append(acme, h.create(acmeToken, "").ID)
	}
	h.create(otherToken, "")
	slices.Sort(acme)

	var seen []string
	path := "/v1/subscriptions?limit=2"
	for page := 0; ; page++ {
		if page > 5 {
			t.Fatal("pagination does not end")
		}
		rec := h.do("GET", path, acmeToken, "")
		if rec.Code != 200 {
			t.Fatalf("list: %d %s", rec.Code, rec.Body.String())
		}
		body := decode[struct {
			Data []created `json:"data"`
			Next *string   `json:"next"`
		}](t, rec)
		for _, s := range body.Data {
			if s.AccountID != "acct_acme" {
				t.Fatalf("account token listed %s of %s", s.ID, s.AccountID)
			}
			seen = append(seen, s.ID)
		}
		if body.Next == nil {
			break
		}
		path = "/v1/subscriptions?limit=2&after=" + *body.Next
	}
	if !slices.Equal(seen, acme) {
		t.Fatalf("paged ids %v, want %v", seen, acme)
	}

	rec := h.do("GET", "/v1/subscriptions?account_id=acct_other", adminToken, "")
	if n := len(decode[struct{ Data []created }](t, rec).Data); n != 1 {
		t.Fatalf("admin filtered list: %d subscriptions, want 1", n)
	}
	if n := len(decode[struct{ Data []created }](t, h.do("GET", "/v1/subscriptions", adminToken, "")).Data); n != 6 {
		t.Fatalf("admin list: %d, want 6", n)
	}
	problem(t, h.do("GET", "/v1/subscriptions?account_id=acct_other", acmeToken, ""), http.StatusForbidden)
	for _, bad := range []string{"0", "1001", "x"} {
		p := problem(t, h.do("GET", "/v1/subscriptions?limit="+bad, adminToken, ""), http.StatusBadRequest)
		if !slices.Equal(fields(p), []string{"limit"}) {
			t.Errorf("limit=%s: fields %v", bad, fields(p))
		}
	}
}

func TestValidationErrorsNameFields(t *testing.T) {
	h := newHarness(t)
	cases := []struct{ body, field string }{
		{`{"account_id":"acct_acme","events":["claim.created"]}`, "url"},
		{`{"account_id":"acct_acme","url":"https://hooks.example.com/x"}`, "events"},
		{`{"url":"https://hooks.example.com/x","events":["claim.created"]}`, "account_id"},
		{`{"account_id":"acct_acme","url":"https://hooks.example.com/x","events":["claim.created"],"secret":"not-a-secret"}`, "secret"},
	}
	for _, c := range cases {
		p := problem(t, h.do("POST", "/v1/subscriptions", adminToken, c.body), http.StatusUnprocessableEntity)
		if !slices.Contains(fields(p), c.field) {
			t.Errorf("body %s: fields %v, want %s", c.body, fields(p), c.field)
		}
	}
	sub := h.create(adminToken, "acct_acme")
	p := problem(t, h.do("PATCH", "/v1/subscriptions/"+sub.ID, adminToken, `{"events":[]}`), http.StatusUnprocessableEntity)
	if !slices.Equal(fields(p), []string{"events"}) {
		t.Fatalf("patch fields %v", fields(p))
	}
}

func TestMalformedBodiesAreRefusedPrecisely(t *testing.T) {
	h := newHarness(t)
	cases := []struct {
		name, body string
		status     int
		field      string
	}{
		{"unknown field", `{"url":"https://x.example.com","events":["claim.created"],"colour":"red"}`, 400, "colour"},
		{"wrong type", `{"url":"https://x.example.com","events":"claim.created"}`, 400, "events"},
		{"trailing garbage", `{"url":"https://x.example.com","events":["claim.created"]} {}`, 400, ""},
		{"syntax", `{"url":`, 400, ""},
		{"oversized", `{"description":"` + strings.Repeat("a", 4096) + `"}`, 413, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := problem(t, h.do("POST", "/v1/subscriptions", acmeToken, c.body), c.status)
			if c.field != "" && !slices.Equal(fields(p), []string{c.field}) {
				t.Fatalf("fields %v, want %s", fields(p), c.field)
			}
		})
	}
	req := httptest.NewRequest("POST", "/v1/subscriptions", strings.NewReader(`{}`))
	req.Header.Set("Authorization", "Bearer "+acmeToken)
	req.Header.Set("Content-Type", "text/plain")
	rec := httptest.NewRecorder()
	h.srv.Handler().ServeHTTP(rec, req)
	problem(t, rec, http.StatusUnsupportedMediaType)
	problem(t, h.do("POST", "/v1/subscriptions", acmeToken, ""), http.StatusBadRequest)
	if len(h.store.subs) != 0 {
		t.Fatal("a refused body created a subscription")
	}
}

func TestPatchDisablesAndReenables(t *testing.T) {
	h := newHarness(t)
	sub := h.create(acmeToken, "")
	rec := h.do("PATCH", "/v1/subscriptions/"+sub.ID, acmeToken, `{"enabled":false,"description":"paused"}`)
	got := decode[created](t, rec)
	if rec.Code != 200 || got.Enabled || got.Description != "paused" || got.URL != sub.URL {
		t.Fatalf("disable: %d %+v", rec.Code, got)
	}
	if err := h.srv.deps.Subscriptions.Disable(t.Context(), sub.ID, "endpoint_gone"); err != nil {
		t.Fatal(err)
	}
	rec = h.do("PATCH", "/v1/subscriptions/"+sub.ID, acmeToken, `{"enabled":true}`)
	got = decode[created](t, rec)
	if rec.Code != 200 || !got.Enabled || got.DisabledReason != "" {
		t.Fatalf("enable: %d %+v", rec.Code, got)
	}
	problem(t, h.do("PATCH", "/v1/subscriptions/"+sub.ID, acmeToken, `{"account_id":"acct_other"}`), http.StatusBadRequest)
}

func TestDeleteRemoves(t *testing.T) {
	h := newHarness(t)
	sub := h.create(acmeToken, "")
	if rec := h.do("DELETE", "/v1/subscriptions/"+sub.ID, acmeToken, ""); rec.Code != http.StatusNoContent {
		t.Fatalf("delete: %d %s", rec.Code, rec.Body.String())
	}
	problem(t, h.do("GET", "/v1/subscriptions/"+sub.ID, acmeToken, ""), http.StatusNotFound)
	problem(t, h.do("DELETE", "/v1/subscriptions/"+sub.ID, acmeToken, ""), http.StatusNotFound)
}

type secretsBody struct {
	Current  subscriptions.Secret   `json:"current"`
	Previous []subscriptions.Secret `json:"previous"`
}

func TestRotateThenGetSecretShowsBothWithExpiry(t *testing.T) {
	h := newHarness(t)
	sub := h.create(acmeToken, "")
	before := decode[secretsBody](t, h.do("GET", "/v1/subscriptions/"+sub.ID+"/secret", acmeToken, ""))
	if before.Current.Value != sub.Secret || len(before.Previous) != 0 {
		t.Fatalf("before rotation: %+v", before)
	}
	rec := h.do("POST", "/v1/subscriptions/"+sub.ID+"/secret/rotate", acmeToken, `{"grace":"2h"}`)
	if rec.Code != 200 || rec.Header().Get("Cache-Control") != "no-store" {
		t.Fatalf("rotate: %d %s", rec.Code, rec.Body.String())
	}
	after := decode[secretsBody](t, h.do("GET", "/v1/subscriptions/"+sub.ID+"/secret", acmeToken, ""))
	if after.Current.Value == sub.Secret || len(after.Previous) != 1 || after.Previous[0].Value != sub.Secret {
		t.Fatalf("after rotation: %+v", after)
	}
	if left := time.Until(after.Previous[0].ExpiresAt); left < time.Hour || left > 2*time.Hour {
		t.Fatalf("previous expires in %v, want about 2h", left)
	}
	// No body: the default grace.
	if rec := h.do("POST", "/v1/subscriptions/"+sub.ID+"/secret/rotate", acmeToken, ""); rec.Code != 200 {
		t.Fatalf("rotate without body: %d %s", rec.Code, rec.Body.String())
	}
	for _, bad := range []string{`{"grace":"8d"}`, `{"grace":"200h"}`, `{"grace":"-1h"}`} {
		p := problem(t, h.do("POST", "/v1/subscriptions/"+sub.ID+"/secret/rotate", acmeToken, bad), http.StatusUnprocessableEntity)
		if !slices.Equal(fields(p), []string{"grace"}) {
			t.Errorf("%s: fields %v", bad, fields(p))
		}
	}
}

func TestStoreDownIs503WithRetryAfter(t *testing.T) {
	h := newHarness(t)
	sub := h.create(acmeToken, "")
	h.store.failWith = fmt.Errorf("dial tcp: connection refused: %w", subscriptions.ErrUnavailable)
	for _, c := range []struct{ method, path, body string }{
		{"GET", "/v1/subscriptions", ""},
		{"GET", "/v1/subscriptions/" + sub.ID, ""},
		{"POST", "/v1/subscriptions", `{"url":"https://hooks.example.com/x","events":["claim.created"]}`},
	} {
		rec := h.do(c.method, c.path, acmeToken, c.body)
		p := problem(t, rec, http.StatusServiceUnavailable)
		if rec.Header().Get("Retry-After") == "" || !strings.Contains(p.Detail, "unreachable") {
			t.Errorf("%s %s: Retry-After %q detail %q", c.method, c.path, rec.Header().Get("Retry-After"), p.Detail)
		}
		if strings.Contains(rec.Body.String(), "connection refused") {
			t.Errorf("%s %s leaks the internal error: %s", c.method, c.path, rec.Body)
		}
	}
}

func TestEventTypesListsCatalogue(t *testing.T) {
	h := newHarness(t)
	rec := h.do("GET", "/v1/event-types", acmeToken, "")
	body := decode[struct {
		Data []eventType `json:"data"`
	}](t, rec)
	var names, ops []string
	for _, e := range body.Data {
		switch e.Kind {
		case kindDomain:
			names = append(names, e.Name)
		case kindOperational:
			ops = append(ops, e.Name)
			if e.Description == "" {
				t.Errorf("%s has no description", e.Name)
			}
		default:
			t.Errorf("%s: kind %q", e.Name, e.Kind)
		}
	}
	if rec.Code != 200 || !slices.Equal(names, testCatalogue) || body.Data[0].Description == "" {
		t.Fatalf("event types: %d %+v", rec.Code, body)
	}
	if !slices.Equal(ops, events.OperationalTypes()) {
		t.Fatalf("operational types %v, want %v after the catalogue", ops, events.OperationalTypes())
	}
}

// A subscription can name operational types; an unknown name is refused naming the field.
func TestSubscriptionAcceptsOperationalTypes(t *testing.T) {
	h := newHarness(t)
	rec := h.do("POST", "/v1/subscriptions", acmeToken, `{"url":"https://hooks.example.com/ops","events":["endpoint.failing","subscription.*"]}`)
	if rec.Code != http.StatusCreated {
		t.Fatalf("create with operational types: %d %s", rec.Code, rec.Body)
	}
	rec = h.do("POST", "/v1/subscriptions", acmeToken, `{"url":"https://hooks.example.com/ops","events":["claim.created","endpoint.flapping"]}`)
	if rec.Code != http.StatusUnprocessableEntity || !strings.Contains(rec.Body.String(), `"events[1]"`) ||
		!strings.Contains(rec.Body.String(), "endpoint.flapping") {
		t.Fatalf("unknown operational name: %d %s, want 422 naming events[1]", rec.Code, rec.Body)
	}
}

func TestReservedDeliveryRoutesAnswer501WithoutTheirDependency(t *testing.T) {
	h := newHarness(t)
	sub := h.create(acmeToken, "")
	for _, c := range []struct{ method, path string }{
		{"POST", "/v1/subscriptions/" + sub.ID + "/test"},
		{"GET", "/v1/subscriptions/" + sub.ID + "/attempts"},
		{"GET", "/v1/deliveries/dlv_1"},
		{"POST", "/v1/deliveries/dlv_1/redeliver"},
	} {
		p := problem(t, h.do(c.method, c.path, acmeToken, ""), http.StatusNotImplemented)
		if !strings.Contains(p.Detail, "delivery stage") {
			t.Errorf("%s %s: detail %q", c.method, c.path, p.Detail)
		}
		problem(t, h.do(c.method, c.path, "", ""), http.StatusUnauthorized)
	}
}

func TestUnknownRouteAndMethodAreProblems(t *testing.T) {
	h := newHarness(t)
	problem(t, h.do("GET", "/v1/nothing", adminToken, ""), http.StatusNotFound)
	rec := h.do("PUT", "/v1/subscriptions", adminToken, "")
	problem(t, rec, http.StatusMethodNotAllowed)
	if allow := rec.Header().Get("Allow"); !strings.Contains(allow, "POST") {
		t.Fatalf("Allow %q", allow)
	}
}

func TestMetricsCountByRouteAndStatusClass(t *testing.T) {
	h := newHarness(t)
	h.create(acmeToken, "")
	h.do("GET", "/v1/subscriptions/sub_missing", acmeToken, "")
	h.do("GET", "/v1/subscriptions/sub_missing", acmeToken, "")
	counts := map[string]float64{}
	histograms := 0
	mfs, err := h.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			switch mf.GetName() {
			case "eventrouter_api_requests_total":
				counts[label(m, "route")+" "+label(m, "code")] = m.GetCounter().GetValue()
			case "eventrouter_api_request_duration_seconds":
				histograms++
			}
		}
	}
	if got := counts["POST /v1/subscriptions 2xx"]; got != 1 {
		t.Errorf("create 2xx = %v (all: %v)", got, counts)
	}
	if got := counts["GET /v1/subscriptions/{id} 4xx"]; got != 2 {
		t.Errorf("get 4xx = %v (all: %v)", got, counts)
	}
	if histograms != 2 {
		t.Errorf("latency series %d, want 2", histograms)
	}
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

func TestNewRefusesBadTokenConfigWithoutEchoingTokens(t *testing.T) {
	svc := subscriptions.NewService(newFakeStore(), subscriptions.Policy{}, nil)
	for _, c := range []Config{
		{},
		{AccountTokens: []string{"no-equals-sign-s3cr3t"}},
		{AccountTokens: []string{"=s3cr3t"}},
		{AdminTokens: []string{"s3cr3t"}, AccountTokens: []string{"acct=s3cr3t"}},
	} {
		_, err := New(c, Deps{Subscriptions: svc}, zap.NewNop())
		if err == nil {
			t.Errorf("config %+v accepted", c)
			continue
		}
		if strings.Contains(err.Error(), "s3cr3t") {
			t.Errorf("error echoes a token: %v", err)
		}
	}
}

func TestServeShutsDownOnCancel(t *testing.T) {
	h := newHarness(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- h.srv.Serve(ctx, ln) }()
	resp, err := http.Get("http://" + ln.Addr().String() + "/v1/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("openapi over TCP: %d", resp.StatusCode)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve after cancel: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after cancel")
	}
}
