// Package config loads eventrouter's configuration: defaults, then a YAML file, then
// EVENTROUTER_* environment variables, then command-line flags, into typed structs.
// It is the only package that imports viper; every other package receives its own
// section as a plain struct.
package config

import "time"

// Config is the whole configuration. Each section is handed to the package that owns it.
type Config struct {
	Log           Log           `mapstructure:"log" yaml:"log"`
	Kafka         Kafka         `mapstructure:"kafka" yaml:"kafka"`
	Redis         Redis         `mapstructure:"redis" yaml:"redis"`
	Topics        Topics        `mapstructure:"topics" yaml:"topics"`
	Events        Events        `mapstructure:"events" yaml:"events"`
	Router        Router        `mapstructure:"router" yaml:"router"`
	Delivery      Delivery      `mapstructure:"delivery" yaml:"delivery"`
	Subscriptions Subscriptions `mapstructure:"subscriptions" yaml:"subscriptions"`
	Egress        Egress        `mapstructure:"egress" yaml:"egress"`
	API           API           `mapstructure:"api" yaml:"api"`
	Ops           Ops           `mapstructure:"ops" yaml:"ops"`
	Tracing       Tracing       `mapstructure:"tracing" yaml:"tracing"`
}

// Log configures the zap logger.
type Log struct {
	Level  string `mapstructure:"level" yaml:"level"`   // debug, info, warn, error
	Format string `mapstructure:"format" yaml:"format"` // json or console
}

// TLS configures a TLS client connection. Files are PEM.
type TLS struct {
	Enabled            bool   `mapstructure:"enabled" yaml:"enabled"`
	CAFile             string `mapstructure:"ca_file" yaml:"ca_file"`
	CertFile           string `mapstructure:"cert_file" yaml:"cert_file"`
	KeyFile            string `mapstructure:"key_file" yaml:"key_file"`
	ServerName         string `mapstructure:"server_name" yaml:"server_name"`
	InsecureSkipVerify bool   `mapstructure:"insecure_skip_verify" yaml:"insecure_skip_verify"`
}

// SASL configures Kafka authentication. Mechanism "" means none.
type SASL struct {
	Mechanism string `mapstructure:"mechanism" yaml:"mechanism"` // "", PLAIN, SCRAM-SHA-256, SCRAM-SHA-512
	Username  string `mapstructure:"username" yaml:"username"`
	Password  string `mapstructure:"password" yaml:"password" secret:"true"`
}

// Kafka configures every Kafka client of every role.
type Kafka struct {
	Brokers  []string `mapstructure:"brokers" yaml:"brokers"`
	ClientID string   `mapstructure:"client_id" yaml:"client_id"`
	// InstanceID is this process's static group member id (KIP-345): a restarted process
	// with the same id takes its partitions back at once, without a rebalance. Must be
	// unique per live process of a role. Empty: derived from the host name (HOSTNAME,
	// e.g. the pod name), the role and, when it is not 9090, the ops.listen port; see
	// docs/operations.md.
	InstanceID string `mapstructure:"instance_id" yaml:"instance_id"`
	// StaticMembership, when false and InstanceID is empty, makes the router and sender
	// dynamic group members (a crash then stalls the dead member's partitions for the
	// session timeout and a rebalance).
	StaticMembership bool `mapstructure:"static_membership" yaml:"static_membership"`
	TLS              TLS  `mapstructure:"tls" yaml:"tls"`
	SASL             SASL `mapstructure:"sasl" yaml:"sasl"`
}

