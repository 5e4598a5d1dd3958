//go:build integration

package app

import (
	"testing"
	"time"
)

// TestOperationalEventsEndToEndIntegration is TestOperationalEventsEndToEnd on Apache
// Kafka and redis-server: every trigger, the operational topic, the forwarder's group
// and the signed webhooks to the account's operational subscription.
func TestOperationalEventsEndToEndIntegration(t *testing.T) {
	env := realReadinessEnv(t)
	operationalSettings(&env.cfg)
	// delivery.exhausted needs a failed delivery's retry (1 s here, through a real retry
	// topic and the open breaker's probes) to be attempted before the endpoint has been
	// failing for delivery.disable_after: from then on every attempt disables instead and
	// the rest is held. 2 s left that retry 1 s, which a loaded machine overran about
	// every other run (no delivery.exhausted ever published); 8 s leaves it 7 s.
	env.cfg.Delivery.DisableAfter = 8 * time.Second
	operationalEndToEnd(t, runStack(t, env.cfg, env.rdb))
}
