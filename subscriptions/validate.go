package subscriptions

import (
	"encoding/base64"
	"errors"
	"fmt"
	"github.com/claimable/eventrouter/events"
	"math"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/claimable/eventrouter/egress"
)

// Policy is what a valid subscription must satisfy, built from configuration.
type Policy struct {
	Catalogue []string // accepted event names; empty: only the syntax is checked
	// Egress is the outbound-address policy; the sender's dialer uses the same one, so a
	// URL accepted here is not refused at dial time for its port or a literal IP.
	Egress           egress.Policy
	MaxPerAccount    int           // 0: no limit (enforced by Store.Create)
	RotationGrace    time.Duration // default grace of a rotated-out secret
	RotationGraceMax time.Duration // longest grace a caller may ask for
}

// Bounds Validate enforces.
const (
	MaxURLLen         = 2048
	MaxEvents         = 64
	MaxHeaders        = 20
	MaxHeaderNameLen  = 64
	MaxHeaderValueLen = 1024
	MaxHeadersBytes   = 8 << 10 // names + values
	MaxRateLimit      = 10000   // requests per second
	MaxMaxInFlight    = 1000
	MaxDescriptionLen = 1024 // bytes
	MaxSecrets        = 10
	MinSecretBytes    = 24
	MaxSecretBytes    = 64
	MaxAccountIDLen   = 128
	MaxNameLen        = 128
)

// FieldError is one problem with one field of a subscription.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// ValidationError lists every problem found, each naming its field.
type ValidationError struct {
	Problems []FieldError
}

func (e *ValidationError) Error() string {
	parts := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		parts[i] = p.Field + ": " + p.Message
	}
	return "subscriptions: invalid subscription: " + strings.Join(parts, "; ")
}

