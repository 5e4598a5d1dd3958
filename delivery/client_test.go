package delivery

import (
	"context"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"go.uber.org/zap"

	"github.com/claimable/eventrouter/egress"
	"github.com/claimable/eventrouter/events"
	"github.com/claimable/eventrouter/subscriptions"
)

var loopback = netip.MustParsePrefix("127.0.0.0/8")

// testClient returns a client allowed to reach srvURL's port on loopback over http,
// after mod adjusts the config.
func testClient(t testing.TB, srvURL string, mod func(*ClientConfig)) *Client {
	t.Helper()
	cfg := ClientConfig{
		Timeout:       2 * time.Second,
		Egress:        egress.Policy{AllowHTTP: true, AllowCIDRs: []netip.Prefix{loopback}, AllowPorts: []int{urlPort(t, srvURL)}},
		RetryAfterMax: time.Minute,
	}
	if mod != nil {
		mod(&cfg)
	}
	c, err := NewClient(cfg, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func urlPort(t testing.TB, raw string) int {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	p, _ := strconv.Atoi(u.Port())
	if p == 0 {
		p = 80
	}
	return p
}

func testSub(u string) *subscriptions.Subscription {
	return &subscriptions.Subscription{
		ID: "sub_1", AccountID: "acc_1", URL: u, Enabled: true,
		Secrets: []subscriptions.Secret{{Value: newTestSecret(7)}},
		Headers: map[string]string{"X-Team": "claims", "Webhook-Id": "forged", "User-Agent": "forged"},
	}
}

func testDelivery() *events.Delivery {
	return &events.Delivery{ID: "dlv_1", SubscriptionID: "sub_1", Attempt: 1,
		Body: []byte(`{"event_name":"claim.created","claim":{"id":"c1"}}`)}
}

func statusServer(t *testing.T, h http.HandlerFunc) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

func TestSendDeliversSignedRequest(t *testing.T) {
	for _, code := range []int{200, 204} {
		t.Run(strconv.Itoa(code), func(t *testing.T) {
			got := make(chan error, 1)
			d := testDelivery()
			srv := statusServer(t, func(w http.ResponseWriter, r *http.Request) {
				body, _ := io.ReadAll(r.Body)
				got <- checkRequest(r, body, d)
				w.WriteHeader(code)
			})
			c := testClient(t, srv.URL, func(c *ClientConfig) { c.UserAgent = "eventrouter/test" })
			res := c.Send(context.Background(), testSub(srv.URL+"/hook"), d, time.Now())
			if res.Reason != ReasonOK || res.Status != code || !res.OK() || res.Err != nil {
				t.Fatalf("result = %+v, want ok %d", res, code)
			}
			if err := <-got; err != nil {
				t.Fatal(err)
			}
		})
	}
}

// checkRequest is what a receiver checks: method, headers, and the signature verified by
// the official Standard Webhooks library over the bytes received.
func checkRequest(r *http.Request, body []byte, d *events.Delivery) error {
	switch {
	case r.Method != http.MethodPost:
		return fmt.Errorf("method %s", r.Method)
	case string(body) != string(d.Body):
		return fmt.Errorf("body %q", body)
	case r.Header.Get("webhook-id") != d.ID:
		return fmt.Errorf("webhook-id %q (a custom header must not override it)", r.Header.Get("webhook-id"))
	case r.Header.Get("content-type") != "application/json":
		return fmt.Errorf("content-type %q", r.Header.Get("content-type"))
	case r.Header.Get("user-agent") != "eventrouter/test":
		return fmt.Errorf("user-agent %q", r.Header.Get("user-agent"))
	case r.Header.Get("x-team") != "claims":
		return fmt.Errorf("custom header x-team = %q", r.Header.Get("x-team"))
	}
	wh, err := standardwebhooks.NewWebhook(newTestSecret(7))
	if err != nil {
		return err
	}
	return wh.Verify(body, r.Header)
}

func TestSendClassifiesStatus(t *testing.T) {
	date := time.Now().Add(30 * time.Second).UTC().Format(http.TimeFormat)
	cases := []struct {
		name       string
		code       int
		retryAfter string
		reason     Reason
		minRA      time.Duration
		maxRA      time.Duration
	}{
		{"410 gone", 410, "", ReasonGone, 0, 0},
		{"500", 500, "", ReasonHTTPStatus, 0, 0},
		{"503 without retry-after", 503, "", ReasonHTTPStatus, 0, 0},
		{"503 retry-after seconds", 503, "20", ReasonHTTPStatus, 20 * time.Second, 20 * time.Second},
		{"429 retry-after seconds", 429, "7", ReasonRateLimited, 7 * time.Second, 7 * time.Second},
		{"429 retry-after date", 429, date, ReasonRateLimited, 25 * time.Second, 31 * time.Second},
		{"429 retry-after clamped", 429, "86400", ReasonRateLimited, time.Minute, time.Minute},
		{"429 retry-after garbage", 429, "soon", ReasonRateLimited, 0, 0},
		{"500 retry-after ignored", 500, "20", ReasonHTTPStatus, 0, 0},
		{"400", 400, "", ReasonHTTPStatus, 0, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := statusServer(t, func(w http.ResponseWriter, r *http.Request) {
				if tc.retryAfter != "" {
					w.Header().Set("Retry-After", tc.retryAfter)
				}
				w.WriteHeader(tc.code)
				io.WriteString(w, "nope")
			})
			res := testClient(t, srv.URL, nil).Send(context.Background(), testSub(srv.URL), testDelivery(), time.Now())
			if res.Reason != tc.reason || res.Status != tc.code || res.OK() {
				t.Fatalf("result = %+v, want %s %d", res, tc.reason, tc.code)
			}
			if res.RetryAfter < tc.minRA || res.RetryAfter > tc.maxRA {
				t.Fatalf("RetryAfter = %v, want in [%v, %v]", res.RetryAfter, tc.minRA, tc.maxRA)
			}
			if string(res.Body) != "nope" {
				t.Fatalf("Body = %q, want the response body", res.Body)
			}
		})
	}
}

func TestSendDoesNotFollowRedirects(t *testing.T) {
	var targetHits atomic.Int32
	target := statusServer(t, func(w http.ResponseWriter, r *http.Request) { targetHits.Add(1) })
	for _, code := range []int{301, 302, 307, 308} {
		t.Run(strconv.Itoa(code), func(t *testing.T) {
			srv := statusServer(t, func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, target.URL+"/stolen", code)
			})
			c := testClient(t, srv.URL, func(c *ClientConfig) { c.Egress.AllowPorts = append(c.Egress.AllowPorts, urlPort(t, target.URL)) })
			res := c.Send(context.Background(), testSub(srv.URL), testDelivery(), time.Now())
			if res.Reason != ReasonHTTPStatus || res.Status != code {
				t.Fatalf("result = %+v, want http_status %d", res, code)
			}
		})
	}
	if n := targetHits.Load(); n != 0 {
		t.Fatalf("redirect target was hit %d times", n)
	}
}

