package config

import (
	"encoding/base64"
	"fmt"
	"net"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/claimable/eventrouter/events"
)

var (
	topicName = regexp.MustCompile(`^[a-zA-Z0-9._-]{1,249}$`)
	eventName = regexp.MustCompile(`^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$`)
)

// Validate checks every value and returns a *Problems listing each invalid one with its
// key, the bad value and what is allowed; nil when the configuration is valid.
func (c Config) Validate() error {
	var p Problems
	c.validateBasics(&p)
	c.validateTopics(&p)
	c.validateIngestObjects(&p)
	c.validateDelivery(&p)
	c.validateAccess(&p)
	c.Tracing.validate(&p)
	if len(p.List) > 0 {
		return &p
	}
	return nil
}

func (c Config) validateBasics(p *Problems) {
	oneOf(p, "log.level", c.Log.Level, "debug", "info", "warn", "error")
	oneOf(p, "log.format", c.Log.Format, "json", "console")
	if len(c.Kafka.Brokers) == 0 {
		p.add("kafka.brokers", "", "at least one host:port is required")
	}
	for i, b := range c.Kafka.Brokers {
		hostPort(p, fmt.Sprintf("kafka.brokers[%d]", i), b, false)
	}
	if c.Kafka.ClientID == "" {
		p.add("kafka.client_id", "", "must not be empty")
	}
	if id := c.Kafka.InstanceID; id != "" && (!topicName.MatchString(id) || id == "." || id == "..") {
		p.add("kafka.instance_id", strconv.Quote(id), "must be 1-249 of letters, digits, '.', '_', '-' (or empty: derived from the host name)")
	}
	oneOf(p, "kafka.sasl.mechanism", c.Kafka.SASL.Mechanism, "", "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")
	if c.Kafka.SASL.Mechanism != "" && (c.Kafka.SASL.Username == "" || c.Kafka.SASL.Password == "") {
		p.add("kafka.sasl.username", c.Kafka.SASL.Username, "SASL needs both username and password")
	}
	tlsFiles(p, "kafka.tls", c.Kafka.TLS)
	c.Redis.validate(p)
	if len(c.Events.Catalogue) == 0 {
		p.add("events.catalogue", "", "at least one event name is required")
	}
	seen := map[string]bool{}
	for i, n := range c.Events.Catalogue {
		key := fmt.Sprintf("events.catalogue[%d]", i)
		switch {
		case !eventName.MatchString(n):
			p.add(key, strconv.Quote(n), `must be "<object>.<verb>" in lower case, e.g. "claim.created"`)
		case seen[n]:
			p.add(key, strconv.Quote(n), "duplicate event name")
		case events.IsOperational(n):
			p.add(key, strconv.Quote(n), "is an operational event type eventrouter publishes itself (docs/operational-events.md)")
		}
		seen[n] = true
	}
	intRange(p, "events.max_bytes", c.Events.MaxBytes, 1<<10, 64<<20)
	nonEmpty(p, "router.group", c.Router.Group)
	nonEmpty(p, "router.transactional_id_prefix", c.Router.TransactionalIDPrefix)
	nonEmpty(p, "router.operational_group", c.Router.OperationalGroup)
	if g := c.Router.OperationalGroup; g != "" && (g == c.Router.Group || g == c.Delivery.Group) {
		p.add("router.operational_group", strconv.Quote(g), "must differ from router.group and delivery.group")
	}
	durRange(p, "router.transaction_timeout", c.Router.TransactionTimeout, time.Second, 15*time.Minute)
	intRange(p, "router.max_poll_records", c.Router.MaxPollRecords, 1, 100000)
	intRange(p, "router.max_transaction_records", c.Router.MaxTransactionRecords, 1, 1000000)
	durRange(p, "router.max_transaction_span", c.Router.MaxTransactionSpan, time.Millisecond, time.Minute)
	intRange(p, "router.workers", c.Router.Workers, 0, 256)
	intRange(p, "router.max_record_bytes", c.Router.MaxRecordBytes, 1<<10, 64<<20)
	oneOf(p, "router.compression", c.Router.Compression, "none", "snappy", "lz4", "zstd", "gzip")
	durRange(p, "router.fetch_max_wait", c.Router.FetchMaxWait, 10*time.Millisecond, time.Second) // franz-go refuses less
	durRange(p, "router.retry_backoff", c.Router.RetryBackoff, time.Millisecond, time.Minute)
	durRange(p, "router.max_retry_backoff", c.Router.MaxRetryBackoff, c.Router.RetryBackoff, 10*time.Minute)
	hostPort(p, "ops.listen", c.Ops.Listen, true)
	durRange(p, "ops.shutdown_timeout", c.Ops.ShutdownTimeout, time.Second, 10*time.Minute)
	if c.Ops.LagInterval != 0 {
		durRange(p, "ops.lag_interval", c.Ops.LagInterval, time.Second, time.Hour)
	}
	intRange(p, "ops.gc_percent", c.Ops.GCPercent, 25, 2000)
	if c.Ops.MemoryLimitBytes != 0 && c.Ops.MemoryLimitBytes < 64<<20 {
		p.add("ops.memory_limit_bytes", strconv.FormatInt(c.Ops.MemoryLimitBytes, 10),
			"must be at least 64 MiB (67108864), or 0 to derive it from the container's memory limit")
	}
}

