package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

func writeFile(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "eventrouter.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDefaultsAreValid(t *testing.T) {
	cfg, err := Load(Source{Env: map[string]string{}})
	if err != nil {
		t.Fatalf("defaults must be valid: %v", err)
	}
	if cfg.Delivery.Timeout != 15*time.Second || len(cfg.Delivery.RetrySchedule) != 9 {
		t.Fatalf("unexpected defaults: timeout %v schedule %v", cfg.Delivery.Timeout, cfg.Delivery.RetrySchedule)
	}
	if len(cfg.Events.Catalogue) != 9 {
		t.Fatalf("default catalogue has %d names, want 9", len(cfg.Events.Catalogue))
	}
}

func TestPrecedenceFileEnvFlag(t *testing.T) {
	file := writeFile(t, `
kafka:
  brokers: [file-1:9092, file-2:9092]
delivery:
  timeout: 20s
  max_in_flight: 100
router:
  group: from-file
`)
	flags := pflag.NewFlagSet("test", pflag.ContinueOnError)
	flags.StringSlice("brokers", nil, "")
	flags.Duration("timeout", 0, "")
	if err := flags.Parse([]string{"--timeout=40s"}); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{
		"EVENTROUTER_DELIVERY_TIMEOUT":        "30s",
		"EVENTROUTER_DELIVERY_MAX_IN_FLIGHT":  "200",
		"EVENTROUTER_DELIVERY_RETRY_SCHEDULE": "1s, 2s,3m",
	}
	cfg, err := Load(Source{File: file, Env: env, Flags: flags,
		FlagKeys: map[string]string{"brokers": "kafka.brokers", "timeout": "delivery.timeout"}})
	if err != nil {
		t.Fatal(err)
	}
	// file beats default
	if cfg.Router.Group != "from-file" {
		t.Errorf("router.group = %q, want from-file", cfg.Router.Group)
	}
	// an unset flag does not override the file
	if got := strings.Join(cfg.Kafka.Brokers, ","); got != "file-1:9092,file-2:9092" {
		t.Errorf("kafka.brokers = %q, want the file's", got)
	}
	// env beats file
	if cfg.Delivery.MaxInFlight != 200 {
		t.Errorf("delivery.max_in_flight = %d, want 200 from env", cfg.Delivery.MaxInFlight)
	}
	// flag beats env
	if cfg.Delivery.Timeout != 40*time.Second {
		t.Errorf("delivery.timeout = %v, want 40s from the flag", cfg.Delivery.Timeout)
	}
	want := []time.Duration{time.Second, 2 * time.Second, 3 * time.Minute}
	if len(cfg.Delivery.RetrySchedule) != 3 || cfg.Delivery.RetrySchedule[2] != want[2] || cfg.Delivery.RetrySchedule[1] != want[1] {
		t.Errorf("retry schedule from env = %v, want %v", cfg.Delivery.RetrySchedule, want)
	}
}