func TestSendTimesOutSlowEndpoint(t *testing.T) {
	release := make(chan struct{})
	srv := statusServer(t, func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body) // lets the server notice the client hanging up
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})
	t.Cleanup(func() { close(release) }) // runs before the server's Close
	const timeout = 200 * time.Millisecond
	c := testClient(t, srv.URL, func(c *ClientConfig) { c.Timeout = timeout })
	start := time.Now()
	res := c.Send(context.Background(), testSub(srv.URL), testDelivery(), time.Now())
	if elapsed := time.Since(start); elapsed > timeout+time.Second {
		t.Fatalf("Send took %v with a %v timeout", elapsed, timeout)
	}
	if res.Reason != ReasonTimeout || res.Status != 0 {
		t.Fatalf("result = %+v, want timeout", res)
	}
}

func TestSendStalledBodyIsBounded(t *testing.T) {
	for _, code := range []int{200, 500} {
		t.Run(strconv.Itoa(code), func(t *testing.T) {
			release := make(chan struct{})
			srv := statusServer(t, func(w http.ResponseWriter, r *http.Request) {
				io.Copy(io.Discard, r.Body)
				w.WriteHeader(code)
				io.WriteString(w, "partial")
				w.(http.Flusher).Flush()
				select {
				case <-r.Context().Done():
				case <-release:
				}
			})
			t.Cleanup(func() { close(release) })
			const timeout = 300 * time.Millisecond
			c := testClient(t, srv.URL, func(c *ClientConfig) { c.Timeout = timeout })
			start := time.Now()
			res := c.Send(context.Background(), testSub(srv.URL), testDelivery(), time.Now())
			if elapsed := time.Since(start); elapsed > timeout+time.Second {
				t.Fatalf("Send took %v with a %v timeout", elapsed, timeout)
			}
			// The status line decides: a 2xx was accepted by the receiver.
			if res.Status != code || res.Reason != ClassifyStatus(code) || string(res.Body) != "partial" {
				t.Fatalf("result = %+v (body %q)", res, res.Body)
			}
		})
	}
}

