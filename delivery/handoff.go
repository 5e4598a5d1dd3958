package delivery

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Handoff carries, across a graceful rebalance or shutdown, the offsets of a partition
// that its previous owner finished beyond the offset it could commit (deliveries finish
// out of offset order, and a commit only moves over a finished prefix). The next owner
// skips those offsets instead of sending them again, so a planned hand-over redelivers
// only what was really in flight. After a crash there is no hand-off, and what was not
// committed is redelivered (same webhook-id), as the at-least-once contract allows.
//
// Offsets in a partition are never reused, so a saved set only ever names records that
// were finished; entries expire after a day in case a topic is deleted and re-created.
type Handoff interface {
	Save(ctx context.Context, group, topic string, partition int32, offsets []int64) error
	Load(ctx context.Context, group, topic string, partition int32) ([]int64, error)
}

// RedisHandoff keeps hand-offs in Redis under <prefix>handoff:<group>:<topic>:<partition>.
type RedisHandoff struct {
	rdb    redis.UniversalClient
	prefix string
	ttl    time.Duration
}

var _ Handoff = (*RedisHandoff)(nil)

// NewRedisHandoff returns a hand-off store on rdb; the caller owns rdb.
func NewRedisHandoff(rdb redis.UniversalClient, prefix string) *RedisHandoff {
	return &RedisHandoff{rdb: rdb, prefix: prefix, ttl: 24 * time.Hour}
}

func (h *RedisHandoff) key(group, topic string, partition int32) string {
	return h.prefix + "handoff:" + group + ":" + topic + ":" + strconv.Itoa(int(partition))
}

// Save records offsets (replacing any earlier hand-off of the partition); an empty set
// removes it.
func (h *RedisHandoff) Save(ctx context.Context, group, topic string, partition int32, offsets []int64) error {
	k := h.key(group, topic, partition)
	if len(offsets) == 0 {
		return h.rdb.Del(ctx, k).Err()
	}
	return h.rdb.Set(ctx, k, encodeOffsets(offsets), h.ttl).Err()
}

// Load returns the partition's hand-off, or nothing.
func (h *RedisHandoff) Load(ctx context.Context, group, topic string, partition int32) ([]int64, error) {
	v, err := h.rdb.Get(ctx, h.key(group, topic, partition)).Result()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return decodeOffsets(v)
}

// encodeOffsets writes sorted offsets as ranges: "5-9,12,20-21".
func encodeOffsets(offsets []int64) string {
	offsets = slices.Clone(offsets)
	slices.Sort(offsets)
	var b strings.Builder
	for i := 0; i < len(offsets); {
		j := i
		for j+1 < len(offsets) && offsets[j+1] <= offsets[j]+1 {
			j++
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.FormatInt(offsets[i], 10))
		if offsets[j] != offsets[i] {
			b.WriteByte('-')
			b.WriteString(strconv.FormatInt(offsets[j], 10))
		}
		i = j + 1
	}
	return b.String()
}

// maxHandoffOffsets bounds a decoded hand-off, against a corrupted value.
const maxHandoffOffsets = 1 << 20

func decodeOffsets(s string) ([]int64, error) {
	var out []int64
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.ParseInt(lo, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("delivery: hand-off %q: %w", part, err)
		}
		b := a
		if isRange {
			if b, err = strconv.ParseInt(hi, 10, 64); err != nil || b < a {
				return nil, fmt.Errorf("delivery: hand-off range %q is not lo-hi", part)
			}
		}
		if int64(len(out))+b-a+1 > maxHandoffOffsets {
			return nil, fmt.Errorf("delivery: hand-off has more than %d offsets", maxHandoffOffsets)
		}
		for o := a; o <= b; o++ {
			out = append(out, o)
		}
	}
	return out, nil
}