// Redis configures the subscription store and attempt log connection.
type Redis struct {
	// Mode is single (one server at Addr), cluster (Redis Cluster, seeded from Addrs) or
	// sentinel (the master MasterName, found through the sentinels at Addrs).
	Mode string `mapstructure:"mode" yaml:"mode"`
	Addr string `mapstructure:"addr" yaml:"addr"`
	// Addrs are the cluster seed nodes or the sentinels; in cluster mode empty means [Addr].
	Addrs []string `mapstructure:"addrs" yaml:"addrs"`
	// MasterName names the master the sentinels watch (sentinel mode only).
	MasterName string `mapstructure:"master_name" yaml:"master_name"`
	// SentinelUsername and SentinelPassword authenticate to the sentinels themselves
	// (sentinel mode), when they require it; Username and Password are for the servers.
	SentinelUsername string `mapstructure:"sentinel_username" yaml:"sentinel_username"`
	SentinelPassword string `mapstructure:"sentinel_password" yaml:"sentinel_password" secret:"true"`
	Username         string `mapstructure:"username" yaml:"username"`
	Password         string `mapstructure:"password" yaml:"password" secret:"true"`
	DB               int    `mapstructure:"db" yaml:"db"`
	// KeyPrefix namespaces every key eventrouter writes, e.g. "er:".
	KeyPrefix string `mapstructure:"key_prefix" yaml:"key_prefix"`
	// WaitReplicas > 0: each subscription write waits (Redis WAIT, up to WaitTimeout) for
	// that many replicas, so a failover cannot lose an acknowledged change.
	WaitReplicas int           `mapstructure:"wait_replicas" yaml:"wait_replicas"`
	WaitTimeout  time.Duration `mapstructure:"wait_timeout" yaml:"wait_timeout"`
	TLS          TLS           `mapstructure:"tls" yaml:"tls"`
}

// Topics names every topic the system uses and how `topics create` makes them.
type Topics struct {
	Ingest []string `mapstructure:"ingest" yaml:"ingest"`
	// IngestObjects says which objects each ingest topic carries, as "topic=object"
	// pairs (one topic per object). An event on another object's topic is handled as
	// router.wrong_topic says; a topic without pairs carries any object.
	IngestObjects []string `mapstructure:"ingest_objects" yaml:"ingest_objects"`
	Deliveries    string   `mapstructure:"deliveries" yaml:"deliveries"`
	Invalid       string   `mapstructure:"invalid" yaml:"invalid"`
	DLQ           string   `mapstructure:"dlq" yaml:"dlq"`
	// Operational carries operational events (subscription.disabled, delivery.exhausted,
	// …; docs/operational-events.md), key = account id.
	Operational string `mapstructure:"operational" yaml:"operational"`
	// RetryPrefix + the tier's delay ("5s", "5m0s" written short: "5m") names each retry tier.
	RetryPrefix       string        `mapstructure:"retry_prefix" yaml:"retry_prefix"`
	Partitions        int           `mapstructure:"partitions" yaml:"partitions"`
	ReplicationFactor int           `mapstructure:"replication_factor" yaml:"replication_factor"`
	Retention         time.Duration `mapstructure:"retention" yaml:"retention"`
	DLQRetention      time.Duration `mapstructure:"dlq_retention" yaml:"dlq_retention"`
}

// Events configures the ingest envelope.
type Events struct {
	// Catalogue lists every accepted event name, "<object>.<verb>".
	Catalogue []string `mapstructure:"catalogue" yaml:"catalogue"`
	// MaxBytes bounds an ingest record's value; larger records are invalid.
	MaxBytes int `mapstructure:"max_bytes" yaml:"max_bytes"`
}

