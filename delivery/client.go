package delivery

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel/propagation"
	"go.uber.org/zap"

	"github.com/claimable/eventrouter/egress"
	"github.com/claimable/eventrouter/events"
	"github.com/claimable/eventrouter/internal/tracing"
	"github.com/claimable/eventrouter/subscriptions"
)

// DefaultUserAgent is sent when ClientConfig.UserAgent is empty. The binary's wiring
// sets "eventrouter/<version>".
const DefaultUserAgent = "eventrouter"

// Standard Webhooks request headers, set by the client and never overridable by a
// subscription's custom headers.
const (
	HeaderWebhookID        = "webhook-id"
	HeaderWebhookTimestamp = "webhook-timestamp"
	HeaderWebhookSignature = "webhook-signature"
)

// ClientConfig configures the HTTP client that delivers webhooks. Zero values take the
// documented defaults.
type ClientConfig struct {
	Timeout          time.Duration // per attempt, whole request incl. body read; default 15s
	MaxResponseBytes int           // response body bytes kept; default 64 KiB
	// Egress is the outbound-address policy, enforced at dial time on the resolved
	// address; subscriptions validation applies the same value at write time.
	Egress        egress.Policy
	UserAgent     string        // default DefaultUserAgent
	RetryAfterMax time.Duration // bound on a receiver's Retry-After; default 1h
	// RootCAs overrides the system roots (tests, private CAs); nil = system roots.
	RootCAs *x509.CertPool
	// PropagateTrace sets the attempt span's W3C Trace Context (traceparent,
	// tracestate) on each request, overriding a subscription's custom header of that
	// name. It adds nothing when the attempt is not traced (tracing off).
	PropagateTrace bool
}

// Canonical forms of the request headers the client always sets.
var (
	canonWebhookID        = http.CanonicalHeaderKey(HeaderWebhookID)
	canonWebhookTimestamp = http.CanonicalHeaderKey(HeaderWebhookTimestamp)
	canonWebhookSignature = http.CanonicalHeaderKey(HeaderWebhookSignature)
)

// ErrInvalidURL means a subscription's URL cannot be requested under the client's policy.
var ErrInvalidURL = errors.New("delivery: invalid endpoint URL")

// ConfigError names the ClientConfig field that is invalid.
type ConfigError struct {
	Field   string
	Message string
}

func (e *ConfigError) Error() string {
	return "delivery: invalid client config: " + e.Field + ": " + e.Message
}

func (cfg *ClientConfig) setDefaults() error {
	switch {
	case cfg.Timeout < 0:
		return &ConfigError{"Timeout", "must not be negative"}
	case cfg.MaxResponseBytes < 0:
		return &ConfigError{"MaxResponseBytes", "must not be negative"}
	case cfg.RetryAfterMax < 0:
		return &ConfigError{"RetryAfterMax", "must not be negative"}
	}
	if err := cfg.Egress.Validate(); err != nil {
		return &ConfigError{"Egress", err.Error()}
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 15 * time.Second
	}
	if cfg.MaxResponseBytes == 0 {
		cfg.MaxResponseBytes = 64 << 10
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = DefaultUserAgent
	}
	if cfg.RetryAfterMax == 0 {
		cfg.RetryAfterMax = time.Hour
	}
	return nil
}

// Client sends one signed attempt of a delivery to its endpoint. It is safe for
// concurrent use and pools connections per host; one Client serves a whole sender.
type Client struct {
	cfg ClientConfig
	// transport is used directly, not through an http.Client: redirects are not
	// followed (a 3xx is the endpoint's answer, a failure; following would also let an
	// endpoint bounce us to a target never validated), there is no cookie jar and the
	// timeout is the request's context, so all a client would add is a copy of every
	// request's headers kept for redirects: CPU on every attempt for nothing.
	transport *http.Transport
	log       *zap.Logger
}

// NewClient returns a Client with its own SSRF-guarded transport (see transport.go).
// It fails with a *ConfigError naming an invalid field. A nil log logs nothing.
func NewClient(cfg ClientConfig, log *zap.Logger) (*Client, error) {
	if log == nil {
		log = zap.NewNop()
	}
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	return &Client{
		cfg:       cfg,
		transport: newTransport(cfg),
		log:       log,
	}, nil
}

// Close releases idle connections.
func (c *Client) Close() { c.transport.CloseIdleConnections() }

