package delivery

import (
	"errors"
	"fmt"
	"time"
)

// Config configures a Sender: plain values, translated from the configuration file by
// the app package (the config keys are named beside each field). Zero values take the
// defaults noted (setDefaults); the configuration file's defaults are the same.
type Config struct {
	// Group is the sender consumer group (delivery.group). Required.
	Group string
	// DeliveriesTopic (topics.deliveries) and DLQTopic (topics.dlq) are required;
	// RetryPrefix (topics.retry_prefix) plus each delay of RetrySchedule names a tier.
	DeliveriesTopic string
	DLQTopic        string
	RetryPrefix     string
	// RetrySchedule (delivery.retry_schedule) is the delay before each retry; its
	// distinct delays are the retry tiers. At least one delay is required.
	RetrySchedule []time.Duration
	// Jitter (delivery.jitter) is the ± fraction applied to each delay; RetryAfterMax
	// (delivery.retry_after_max) bounds a receiver's Retry-After. Used for the default
	// Deps.Retry.
	Jitter        float64
	RetryAfterMax time.Duration
	// MaxInFlight (delivery.max_in_flight) caps concurrent requests of the process.
	// Default 1024.
	MaxInFlight int
	// DefaultMaxInFlight (delivery.default_max_in_flight) is a subscription's cap when it
	// sets none. Default 16.
	DefaultMaxInFlight int
	// BreakerThreshold consecutive failures (delivery.breaker_threshold) open a
	// subscription's circuit for BreakerCooldown (delivery.breaker_cooldown). Used for
	// the default Deps.Breakers. Defaults 10 and 30s.
	BreakerThreshold int
	BreakerCooldown  time.Duration
	// DisableAfter (delivery.disable_after) without a success disables a failing
	// subscription; 0 means never.
	DisableAfter time.Duration
	// MaxQueuedBytesPerSubscription (delivery.max_queued_bytes_per_subscription) and
	// MaxQueuedPerSubscription (delivery.max_queued_per_subscription) are a
	// subscription's soft budget in this process (record bytes plus 1 KiB each;
	// deliveries): reaching either pauses fetching of the partitions that feed it until
	// it drains to half (see flowConfig). Defaults 4 MiB and 1000.
	MaxQueuedBytesPerSubscription int64
	MaxQueuedPerSubscription      int
	// SaturationParkAfter (delivery.saturation_park_after) bounds how long a
	// subscription may keep partitions paused (sooner when a subscription sharing them
	// runs dry): past it, its excess goes to the first retry tier
	// (ReasonBackpressure) so the other subscriptions of those partitions proceed. It
	// also bounds how long a retry-tier partition is held at a delivery of such a
	// subscription that surfaced while it is still at its budget (tierhold.go).
	// Default 5s.
	SaturationParkAfter time.Duration
	// CommitInterval (delivery.commit_interval) is how often finished offsets are
	// committed. Default 1s.
	CommitInterval time.Duration
	// DrainTimeout (delivery.drain_timeout) bounds the wait for in-flight work on
	// shutdown and on revocation; work still running then is abandoned (not committed:
	// redelivered). Default 10s; keep it well below the group's rebalance timeout (60s).
	DrainTimeout time.Duration
	// FetchMaxWait (delivery.fetch_max_wait) is the broker's long-poll bound; short so
	// tier heads are re-checked promptly. Default 250ms (at most 500ms is sensible).
	FetchMaxWait time.Duration
	// MaxPollRecords (delivery.max_poll_records) bounds one poll. Default 1000.
	MaxPollRecords int
	// InstanceID, when set, makes this process a static group member (KIP-345, see
	// kafka.instance_id): a sender restarted after a crash with the same id takes
	// its partitions back at once instead of waiting out the dead member's session
	// timeout. A graceful shutdown leaves the group explicitly (membership.LeaveStatic),
	// so its partitions move at once whether or not the process comes back.
	InstanceID string
}

// Breaker defaults, shared by setDefaults and NewBreakers.
const (
	defaultBreakerThreshold = 10
	defaultBreakerCooldown  = 30 * time.Second
)

// Validate checks the settings New needs, naming the bad field and its config key.
func (c *Config) Validate() error {
	switch {
	case c.DeliveriesTopic == "":
		return errors.New("delivery: DeliveriesTopic (topics.deliveries) is required")
	case c.DLQTopic == "":
		return errors.New("delivery: DLQTopic (topics.dlq) is required")
	case c.Group == "":
		return errors.New("delivery: Group (delivery.group) is required")
	}
	for i, d := range c.RetrySchedule {
		if d <= 0 {
			return fmt.Errorf("delivery: RetrySchedule[%d] (delivery.retry_schedule): must be > 0, got %s", i, d)
		}
	}
	if len(c.RetrySchedule) == 0 {
		return errors.New("delivery: RetrySchedule (delivery.retry_schedule): needs at least one delay (retry tiers also carry backpressure and open-circuit deliveries)")
	}
	return nil
}

// setDefaults is the one place zero values get their defaults (the same as the
// configuration file's, config.Default).
func (c *Config) setDefaults() {
	if c.MaxQueuedBytesPerSubscription <= 0 {
		c.MaxQueuedBytesPerSubscription = 4 << 20
	}
	if c.MaxQueuedPerSubscription <= 0 {
		c.MaxQueuedPerSubscription = 1000
	}
	if c.SaturationParkAfter <= 0 {
		c.SaturationParkAfter = 5 * time.Second
	}
	if c.CommitInterval <= 0 {
		c.CommitInterval = time.Second
	}
	if c.DrainTimeout <= 0 {
		c.DrainTimeout = 10 * time.Second
	}
	if c.FetchMaxWait <= 0 {
		c.FetchMaxWait = 250 * time.Millisecond
	}
	if c.MaxPollRecords <= 0 {
		c.MaxPollRecords = 1000
	}
	if c.MaxInFlight <= 0 {
		c.MaxInFlight = 1024
	}
	if c.DefaultMaxInFlight <= 0 {
		c.DefaultMaxInFlight = 16
	}
	// DisableAfter 0 means never; no default here.
	if c.BreakerThreshold <= 0 {
		c.BreakerThreshold = defaultBreakerThreshold
	}
	if c.BreakerCooldown <= 0 {
		c.BreakerCooldown = defaultBreakerCooldown
	}
}
