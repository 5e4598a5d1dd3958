//go:build integration

package app

import "testing"

// TestOperationalEventsEndToEndIntegration is TestOperationalEventsEndToEnd on Apache
// Kafka and redis-server: every trigger, the operational topic, the forwarder's group
// and the signed webhooks to the account's operational subscription.
func TestOperationalEventsEndToEndIntegration(t *testing.T) {
	env := realReadinessEnv(t)
	operationalSettings(&env.cfg)
	operationalEndToEnd(t, runStack(t, env.cfg, env.rdb))
}