func (e *ValidationError) add(field, format string, args ...any) {
	e.Problems = append(e.Problems, FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
}

// Validate checks sub against the policy and returns a *ValidationError listing every
// problem (in field order), or nil. It never resolves DNS: the URL check is early
// feedback; the sender's dial-time guard is the real SSRF defence.
//
// Decisions worth knowing:
//   - Ports: the port dialled (explicit, or the scheme's default) must be allowed by
//     Egress (80, 443 and egress.allow_ports), whatever the scheme: the dialer applies
//     the same rule, so a URL on another port would only ever be refused there.
//   - Hosts: IP literals are judged by Egress exactly as the dialer judges a resolved
//     address (special-purpose ranges refused unless inside egress.allow_cidrs); so are
//     the names localhost, *.localhost, *.local, *.internal (metadata.google.internal),
//     and numeric-looking names (e.g. "2130706433", "0x7f.1") that some resolvers read as
//     IPs. localhost names are accepted when egress.allow_cidrs contains a loopback address.
//   - Headers: Authorization IS allowed (receivers commonly require a bearer token; it is
//     treated as sensitive and never logged). Refused (case-insensitive): webhook-*,
//     content-*, host, user-agent, hop-by-hop headers, proxy-*, expect, cookie.
//   - Secrets may be empty (the service generates one); each must be "whsec_" + standard
//     base64 of 24–64 bytes; the first is the current one (no ExpiresAt), later ones
//     must carry an ExpiresAt.
//   - Text: no field may hold control characters (U+0000–U+001F, U+007F–U+009F),
//     Unicode bidirectional controls (U+061C, U+200E, U+200F, U+202A–U+202E,
//     U+2066–U+2069) or U+2028/U+2029 (see text.go); a filter may still span lines and a
//     header value hold tabs. account_id and name also refuse every space and invisible
//     formatting character (Unicode Cf).
func (p Policy) Validate(sub *Subscription) error {
	var v ValidationError
	p.validateAccount(&v, sub)
	p.validateURL(&v, sub.URL)
	p.validateEvents(&v, sub.Events)
	if msg := textProblem(sub.Filter, '\t', '\n', '\r'); msg != "" {
		v.add("filter", "%s", msg)
	} else if _, err := CompileFilter(sub.Filter); err != nil {
		v.add("filter", "%s", strings.TrimPrefix(err.Error(), "filter: "))
	}
	shape := events.ValidateShape(sub.Payload, sub.Redact, p.objects())
	for _, field := range []string{"payload", "redact"} {
		if msg, bad := shape[field]; bad {
			v.add(field, "%s", msg)
		}
	}
	validateHeaders(&v, sub.Headers)
	if math.IsNaN(sub.RateLimit) || sub.RateLimit < 0 || sub.RateLimit > MaxRateLimit {
		v.add("rate_limit_per_sec", "must be between 0 (no limit) and %d", MaxRateLimit)
	}
	if sub.MaxInFlight < 0 || sub.MaxInFlight > MaxMaxInFlight {
		v.add("max_in_flight", "must be between 0 (the default) and %d", MaxMaxInFlight)
	}
	if len(sub.Description) > MaxDescriptionLen {
		v.add("description", "is %d bytes, at most %d allowed", len(sub.Description), MaxDescriptionLen)
	} else if msg := textProblem(sub.Description); msg != "" {
		v.add("description", "%s", msg)
	}
	validateSecrets(&v, sub.Secrets)
	if len(v.Problems) > 0 {
		return &v
	}
	return nil
}

func (p Policy) validateAccount(v *ValidationError, sub *Subscription) {
	switch {
	case sub.AccountID == "":
		v.add("account_id", "is required")
	case len(sub.AccountID) > MaxAccountIDLen:
		v.add("account_id", "is longer than %d bytes", MaxAccountIDLen)
	default:
		if msg := identifierProblem(sub.AccountID); msg != "" {
			v.add("account_id", "%s", msg)
		}
	}
	if len(sub.Name) > MaxNameLen {
		v.add("name", "is longer than %d bytes", MaxNameLen)
	} else if msg := identifierProblem(sub.Name); msg != "" {
		v.add("name", "%s", msg)
	}
}

func (p Policy) validateEvents(v *ValidationError, evs []string) {
	if len(evs) == 0 {
		v.add("events", "must name at least one event")
		return
	}
	if len(evs) > MaxEvents {
		v.add("events", "at most %d patterns allowed", MaxEvents)
		return
	}
	seen := make(map[string]bool, len(evs))
	names := p.Catalogue
	if len(names) > 0 { // operational types are selectable by name or "<object>.*" too
		names = append(slices.Clip(names), events.OperationalTypes()...)
	}
	for i, e := range evs {
		field := "events[" + strconv.Itoa(i) + "]"
		if err := checkPattern(e, names); err != nil {
			v.add(field, "%s", err.Error())
		} else if seen[e] {
			v.add(field, "duplicate pattern %q", e)
		}
		seen[e] = true
	}
}

func (p Policy) validateURL(v *ValidationError, raw string) {
	if raw == "" {
		v.add("url", "is required")
		return
	}
	if len(raw) > MaxURLLen {
		v.add("url", "is longer than %d bytes", MaxURLLen)
		return
	}
	if msg := textProblem(raw); msg != "" {
		v.add("url", "%s", msg)
		return
	}
	u, err := url.Parse(raw)
	if err != nil {
		// Only the cause: *url.Error quotes the URL, whose query may hold credentials.
		if ue, ok := errors.AsType[*url.Error](err); ok {
			err = ue.Err
		}
		v.add("url", "does not parse: %s", err)
		return
	}
	switch {
	case !u.IsAbs() || u.Opaque != "":
		v.add("url", "must be absolute, like https://example.com/hooks")
		return
	case u.Scheme == "https":
	case u.Scheme == "http" && p.Egress.AllowHTTP:
	case u.Scheme == "http":
		v.add("url", "must use https")
		return
	default:
		v.add("url", "scheme %q not allowed, use https", u.Scheme)
		return
	}
	if u.User != nil {
		v.add("url", "must not contain user information (use a custom header for credentials)")
	}
	if u.Fragment != "" || strings.Contains(raw, "#") {
		v.add("url", "must not contain a fragment")
	}
	host := u.Hostname()
	if host == "" {
		v.add("url", "has no host")
		return
	}
	if msg := p.portProblem(u); msg != "" {
		v.add("url", "%s", msg)
	}
	if msg := p.hostProblem(host); msg != "" {
		v.add("url", "%s", msg)
	}
}

// portProblem returns why the port u would be dialled on is refused, or "".
func (p Policy) portProblem(u *url.URL) string {
	port := egress.DefaultPort(u.Scheme)
	if raw := u.Port(); raw != "" {
		n, err := strconv.Atoi(raw)
		if err != nil || n < 1 || n > 65535 {
			return fmt.Sprintf("port %s is not a TCP port", raw)
		}
		port = n
	}
	if err := p.Egress.CheckPort(port); err != nil {
		return err.Error()
	}
	return ""
}

// hostProblem returns why host is refused, or "".
func (p Policy) hostProblem(host string) string {
	if addr, err := netip.ParseAddr(host); err == nil {
		if err := p.Egress.CheckAddr(addr); err != nil {
			return fmt.Sprintf("host %s is a private, loopback, link-local or reserved address (%v)", host, err)
		}
		return ""
	}
	name := strings.TrimSuffix(strings.ToLower(host), ".")
	if len(name) > 253 || name == "" {
		return "host name is not valid"
	}
	labels := strings.Split(name, ".")
	for _, l := range labels {
		if !validLabel(l) {
			return fmt.Sprintf("host name %q is not valid", host)
		}
	}
	last := labels[len(labels)-1]
	// WHATWG URL rule: a host whose last label is a number is an IPv4 address in some
	// notation (2130706433, 0x7f.1, 127.1) that resolvers may accept.
	if strings.Trim(last, "0123456789") == "" || strings.HasPrefix(last, "0x") && strings.Trim(last[2:], "0123456789abcdef") == "" {
		return fmt.Sprintf("host %q looks like a non-canonical IP address", host)
	}
	switch {
	case name == "localhost" || last == "localhost":
		if p.Egress.AllowsLoopback() {
			return ""
		}
		return fmt.Sprintf("host %q is local", host)
	case last == "local" || last == "internal" || name == "localhost.localdomain":
		return fmt.Sprintf("host %q is an internal name", host)
	}
	return ""
}

func validLabel(l string) bool {
	if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
		return false
	}
	for i := 0; i < len(l); i++ {
		c := l[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// reservedHeader reports whether name (any case) is set by the sender or by HTTP itself.
func reservedHeader(name string) bool {
	n := strings.ToLower(name)
	if strings.HasPrefix(n, "webhook-") || strings.HasPrefix(n, "content-") || strings.HasPrefix(n, "proxy-") {
		return true
	}
	switch n {
	case "host", "user-agent", "connection", "keep-alive", "transfer-encoding", "te",
		"trailer", "upgrade", "expect", "cookie", "accept-encoding":
		return true
	}
	return false
}

func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0 {
			continue
		}
		return false
	}
	return true
}

func validateHeaders(v *ValidationError, h map[string]string) {
	if len(h) > MaxHeaders {
		v.add("headers", "at most %d headers allowed", MaxHeaders)
		return
	}
	total := 0
	for _, name := range sortedKeys(h) {
		value := h[name]
		total += len(name) + len(value)
		field := "headers." + name
		switch {
		case !isToken(name) || len(name) > MaxHeaderNameLen:
			v.add(field, "is not a valid header name (a token of at most %d characters)", MaxHeaderNameLen)
			continue
		case reservedHeader(name):
			v.add(field, "is set by the sender and cannot be overridden")
			continue
		}
		if len(value) > MaxHeaderValueLen {
			v.add(field, "value longer than %d bytes", MaxHeaderValueLen)
			continue
		}
		if msg := textProblem(value, '\t'); msg != "" {
			v.add(field, "value %s", msg)
		}
	}
	if total > MaxHeadersBytes {
		v.add("headers", "total size %d bytes exceeds %d", total, MaxHeadersBytes)
	}
}

func validateSecrets(v *ValidationError, secrets []Secret) {
	if len(secrets) > MaxSecrets {
		v.add("secrets", "at most %d secrets allowed", MaxSecrets)
		return
	}
	for i, s := range secrets {
		field := "secrets[" + strconv.Itoa(i) + "]"
		if err := CheckSecret(s.Value); err != nil {
			v.add(field, "%s", err.Error())
		}
		if i == 0 && !s.ExpiresAt.IsZero() {
			v.add(field, "the current secret must not expire")
		}
		if i > 0 && s.ExpiresAt.IsZero() {
			v.add(field, "a previous secret must have an expiry")
		}
	}
}

// CheckSecret reports whether s is a well-formed signing secret: "whsec_" + standard
// base64 of 24–64 bytes. The error never contains the secret.
func CheckSecret(s string) error {
	rest, ok := strings.CutPrefix(s, SecretPrefix)
	if !ok {
		return fmt.Errorf("must start with %q", SecretPrefix)
	}
	b, err := base64.StdEncoding.DecodeString(rest)
	if err != nil {
		return fmt.Errorf("is not %q followed by standard base64", SecretPrefix)
	}
	if len(b) < MinSecretBytes || len(b) > MaxSecretBytes {
		return fmt.Errorf("decodes to %d bytes, want %d to %d", len(b), MinSecretBytes, MaxSecretBytes)
	}
	return nil
}

// objects are the object types of the policy's catalogue ("claim", "contact"), the
// first segment of each event name.
func (p Policy) objects() []string {
	var out []string
	for _, name := range p.Catalogue {
		if obj, _, ok := strings.Cut(name, "."); ok && !slices.Contains(out, obj) {
			out = append(out, obj)
		}
	}
	return out
}