// Router configures the ingest consumer group.
type Router struct {
	Group string `mapstructure:"group" yaml:"group"`
	// TransactionalIDPrefix is suffixed with a per-process unique id.
	TransactionalIDPrefix string        `mapstructure:"transactional_id_prefix" yaml:"transactional_id_prefix"`
	TransactionTimeout    time.Duration `mapstructure:"transaction_timeout" yaml:"transaction_timeout"`
	MaxPollRecords        int           `mapstructure:"max_poll_records" yaml:"max_poll_records"`
	// MaxRecordBytes bounds one produced delivery record; an event whose rendered body
	// exceeds it goes to the invalid topic (too_large) rather than a partial fan-out.
	MaxRecordBytes int `mapstructure:"max_record_bytes" yaml:"max_record_bytes"`
	// MaxTransactionRecords bounds one transaction; more than one poll joins a
	// transaction only while records are already buffered (a backlog).
	MaxTransactionRecords int `mapstructure:"max_transaction_records" yaml:"max_transaction_records"`
	// MaxTransactionSpan bounds how long a transaction keeps taking buffered records.
	MaxTransactionSpan time.Duration `mapstructure:"max_transaction_span" yaml:"max_transaction_span"`
	// Workers route a large poll in parallel (output keeps ingest order); 0: GOMAXPROCS.
	Workers int `mapstructure:"workers" yaml:"workers"`
	// RetryBackoff is the first pause after a transaction aborted on a produce error,
	// doubling up to MaxRetryBackoff while errors persist.
	RetryBackoff    time.Duration `mapstructure:"retry_backoff" yaml:"retry_backoff"`
	MaxRetryBackoff time.Duration `mapstructure:"max_retry_backoff" yaml:"max_retry_backoff"`
	// WrongTopic is what happens to an event on another object's ingest topic
	// (topics.ingest_objects): WrongTopicInvalid or WrongTopicDeliver; counted either way.
	WrongTopic string `mapstructure:"wrong_topic" yaml:"wrong_topic"`
	// OperationalGroup is the consumer group of the router role's operational forwarder,
	// which turns operational events into deliveries for the subscriptions that want them.
	OperationalGroup string `mapstructure:"operational_group" yaml:"operational_group"`
	// Compression is the codec of the batches the router produces (deliveries, invalid
	// records): none (default), snappy, lz4, zstd or gzip.
	Compression string `mapstructure:"compression" yaml:"compression"`
	// FetchMaxWait bounds how long an ingest fetch waits for more records; at a steady
	// rate it is the transaction cadence (latency against broker work per event).
	FetchMaxWait time.Duration `mapstructure:"fetch_max_wait" yaml:"fetch_max_wait"`
}

// Delivery configures the sender consumer group and the delivery policy (docs/delivery.md).
type Delivery struct {
	Group            string        `mapstructure:"group" yaml:"group"`
	Timeout          time.Duration `mapstructure:"timeout" yaml:"timeout"`
	MaxResponseBytes int           `mapstructure:"max_response_bytes" yaml:"max_response_bytes"`
	// RetrySchedule is the delay before each retry after the first, immediate attempt;
	// its length is the number of retries. After the last, the delivery goes to the DLQ.
	RetrySchedule []time.Duration `mapstructure:"retry_schedule" yaml:"retry_schedule"`
	// Jitter is the ± fraction applied to each delay (0.2 = ±20 %).
	Jitter float64 `mapstructure:"jitter" yaml:"jitter"`
	// RetryAfterMax bounds a receiver's Retry-After on 429/503.
	RetryAfterMax time.Duration `mapstructure:"retry_after_max" yaml:"retry_after_max"`
	// MaxInFlight caps concurrent requests per sender process.
	MaxInFlight int `mapstructure:"max_in_flight" yaml:"max_in_flight"`
	// DefaultMaxInFlight is a subscription's cap when it sets none.
	DefaultMaxInFlight int `mapstructure:"default_max_in_flight" yaml:"default_max_in_flight"`
	// BreakerThreshold consecutive failures open a subscription's circuit for BreakerCooldown.
	BreakerThreshold int           `mapstructure:"breaker_threshold" yaml:"breaker_threshold"`
	BreakerCooldown  time.Duration `mapstructure:"breaker_cooldown" yaml:"breaker_cooldown"`
	// DisableAfter without a success disables a failing subscription.
	DisableAfter time.Duration `mapstructure:"disable_after" yaml:"disable_after"`
	// AttemptLogSize bounds the attempts kept per subscription; AttemptLogTTL their age.
	AttemptLogSize int           `mapstructure:"attempt_log_size" yaml:"attempt_log_size"`
	AttemptLogTTL  time.Duration `mapstructure:"attempt_log_ttl" yaml:"attempt_log_ttl"`
	// MaxQueuedBytesPerSubscription and MaxQueuedPerSubscription are a subscription's
	// soft queue budget in one sender (record bytes plus 1 KiB each; deliveries):
	// reaching either pauses fetching of the partitions feeding it until it drains to
	// half (flow control, docs/delivery.md).
	MaxQueuedBytesPerSubscription int `mapstructure:"max_queued_bytes_per_subscription" yaml:"max_queued_bytes_per_subscription"`
	MaxQueuedPerSubscription      int `mapstructure:"max_queued_per_subscription" yaml:"max_queued_per_subscription"`
	// SaturationParkAfter is the longest a saturated subscription may keep partitions
	// paused (sooner when a subscription sharing them runs dry); after that its excess
	// is parked on the first retry tier (reason backpressure) so the other
	// subscriptions of those partitions proceed.
	SaturationParkAfter time.Duration `mapstructure:"saturation_park_after" yaml:"saturation_park_after"`
	// CommitInterval is how often finished offsets are committed.
	CommitInterval time.Duration `mapstructure:"commit_interval" yaml:"commit_interval"`
	// DrainTimeout bounds the wait for in-flight deliveries on revocation and shutdown;
	// what is still running then is not committed and is redelivered (same webhook-id).
	DrainTimeout time.Duration `mapstructure:"drain_timeout" yaml:"drain_timeout"`
	// FetchMaxWait is the broker long-poll bound; short, so retry-tier heads are
	// re-checked promptly.
	FetchMaxWait time.Duration `mapstructure:"fetch_max_wait" yaml:"fetch_max_wait"`
	// MaxPollRecords bounds one poll of the sender.
	MaxPollRecords int `mapstructure:"max_poll_records" yaml:"max_poll_records"`
}

