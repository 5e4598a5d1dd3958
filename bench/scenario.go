// Package bench is `eventrouter bench`: an end-to-end load benchmark of the whole
// pipeline against a real Kafka broker and Redis, beside raw baselines measured in the
// same run (a franz-go passthrough through the same broker; plain HTTP POSTs of the same
// bodies to the same receiver), so results read as ratios rather than machine-dependent
// absolutes.
//
// A run creates its own topics (prefix "bench-<run id>."), Redis key prefix, consumer
// groups and transactional ids, seeds subscriptions, starts the router and the sender
// as separate child processes of the eventrouter binary (so /proc gives each role's CPU
// and peak RSS), produces events, and checks at the receiver that every expected
// (event, subscription) pair arrived, by its deterministic delivery id, with a valid
// signature. It deletes its topics and keys at the end.
package bench

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
)

// DefaultIngestLinger is the generator's producer linger: 5 ms, the default of the
// Apache Kafka Java producer (since 4.0) and of librdkafka, the clients an upstream
// service most likely produces with. A shorter linger sends more, smaller produce
// requests, each of which costs the broker CPU whatever it holds.
const DefaultIngestLinger = 5 * time.Millisecond

// Config is one benchmark run. Zero fields take the defaults of Defaults.
type Config struct {
	// Scenario names the preset this run started from (informational once applied).
	Scenario string
	// Binary is the eventrouter executable started as `Binary router` / `Binary sender`.
	Binary    string
	Brokers   []string
	RedisAddr string

	// Rate is the target events per second; 0 produces flat out (bounded by Window).
	Rate     float64
	Duration time.Duration
	// Subscriptions are spread evenly over Accounts; Fanout of each account's
	// subscriptions match every event (the others subscribe to an event never produced).
	Subscriptions int
	Accounts      int
	Fanout        int
	// BodyBytes is the size of each rendered webhook body.
	BodyBytes int
	// ReceiverLatency delays every answer; FailureRate (0..1) answers 503 at random.
	ReceiverLatency time.Duration
	FailureRate     float64
	// Hanging makes one of the endpoints hang for the second half of the run.
	Hanging bool
	// RestartSender restarts the sender process (SIGTERM, start) halfway through.
	RestartSender bool

	// Partitions of every topic of the run (ingest, deliveries, retry tiers).
	Partitions int
	// MaxInFlight is each subscription's concurrency (delivery.default_max_in_flight);
	// the raw HTTP baseline uses Subscriptions×MaxInFlight workers, at most 1024 (the
	// sender's delivery.max_in_flight).
	MaxInFlight int
	// IngestLinger is the generator's producer linger: how long it holds events for a
	// partition before sending them, as an upstream service's Kafka client does (0: the
	// default, DefaultIngestLinger). The raw passthrough's producer uses the same.
	IngestLinger time.Duration
	// Window bounds events produced but not yet delivered when flat out, so throughput
	// is measured in a steady state rather than as a broker backlog.
	Window int
	// Drain is how long to wait after producing for outstanding deliveries.
	Drain time.Duration
	// Baselines runs the raw passthrough and HTTP baselines after the pipeline run.
	Baselines bool
	// WarmUp is how long Repeat's untimed warm-up run of the scenario produces before the
	// first timed run (see DefaultWarmUp); 0: none (the broker still gets WarmBroker's
	// transaction and group commit).
	WarmUp time.Duration
	// LeadIn is how long each run produces at its own pace, untimed, straight before its
	// measured window (see DefaultLeadIn); its deliveries are checked like the window's
	// and its latency reported apart. The raw passthrough gets the same lead-in. 0: none.
	LeadIn time.Duration
	// Bucket is the width of the latency-over-time series.
	Bucket time.Duration
	// SeedWorkers write subscriptions concurrently.
	SeedWorkers int
	// ProfileDir, when set, receives CPU profiles of the harness and of every role over
	// the produce phase of each run (the roles run with ops.pprof on).
	ProfileDir string
	// Keep leaves topics and Redis keys in place (for debugging).
	Keep bool
	// RoleEnv are extra EVENTROUTER_* settings ("KEY=value") given to the role
	// processes after the run's own, so they override them: for tuning experiments,
	// e.g. "EVENTROUTER_ROUTER_MAX_TRANSACTION_SPAN=10ms".
	RoleEnv []string
}

// Defaults fills zero fields of c.
func (c Config) Defaults() Config {
	def := func(p *int, v int) {
		if *p == 0 {
			*p = v
		}
	}
	if len(c.Brokers) == 0 {
		c.Brokers = []string{"127.0.0.1:9092"}
	}
	if c.RedisAddr == "" {
		c.RedisAddr = "127.0.0.1:6379"
	}
	if c.Duration == 0 {
		c.Duration = 10 * time.Second
	}
	def(&c.Subscriptions, 10)
	def(&c.Accounts, c.Subscriptions)
	def(&c.Fanout, 1)
	def(&c.BodyBytes, 1024)
	def(&c.Partitions, 6)
	def(&c.MaxInFlight, 16)
	def(&c.Window, 2000)
	def(&c.SeedWorkers, 32)
	if c.IngestLinger == 0 {
		c.IngestLinger = DefaultIngestLinger
	}
	if c.Drain == 0 {
		c.Drain = 60 * time.Second
	}
	if c.Bucket == 0 {
		c.Bucket = 500 * time.Millisecond
	}
	return c
}

