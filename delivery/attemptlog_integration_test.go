//go:build integration

package delivery

import (
	"testing"

	"github.com/claimable/eventrouter/internal/testenv"
)

// TestAttemptLogRealRedis checks on a real redis-server what the miniredis tests check:
// bounded newest-first lists, real TTLs, delivery status, failing-since and its clear in
// the attempts' pipeline.
func TestAttemptLogRealRedis(t *testing.T) {
	rdb, prefix := testenv.RedisDB(t)
	checkAttemptLog(t, rdb, prefix)
}
