package subscriptions

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"
)

// ErrContended: a write kept losing its compare-and-set to concurrent writers of the
// same subscription and gave up after maxWriteAttempts. Nothing was written; the
// caller may retry.
var ErrContended = errors.New("subscriptions: too many concurrent changes to this subscription")

// maxWriteAttempts bounds the compare-and-set retries of one write. Every round some
// writer succeeds, so n concurrent writers of one subscription need at most n rounds;
// 64 covers far more than any real contention and still ends.
const maxWriteAttempts = 64

// mutate is the read-modify-write every Service change goes through. It reads the
// subscription, lets change modify it (change returns false to write nothing, or an
// error), and stores it with a compare-and-set on the version read. When another write
// came in between, it reads again and re-applies change on the fresh state, after a
// short random pause so competing writers spread out — unless the caller named the
// version (ifVersion), which then no longer matches: ErrVersionMismatch.
func (s *Service) mutate(ctx context.Context, id string, ifVersion int64, change func(sub *Subscription, now time.Time) (bool, error)) (*Subscription, error) {
	for attempt := 1; ; attempt++ {
		sub, err := s.store.Get(ctx, id)
		if err != nil {
			return nil, err
		}
		if ifVersion != AnyVersion && sub.Version != ifVersion {
			return nil, ErrVersionMismatch
		}
		now := s.now().UTC()
		pruneSecrets(sub, now) // before change validates: stale secrets never block a write
		write, err := change(sub, now)
		if err != nil {
			return nil, err
		}
		if !write {
			return sub, nil
		}
		sub.UpdatedAt = now
		err = s.store.Update(ctx, sub)
		switch {
		case err == nil:
			return sub, nil
		case !errors.Is(err, ErrVersionMismatch) || ifVersion != AnyVersion:
			return nil, err
		case attempt == maxWriteAttempts:
			return nil, fmt.Errorf("%w: %s: gave up after %d attempts", ErrContended, id, attempt)
		}
		if err := pause(ctx, attempt); err != nil {
			return nil, err
		}
	}
}

// pause sleeps a random time up to attempt milliseconds (at most 20 ms), or until ctx
// ends.
func pause(ctx context.Context, attempt int) error {
	d := time.Duration(rand.Int64N(int64(min(attempt, 20)) * int64(time.Millisecond)))
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
