package subscriptions

import (
	"context"

	"github.com/redis/go-redis/v9"
)

// CreatePipelined queues the create script for sub on p (benchmarks seed 100 000
// subscriptions this way); results are not checked.
func (s *RedisStore) CreatePipelined(ctx context.Context, p redis.Pipeliner, sub *Subscription) error {
	data, err := s.encode(sub)
	if err != nil {
		return err
	}
	keys := []string{s.subKey(sub.ID), s.allKey(), s.versionKey(), s.changesKey()}
	createScript.Eval(ctx, p, keys, sub.ID, data, 0, s.opts.StreamMaxLen, sub.AccountID, sub.Name, s.keyPrefix())
	return nil
}