func TestSendKeepsOnlyMaxResponseBytes(t *testing.T) {
	srv := statusServer(t, func(w http.ResponseWriter, r *http.Request) {
		chunk := []byte(strings.Repeat("x", 32<<10))
		for range 320 { // 10 MiB
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	})
	c := testClient(t, srv.URL, func(c *ClientConfig) { c.MaxResponseBytes = 1024; c.Timeout = 5 * time.Second })
	start := time.Now()
	res := c.Send(context.Background(), testSub(srv.URL), testDelivery(), time.Now())
	if res.Reason != ReasonOK || len(res.Body) != 1024 {
		t.Fatalf("reason %s, body %d bytes; want ok with 1024 bytes", res.Reason, len(res.Body))
	}
	if elapsed := time.Since(start); elapsed > 4*time.Second {
		t.Fatalf("Send took %v: it read or waited on the whole oversized body", elapsed)
	}
}

func TestSendReusesConnections(t *testing.T) {
	var conns atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, strings.Repeat("y", 8<<10)) // more than kept, less than drained
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	c := testClient(t, srv.URL, func(c *ClientConfig) { c.MaxResponseBytes = 100 })
	for range 5 {
		if res := c.Send(context.Background(), testSub(srv.URL), testDelivery(), time.Now()); !res.OK() {
			t.Fatalf("result = %+v", res)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Fatalf("5 sequential sends opened %d connections, want 1 (body not drained?)", n)
	}
}

func TestSendConnectionRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := "http://" + ln.Addr().String()
	ln.Close()
	res := testClient(t, u, nil).Send(context.Background(), testSub(u), testDelivery(), time.Now())
	if res.Reason != ReasonConnection || res.Err == nil {
		t.Fatalf("result = %+v, want connection", res)
	}
}

func TestSendDNSFailure(t *testing.T) {
	u := "https://no-such-host.eventrouter.invalid/hook"
	res := testClient(t, u, nil).Send(context.Background(), testSub(u), testDelivery(), time.Now())
	if res.Reason != ReasonDNS {
		t.Fatalf("result = %+v, want dns", res)
	}
}

func TestSendBlocksInternalAddresses(t *testing.T) {
	var hits atomic.Int32
	srv := statusServer(t, func(w http.ResponseWriter, r *http.Request) { hits.Add(1) })
	port := urlPort(t, srv.URL)
	targets := []string{
		srv.URL,                                   // loopback, not allow-listed
		fmt.Sprintf("http://localhost:%d", port),  // a name resolving to loopback: checked after DNS
		"http://10.1.2.3",                         // private
		"http://192.168.1.1",                      // private
		"http://172.16.0.1",                       // private
		"http://169.254.169.254/latest/meta-data", // link-local cloud metadata
		"http://100.64.0.1",                       // CGNAT
		"http://0.0.0.0",                          // "this host"
		fmt.Sprintf("http://[::1]:%d", port),      // IPv6 loopback
		"http://[fd00::1]",                        // IPv6 unique local
		"http://[fe80::1]",                        // IPv6 link-local
		"http://[::ffff:127.0.0.1]",               // IPv4-mapped loopback
	}
	c := testClient(t, srv.URL, func(c *ClientConfig) { c.Egress.AllowCIDRs = nil; c.Timeout = 5 * time.Second })
	for _, u := range targets {
		res := c.Send(context.Background(), testSub(u), testDelivery(), time.Now())
		if res.Reason != ReasonSSRFBlocked {
			t.Errorf("%s: result = %+v, want ssrf_blocked", u, res)
		}
	}
	if n := hits.Load(); n != 0 {
		t.Fatalf("blocked endpoint was hit %d times", n)
	}
}

func TestSendBlocksUnlistedPort(t *testing.T) {
	srv := statusServer(t, func(w http.ResponseWriter, r *http.Request) {})
	c := testClient(t, srv.URL, func(c *ClientConfig) { c.Egress.AllowPorts = nil })
	res := c.Send(context.Background(), testSub(srv.URL), testDelivery(), time.Now())
	if res.Reason != ReasonSSRFBlocked {
		t.Fatalf("result = %+v, want ssrf_blocked for a port not allowed", res)
	}
}

