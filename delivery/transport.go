package delivery

import (
	"crypto/tls"
	"net"
	"net/http"
	"time"
)

// Transport tuning that is not worth a config key: every value bounds one phase of a
// request so a lying endpoint cannot hold a connection slot longer than the attempt
// timeout, and keeps enough idle connections per host for busy subscriptions.
const (
	dialTimeout         = 10 * time.Second
	dialKeepAlive       = 30 * time.Second
	tlsHandshakeTimeout = 10 * time.Second
	idleConnTimeout     = 90 * time.Second
	maxIdleConns        = 1024
	// maxIdleConnsPerHost equals maxIdleConns: one busy host (many subscriptions of a
	// customer, 16 in flight each) may use as many connections as the sender has
	// requests in flight (delivery.max_in_flight, default 1024), and every connection
	// above the idle cap would be closed after its request and dialled again for the
	// next. Idle connections still expire after idleConnTimeout.
	maxIdleConnsPerHost = maxIdleConns
	// drainLimit is how much of an unread response body is discarded so the connection
	// can be reused; bigger remainders close the connection instead.
	drainLimit = 64 << 10
)

// newTransport returns the sender's own transport. The SSRF check runs in the dialer's
// Control hook, i.e. on the resolved address of every connection (so DNS rebinding and
// redirects to internal names cannot bypass it). Proxy is nil on purpose: through a
// proxy the guard would check the proxy's address instead of the endpoint's.
//
// There is no ResponseHeaderTimeout: each attempt's context already ends
// ClientConfig.Timeout after the attempt began, sooner than a header timeout of the same
// length (which starts once the request is written) could fire, and that timeout costs
// every request a timer of its own.
func newTransport(cfg ClientConfig) *http.Transport {
	dialer := &net.Dialer{
		Timeout:   dialTimeout,
		KeepAlive: dialKeepAlive,
		Control:   cfg.Egress.Guardian().Safe, // the same policy subscriptions validation applies
	}
	return &http.Transport{
		Proxy:                  nil,
		DialContext:            dialer.DialContext,
		ForceAttemptHTTP2:      true,
		MaxIdleConns:           maxIdleConns,
		MaxIdleConnsPerHost:    maxIdleConnsPerHost,
		IdleConnTimeout:        idleConnTimeout,
		TLSHandshakeTimeout:    tlsHandshakeTimeout,
		ExpectContinueTimeout:  time.Second,
		MaxResponseHeaderBytes: 64 << 10,
		TLSClientConfig:        &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: cfg.RootCAs},
	}
}
