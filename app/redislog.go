package app

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

// redisLogger routes go-redis's own messages (dial failures while Redis is down) into
// zap at warn, at most one line per interval with a count of what it held back, so an
// outage is visible without flooding the log.
type redisLogger struct {
	log      *zap.Logger
	interval time.Duration

	mu         sync.Mutex
	last       time.Time
	suppressed int
}

func (l *redisLogger) Printf(_ context.Context, format string, v ...any) {
	l.mu.Lock()
	now := time.Now()
	if now.Sub(l.last) < l.interval {
		l.suppressed++
		l.mu.Unlock()
		return
	}
	held := l.suppressed
	l.last, l.suppressed = now, 0
	l.mu.Unlock()
	l.log.Warn("redis client", zap.String("message", fmt.Sprintf(format, v...)), zap.Int("similar_messages_suppressed", held))
}

var setRedisLogger sync.Once

// useZapForRedis installs the rate-limited zap adapter as go-redis's process-wide logger.
func useZapForRedis(log *zap.Logger) {
	setRedisLogger.Do(func() {
		redis.SetLogger(&redisLogger{log: log.Named("redis"), interval: 10 * time.Second})
	})
}
