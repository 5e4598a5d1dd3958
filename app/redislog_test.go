package app

import (
	"context"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

func TestRedisLoggerRateLimits(t *testing.T) {
	core, logs := observer.New(zap.WarnLevel)
	l := &redisLogger{log: zap.New(core), interval: time.Hour}
	for i := 0; i < 100; i++ {
		l.Printf(context.Background(), "dial tcp %d: refused", i)
	}
	if logs.Len() != 1 {
		t.Fatalf("%d lines logged for 100 messages within one interval, want 1", logs.Len())
	}
	l.last = time.Now().Add(-2 * time.Hour)
	l.Printf(context.Background(), "again")
	entries := logs.All()
	if len(entries) != 2 || entries[1].ContextMap()["similar_messages_suppressed"] != int64(99) {
		t.Fatalf("second line should report 99 suppressed: %+v", entries)
	}
}
