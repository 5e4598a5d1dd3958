package delivery

import "time"

// Reason classifies an attempt's outcome. Reason codes are stable: they appear in
// metrics labels, the attempt log, retry and DLQ record headers, and the API.
type Reason string

// Outcome reasons.
const (
	ReasonOK             Reason = "ok"                    // 2xx
	ReasonGone           Reason = "gone"                  // 410: the receiver asks to be disabled
	ReasonHTTPStatus     Reason = "http_status"           // any other non-2xx, incl. 3xx (redirects are not followed)
	ReasonRateLimited    Reason = "rate_limited"          // 429
	ReasonTimeout        Reason = "timeout"               // no complete response within the attempt timeout
	ReasonConnection     Reason = "connection"            // refused, reset, closed mid-response
	ReasonDNS            Reason = "dns"                   // the host does not resolve
	ReasonTLS            Reason = "tls"                   // handshake or certificate failure
	ReasonSSRFBlocked    Reason = "ssrf_blocked"          // the resolved address is not allowed
	ReasonInvalidURL     Reason = "invalid_url"           // the subscription's URL cannot be requested
	ReasonCircuitOpen    Reason = "circuit_open"          // not attempted: the breaker is open
	ReasonDisabled       Reason = "subscription_disabled" // not attempted: disabled subscription
	ReasonDeleted        Reason = "subscription_deleted"  // not attempted: subscription no longer exists
	ReasonRetryExhausted Reason = "retries_exhausted"     // DLQ: the schedule ran out
	ReasonInvalidSecret  Reason = "invalid_secret"        // not attempted: no valid signing secret
	ReasonCanceled       Reason = "canceled"              // not finished: the sender is stopping; does not count as an attempt
)

// Result is the outcome of one HTTP attempt.
type Result struct {
	Reason  Reason
	Status  int           // HTTP status, 0 when no response arrived
	Latency time.Duration // request start to response body read (or failure)
	// RetryAfter is the receiver's Retry-After on 429/503, already bounded; 0 if none.
	RetryAfter time.Duration
	// Body is the first bytes of the response body (at most the configured limit).
	Body []byte
	// Err is the transport error, if any; never logged with secrets.
	Err error
}

// OK reports whether the endpoint accepted the delivery.
func (r Result) OK() bool { return r.Reason == ReasonOK }
