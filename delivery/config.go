package delivery

import (
	"errors"
	"fmt"
	"time"

	"github.com/claimable/eventrouter/config"
)

// Config configures a Sender. Zero values take the defaults noted.
type Config struct {
	Delivery config.Delivery
	Topics   config.Topics
	// MaxQueuedPerSubscription bounds the deliveries one subscription may hold queued in
	// this process; the excess goes to the first retry tier (ReasonBackpressure).
	// Default 1000.
	MaxQueuedPerSubscription int
	// CommitInterval is how often finished offsets are committed. Default 1s.
	CommitInterval time.Duration
	// DrainTimeout bounds the wait for in-flight work on shutdown and on revocation;
	// work still running then is abandoned (not committed: redelivered). Default 10s;
	// keep it well below the group's rebalance timeout (60s).
	DrainTimeout time.Duration
	// FetchMaxWait is the broker's long-poll bound; short so tier heads are re-checked
	// promptly. Default 250ms (at most 500ms is sensible).
	FetchMaxWait time.Duration
	// MaxPollRecords bounds one poll. Default 1000.
	MaxPollRecords int
	// InstanceID, when set, makes this process a static group member (KIP-345, see
	// config.Kafka.InstanceID): a sender restarted after a crash with the same id takes
	// its partitions back at once instead of waiting out the dead member's session
	// timeout. A graceful shutdown leaves the group explicitly (membership.LeaveStatic),
	// so its partitions move at once whether or not the process comes back.
	InstanceID string
}

// Validate checks the settings New needs, naming the bad key.
func (c *Config) Validate() error {
	switch {
	case c.Topics.Deliveries == "":
		return errors.New("delivery: topics.deliveries is required")
	case c.Topics.DLQ == "":
		return errors.New("delivery: topics.dlq is required")
	case c.Delivery.Group == "":
		return errors.New("delivery: delivery.group is required")
	}
	hasTier := false
	for i, d := range c.Delivery.RetrySchedule {
		if d <= 0 {
			return fmt.Errorf("delivery: delivery.retry_schedule[%d]: must be > 0, got %s", i, d)
		}
		hasTier = true
	}
	if !hasTier {
		return errors.New("delivery: delivery.retry_schedule: needs at least one delay (retry tiers also carry backpressure and open-circuit deliveries)")
	}
	return nil
}

func (c *Config) setDefaults() {
	if c.MaxQueuedPerSubscription <= 0 {
		c.MaxQueuedPerSubscription = 1000
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
	if c.Delivery.MaxInFlight <= 0 {
		c.Delivery.MaxInFlight = 1024
	}
	if c.Delivery.DefaultMaxInFlight <= 0 {
		c.Delivery.DefaultMaxInFlight = 16
	}
	// DisableAfter 0 means never (config.Delivery documents it); no default here.
	if c.Delivery.BreakerCooldown <= 0 {
		c.Delivery.BreakerCooldown = 30 * time.Second
	}
}
