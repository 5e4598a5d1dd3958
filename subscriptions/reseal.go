package subscriptions

import (
	"context"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// ErrNoKey: an operation that needs an encryption key ring ran without one.
var ErrNoKey = errors.New("subscriptions: no encryption key configured")

// ResealReport counts what Reseal did.
type ResealReport struct {
	Checked  int // subscriptions read
	Resealed int // rewritten with the newest key
}

// KEYS: sub. ARGV: expected version, data. Replaces the stored data only if the
// subscription is still at the version the caller read. Neither the version nor the
// change stream moves: the subscription's content is the same, only its encryption at
// rest changed, so readers have nothing to refresh and ETags stay valid.
var resealScript = redis.NewScript(`
if redis.call('HGET', KEYS[1], 'v') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'data', ARGV[2])
return 1
`)

// Reseal rewrites every stored subscription holding a secret or header value that is
// not sealed with the ring's newest key (plain text, or an older key) so that all are,
// and reports how many it checked and rewrote. It is idempotent: a second run rewrites
// nothing. Each rewrite is a compare-and-set; a subscription changed meanwhile is read
// again (a normal write seals with the newest key anyway). Run it after making a new key
// the first of the ring on every process; then the older keys can be removed.
// ErrNoKey without a ring.
func (s *RedisStore) Reseal(ctx context.Context) (ResealReport, error) {
	var rep ResealReport
	if s.sealer == nil {
		return rep, ErrNoKey
	}
	if err := s.migrate(ctx); err != nil {
		return rep, err
	}
	ids, err := s.c.ZRange(ctx, s.allKey(), 0, -1).Result()
	if err != nil {
		return rep, unavailable("reseal", err)
	}
	for _, id := range ids {
		done, err := s.resealOne(ctx, id)
		if err != nil {
			return rep, err
		}
		rep.Checked++
		if done {
			rep.Resealed++
		}
	}
	return rep, nil
}

// resealOne reseals one subscription if it needs it; false when it did not (or is gone).
func (s *RedisStore) resealOne(ctx context.Context, id string) (bool, error) {
	for attempt := 1; ; attempt++ {
		vals, err := s.c.HMGet(ctx, s.subKey(id), "data", "v").Result()
		if err != nil {
			return false, unavailable("reseal", err)
		}
		data, ok1 := vals[0].(string)
		v, ok2 := vals[1].(string)
		if !ok1 || !ok2 {
			return false, nil // deleted meanwhile
		}
		rec, err := parse(data)
		if err != nil {
			return false, fmt.Errorf("subscription %s: %w", id, err)
		}
		if !s.stale(rec) {
			return false, nil
		}
		sub, err := s.decode(data, v)
		if err != nil {
			return false, err
		}
		fresh, err := s.encode(sub)
		if err != nil {
			return false, err
		}
		n, err := resealScript.Run(ctx, s.c, []string{s.subKey(id)}, v, fresh).Int()
		if err != nil {
			return false, unavailable("reseal", err)
		}
		if n == 1 {
			return true, nil
		}
		if attempt == maxWriteAttempts {
			return false, fmt.Errorf("%w: %s: gave up resealing after %d attempts", ErrContended, id, attempt)
		}
		if err := pause(ctx, attempt); err != nil {
			return false, err
		}
	}
}