// Validate reports every problem, each naming its flag.
func (c Config) Validate() error {
	var es []error
	bad := func(flag, format string, args ...any) {
		es = append(es, fmt.Errorf("--%s: %s", flag, fmt.Sprintf(format, args...)))
	}
	if c.Binary == "" {
		bad("binary", "the eventrouter executable is required")
	}
	if c.Rate < 0 {
		bad("rate", "%v is negative", c.Rate)
	}
	if c.Duration < time.Second {
		bad("duration", "%s is shorter than 1s", c.Duration)
	}
	if c.Subscriptions < 1 || c.Subscriptions > 1_000_000 {
		bad("subscriptions", "%d is outside 1..1000000", c.Subscriptions)
	}
	if c.Accounts < 1 || c.Accounts > c.Subscriptions {
		bad("accounts", "%d is outside 1..subscriptions (%d)", c.Accounts, c.Subscriptions)
	} else if c.Subscriptions%c.Accounts != 0 {
		bad("accounts", "subscriptions (%d) must be a multiple of accounts (%d)", c.Subscriptions, c.Accounts)
	} else if per := c.Subscriptions / c.Accounts; c.Fanout < 1 || c.Fanout > per {
		bad("fanout", "%d is outside 1..subscriptions per account (%d)", c.Fanout, per)
	}
	if c.BodyBytes < 400 || c.BodyBytes > 512<<10 {
		bad("body-bytes", "%d is outside 400..524288", c.BodyBytes)
	}
	if c.FailureRate < 0 || c.FailureRate >= 1 {
		bad("failure-rate", "%v is outside [0, 1)", c.FailureRate)
	}
	if c.LeadIn < 0 || c.LeadIn > time.Minute {
		bad("lead-in", "%s is outside 0..1m", c.LeadIn)
	}
	if c.ReceiverLatency < 0 {
		bad("receiver-latency", "%s is negative", c.ReceiverLatency)
	}
	if c.IngestLinger < 0 || c.IngestLinger > time.Minute {
		bad("ingest-linger", "%s is outside 0..1m (the Kafka client's bounds)", c.IngestLinger)
	}
	if c.Partitions < 1 || c.Partitions > 1000 {
		bad("partitions", "%d is outside 1..1000", c.Partitions)
	}
	if c.MaxInFlight < 1 || c.MaxInFlight > 1000 {
		bad("max-in-flight", "%d is outside 1..1000", c.MaxInFlight)
	}
	for _, kv := range c.RoleEnv {
		if k, _, ok := strings.Cut(kv, "="); !ok || !strings.HasPrefix(k, "EVENTROUTER_") {
			bad("role-env", "%q is not EVENTROUTER_KEY=value", kv)
		}
	}
	if c.Hanging && c.Subscriptions < 2 {
		bad("subscriptions", "the hanging scenario needs at least 2 subscriptions")
	}
	return errors.Join(es...)
}

// httpConcurrency is the raw HTTP baseline's worker count: the sender's concurrency.
func (c Config) httpConcurrency() int {
	return min(c.Subscriptions*c.MaxInFlight, 1024)
}

// scenarios are the presets of --scenario. Each sets only what it is about; flags the
// user sets explicitly override them.
var scenarios = map[string]func(*Config){
	"throughput": func(c *Config) {
		c.Rate, c.Fanout, c.Subscriptions, c.Accounts, c.BodyBytes = 0, 1, 10, 10, 1024
	},
	"throughput-fanout5": func(c *Config) {
		c.Rate, c.Fanout, c.Subscriptions, c.Accounts, c.BodyBytes = 0, 5, 50, 10, 1024
	},
	"latency": func(c *Config) {
		c.Rate, c.Fanout, c.Subscriptions, c.Accounts, c.BodyBytes = 2000, 1, 10, 10, 1024
	},
	"subs100k": func(c *Config) {
		c.Rate, c.Fanout, c.Subscriptions, c.Accounts, c.BodyBytes = 2000, 1, 100_000, 10_000, 1024
	},
	"hanging": func(c *Config) {
		c.Rate, c.Fanout, c.Subscriptions, c.Accounts, c.BodyBytes = 1000, 1, 10, 10, 1024
		c.Hanging = true
	},
	"restart": func(c *Config) {
		c.Rate, c.Fanout, c.Subscriptions, c.Accounts, c.BodyBytes = 1000, 1, 10, 10, 1024
		c.RestartSender = true
		if c.Duration < 20*time.Second {
			c.Duration = 20 * time.Second
		}
	},
}

// Scenarios lists the preset names, sorted.
func Scenarios() []string {
	names := make([]string, 0, len(scenarios))
	for n := range scenarios {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// ApplyScenario sets c's fields from preset name; "" leaves c unchanged.
func ApplyScenario(c *Config, name string) error {
	if name == "" {
		return nil
	}
	f, ok := scenarios[name]
	if !ok {
		return fmt.Errorf("--scenario: unknown %q (one of %s)", name, strings.Join(Scenarios(), ", "))
	}
	f(c)
	c.Scenario = name
	return nil
}
