package subscriptions

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// eval runs one write script. With RedisOptions.WaitReplicas it also sends WAIT on the
// same connection, right behind the script: Redis replicates asynchronously, so a
// master that crashes just after answering can take an acknowledged write with it when
// a replica is promoted. WAIT makes the answer wait until that many replicas have the
// write (docs/redis-layout.md). It counts the writes of its own connection, hence a
// pipeline on the master of the store's slot rather than on a cluster client (which
// would send a keyless WAIT to any node).
//
// When fewer replicas acknowledge within WaitTimeout the write has still happened on
// the master; the error (ErrUnavailable) says so, and a retried create then meets
// ErrConflict.
func (s *RedisStore) eval(ctx context.Context, script *redis.Script, keys []string, args ...any) (int64, error) {
	if s.opts.WaitReplicas <= 0 {
		return script.Run(ctx, s.c, keys, args...).Int64()
	}
	var node redis.Cmdable = s.c
	if cc, ok := s.c.(*redis.ClusterClient); ok {
		m, err := cc.MasterForKey(ctx, keys[0])
		if err != nil {
			return 0, err
		}
		node = m
	}
	var res *redis.Cmd
	var acked *redis.Cmd
	_, err := node.Pipelined(ctx, func(p redis.Pipeliner) error {
		// EVAL, not EVALSHA: a pipeline cannot fall back on NOSCRIPT. These writes are
		// rare (subscription changes), so sending the source each time costs little.
		res = script.Eval(ctx, p, keys, args...)
		// The pipeline's read timeout (go-redis default 3 s) bounds WaitTimeout.
		acked = p.Do(ctx, "WAIT", s.opts.WaitReplicas, s.opts.WaitTimeout.Milliseconds())
		return nil
	})
	v, verr := res.Int64()
	if verr != nil {
		return 0, verr
	}
	if err != nil {
		return 0, err
	}
	if n, _ := acked.Int64(); v > 0 && n < int64(s.opts.WaitReplicas) {
		return 0, fmt.Errorf("written on the master, but acknowledged by %d of %d replicas within %s", n, s.opts.WaitReplicas, s.opts.WaitTimeout)
	}
	return v, nil
}