func (c Config) validateTopics(p *Problems) {
	for i, t := range c.Topics.Ingest {
		topic(p, fmt.Sprintf("topics.ingest[%d]", i), t)
	}
	if len(c.Topics.Ingest) == 0 {
		p.add("topics.ingest", "", "at least one ingest topic is required")
	}
	topic(p, "topics.deliveries", c.Topics.Deliveries)
	topic(p, "topics.invalid", c.Topics.Invalid)
	topic(p, "topics.dlq", c.Topics.DLQ)
	topic(p, "topics.operational", c.Topics.Operational)
	if !topicName.MatchString(c.Topics.RetryPrefix + "24h") {
		p.add("topics.retry_prefix", strconv.Quote(c.Topics.RetryPrefix), "must make legal topic names (letters, digits, '.', '_', '-')")
	}
	intRange(p, "topics.partitions", c.Topics.Partitions, 1, 10000)
	intRange(p, "topics.replication_factor", c.Topics.ReplicationFactor, 1, 32)
	durRange(p, "topics.retention", c.Topics.Retention, time.Hour, 365*24*time.Hour)
	durRange(p, "topics.dlq_retention", c.Topics.DLQRetention, time.Hour, 365*24*time.Hour)
	if c.Topics.Retention > 0 && c.Topics.Retention < c.Delivery.totalSchedule() {
		p.add("topics.retention", c.Topics.Retention.String(),
			"must exceed the whole retry schedule ("+c.Delivery.totalSchedule().String()+") or retries could expire unread")
	}
}

func (d Delivery) totalSchedule() time.Duration {
	var t time.Duration
	for _, s := range d.RetrySchedule {
		t += s
	}
	return t
}