// Send makes one attempt to deliver d to sub's endpoint, signed with sub's secrets that
// are valid at now, with webhook-timestamp = now. It never returns an error: every
// outcome, including a bad URL or secret, is a Result with a Reason.
//
// The attempt is bounded by ClientConfig.Timeout (and ctx). The status line decides the
// outcome: once it has arrived the body is read best-effort, up to MaxResponseBytes, until
// the same deadline, so a receiver that answered 2xx and then stalls its body is still
// delivered (re-sending would only produce a duplicate). If ctx itself is cancelled (the
// sender is stopping) the Reason is ReasonCanceled and the attempt should not count.
func (c *Client) Send(ctx context.Context, sub *subscriptions.Subscription, d *events.Delivery, now time.Time) Result {
	start := time.Now()
	res := c.send(ctx, sub, d, now)
	res.Latency = time.Since(start)
	if !res.OK() {
		c.log.Debug("delivery attempt failed",
			zap.String("subscription_id", sub.ID),
			zap.String("delivery_id", d.ID),
			zap.Int("attempt", d.Attempt),
			zap.String("reason", string(res.Reason)),
			zap.Int("status", res.Status),
			zap.NamedError("error", res.Err))
	}
	return res
}

func (c *Client) send(ctx context.Context, sub *subscriptions.Subscription, d *events.Delivery, now time.Time) Result {
	u, err := c.checkURL(sub.URL)
	if err != nil {
		return Result{Reason: ReasonInvalidURL, Err: err}
	}
	sig, err := Sign(sub.ValidSecrets(now), d.ID, now, d.Body)
	if err != nil {
		return Result{Reason: ReasonInvalidSecret, Err: err}
	}
	actx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	// The URL is already parsed and checked: build the request around it rather than
	// have net/http print and parse it again (a measurable share of an attempt's CPU).
	req, err := http.NewRequestWithContext(actx, http.MethodPost, "", bytes.NewReader(d.Body))
	if err != nil {
		return Result{Reason: ReasonInvalidURL, Err: fmt.Errorf("%w: %v", ErrInvalidURL, err)}
	}
	req.URL, req.Host = u, u.Host
	h := make(http.Header, len(sub.Headers)+5)
	for k, v := range sub.Headers {
		if !reservedHeader(k) {
			h.Set(k, v)
		}
	}
	// Canonical keys assigned directly (what Header.Set would store, without the
	// canonicalisation work per request).
	h[canonWebhookID] = []string{d.ID}
	h[canonWebhookTimestamp] = []string{strconv.FormatInt(now.Unix(), 10)}
	h[canonWebhookSignature] = []string{sig}
	h["Content-Type"] = []string{"application/json"}
	h["User-Agent"] = []string{c.cfg.UserAgent}
	if c.cfg.PropagateTrace {
		tracing.ToHTTP(ctx, propagation.HeaderCarrier(h))
	}
	req.Header = h

	resp, err := c.transport.RoundTrip(req)
	if err != nil {
		// Wrapped as http.Client wraps it (Post "url": ...), the URL's password hidden.
		err = &url.Error{Op: "Post", URL: req.URL.Redacted(), Err: err}
	}
	if err != nil {
		// net/http's error quotes the whole URL; its query often holds the receiver's
		// credentials, and this error is logged and kept in the attempt log.
		return Result{Reason: c.classifyErr(ctx, err), Err: subscriptions.RedactURLError(err)}
	}
	var body []byte
	if resp.ContentLength != 0 { // a 204 or an empty 200 has nothing to read or drain
		body, _ = io.ReadAll(io.LimitReader(resp.Body, int64(c.cfg.MaxResponseBytes)))
		// Drain a bounded remainder so the connection goes back to the pool; a larger
		// (or stalled) remainder is cut off by Close and the deadline.
		_, _ = io.CopyN(io.Discard, resp.Body, drainLimit)
	}
	_ = resp.Body.Close()

	res := Result{Reason: ClassifyStatus(resp.StatusCode), Status: resp.StatusCode, Body: body}
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
		res.RetryAfter = ParseRetryAfter(resp.Header.Get("Retry-After"), time.Now(), c.cfg.RetryAfterMax)
	}
	if !res.OK() {
		res.Err = &StatusError{Code: resp.StatusCode}
	}
	return res
}

func (c *Client) classifyErr(parent context.Context, err error) Reason {
	if errors.Is(parent.Err(), context.Canceled) {
		return ReasonCanceled
	}
	return ClassifyError(err)
}

// checkURL applies the scheme policy; the address policy is enforced at dial time.
func (c *Client) checkURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: does not parse", ErrInvalidURL)
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && c.cfg.Egress.AllowHTTP:
	case u.Scheme == "http":
		return nil, fmt.Errorf("%w: http is not allowed, use https", ErrInvalidURL)
	default:
		return nil, fmt.Errorf("%w: scheme %q is not allowed", ErrInvalidURL, u.Scheme)
	}
	if u.Hostname() == "" {
		return nil, fmt.Errorf("%w: no host", ErrInvalidURL)
	}
	if u.User != nil {
		return nil, fmt.Errorf("%w: credentials in the URL are not allowed", ErrInvalidURL)
	}
	return u, nil
}

// reservedHeader reports whether a custom header would clash with one the client owns.
func reservedHeader(name string) bool {
	n := strings.ToLower(name)
	switch n {
	case "content-type", "content-length", "user-agent", "host", "transfer-encoding", "connection":
		return true
	}
	return strings.HasPrefix(n, "webhook-")
}
