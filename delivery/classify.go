package delivery

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"code.dny.dev/ssrf"
)

// StatusError is the Result.Err of an attempt that got a non-2xx response.
type StatusError struct {
	Code int
}

func (e *StatusError) Error() string {
	return "delivery: endpoint answered " + strconv.Itoa(e.Code) + " " + http.StatusText(e.Code)
}

// Retryable reports whether a failure with this reason may succeed on a later attempt.
// ok, gone (the receiver asked to stop), invalid_url, ssrf_blocked (the egress policy
// refuses the address or port: retrying cannot change a port, and an address that only
// resolves inside the network is a configuration to fix, not a blip), a disabled or
// deleted subscription and retries_exhausted are final; everything else is worth
// retrying.
func (r Reason) Retryable() bool {
	switch r {
	case ReasonOK, ReasonGone, ReasonInvalidURL, ReasonSSRFBlocked, ReasonDisabled, ReasonDeleted, ReasonRetryExhausted:
		return false
	}
	return true
}

// ClassifyStatus maps an HTTP status to a Reason: 2xx ok, 410 gone, 429 rate_limited,
// anything else (including 1xx and 3xx, since redirects are not followed) http_status.
func ClassifyStatus(code int) Reason {
	switch {
	case code >= 200 && code <= 299:
		return ReasonOK
	case code == http.StatusGone:
		return ReasonGone
	case code == http.StatusTooManyRequests:
		return ReasonRateLimited
	}
	return ReasonHTTPStatus
}

// ClassifyError maps a transport error to a Reason. Order matters: the SSRF guard's
// refusal arrives wrapped in a dial error; the attempt's deadline wins over whatever
// phase it interrupted; a resolver failure is dns even when it timed out on its own.
// Anything unrecognised (refused, reset, EOF, closed mid-response) is connection.
func ClassifyError(err error) Reason {
	if err == nil {
		return ReasonOK
	}
	if errors.Is(err, ssrf.ErrProhibitedIP) || errors.Is(err, ssrf.ErrProhibitedPort) ||
		errors.Is(err, ssrf.ErrProhibitedNetwork) || errors.Is(err, ssrf.ErrInvalidHostPort) {
		return ReasonSSRFBlocked
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return ReasonTimeout
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return ReasonDNS // including a resolver that timed out: the name is the problem
	}
	var netErr net.Error
	if errors.As(err, &netErr) && netErr.Timeout() {
		return ReasonTimeout
	}
	if isTLSError(err) {
		return ReasonTLS
	}
	return ReasonConnection
}

func isTLSError(err error) bool {
	var (
		unknownAuth  x509.UnknownAuthorityError
		certInvalid  x509.CertificateInvalidError
		hostname     x509.HostnameError
		recordHeader tls.RecordHeaderError
		verify       *tls.CertificateVerificationError
		alert        tls.AlertError
	)
	switch {
	case errors.As(err, &unknownAuth), errors.As(err, &certInvalid), errors.As(err, &hostname),
		errors.As(err, &recordHeader), errors.As(err, &verify), errors.As(err, &alert):
		return true
	}
	// Some handshake failures are plain errors from crypto/tls with this prefix.
	return strings.Contains(err.Error(), "tls: ")
}

// ParseRetryAfter parses a Retry-After header value, either delay-seconds or an HTTP
// date (relative to now), and clamps it to [0, limit]. Empty or malformed values give 0.
func ParseRetryAfter(v string, now time.Time, limit time.Duration) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	var d time.Duration
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		if secs > int64(limit/time.Second)+1 {
			return limit
		}
		d = time.Duration(secs) * time.Second
	} else if errors.Is(err, strconv.ErrRange) && v[0] != '-' {
		return limit // an absurdly large delay-seconds is still "later"
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
	} else {
		return 0
	}
	return min(max(d, 0), limit)
}