// Subscriptions configures validation and caching of subscriptions.
type Subscriptions struct {
	MaxPerAccount int `mapstructure:"max_per_account" yaml:"max_per_account"`
	// EncryptionKeys is the key ring, each base64 of 32 bytes, newest first: when set,
	// signing secrets and custom header values are AES-GCM encrypted at rest with the
	// first key; every key of the ring can read what it encrypted.
	EncryptionKeys []string `mapstructure:"encryption_keys" yaml:"encryption_keys" secret:"true"`
	// EncryptionKey is deprecated (use EncryptionKeys): a one-key ring kept for existing
	// configurations, added after EncryptionKeys (as the oldest key) unless already in it.
	EncryptionKey string `mapstructure:"encryption_key" yaml:"encryption_key" secret:"true"`
	// ResyncInterval is the backstop version check of every live index.
	ResyncInterval time.Duration `mapstructure:"resync_interval" yaml:"resync_interval"`
	// RotationGrace is how long a rotated-out secret keeps signing; at most RotationGraceMax.
	RotationGrace    time.Duration `mapstructure:"rotation_grace" yaml:"rotation_grace"`
	RotationGraceMax time.Duration `mapstructure:"rotation_grace_max" yaml:"rotation_grace_max"`
	// StreamMaxLen caps the change stream; an index further behind reloads fully.
	StreamMaxLen int64 `mapstructure:"stream_max_len" yaml:"stream_max_len"`
	// IndexMaxBackoff is the longest wait between retries while Redis is unreachable.
	IndexMaxBackoff time.Duration `mapstructure:"index_max_backoff" yaml:"index_max_backoff"`
}

// Egress says which endpoints the sender may call (SSRF policy). Checked early when a
// subscription is written and, authoritatively, at dial time.
type Egress struct {
	// AllowHTTP permits plain http:// endpoints (dev, tests); otherwise https only.
	AllowHTTP bool `mapstructure:"allow_http" yaml:"allow_http"`
	// AllowCIDRs lists prefixes exempt from the private/loopback/link-local block.
	AllowCIDRs []string `mapstructure:"allow_cidrs" yaml:"allow_cidrs"`
	// AllowPorts lists ports besides 80 and 443 that endpoints may use (with or without
	// allow_http); checked when a subscription is written and when the sender dials.
	AllowPorts []int `mapstructure:"allow_ports" yaml:"allow_ports"`
}