func TestSendTLS(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	t.Cleanup(srv.Close)

	untrusting := testClient(t, srv.URL, nil)
	if res := untrusting.Send(context.Background(), testSub(srv.URL), testDelivery(), time.Now()); res.Reason != ReasonTLS {
		t.Fatalf("untrusted certificate: result = %+v, want tls", res)
	}

	roots := x509.NewCertPool()
	roots.AddCert(srv.Certificate())
	trusting := testClient(t, srv.URL, func(c *ClientConfig) { c.RootCAs = roots; c.Egress.AllowHTTP = false })
	if res := trusting.Send(context.Background(), testSub(srv.URL), testDelivery(), time.Now()); !res.OK() {
		t.Fatalf("trusted certificate: result = %+v, want ok", res)
	}
}

func TestSendRefusesBadURLWithoutRequest(t *testing.T) {
	var hits atomic.Int32
	srv := statusServer(t, func(w http.ResponseWriter, r *http.Request) { hits.Add(1) })
	c := testClient(t, srv.URL, func(c *ClientConfig) { c.Egress.AllowHTTP = false })
	host := strings.TrimPrefix(srv.URL, "http://")
	for _, u := range []string{srv.URL, "ftp://" + host, "https://", "https://user:pw@" + host, "::not a url"} {
		res := c.Send(context.Background(), testSub(u), testDelivery(), time.Now())
		if res.Reason != ReasonInvalidURL || res.Err == nil {
			t.Errorf("%q: result = %+v, want invalid_url", u, res)
		}
	}
	if hits.Load() != 0 {
		t.Fatal("a refused URL was requested")
	}
}

func TestSendRefusesInvalidSecret(t *testing.T) {
	var hits atomic.Int32
	srv := statusServer(t, func(w http.ResponseWriter, r *http.Request) { hits.Add(1) })
	c := testClient(t, srv.URL, nil)
	for name, secrets := range map[string][]subscriptions.Secret{
		"none":    nil,
		"expired": {{Value: newTestSecret(1), ExpiresAt: time.Now().Add(-time.Hour)}},
		"garbled": {{Value: "whsec_???"}},
	} {
		sub := testSub(srv.URL)
		sub.Secrets = secrets
		if res := c.Send(context.Background(), sub, testDelivery(), time.Now()); res.Reason != ReasonInvalidSecret {
			t.Errorf("%s: result = %+v, want invalid_secret", name, res)
		}
	}
	if hits.Load() != 0 {
		t.Fatal("an unsigned request was sent")
	}
}

func TestSendCanceledBySender(t *testing.T) {
	release := make(chan struct{})
	srv := statusServer(t, func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})
	t.Cleanup(func() { close(release) })
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	res := testClient(t, srv.URL, nil).Send(ctx, testSub(srv.URL), testDelivery(), time.Now())
	if res.Reason != ReasonCanceled {
		t.Fatalf("result = %+v, want canceled", res)
	}
}

func TestNewClientRejectsBadConfig(t *testing.T) {
	for field, cfg := range map[string]ClientConfig{
		"Timeout":               {Timeout: -1},
		"MaxResponseBytes":      {MaxResponseBytes: -1},
		"egress.allow_ports[0]": {Egress: egress.Policy{AllowPorts: []int{70000}}},
		"egress.allow_cidrs[0]": {Egress: egress.Policy{AllowCIDRs: []netip.Prefix{{}}}},
	} {
		_, err := NewClient(cfg, zap.NewNop())
		if err == nil || !strings.Contains(err.Error(), field) {
			t.Errorf("%s: err = %v, want an error naming the field", field, err)
		}
	}
}

// TestNilLoggerLogsNothing: NewClient takes a nil logger as "log nothing" (as New
// does): a failing attempt, the path that logs, runs without a panic.
func TestNilLoggerLogsNothing(t *testing.T) {
	srv := statusServer(t, func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusInternalServerError) })
	cfg := ClientConfig{
		Timeout:       2 * time.Second,
		Egress:        egress.Policy{AllowHTTP: true, AllowCIDRs: []netip.Prefix{loopback}, AllowPorts: []int{urlPort(t, srv.URL)}},
		RetryAfterMax: time.Minute,
	}
	c, err := NewClient(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if res := c.Send(context.Background(), testSub(srv.URL+"/hook"), testDelivery(), time.Now()); res.Status != http.StatusInternalServerError {
		t.Fatalf("status = %d, want 500", res.Status)
	}
}