func TestSliceFlagOverridesEverything(t *testing.T) {
	flags := pflag.NewFlagSet("test", pflag.ContinueOnError)
	flags.StringSlice("brokers", nil, "")
	_ = flags.Parse([]string{"--brokers=a:1,b:2"})
	cfg, err := Load(Source{Env: map[string]string{"EVENTROUTER_KAFKA_BROKERS": "env:9092"},
		Flags: flags, FlagKeys: map[string]string{"brokers": "kafka.brokers"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(cfg.Kafka.Brokers, ","); got != "a:1,b:2" {
		t.Fatalf("kafka.brokers = %q, want a:1,b:2", got)
	}
}

func problems(t *testing.T, err error) map[string]Problem {
	t.Helper()
	var p *Problems
	if !errors.As(err, &p) {
		t.Fatalf("want *Problems, got %v", err)
	}
	m := map[string]Problem{}
	for _, pr := range p.List {
		m[pr.Key] = pr
	}
	return m
}

func TestUnknownKeyAndBadTypeNamed(t *testing.T) {
	file := writeFile(t, "delivery:\n  timeuot: 5s\n  timeout: soon\n")
	_, err := Load(Source{File: file, Env: map[string]string{}})
	m := problems(t, err)
	if _, ok := m["delivery.timeuot"]; !ok {
		t.Errorf("unknown key not reported: %v", err)
	}
	if p, ok := m["delivery.timeout"]; !ok || !strings.Contains(p.String(), "soon") {
		t.Errorf("bad duration not reported with its value: %v", err)
	}
}

func TestEveryValidationErrorNamesItsKey(t *testing.T) {
	cases := []struct {
		key  string
		mod  func(*Config)
		hint string
	}{
		{"log.level", func(c *Config) { c.Log.Level = "loud" }, `"debug"`},
		{"log.format", func(c *Config) { c.Log.Format = "xml" }, "json"},
		{"kafka.brokers", func(c *Config) { c.Kafka.Brokers = nil }, "host:port"},
		{"kafka.brokers[0]", func(c *Config) { c.Kafka.Brokers = []string{"nohost"} }, "host:port"},
		{"kafka.client_id", func(c *Config) { c.Kafka.ClientID = "" }, "empty"},
		{"kafka.instance_id", func(c *Config) { c.Kafka.InstanceID = "pod 3" }, "letters, digits"},
		{"kafka.sasl.mechanism", func(c *Config) { c.Kafka.SASL.Mechanism = "GSSAPI" }, "SCRAM-SHA-512"},
		{"kafka.sasl.username", func(c *Config) { c.Kafka.SASL.Mechanism = "PLAIN" }, "username and password"},
		{"kafka.tls.cert_file", func(c *Config) { c.Kafka.TLS = TLS{Enabled: true, CertFile: "c.pem"} }, "together"},
		{"redis.addr", func(c *Config) { c.Redis.Addr = "redis" }, "host:port"},
		{"redis.db", func(c *Config) { c.Redis.DB = 16 }, "0..15"},
		{"redis.mode", func(c *Config) { c.Redis.Mode = "replicated" }, `"cluster"`},
		{"redis.wait_replicas", func(c *Config) { c.Redis.WaitReplicas = -1 }, "0..5"},
		{"redis.wait_timeout", func(c *Config) { c.Redis.WaitTimeout = 5 * time.Second }, "between"},
		{"redis.addrs", func(c *Config) { c.Redis.Addrs = []string{"a:1", "b:2"} }, "single mode uses redis.addr"},
		{"redis.addrs[1]", func(c *Config) { c.Redis.Mode = RedisCluster; c.Redis.Addrs = []string{"a:1", "b"} }, "host:port"},
		{"redis.db", func(c *Config) { c.Redis.Mode = RedisCluster; c.Redis.DB = 2 }, "0 in cluster mode"},
		{"redis.key_prefix", func(c *Config) { c.Redis.Mode = RedisCluster; c.Redis.KeyPrefix = "{er}:" }, "hash tags"},
		{"redis.addrs", func(c *Config) { c.Redis.Mode = RedisSentinel; c.Redis.MasterName = "m" }, "sentinels"},
		{"redis.master_name", func(c *Config) { c.Redis.Mode = RedisSentinel; c.Redis.Addrs = []string{"s:26379"} }, "name of the master"},
		{"events.catalogue", func(c *Config) { c.Events.Catalogue = nil }, "at least one"},
		{"events.catalogue[1]", func(c *Config) { c.Events.Catalogue = []string{"claim.created", "Claim Created"} }, "<object>.<verb>"},
		{"events.catalogue[1]", func(c *Config) { c.Events.Catalogue = []string{"claim.created", "claim.created"} }, "duplicate"},
		{"events.max_bytes", func(c *Config) { c.Events.MaxBytes = 10 }, "1024"},
		{"router.group", func(c *Config) { c.Router.Group = " " }, "empty"},
		{"events.catalogue[1]", func(c *Config) { c.Events.Catalogue = []string{"claim.created", "endpoint.failing"} }, "operational event type"},
		{"router.operational_group", func(c *Config) { c.Router.OperationalGroup = "" }, "empty"},
		{"router.operational_group", func(c *Config) { c.Router.OperationalGroup = c.Delivery.Group }, "must differ"},
		{"topics.operational", func(c *Config) { c.Topics.Operational = "a b" }, "legal Kafka topic"},
		{"router.transactional_id_prefix", func(c *Config) { c.Router.TransactionalIDPrefix = "" }, "empty"},
		{"router.transaction_timeout", func(c *Config) { c.Router.TransactionTimeout = time.Hour }, "between"},
		{"router.max_poll_records", func(c *Config) { c.Router.MaxPollRecords = 0 }, "1..100000"},
		{"router.max_transaction_records", func(c *Config) { c.Router.MaxTransactionRecords = 0 }, "1..1000000"},
		{"router.max_transaction_span", func(c *Config) { c.Router.MaxTransactionSpan = 0 }, "between"},
		{"router.fetch_max_wait", func(c *Config) { c.Router.FetchMaxWait = 5 * time.Second }, "between"},
		{"router.fetch_max_wait", func(c *Config) { c.Router.FetchMaxWait = 5 * time.Millisecond }, "between"},
		{"router.workers", func(c *Config) { c.Router.Workers = -1 }, "0..256"},
		{"router.max_record_bytes", func(c *Config) { c.Router.MaxRecordBytes = 10 }, "1024"},
		{"router.retry_backoff", func(c *Config) { c.Router.RetryBackoff = 0 }, "between"},
		{"router.max_retry_backoff", func(c *Config) { c.Router.MaxRetryBackoff = time.Millisecond }, "between"},
		{"ops.listen", func(c *Config) { c.Ops.Listen = "9090" }, "host:port"},
		{"ops.shutdown_timeout", func(c *Config) { c.Ops.ShutdownTimeout = 0 }, "between"},
		{"ops.gc_percent", func(c *Config) { c.Ops.GCPercent = 0 }, "25..2000"},
		{"ops.memory_limit_bytes", func(c *Config) { c.Ops.MemoryLimitBytes = 1 << 20 }, "64 MiB"},
		{"topics.ingest", func(c *Config) { c.Topics.Ingest = nil }, "at least one"},
		{"topics.ingest[0]", func(c *Config) { c.Topics.Ingest = []string{"bad topic"} }, "legal Kafka topic"},
		{"topics.deliveries", func(c *Config) { c.Topics.Deliveries = "" }, "legal Kafka topic"},
		{"topics.invalid", func(c *Config) { c.Topics.Invalid = "a/b" }, "legal Kafka topic"},
		{"topics.dlq", func(c *Config) { c.Topics.DLQ = ".." }, "legal Kafka topic"},
		{"topics.retry_prefix", func(c *Config) { c.Topics.RetryPrefix = "retry/" }, "legal topic names"},
		{"topics.partitions", func(c *Config) { c.Topics.Partitions = 0 }, "1..10000"},
		{"topics.replication_factor", func(c *Config) { c.Topics.ReplicationFactor = 0 }, "1..32"},
		{"topics.retention", func(c *Config) { c.Topics.Retention = 2 * time.Hour }, "retry schedule"},
		{"topics.dlq_retention", func(c *Config) { c.Topics.DLQRetention = time.Minute }, "between"},
		{"delivery.group", func(c *Config) { c.Delivery.Group = "" }, "empty"},
		{"delivery.timeout", func(c *Config) { c.Delivery.Timeout = time.Millisecond }, "between"},
		{"delivery.max_response_bytes", func(c *Config) { c.Delivery.MaxResponseBytes = -1 }, "0..10485760"},
		{"delivery.retry_schedule[1]", func(c *Config) { c.Delivery.RetrySchedule = []time.Duration{time.Second, 0} }, "> 0"},
		{"delivery.retry_schedule[0]", func(c *Config) { c.Delivery.RetrySchedule = []time.Duration{200 * time.Hour} }, "168h"},
		{"delivery.jitter", func(c *Config) { c.Delivery.Jitter = 1 }, "[0, 1)"},
		{"delivery.retry_after_max", func(c *Config) { c.Delivery.RetryAfterMax = -time.Second }, "between"},
		{"delivery.max_in_flight", func(c *Config) { c.Delivery.MaxInFlight = 0 }, "1..100000"},
		{"delivery.default_max_in_flight", func(c *Config) { c.Delivery.MaxInFlight = 4; c.Delivery.DefaultMaxInFlight = 8 }, "≤ delivery.max_in_flight"},
		{"delivery.breaker_threshold", func(c *Config) { c.Delivery.BreakerThreshold = 0 }, "1..10000"},
		{"delivery.breaker_cooldown", func(c *Config) { c.Delivery.BreakerCooldown = 0 }, "between"},
		{"delivery.disable_after", func(c *Config) { c.Delivery.DisableAfter = -1 }, "between"},
		{"delivery.attempt_log_size", func(c *Config) { c.Delivery.AttemptLogSize = 0 }, "1..100000"},
		{"delivery.attempt_log_ttl", func(c *Config) { c.Delivery.AttemptLogTTL = time.Second }, "between"},
		{"delivery.max_queued_bytes_per_subscription", func(c *Config) { c.Delivery.MaxQueuedBytesPerSubscription = 1000 }, "65536..1073741824"},
		{"delivery.max_queued_per_subscription", func(c *Config) { c.Delivery.MaxQueuedPerSubscription = 0 }, "1..1000000"},
		{"delivery.saturation_park_after", func(c *Config) { c.Delivery.SaturationParkAfter = 0 }, "between"},
		{"delivery.commit_interval", func(c *Config) { c.Delivery.CommitInterval = 0 }, "between"},
		{"delivery.drain_timeout", func(c *Config) { c.Delivery.DrainTimeout = time.Minute }, "between"},
		{"delivery.fetch_max_wait", func(c *Config) { c.Delivery.FetchMaxWait = time.Minute }, "between"},
		{"delivery.max_poll_records", func(c *Config) { c.Delivery.MaxPollRecords = 0 }, "1..100000"},
		{"subscriptions.stream_max_len", func(c *Config) { c.Subscriptions.StreamMaxLen = 1 }, "100..10000000"},
		{"subscriptions.index_max_backoff", func(c *Config) { c.Subscriptions.IndexMaxBackoff = 0 }, "between"},
		{"subscriptions.max_per_account", func(c *Config) { c.Subscriptions.MaxPerAccount = -1 }, "0..1000000"},
		{"subscriptions.encryption_key", func(c *Config) { c.Subscriptions.EncryptionKey = "c2hvcnQ=" }, "32 bytes"},
		{"subscriptions.encryption_keys[1]", func(c *Config) {
			c.Subscriptions.EncryptionKeys = []string{"MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=", "c2hvcnQ="}
		}, "32 bytes"},
		{"subscriptions.resync_interval", func(c *Config) { c.Subscriptions.ResyncInterval = 0 }, "between"},
		{"subscriptions.rotation_grace_max", func(c *Config) { c.Subscriptions.RotationGraceMax = 8 * 24 * time.Hour }, "168h"},
		{"subscriptions.rotation_grace", func(c *Config) { c.Subscriptions.RotationGrace = 200 * time.Hour }, "between"},
		{"egress.allow_cidrs[0]", func(c *Config) { c.Egress.AllowCIDRs = []string{"10.0.0.1"} }, "CIDR"},
		{"egress.allow_ports[0]", func(c *Config) { c.Egress.AllowPorts = []int{70000} }, "1..65535"},
		{"api.listen", func(c *Config) { c.API.Listen = "localhost" }, "host:port"},
		{"api.admin_tokens[0]", func(c *Config) { c.API.AdminTokens = []string{"short"} }, "16 characters"},
		{"api.account_tokens[0]", func(c *Config) { c.API.AccountTokens = []string{"no-equals-sign-here-at-all"} }, "account_id=token"},
		{"api.max_body_bytes", func(c *Config) { c.API.MaxBodyBytes = 10 }, "1024"},
		{"api.write_rate", func(c *Config) { c.API.WriteRate = -1 }, "0 (no limit)"},
		{"api.write_burst", func(c *Config) { c.API.WriteBurst = 0 }, "1..1000000"},
		{"api.test_burst", func(c *Config) { c.API.TestBurst = 0 }, "1..1000000"},
		{"tracing.sample_ratio", func(c *Config) { c.Tracing.SampleRatio = 1.5 }, "between 0 and 1"},
		{"tracing.endpoint", func(c *Config) { c.Tracing.Endpoint = "collector:4318" }, "http:// or https://"},
		{"tracing.service_name", func(c *Config) { c.Tracing.Enabled = true; c.Tracing.ServiceName = "" }, "empty"},
	}
	for _, tc := range cases {
		t.Run(tc.key, func(t *testing.T) {
			cfg := Default()
			tc.mod(&cfg)
			m := problems(t, cfg.Validate())
			p, ok := m[tc.key]
			if !ok {
				t.Fatalf("no problem for %s; got %v", tc.key, cfg.Validate())
			}
			if !strings.Contains(p.Message, tc.hint) {
				t.Fatalf("%s: message %q does not say %q", tc.key, p.Message, tc.hint)
			}
		})
	}
}

func TestAllProblemsReportedAtOnce(t *testing.T) {
	cfg := Default()
	cfg.Log.Level = "loud"
	cfg.Topics.Partitions = 0
	cfg.Delivery.Jitter = 2
	m := problems(t, cfg.Validate())
	for _, k := range []string{"log.level", "topics.partitions", "delivery.jitter"} {
		if _, ok := m[k]; !ok {
			t.Errorf("missing problem for %s", k)
		}
	}
}

func TestRedactHidesSecrets(t *testing.T) {
	cfg := Default()
	cfg.Kafka.SASL.Password = "kafka-pass"
	cfg.Redis.Password = "redis-pass"
	cfg.API.AdminTokens = []string{"admin-token-0123456789"}
	cfg.API.AccountTokens = []string{"acct_1=account-token-0123456789"}
	cfg.Subscriptions.EncryptionKey = "key-material"
	cfg.Subscriptions.EncryptionKeys = []string{"ring-material"}
	out, err := cfg.Redact().YAML()
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{"kafka-pass", "redis-pass", "admin-token", "account-token", "key-material", "ring-material"} {
		if strings.Contains(string(out), secret) {
			t.Errorf("printed config leaks %q", secret)
		}
	}
	if !strings.Contains(string(out), "timeout: 15s") {
		t.Errorf("durations should print as 15s:\n%s", out)
	}
	if cfg.Redis.Password != "redis-pass" {
		t.Error("Redact must not modify the original")
	}
}

func TestExampleFileDocumentsEveryKey(t *testing.T) {
	raw, err := os.ReadFile("../eventrouter.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(Source{File: "../eventrouter.example.yaml", Env: map[string]string{}})
	if err != nil {
		t.Fatalf("the example file must be valid: %v", err)
	}
	_ = cfg
	for _, k := range Keys() {
		leaf := k[strings.LastIndex(k, ".")+1:]
		if !strings.Contains(string(raw), leaf+":") {
			t.Errorf("eventrouter.example.yaml does not document %s", k)
		}
	}
	doc, err := os.ReadFile("../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range Keys() {
		if !strings.Contains(string(doc), "`"+k+"`") {
			t.Errorf("docs/configuration.md does not document %s", k)
		}
	}
}

// TestCommandDefaultsSitBelowEveryUserSource: a command's own defaults (dev mode's
// loopback listeners) replace the built-in ones but never what the user set.
func TestCommandDefaultsSitBelowEveryUserSource(t *testing.T) {
	defaults := map[string]any{"api.listen": "127.0.0.1:8080", "ops.listen": "127.0.0.1:9090"}
	cfg, err := Load(Source{Env: map[string]string{}, Defaults: defaults})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.API.Listen != "127.0.0.1:8080" || cfg.Ops.Listen != "127.0.0.1:9090" {
		t.Fatalf("listen = %q, %q: want the command's defaults", cfg.API.Listen, cfg.Ops.Listen)
	}
	file := writeFile(t, "api:\n  listen: \":18080\"\n")
	cfg, err = Load(Source{File: file, Env: map[string]string{"EVENTROUTER_OPS_LISTEN": ":19090"}, Defaults: defaults})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.API.Listen != ":18080" || cfg.Ops.Listen != ":19090" {
		t.Fatalf("listen = %q, %q: want the file's and the environment's", cfg.API.Listen, cfg.Ops.Listen)
	}
	if _, err := Load(Source{Env: map[string]string{}, Defaults: map[string]any{"api.lisen": "x"}}); err == nil {
		t.Fatal("a command default for an unknown key must be refused")
	}
}