// API configures the admin REST API.
type API struct {
	Listen string `mapstructure:"listen" yaml:"listen"`
	// AdminTokens see and change every account.
	AdminTokens []string `mapstructure:"admin_tokens" yaml:"admin_tokens" secret:"true"`
	// AccountTokens are "account_id=token" pairs: the token sees only that account.
	AccountTokens []string `mapstructure:"account_tokens" yaml:"account_tokens" secret:"true"`
	MaxBodyBytes  int64    `mapstructure:"max_body_bytes" yaml:"max_body_bytes"`
	// WriteRate (per second) and WriteBurst bound each token's writes; TestRate and
	// TestBurst its test events. 0 disables a limit.
	WriteRate  float64 `mapstructure:"write_rate" yaml:"write_rate"`
	WriteBurst int     `mapstructure:"write_burst" yaml:"write_burst"`
	TestRate   float64 `mapstructure:"test_rate" yaml:"test_rate"`
	TestBurst  int     `mapstructure:"test_burst" yaml:"test_burst"`
	// ReplayRate bounds the deliveries per second a replay job (POST /v1/replays,
	// eventrouter replay) produces, so live traffic keeps its latency.
	ReplayRate float64 `mapstructure:"replay_rate" yaml:"replay_rate"`
}

// Tracing configures OpenTelemetry tracing (docs/tracing.md): a route span per ingest
// record and an attempt span per delivery attempt, exported over OTLP/HTTP. Off by
// default.
type Tracing struct {
	Enabled bool `mapstructure:"enabled" yaml:"enabled"`
	// Endpoint is the OTLP/HTTP collector URL; without a path /v1/traces is used.
	// Empty: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT / OTEL_EXPORTER_OTLP_ENDPOINT, else
	// http://localhost:4318/v1/traces.
	Endpoint string `mapstructure:"endpoint" yaml:"endpoint"`
	// SampleRatio of new traces kept; a traced ingest record follows its parent's decision.
	SampleRatio float64 `mapstructure:"sample_ratio" yaml:"sample_ratio"`
	// PropagateToReceiver sends the attempt span's traceparent/tracestate to the endpoint.
	PropagateToReceiver bool   `mapstructure:"propagate_to_receiver" yaml:"propagate_to_receiver"`
	ServiceName         string `mapstructure:"service_name" yaml:"service_name"`
}

// Ops configures the operations listener every role runs and its shutdown.
type Ops struct {
	Listen          string        `mapstructure:"listen" yaml:"listen"`
	ShutdownTimeout time.Duration `mapstructure:"shutdown_timeout" yaml:"shutdown_timeout"`
	// LagInterval is how often every role measures the router's and the sender's group
	// lag from committed offsets (eventrouter_group_lag_records); 0 turns it off.
	LagInterval time.Duration `mapstructure:"lag_interval" yaml:"lag_interval"`
	// Pprof serves Go's runtime profiles under /debug/pprof/ on the ops listener.
	Pprof bool `mapstructure:"pprof" yaml:"pprof"`
	// GCPercent is the Go garbage collector's target, what GOGC sets: how far, in percent
	// of the live heap, the heap may grow before the next collection. Default 300 (Go's
	// own is 100): the roles' live heaps are small and their allocation rate high, so at
	// 100 they collect several times a second; at 300 CPU per delivery measured 8 %
	// lower (docs/benchmarks.md) for a few tens of MiB more heap. The GOGC environment
	// variable, when set, wins.
	GCPercent int `mapstructure:"gc_percent" yaml:"gc_percent"`
	// MemoryLimitBytes is the Go runtime's soft memory limit, what GOMEMLIMIT sets: near
	// it the collector runs as often as it must, whatever GCPercent allows. 0: 90 % of
	// the container's memory limit (cgroup v2 memory.max, or v1 memory.limit_in_bytes)
	// when the process has one, otherwise none. The GOMEMLIMIT environment variable,
	// when set, wins.
	MemoryLimitBytes int64 `mapstructure:"memory_limit_bytes" yaml:"memory_limit_bytes"`
}

