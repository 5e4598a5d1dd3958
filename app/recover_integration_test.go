//go:build integration

package app

import "testing"

// TestDisabledSubscriptionHoldsAndReplaysIntegration is
// TestDisabledSubscriptionHoldsAndReplaysInOrder on Apache Kafka and redis-server: the
// router's transactions, the DLQ's read_committed re-drive and the index's change feed
// are the production ones.
func TestDisabledSubscriptionHoldsAndReplaysIntegration(t *testing.T) {
	env := realReadinessEnv(t)
	holdAndReplay(t, runStack(t, env.cfg, env.rdb))
}
