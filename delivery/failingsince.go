package delivery

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// Outcome tracks persistent failure of subID's endpoint, for auto-disable (docs/delivery.md:
// failing for DisableAfter disables the subscription). It lives in Redis so a restart or
// a partition moving to another sender does not reset the clock.
//
// On ok it clears the record and returns the zero time. On failure it records at as the
// first failure unless one is already recorded (SETNX) and returns the recorded
// failing-since time. The record expires after the log's TTL without further failures.
func (l *AttemptLog) Outcome(ctx context.Context, subID string, ok bool, at time.Time) (failingSince time.Time, err error) {
	key := l.failKey(subID)
	if ok {
		if err := l.rdb.Del(ctx, key).Err(); err != nil {
			return time.Time{}, fmt.Errorf("delivery: attempt log: clear failing: %w", err)
		}
		return time.Time{}, nil
	}
	var get *redis.StringCmd
	_, err = l.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.SetNX(ctx, key, at.UTC().Format(time.RFC3339Nano), 0)
		p.Expire(ctx, key, l.opts.TTL)
		get = p.Get(ctx, key)
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return time.Time{}, fmt.Errorf("delivery: attempt log: record failing: %w", err)
	}
	v, err := get.Result()
	if errors.Is(err, redis.Nil) { // cleared by a concurrent success in between
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("delivery: attempt log: read failing: %w", err)
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, fmt.Errorf("delivery: attempt log: corrupt failing-since for %s: %w", subID, err)
	}
	return t, nil
}