func (c Config) validateDelivery(p *Problems) {
	d := c.Delivery
	nonEmpty(p, "delivery.group", d.Group)
	durRange(p, "delivery.timeout", d.Timeout, 100*time.Millisecond, 5*time.Minute)
	intRange(p, "delivery.max_response_bytes", d.MaxResponseBytes, 0, 10<<20)
	for i, s := range d.RetrySchedule {
		key := fmt.Sprintf("delivery.retry_schedule[%d]", i)
		if s <= 0 {
			p.add(key, s.String(), "each retry delay must be > 0 (the first attempt is always immediate)")
		}
		if s > 7*24*time.Hour {
			p.add(key, s.String(), "each retry delay must be ≤ 168h")
		}
	}
	if d.Jitter < 0 || d.Jitter >= 1 {
		p.add("delivery.jitter", strconv.FormatFloat(d.Jitter, 'g', -1, 64), "must be in [0, 1)")
	}
	durRange(p, "delivery.retry_after_max", d.RetryAfterMax, 0, 7*24*time.Hour)
	intRange(p, "delivery.max_in_flight", d.MaxInFlight, 1, 100000)
	intRange(p, "delivery.default_max_in_flight", d.DefaultMaxInFlight, 1, 1000)
	if d.DefaultMaxInFlight > d.MaxInFlight && d.MaxInFlight >= 1 {
		p.add("delivery.default_max_in_flight", strconv.Itoa(d.DefaultMaxInFlight), "must be ≤ delivery.max_in_flight")
	}
	intRange(p, "delivery.breaker_threshold", d.BreakerThreshold, 1, 10000)
	durRange(p, "delivery.breaker_cooldown", d.BreakerCooldown, 100*time.Millisecond, 24*time.Hour)
	durRange(p, "delivery.disable_after", d.DisableAfter, 0, 90*24*time.Hour)
	intRange(p, "delivery.attempt_log_size", d.AttemptLogSize, 1, 100000)
	durRange(p, "delivery.attempt_log_ttl", d.AttemptLogTTL, time.Minute, 365*24*time.Hour)
	intRange(p, "delivery.max_queued_bytes_per_subscription", d.MaxQueuedBytesPerSubscription, 64<<10, 1<<30)
	intRange(p, "delivery.max_queued_per_subscription", d.MaxQueuedPerSubscription, 1, 1000000)
	durRange(p, "delivery.saturation_park_after", d.SaturationParkAfter, 10*time.Millisecond, 10*time.Minute)
	durRange(p, "delivery.commit_interval", d.CommitInterval, 10*time.Millisecond, time.Minute)
	durRange(p, "delivery.drain_timeout", d.DrainTimeout, 0, 50*time.Second)
	durRange(p, "delivery.fetch_max_wait", d.FetchMaxWait, 10*time.Millisecond, 5*time.Second)
	intRange(p, "delivery.max_poll_records", d.MaxPollRecords, 1, 100000)
}

func (c Config) validateAccess(p *Problems) {
	s := c.Subscriptions
	intRange(p, "subscriptions.max_per_account", s.MaxPerAccount, 0, 1000000)
	if s.EncryptionKey != "" {
		if k, err := base64.StdEncoding.DecodeString(s.EncryptionKey); err != nil || len(k) != 32 {
			p.add("subscriptions.encryption_key", "(redacted)", "must be base64 of exactly 32 bytes (openssl rand -base64 32)")
		}
	}
	seen := map[string]int{}
	for i, key := range s.EncryptionKeys {
		field := fmt.Sprintf("subscriptions.encryption_keys[%d]", i)
		if k, err := base64.StdEncoding.DecodeString(key); err != nil || len(k) != 32 {
			p.add(field, "(redacted)", "must be base64 of exactly 32 bytes (openssl rand -base64 32)")
		} else if j, dup := seen[string(k)]; dup {
			p.add(field, "(redacted)", fmt.Sprintf("is the same key as encryption_keys[%d]", j))
		} else {
			seen[string(k)] = i
		}
	}
	durRange(p, "subscriptions.resync_interval", s.ResyncInterval, time.Second, time.Hour)
	if s.StreamMaxLen < 100 || s.StreamMaxLen > 10000000 {
		p.add("subscriptions.stream_max_len", strconv.FormatInt(s.StreamMaxLen, 10), "must be 100..10000000")
	}
	durRange(p, "subscriptions.index_max_backoff", s.IndexMaxBackoff, 100*time.Millisecond, 5*time.Minute)
	durRange(p, "subscriptions.rotation_grace_max", s.RotationGraceMax, 0, 7*24*time.Hour)
	durRange(p, "subscriptions.rotation_grace", s.RotationGrace, 0, s.RotationGraceMax)
	for i, cidr := range c.Egress.AllowCIDRs {
		if _, err := netip.ParsePrefix(cidr); err != nil {
			p.add(fmt.Sprintf("egress.allow_cidrs[%d]", i), strconv.Quote(cidr), "must be a CIDR prefix such as 10.1.0.0/16")
		}
	}
	for i, port := range c.Egress.AllowPorts {
		intRange(p, fmt.Sprintf("egress.allow_ports[%d]", i), port, 1, 65535)
	}
	hostPort(p, "api.listen", c.API.Listen, true)
	for i, tok := range c.API.AdminTokens {
		if len(tok) < 16 {
			p.add(fmt.Sprintf("api.admin_tokens[%d]", i), "(redacted)", "tokens must be at least 16 characters")
		}
	}
	for i, pair := range c.API.AccountTokens {
		acct, tok, ok := strings.Cut(pair, "=")
		if !ok || acct == "" || len(tok) < 16 {
			p.add(fmt.Sprintf("api.account_tokens[%d]", i), "(redacted)", `must be "account_id=token" with a token of at least 16 characters`)
		}
	}
	if c.API.MaxBodyBytes < 1<<10 || c.API.MaxBodyBytes > 16<<20 {
		p.add("api.max_body_bytes", strconv.FormatInt(c.API.MaxBodyBytes, 10), "must be 1024..16777216")
	}
	for _, l := range []struct {
		key   string
		rate  float64
		burst int
	}{{"api.write", c.API.WriteRate, c.API.WriteBurst}, {"api.test", c.API.TestRate, c.API.TestBurst}} {
		if !(l.rate >= 0 && l.rate <= 1e6) { // also refuses NaN
			p.add(l.key+"_rate", strconv.FormatFloat(l.rate, 'g', -1, 64), "must be 0 (no limit) to 1000000 requests per second")
		}
		if l.rate > 0 {
			intRange(p, l.key+"_burst", l.burst, 1, 1_000_000)
		}
	}
	if !(c.API.ReplayRate >= 1 && c.API.ReplayRate <= 1e6) {
		p.add("api.replay_rate", strconv.FormatFloat(c.API.ReplayRate, 'g', -1, 64), "must be 1 to 1000000 deliveries per second")
	}
}