// DefaultCatalogue is the default event catalogue (docs/producing.md).
var DefaultCatalogue = []string{
	"claim.created", "claim.closed", "claim.reopened", "claim.label_added",
	"claim.label_removed", "claim.assigned", "claim.unassigned", "claim.switched_type",
	"contact.created",
}

// Default returns the built-in configuration. Every key has a default here, which is
// also what makes its EVENTROUTER_* variable visible to viper.
func Default() Config {
	return Config{
		Log:   Log{Level: "info", Format: "json"},
		Kafka: Kafka{Brokers: []string{"127.0.0.1:9092"}, ClientID: "eventrouter", StaticMembership: true},
		Redis: Redis{Mode: RedisSingle, Addr: "127.0.0.1:6379", Addrs: []string{}, KeyPrefix: "er:", WaitTimeout: time.Second},
		Topics: Topics{
			Ingest:            []string{"claims.events", "contacts.events"},
			IngestObjects:     []string{"claims.events=claim", "contacts.events=contact"},
			Deliveries:        "webhooks.deliveries",
			Invalid:           "webhooks.invalid",
			DLQ:               "webhooks.dlq",
			Operational:       "webhooks.operational",
			RetryPrefix:       "webhooks.retry.",
			Partitions:        12,
			ReplicationFactor: 1,
			Retention:         7 * 24 * time.Hour,
			DLQRetention:      14 * 24 * time.Hour,
		},
		Events: Events{Catalogue: append([]string(nil), DefaultCatalogue...), MaxBytes: 1 << 20},
		Router: Router{
			Group:                 "eventrouter-router",
			TransactionalIDPrefix: "eventrouter-router",
			TransactionTimeout:    60 * time.Second,
			MaxPollRecords:        1000,
			MaxRecordBytes:        1_000_000,
			MaxTransactionRecords: 10000,
			MaxTransactionSpan:    50 * time.Millisecond,
			RetryBackoff:          250 * time.Millisecond,
			MaxRetryBackoff:       30 * time.Second,
			WrongTopic:            WrongTopicInvalid,
			OperationalGroup:      "eventrouter-operational",
			Compression:           "none",
			FetchMaxWait:          10 * time.Millisecond,
		},
		Delivery: Delivery{
			Group:            "eventrouter-sender",
			Timeout:          15 * time.Second,
			MaxResponseBytes: 64 << 10,
			RetrySchedule: []time.Duration{
				5 * time.Second, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour,
				5 * time.Hour, 10 * time.Hour, 14 * time.Hour, 20 * time.Hour, 24 * time.Hour,
			},
			Jitter:             0.2,
			RetryAfterMax:      time.Hour,
			MaxInFlight:        1024,
			DefaultMaxInFlight: 16,
			BreakerThreshold:   10,
			BreakerCooldown:    30 * time.Second,
			DisableAfter:       5 * 24 * time.Hour,
			AttemptLogSize:     1000,
			AttemptLogTTL:      14 * 24 * time.Hour,

			MaxQueuedBytesPerSubscription: 4 << 20,
			MaxQueuedPerSubscription:      1000,
			SaturationParkAfter:           5 * time.Second,
			CommitInterval:                time.Second,
			DrainTimeout:                  10 * time.Second,
			FetchMaxWait:                  250 * time.Millisecond,
			MaxPollRecords:                1000,
		},
		Subscriptions: Subscriptions{
			MaxPerAccount:    100,
			ResyncInterval:   15 * time.Second,
			RotationGrace:    24 * time.Hour,
			RotationGraceMax: 7 * 24 * time.Hour,
			StreamMaxLen:     10000,
			IndexMaxBackoff:  5 * time.Second,
		},
		Egress:  Egress{},
		API:     API{Listen: ":8080", MaxBodyBytes: 64 << 10, WriteRate: 10, WriteBurst: 20, TestRate: 1, TestBurst: 5, ReplayRate: 1000},
		Ops:     Ops{Listen: ":9090", ShutdownTimeout: 30 * time.Second, LagInterval: 15 * time.Second, GCPercent: 300},
		Tracing: Tracing{SampleRatio: 1, PropagateToReceiver: true, ServiceName: "eventrouter"},
	}
}