// AccountTokens parses API.AccountTokens into token → account id.
func (a API) AccountTokenMap() map[string]string {
	m := make(map[string]string, len(a.AccountTokens))
	for _, pair := range a.AccountTokens {
		if acct, tok, ok := strings.Cut(pair, "="); ok {
			m[tok] = acct
		}
	}
	return m
}

// AllowPrefixes parses Egress.AllowCIDRs (already validated).
func (e Egress) AllowPrefixes() []netip.Prefix {
	out := make([]netip.Prefix, 0, len(e.AllowCIDRs))
	for _, c := range e.AllowCIDRs {
		if p, err := netip.ParsePrefix(c); err == nil {
			out = append(out, p)
		}
	}
	return out
}

func oneOf(p *Problems, key, val string, allowed ...string) {
	for _, a := range allowed {
		if val == a {
			return
		}
	}
	quoted := make([]string, 0, len(allowed))
	for _, a := range allowed {
		if a != "" {
			quoted = append(quoted, strconv.Quote(a))
		}
	}
	msg := "must be one of " + strings.Join(quoted, ", ")
	if allowed[0] == "" {
		msg += ", or empty"
	}
	p.add(key, strconv.Quote(val), msg)
}

func nonEmpty(p *Problems, key, val string) {
	if strings.TrimSpace(val) == "" {
		p.add(key, `""`, "must not be empty")
	}
}

func intRange(p *Problems, key string, val, lo, hi int) {
	if val < lo || val > hi {
		p.add(key, strconv.Itoa(val), fmt.Sprintf("must be %d..%d", lo, hi))
	}
}

func durRange(p *Problems, key string, val, lo, hi time.Duration) {
	if val < lo || val > hi {
		p.add(key, val.String(), fmt.Sprintf("must be between %s and %s", lo, hi))
	}
}

func topic(p *Problems, key, name string) {
	if !topicName.MatchString(name) || name == "." || name == ".." {
		p.add(key, strconv.Quote(name), "must be a legal Kafka topic name: 1-249 of letters, digits, '.', '_', '-'")
	}
}

func hostPort(p *Problems, key, val string, hostOptional bool) {
	host, port, err := net.SplitHostPort(val)
	if err != nil {
		p.add(key, strconv.Quote(val), "must be host:port")
		return
	}
	if host == "" && !hostOptional {
		p.add(key, strconv.Quote(val), "must name a host")
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		p.add(key, strconv.Quote(val), "port must be 0..65535")
	}
}

func tlsFiles(p *Problems, key string, t TLS) {
	if !t.Enabled {
		return
	}
	if (t.CertFile == "") != (t.KeyFile == "") {
		p.add(key+".cert_file", t.CertFile, "cert_file and key_file go together")
	}
}
